package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// maxAuditRows is the most events one "latchkey audit" lists.
const maxAuditRows = 10000

func (a *app) auditCommand() *cobra.Command {
	var (
		q                          credential.AuditQuery
		actor, subject             userRef
		since, until, cursor       string
		before, actorID, subjectID int64
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the audit log, newest first",
		Long: `List the audit log, newest first: logins (successful and failed), API keys
and sessions made, revoked and ended, and every administrative change, with
who did it, when, from where and with what credential id. Secrets never
appear in it. Changes made at the command line are recorded with the actor
cli:NAME, NAME being the operating system's user, from "local".

Filters, all optional, combined:
  --user, --directory   what that user did (they are the ACTOR)
  --subject-user,       what was done to that user: their account, roles,
  --subject-directory   API keys, sessions and sign-ins
  --actor-id ID,        the same two by user id (for a user since deleted)
  --subject-id ID
  --actor NAME          the actor exactly as listed: cli:root, LAB\goran, or
                        the name tried at a failed login
  --action ACTION       an action such as login.failure, or a prefix ending
                        in a dot: login., session., apikey., user., role.
  --since, --until      a duration back from now (90m, 24h, 7d) or a time
                        (2024-10-25T19:43:56Z, or a date, 2024-10-25);
                        --until is exclusive

--limit (default 100, at most 10000) bounds the events listed. When more
follow, the cursor of the next page is printed on stderr as
"latchkey: next page: --cursor CURSOR"; --cursor CURSOR (or --before ID, the
smallest ID of the page before) lists the next page back. With -o json the
output is always a JSON array of events.`,
		Example: `  latchkey audit --since 24h
  latchkey audit --action login. --limit 20
  latchkey audit --action login.failure --since 2024-10-25 -o json
  latchkey audit --directory LAB --user goran --action apikey.
  latchkey audit --subject-directory LAB --subject-user goran
  latchkey audit --actor cli:root --since 7d --until 1d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			switch {
			case fl.Changed("directory") && actor.user == "":
				return fmt.Errorf("--directory names the directory of --user; give --user too")
			case fl.Changed("subject-directory") && subject.user == "":
				return fmt.Errorf("--subject-directory names the directory of --subject-user; give --subject-user too")
			case actor.user != "" && fl.Changed("actor-id"):
				return fmt.Errorf("use either --user or --actor-id, not both")
			case subject.user != "" && fl.Changed("subject-id"):
				return fmt.Errorf("use either --subject-user or --subject-id, not both")
			case q.Limit < 1 || q.Limit > maxAuditRows:
				return fmt.Errorf("--limit must be 1 to %d", maxAuditRows)
			case fl.Changed("before") && before < 1:
				return fmt.Errorf("--before must be an event ID (1 or more)")
			case fl.Changed("before") && cursor != "":
				return fmt.Errorf("use either --before or --cursor, not both")
			case fl.Changed("actor-id") && actorID < 1, fl.Changed("subject-id") && subjectID < 1:
				return fmt.Errorf("--actor-id and --subject-id must be user ids (1 or more)")
			}
			if before > 0 {
				cursor = strconv.FormatInt(before, 10)
			}
			now := time.Now()
			for _, t := range []struct {
				flag, value string
				into        *time.Time
			}{{"--since", since, &q.Since}, {"--until", until, &q.Until}} {
				if t.value == "" {
					continue
				}
				v, err := parseTime(t.flag, t.value, now)
				if err != nil {
					return err
				}
				*t.into = v
			}
			q.ActorID, q.SubjectID = actorID, subjectID
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				if actor.user != "" {
					u, err := actor.resolve(ctx, svc)
					if err != nil {
						return err
					}
					q.ActorID = u.ID
				}
				if subject.user != "" {
					u, err := subject.resolve(ctx, svc)
					if err != nil {
						return err
					}
					q.SubjectID = u.ID
				}
				op := operator()
				events, next, err := collect(q.Limit, cursor, nil, func(limit int, cursor string) (*credential.Page[*latchkey.AuditEvent], error) {
					page := q
					page.Limit, page.Cursor = limit, cursor
					return svc.Audit(ctx, op, page)
				})
				if err != nil {
					return err
				}
				rows := make([][]string, len(events))
				for i, e := range events {
					rows[i] = []string{strconv.FormatInt(e.ID, 10), stamp(e.Time), e.Action, orDash(e.Actor),
						orDash(e.Target), orDash(e.Method), orDash(e.CredentialID), orDash(e.RemoteAddr), e.Detail}
				}
				if err := a.printOut(events, []string{"ID", "TIME", "ACTION", "ACTOR", "TARGET", "METHOD", "CREDENTIAL", "FROM", "DETAIL"}, rows); err != nil {
					return err
				}
				a.printNext(next)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Action, "action", "", "only this `action`, or actions starting with it when it ends in a dot (login.)")
	f.StringVar(&actor.directory, "directory", latchkey.DefaultDirectory, "the `directory` of --user")
	f.StringVar(&actor.user, "user", "", "only what this `username` did")
	f.StringVar(&subject.directory, "subject-directory", latchkey.DefaultDirectory, "the `directory` of --subject-user")
	f.StringVar(&subject.user, "subject-user", "", "only events about this `username`: their account, roles and the sessions ended for them")
	f.Int64Var(&actorID, "actor-id", 0, "only what the user with this `id` did")
	f.Int64Var(&subjectID, "subject-id", 0, "only events about the user with this `id`")
	f.StringVar(&q.Actor, "actor", "", "only events of this `actor`, exactly as listed (cli:root, LAB\\goran)")
	f.StringVar(&since, "since", "", "only events since a `duration` ago (24h, 7d) or a time (RFC 3339, or YYYY-MM-DD)")
	f.StringVar(&until, "until", "", "only events before a `duration` ago (1h, 1d) or a time (RFC 3339, or YYYY-MM-DD)")
	f.IntVar(&q.Limit, "limit", 100, "list at most `N` events")
	f.Int64Var(&before, "before", 0, "only events with an ID below `ID` (the next page back)")
	f.StringVar(&cursor, "cursor", "", "start where the page before ended (the `cursor` it printed on stderr)")
	a.addOutputFlag(cmd)
	return cmd
}

// parseTime reads --since or --until: a duration back from now (Go syntax,
// plus a number of days such as 7d), an RFC 3339 time, or a date in local
// time.
func parseTime(flag, s string, now time.Time) (time.Time, error) {
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
	return time.Time{}, fmt.Errorf("%s %q is neither a duration such as 24h or 7d nor a time such as 2024-10-25T19:43:56Z or 2024-10-25", flag, s)
}
