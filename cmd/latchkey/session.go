package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/credential"
)

func (a *app) sessionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "List and end sessions",
		Long: `List and end the sessions that logins opened (the session cookie of
POST /api/v1/login, and the JWT session exchange). A session is named here by
its id, which is not secret; the session token itself is known only to the
client. An ended session stops working at once on every node.`,
	}
	cmd.AddCommand(a.sessionList(), a.sessionShow(), a.sessionRevoke(), a.sessionEndAll())
	return cmd
}

// sessionStatus says whether a session may still be used, and if not, why.
func sessionStatus(v *credential.SessionView, now time.Time) string {
	switch {
	case v.Active:
		return "active"
	case v.EndedAt != nil:
		return "ended"
	case !now.Before(v.ExpiresAt):
		return "expired"
	case !v.Session.Active(now):
		return "idle"
	}
	return "key-invalid" // opened with an API key since revoked or expired
}

func sessionRows(v *credential.SessionView, now time.Time) [][]string {
	return [][]string{
		{"id", v.ID}, {"user", v.User}, {"method", v.Method}, {"credential", orDash(v.CredentialID)},
		{"from", orDash(v.RemoteAddr)}, {"user agent", orDash(v.UserAgent)}, {"created", stamp(v.CreatedAt)},
		{"last seen", stamp(v.LastSeenAt)}, {"expires", stamp(v.ExpiresAt)}, {"ended", stampPtr(v.EndedAt)},
		{"read-only", fmt.Sprint(v.ReadOnly)}, {"status", sessionStatus(v, now)},
	}
}

func (a *app) sessionList() *cobra.Command {
	var (
		who    optionalUser
		all    bool
		limit  int
		cursor string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sessions that can still be used (--all: ended ones too)",
		Long: `List sessions newest first: those that can still be used, having not ended,
not passed their absolute lifetime, not been idle longer than their idle
timeout, and (when opened with an API key) whose key is still valid; with
--all, the others too, until the hourly housekeeping of "latchkey serve"
deletes them. FROM is the client address of the login; CREDENTIAL is the API
key id when the login used a key.

Without --limit every session is listed. With --limit N at most N are, and
when more follow, the cursor of the next page is printed on stderr as
"latchkey: next page: --cursor CURSOR". With -o json the output is always a
JSON array of sessions.`,
		Example: `  latchkey session list
  latchkey session list --directory LAB --user goran -o json
  latchkey session list --all --limit 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return fmt.Errorf("--limit must be 1 or more (leave it out to list every session)")
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				uid, err := who.resolve(ctx, svc)
				if err != nil {
					return err
				}
				op := operator()
				keep := func(v *credential.SessionView) bool { return who.inDirectory(v.User) }
				views, next, err := collect(limit, cursor, keep, func(limit int, cursor string) (*credential.Page[*credential.SessionView], error) {
					return svc.ListSessions(ctx, op, credential.SessionQuery{UserID: uid, IncludeEnded: all, Limit: limit, Cursor: cursor})
				})
				if err != nil {
					return err
				}
				now := time.Now()
				rows := make([][]string, len(views))
				for i, s := range views {
					rows[i] = []string{s.ID, s.User, s.Method, orDash(s.CredentialID), orDash(s.RemoteAddr),
						stamp(s.CreatedAt), stamp(s.LastSeenAt), stamp(s.ExpiresAt), fmt.Sprint(s.ReadOnly), sessionStatus(s, now)}
				}
				if err := a.printOut(views, []string{"ID", "USER", "METHOD", "CREDENTIAL", "FROM", "CREATED", "LAST SEEN", "EXPIRES", "READ-ONLY", "STATUS"}, rows); err != nil {
					return err
				}
				a.printNext(next)
				return nil
			})
		},
	}
	who.addFlags(cmd, "sessions")
	cmd.Flags().BoolVar(&all, "all", false, "also list sessions that ended, expired or idled out")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most `N` sessions, and print the cursor of the next page on stderr")
	cmd.Flags().StringVar(&cursor, "cursor", "", "start where the page before ended (the `cursor` it printed)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) sessionShow() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one session (never its token)",
		Example: `  latchkey session show q3n5k2x7abcdefghijkl -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				v, err := svc.SessionByID(ctx, operator(), args[0])
				if err != nil {
					return err
				}
				return a.printOut(v, []string{"FIELD", "VALUE"}, sessionRows(v, time.Now()))
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) sessionRevoke() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "End a session; it stops working on every node at once",
		Long: `End a session by its id (see "latchkey session list"). Its cookie stops
working at once on every node that shares the store; the client must log in
again. Ending a session that has ended already is not an error. With -o json
it prints the session as it is afterwards.`,
		Example: `  latchkey session revoke q3n5k2x7abcdefghijkl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				op := operator()
				s, err := svc.SessionByID(ctx, op, args[0])
				if err != nil {
					return err
				}
				if s.EndedAt != nil {
					return a.printDone(s, "session %s of %s had ended already", s.ID, s.User)
				}
				if err := svc.EndSessionByID(ctx, op, s.ID, cliRemote); err != nil {
					return err
				}
				if s, err = svc.SessionByID(ctx, op, s.ID); err != nil {
					return err
				}
				return a.printDone(s, "ended session %s of %s", s.ID, s.User)
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) sessionEndAll() *cobra.Command {
	var ref userRef
	cmd := &cobra.Command{
		Use:   "end-all",
		Short: "End every session of a user",
		Long: `End every session of one user, at once on every node: they must sign in
again. Their API keys keep working; "latchkey user disable" stops those too.`,
		Example: `  latchkey session end-all --directory LAB --user goran`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				n, err := svc.EndUserSessions(ctx, operator(), u.ID, cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(struct {
					success
					User  string `json:"user"`
					Ended int    `json:"ended"`
				}{done("ended %d sessions of %s", n, u.QualifiedName()), u.QualifiedName(), n},
					"ended %d sessions of %s", n, u.QualifiedName())
			})
		},
	}
	ref.addFlags(cmd)
	a.addOutputFlag(cmd)
	return cmd
}
