package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

// userRef is the --directory/--user pair that names one user.
type userRef struct{ directory, user string }

func (u *userRef) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&u.directory, "directory", latchkey.DefaultDirectory, "user `directory`")
	cmd.Flags().StringVar(&u.user, "user", "", "`username` within the directory")
	cmd.MarkFlagRequired("user")
}

// withUser runs fn with the store and the user that ref names.
func (a *app) withUser(ctx context.Context, ref *userRef, fn func(latchkey.Store, *latchkey.User) error) error {
	return a.withStore(ctx, func(st latchkey.Store) error {
		u, err := st.UserByName(ctx, ref.directory, ref.user)
		if err != nil {
			return err
		}
		return fn(st, u)
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

// hash reads, validates and hashes the password; "" when none was given.
func (s *secretFlags) hash(ctx context.Context, a *app) (string, error) {
	pw, err := a.readSecret(s.stdin, s.env)
	if err != nil || pw == "" {
		return "", err
	}
	if err := password.Validate(pw); err != nil {
		return "", err
	}
	return hasher().Hash(ctx, pw)
}

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	cmd.AddCommand(a.userAdd(), a.userList(), a.userShow(), a.userPasswd(),
		a.userSetDisabled("disable", true), a.userSetDisabled("enable", false))
	return cmd
}

func (a *app) userAdd() *cobra.Command {
	var ref userRef
	var sec secretFlags
	u := &latchkey.User{}
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Create a user",
		Example: `  echo 's3cret-pass' | latchkey user add --directory LAB --user goran --name "Göran Sander" \
      --email g@example.com --role admin --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			u.Directory, u.Username = ref.directory, ref.user
			if err := u.Validate(); err != nil {
				return err
			}
			hash, err := sec.hash(ctx, a)
			if err != nil {
				return err
			}
			u.PasswordHash = hash
			return a.withStore(ctx, func(st latchkey.Store) error {
				if err := st.CreateUser(ctx, u, nil); err != nil {
					return err
				}
				audit(ctx, st, latchkey.AuditUserCreate, u.QualifiedName(), "roles: "+strings.Join(u.Roles, ","))
				fmt.Fprintf(a.stdout, "created user %s (id %d)\n", u.QualifiedName(), u.ID)
				return nil
			})
		},
	}
	ref.addFlags(cmd)
	sec.addFlags(cmd)
	cmd.Flags().StringVar(&u.DisplayName, "name", "", "display `name`")
	cmd.Flags().StringVar(&u.Email, "email", "", "email `address`")
	cmd.Flags().StringSliceVar(&u.Groups, "group", nil, "`group` the user belongs to (repeatable)")
	cmd.Flags().StringSliceVar(&u.Roles, "role", nil, "`role` to grant (repeatable)")
	return cmd
}

func (a *app) userList() *cobra.Command {
	var f latchkey.UserFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st latchkey.Store) error {
				users, err := st.Users(cmd.Context(), f)
				if err != nil {
					return err
				}
				rows := make([][]string, len(users))
				for i, u := range users {
					rows[i] = []string{fmt.Sprint(u.ID), u.Directory, u.Username, u.DisplayName, u.Email,
						strings.Join(u.Roles, ","), enabledWord(u.Disabled)}
				}
				return a.printOut(users, []string{"ID", "DIRECTORY", "USER", "NAME", "EMAIL", "ROLES", "STATUS"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&f.Directory, "directory", "", "list only this `directory`")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userShow() *cobra.Command {
	var ref userRef
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show one user, with roles and abilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(st latchkey.Store, u *latchkey.User) error {
				_, abilities, err := st.UserAccess(ctx, u.ID)
				if err != nil {
					return err
				}
				out := struct {
					*latchkey.User
					Abilities   []string `json:"abilities"`
					HasPassword bool     `json:"has_password"`
				}{u, abilities, u.PasswordHash != ""}
				rows := [][]string{
					{"id", fmt.Sprint(u.ID)}, {"directory", u.Directory}, {"user", u.Username},
					{"name", u.DisplayName}, {"email", u.Email}, {"groups", strings.Join(u.Groups, ",")},
					{"roles", strings.Join(u.Roles, ",")}, {"abilities", strings.Join(abilities, ",")},
					{"status", enabledWord(u.Disabled)}, {"password", fmt.Sprint(out.HasPassword)},
					{"created", u.CreatedAt.Format(time.RFC3339)},
				}
				return a.printOut(out, []string{"FIELD", "VALUE"}, rows)
			})
		},
	}
	ref.addFlags(cmd)
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) userSetDisabled(verb string, disabled bool) *cobra.Command {
	var ref userRef
	cmd := &cobra.Command{
		Use:   verb,
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a user",
		Long:  "Disabling a user also ends their sessions; it takes effect on every node at once.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(st latchkey.Store, u *latchkey.User) error {
				if _, err := st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
					return err
				}
				if disabled {
					if _, err := st.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
						return err
					}
				}
				audit(ctx, st, latchkey.AuditUserUpdate, u.QualifiedName(), verb)
				fmt.Fprintf(a.stdout, "%sd user %s\n", verb, u.QualifiedName())
				return nil
			})
		},
	}
	ref.addFlags(cmd)
	return cmd
}

func (a *app) userPasswd() *cobra.Command {
	var ref userRef
	var sec secretFlags
	var clear bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Set or remove a user's password",
		Example: `  printf '%s\n' "$NEW_PASSWORD" | latchkey user passwd --directory LAB --user goran --password-stdin
  latchkey user passwd --user admin --password-env ADMIN_PW`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			hash, err := sec.hash(ctx, a)
			if err != nil {
				return err
			}
			if hash == "" && !clear {
				return fmt.Errorf("give the new password with --password-stdin or --password-env, or remove it with --clear")
			}
			if hash != "" && clear {
				return fmt.Errorf("use either a new password or --clear, not both")
			}
			return a.withUser(ctx, &ref, func(st latchkey.Store, u *latchkey.User) error {
				if _, err := st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{PasswordHash: &hash}, nil); err != nil {
					return err
				}
				what := "changed"
				if clear {
					what = "removed"
				}
				audit(ctx, st, latchkey.AuditUserPassword, u.QualifiedName(), what)
				fmt.Fprintf(a.stdout, "password of %s %s\n", u.QualifiedName(), what)
				return nil
			})
		},
	}
	ref.addFlags(cmd)
	sec.addFlags(cmd)
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the password: the user can no longer sign in with one")
	return cmd
}

func enabledWord(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}
