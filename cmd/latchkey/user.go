package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// userRef is the --directory/--user pair that names one user.
type userRef struct{ directory, user string }

func (u *userRef) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&u.directory, "directory", latchkey.DefaultDirectory, "user `directory`")
	cmd.Flags().StringVar(&u.user, "user", "", "`username` within the directory")
	cmd.MarkFlagRequired("user")
}

// resolve reads the user that ref names.
func (u *userRef) resolve(ctx context.Context, svc *credential.Service) (*credential.UserView, error) {
	return svc.UserByName(ctx, operator(), u.directory+`\`+u.user)
}

// withUser runs fn with the credential service and the user that ref names.
func (a *app) withUser(ctx context.Context, ref *userRef, fn func(*credential.Service, *credential.UserView) error) error {
	return a.withCredentials(ctx, func(svc *credential.Service) error {
		u, err := ref.resolve(ctx, svc)
		if err != nil {
			return err
		}
		return fn(svc, u)
	})
}

// secretFlags are the ways a command takes a password.
type secretFlags struct {
	stdin bool
	env   string
}

func (s *secretFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&s.stdin, "password-stdin", false, "read the password from the first line of stdin")
	cmd.Flags().StringVar(&s.env, "password-env", "", "read the password from the environment `variable`")
}

// read returns the password given, "" when none was.
func (s *secretFlags) read(a *app) (string, error) { return a.readSecret(s.stdin, s.env) }

func (s *secretFlags) given() bool { return s.stdin || s.env != "" }

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Create, list, change, disable and delete users",
		Long: `Manage users. A user is named by --directory (default ` + latchkey.DefaultDirectory + `) and --user;
"latchkey user list" shows them all. Passwords are read from stdin or from an
environment variable, never from the command line. Every change is recorded
in the audit log, with the operating system's user as the actor (cli:NAME).

See docs/administration.md for the same tasks through the admin API.`,
	}
	cmd.AddCommand(a.userAdd(), a.userList(), a.userShow(), a.userUpdate(), a.userPasswd(),
		a.userSetDisabled("disable", true), a.userSetDisabled("enable", false), a.userDelete())
	return cmd
}

func (a *app) userAdd() *cobra.Command {
	var ref userRef
	var sec secretFlags
	var noPassword bool
	var req credential.NewUser
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Create a user",
		Long: `Create a user, with their roles and password. Give the password with
--password-stdin or --password-env; a user made with --no-password cannot sign
in with a password (only with an API key, a JWT or a client certificate)
until "latchkey user passwd" gives them one. Granting a role needs the role's
abilities; see "latchkey role list".

Like "latchkey serve", and unlike the other commands, it creates the SQLite
store (and seal.key) when the data directory holds none, so that users can be
made before the gateway first starts.`,
		Example: `  echo 's3cret-pass' | latchkey user add --directory LAB --user goran --name "Göran Sander" \
      --email g@example.com --role admin --password-stdin
  latchkey user add --directory LAB --user reporter --role apikey-user --no-password -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case noPassword && sec.given():
				return fmt.Errorf("use either a password (--password-stdin or --password-env) or --no-password, not both")
			case !noPassword && !sec.given():
				return fmt.Errorf("give the password with --password-stdin or --password-env; " +
					"a user made without one can sign in only with an API key, a JWT or a certificate, so say so with --no-password")
			}
			pw, err := sec.read(a)
			if err != nil {
				return err
			}
			req.Directory, req.Username, req.Password = ref.directory, ref.user, pw
			ctx := cmd.Context()
			a.createStore = true
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				u, err := svc.CreateUser(ctx, operator(), req, cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(u, "created user %s (id %d)", u.QualifiedName(), u.ID)
			})
		},
	}
	ref.addFlags(cmd)
	sec.addFlags(cmd)
	cmd.Flags().BoolVar(&noPassword, "no-password", false, "make the user without a password (they sign in with an API key, a JWT or a certificate)")
	cmd.Flags().StringVar(&req.DisplayName, "name", "", "display `name`")
	cmd.Flags().StringVar(&req.Email, "email", "", "email `address`")
	cmd.Flags().StringSliceVar(&req.Groups, "group", nil, "`group` the user belongs to (repeatable)")
	cmd.Flags().StringSliceVar(&req.Roles, "role", nil, "`role` to grant (repeatable)")
	a.addOutputFlag(cmd)
	return cmd
}

