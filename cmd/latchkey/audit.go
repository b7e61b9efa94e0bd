package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
)

// maxAuditRows is the most events one "latchkey audit" lists.
const maxAuditRows = 10000

func (a *app) auditCommand() *cobra.Command {
	var (
		f     latchkey.AuditFilter
		who   userRef
		since string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the audit log, newest first",
		Long: `List the audit log, newest first: logins (successful and failed), API keys
and sessions made, revoked and ended, and every administrative change, with
who did it, when, from where and with what credential id. Secrets never
appear in it.

--action takes an action such as login.failure, or a prefix ending in a dot:
login., session., apikey., user., role. --user lists what that user did.
--since takes a duration back from now (90m, 24h, 7d) or a time
(2024-10-25T19:43:56Z, or a date, 2024-10-25). --before pages back: give the
smallest ID of the previous page.`,
		Example: `  latchkey audit --since 24h
  latchkey audit --action login. --limit 20
  latchkey audit --action login.failure --since 2024-10-25 -o json
  latchkey audit --directory LAB --user goran --action apikey.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if cmd.Flags().Changed("directory") && who.user == "" {
				return fmt.Errorf("--directory names the directory of --user; give --user too")
			}
			if f.Limit < 1 || f.Limit > maxAuditRows {
				return fmt.Errorf("--limit must be 1 to %d", maxAuditRows)
			}
			if cmd.Flags().Changed("before") && f.BeforeID < 1 {
				return fmt.Errorf("--before must be an event ID (1 or more)")
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				f.Since = t
			}
			ctx := cmd.Context()
			return a.withStore(ctx, func(st latchkey.Store) error {
				if who.user != "" {
					u, err := st.UserByName(ctx, who.directory, who.user)
					if err != nil {
						return err
					}
					f.ActorID = u.ID
				}
				events, err := st.AuditEvents(ctx, f)
				if err != nil {
					return err
				}
				rows := make([][]string, len(events))
				for i, e := range events {
					rows[i] = []string{strconv.FormatInt(e.ID, 10), stamp(e.Time), e.Action, orDash(e.Actor),
						orDash(e.Target), orDash(e.Method), orDash(e.CredentialID), orDash(e.RemoteAddr), e.Detail}
				}
				return a.printOut(events, []string{"ID", "TIME", "ACTION", "ACTOR", "TARGET", "METHOD", "CREDENTIAL", "FROM", "DETAIL"}, rows)
			})
		},
	}
	cmd.Flags().StringVar(&f.Action, "action", "", "only this `action`, or actions starting with it when it ends in a dot (login.)")
	cmd.Flags().StringVar(&who.directory, "directory", latchkey.DefaultDirectory, "the `directory` of --user")
	cmd.Flags().StringVar(&who.user, "user", "", "only what this `username` did")
	cmd.Flags().StringVar(&since, "since", "", "only events since a `duration` ago (24h, 7d) or a time (RFC 3339, or YYYY-MM-DD)")
	cmd.Flags().IntVar(&f.Limit, "limit", 100, "list at most `N` events")
	cmd.Flags().Int64Var(&f.BeforeID, "before", 0, "only events with an ID below `ID` (the next page back)")
	a.addOutputFlag(cmd)
	return cmd
}

// parseSince reads --since: a duration back from now (Go syntax, plus a
// number of days such as 7d), an RFC 3339 time, or a date in local time.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.AddDate(0, 0, -days), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration such as 24h or 7d nor a time such as 2024-10-25T19:43:56Z or 2024-10-25", s)
}
