package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

func (a *app) sessionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "List and end sessions",
		Long: `List and end the sessions that logins opened (the session cookie of
POST /api/v1/login). A session is named here by its id, which is not secret;
the session token itself is known only to the client.`,
	}
	cmd.AddCommand(a.sessionList(), a.sessionRevoke())
	return cmd
}

// sessionOut is a session as the command line shows it: with its user's name.
type sessionOut struct {
	*latchkey.Session
	User string `json:"user"`
}

// userNames looks up DIR\user names by id, each once.
type userNames struct {
	st    latchkey.Store
	names map[int64]string
}

func (n *userNames) name(ctx context.Context, id int64) (string, error) {
	if s, ok := n.names[id]; ok {
		return s, nil
	}
	u, err := n.st.User(ctx, id)
	if err != nil {
		return "", err
	}
	if n.names == nil {
		n.names = map[int64]string{}
	}
	n.names[id] = u.QualifiedName()
	return n.names[id], nil
}

func (a *app) sessionList() *cobra.Command {
	var who optionalUser
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the sessions that can still be used",
		Long: `List sessions newest first: those that can still be used, having not ended,
not passed their absolute lifetime, not been idle longer than their idle
timeout, and (when opened with an API key) whose key is still valid. FROM is
the client address of the login; CREDENTIAL is the API key id when the login
used a key.`,
		Example: `  latchkey session list
  latchkey session list --directory LAB --user goran -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(st latchkey.Store, svc *credential.Service) error {
				uid, err := who.resolve(ctx, st)
				if err != nil {
					return err
				}
				all, err := svc.Sessions(ctx, nil, uid)
				if err != nil {
					return err
				}
				names := &userNames{st: st}
				now := time.Now()
				out := make([]sessionOut, 0, len(all))
				rows := make([][]string, 0, len(all))
				for _, s := range all {
					if !s.Active(now) {
						continue
					}
					if s.Method == credential.ByAPIKey && s.CredentialID != "" {
						// Revoking or expiring the key ends its sessions.
						k, err := st.APIKey(ctx, s.CredentialID)
						if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
							continue
						}
						if err != nil {
							return err
						}
						if !k.Usable(now) {
							continue
						}
					}
					name, err := names.name(ctx, s.UserID)
					if err != nil {
						return err
					}
					if !who.inDirectory(name) {
						continue
					}
					out = append(out, sessionOut{s, name})
					rows = append(rows, []string{s.ID, name, s.Method, orDash(s.CredentialID), orDash(s.RemoteAddr),
						stamp(s.CreatedAt), stamp(s.LastSeenAt), stamp(s.ExpiresAt), fmt.Sprint(s.ReadOnly)})
				}
				return a.printOut(out, []string{"ID", "USER", "METHOD", "CREDENTIAL", "FROM", "CREATED", "LAST SEEN", "EXPIRES", "READ-ONLY"}, rows)
			})
		},
	}
	who.addFlags(cmd, "sessions")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) sessionRevoke() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "End a session; it stops working on every node at once",
		Long: `End a session by its id (see "latchkey session list"). Its cookie stops
working at once on every node that shares the store; the client must log in
again. Ending a session that has ended already is not an error.`,
		Example: `  latchkey session revoke q3n5k2x7abcdefghijkl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(st latchkey.Store, svc *credential.Service) error {
				s, err := st.Session(ctx, args[0])
				if err != nil {
					return err
				}
				name, err := (&userNames{st: st}).name(ctx, s.UserID)
				if err != nil {
					return err
				}
				if s.EndedAt != nil {
					fmt.Fprintf(a.stdout, "session %s of %s had ended already\n", s.ID, name)
					return nil
				}
				if err := svc.EndSessionByID(ctx, nil, s.ID, cliRemote); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "ended session %s of %s\n", s.ID, name)
				return nil
			})
		},
	}
}