// userRows are the table rows of one user.
func userRows(u *credential.UserView) [][]string {
	return [][]string{
		{"id", strconv.FormatInt(u.ID, 10)}, {"directory", u.Directory}, {"user", u.Username},
		{"name", orDash(u.DisplayName)}, {"email", orDash(u.Email)}, {"groups", orDash(strings.Join(u.Groups, ","))},
		{"roles", orDash(strings.Join(u.Roles, ","))}, {"abilities", orDash(strings.Join(u.Abilities, ","))},
		{"status", enabledWord(u.Disabled)}, {"password", fmt.Sprint(u.HasPassword)},
		{"created", stamp(u.Created)}, {"updated", stamp(u.Updated)},
	}
}

func (a *app) userList() *cobra.Command {
	var (
		q                 credential.UserQuery
		disabled, enabled bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Long: `List users by directory and username: every user, or those the flags select.
--search matches part of the username, display name or email (any case).

Without --limit every user is listed. With --limit N at most N are, and when
more follow, the cursor of the next page is printed on stderr as
"latchkey: next page: --cursor CURSOR"; give it back with --cursor. With
-o json the output is always a JSON array of users.`,
		Example: `  latchkey user list
  latchkey user list --directory LAB --role admin -o json
  latchkey user list --search goran --disabled
  latchkey user list --limit 100 --cursor eyJkIjoiTEFCIiwidSI6ImdvcmFuIiwiaSI6N30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case disabled && enabled:
				return fmt.Errorf("use either --disabled or --enabled, not both")
			case disabled:
				q.Disabled = &disabled
			case enabled:
				q.Disabled = new(false)
			}
			if q.Limit < 0 {
				return fmt.Errorf("--limit must be 1 or more (leave it out to list every user)")
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				op := operator()
				users, next, err := collect(q.Limit, q.Cursor, nil, func(limit int, cursor string) (*credential.Page[*credential.UserView], error) {
					page := q
					page.Limit, page.Cursor = limit, cursor
					return svc.Users(ctx, op, page)
				})
				if err != nil {
					return err
				}
				rows := make([][]string, len(users))
				for i, u := range users {
					rows[i] = []string{strconv.FormatInt(u.ID, 10), u.Directory, u.Username, u.DisplayName, u.Email,
						strings.Join(u.Roles, ","), enabledWord(u.Disabled)}
				}
				if err := a.printOut(users, []string{"ID", "DIRECTORY", "USER", "NAME", "EMAIL", "ROLES", "STATUS"}, rows); err != nil {
					return err
				}
				a.printNext(next)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Directory, "directory", "", "list only this `directory`")
	f.StringVar(&q.Search, "search", "", "only users whose username, name or email contains `text` (any case)")
	f.StringVar(&q.Role, "role", "", "only users who hold this `role`")
	f.BoolVar(&disabled, "disabled", false, "only disabled users")
	f.BoolVar(&enabled, "enabled", false, "only enabled users")
	f.IntVar(&q.Limit, "limit", 0, "list at most `N` users, and print the cursor of the next page on stderr")
	f.StringVar(&q.Cursor, "cursor", "", "start where the page before ended (the `cursor` it printed)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userShow() *cobra.Command {
	var ref userRef
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Show one user, with roles and abilities",
		Example: `  latchkey user show --directory LAB --user goran -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withUser(cmd.Context(), &ref, func(_ *credential.Service, u *credential.UserView) error {
				return a.printOut(u, []string{"FIELD", "VALUE"}, userRows(u))
			})
		},
	}
	ref.addFlags(cmd)
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userUpdate() *cobra.Command {
	var ref userRef
	var name, email string
	var groups []string
	var noGroups bool
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Change a user's display name, email or groups",
		Long: `Change what the flags given say, and nothing else: --name and --email set the
display name and email ("" clears them); --group, repeated, replaces all of the
user's groups, and --no-groups removes them. Roles are changed with "latchkey
role grant|revoke", passwords with "latchkey user passwd".`,
		Example: `  latchkey user update --directory LAB --user goran --email goran@example.com
  latchkey user update --directory LAB --user goran --group sales --group emea -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ch credential.UserChange
			fl := cmd.Flags()
			if fl.Changed("name") {
				ch.DisplayName = &name
			}
			if fl.Changed("email") {
				ch.Email = &email
			}
			switch {
			case noGroups && fl.Changed("group"):
				return fmt.Errorf("use either --group or --no-groups, not both")
			case noGroups:
				ch.Groups = &[]string{}
			case fl.Changed("group"):
				ch.Groups = &groups
			}
			if ch.DisplayName == nil && ch.Email == nil && ch.Groups == nil {
				return fmt.Errorf("nothing to change: give --name, --email, --group or --no-groups")
			}
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				v, err := svc.UpdateUser(ctx, operator(), u.ID, ch, cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(v, "updated user %s", v.QualifiedName())
			})
		},
	}
	ref.addFlags(cmd)
	cmd.Flags().StringVar(&name, "name", "", "new display `name`")
	cmd.Flags().StringVar(&email, "email", "", "new email `address`")
	cmd.Flags().StringSliceVar(&groups, "group", nil, "`group` the user belongs to (repeatable; replaces every group)")
	cmd.Flags().BoolVar(&noGroups, "no-groups", false, "remove every group")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userSetDisabled(verb string, disabled bool) *cobra.Command {
	var ref userRef
	long := `Disable a user: their sessions end, and their API keys and the tokens
latchkey issued for them stop working, at once on every node. The keys are
kept: "latchkey user enable" makes them work again (unless revoked or
expired meanwhile); the sessions stay ended. Nobody may disable the last
enabled user with the role admin.`
	if !disabled {
		long = `Enable a disabled user: they can sign in again, and their API keys work again
unless revoked or expired meanwhile. Sessions ended by disabling stay ended.`
	}
	cmd := &cobra.Command{
		Use:     verb,
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " a user",
		Long:    long,
		Example: "  latchkey user " + verb + " --directory LAB --user goran",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				v, err := svc.SetDisabled(ctx, operator(), u.ID, disabled, cliRemote)
				if err != nil {
					return err
				}
				if disabled {
					return a.printDone(v, "disabled user %s: their sessions ended and their API keys stop working", v.QualifiedName())
				}
				return a.printDone(v, "enabled user %s", v.QualifiedName())
			})
		},
	}
	ref.addFlags(cmd)
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userDelete() *cobra.Command {
	var ref userRef
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a user, with their roles, API keys and sessions",
		Long: `Delete a user for good: their roles, API keys and sessions go with them and
stop working at once on every node; the audit log keeps what they did. It
asks no question, so that a script can run it, but needs --yes. Nobody may
delete the last enabled user with the role admin. To stop a user for a while,
"latchkey user disable" them instead.`,
		Example: `  latchkey user delete --directory LAB --user goran --yes`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return fmt.Errorf("deleting %s\\%s also deletes their API keys and sessions, for good: add --yes to do it", ref.directory, ref.user)
			}
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				if err := svc.DeleteUser(ctx, operator(), u.ID, cliRemote); err != nil {
					return err
				}
				return a.printDone(struct {
					success
					ID   int64  `json:"id"`
					User string `json:"user"`
				}{done("deleted user %s", u.QualifiedName()), u.ID, u.QualifiedName()}, "deleted user %s", u.QualifiedName())
			})
		},
	}
	ref.addFlags(cmd)
	cmd.Flags().BoolVar(&yes, "yes", false, "delete without a second thought (required)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userPasswd() *cobra.Command {
	var ref userRef
	var sec secretFlags
	var clear bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Set or remove a user's password; ends their sessions",
		Long: `Set a user's password, read from the first line of stdin (--password-stdin)
or from an environment variable (--password-env), or remove it (--clear). One
of the three is required. The password must meet passwords.min_length.

Either way every session of the user ends, at once on every node: whoever
signed in with the old password must sign in again. API keys keep working.`,
		Example: `  printf '%s\n' "$NEW_PASSWORD" | latchkey user passwd --directory LAB --user goran --password-stdin
  latchkey user passwd --user admin --password-env ADMIN_PW
  latchkey user passwd --directory LAB --user reporter --clear`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case !sec.given() && !clear:
				return fmt.Errorf("give the new password with --password-stdin or --password-env, or remove it with --clear")
			case sec.given() && clear:
				return fmt.Errorf("use either a new password or --clear, not both")
			}
			pw, err := sec.read(a)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				op := operator()
				if err := svc.SetPassword(ctx, op, u.ID, pw, cliRemote); err != nil {
					return err
				}
				v, err := svc.User(ctx, op, u.ID)
				if err != nil {
					return err
				}
				what := "set"
				if clear {
					what = "removed"
				}
				return a.printDone(v, "password of %s %s; their sessions ended", v.QualifiedName(), what)
			})
		},
	}
	ref.addFlags(cmd)
	sec.addFlags(cmd)
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the password: the user can no longer sign in with one")
	a.addOutputFlag(cmd)
	return cmd
}

func enabledWord(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}
