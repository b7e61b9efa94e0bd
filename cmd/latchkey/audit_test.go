package main

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// TestAuditFilters fills the audit log with logins and changes, and reads it
// back through "latchkey audit" with each filter.
func TestAuditFilters(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			const password = "goran's long password"
			mustCLI(t, password+"\n", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--password-stdin")...)
			key := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran", "-o", "json")...))
			var goranID int64
			var sessionID string
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				p, _, sess, err := svc.Login(ctx, `LAB\goran`, password, "192.0.2.7:5555", "test")
				if err != nil {
					t.Fatal(err)
				}
				goranID, sessionID = p.UserID, sess.ID
				if _, _, err := svc.SignIn(ctx, `LAB\goran`, "a wrong password", "192.0.2.8:6666", latchkey.MethodBasic); err == nil {
					t.Fatal("a wrong password signed in")
				}
			})
			mustCLI(t, "", with("session", "revoke", sessionID)...)

			events := func(args ...string) []*latchkey.AuditEvent {
				t.Helper()
				return decode[[]*latchkey.AuditEvent](t, mustCLI(t, "", with(append([]string{"audit", "-o", "json"}, args...)...)...))
			}
			actions := func(evs []*latchkey.AuditEvent) []string {
				var out []string
				for _, e := range evs {
					out = append(out, e.Action)
				}
				return out
			}

			all := events()
			want := []string{latchkey.AuditSessionEnd, latchkey.AuditLoginFailure, latchkey.AuditLoginSuccess,
				latchkey.AuditSessionCreate, latchkey.AuditAPIKeyCreate, latchkey.AuditUserCreate}
			if got := actions(all); !slices.Equal(got, want) {
				t.Fatalf("audit lists %v, want (newest first) %v", got, want)
			}
			for i := 1; i < len(all); i++ {
				if all[i].ID >= all[i-1].ID || all[i].Time.After(all[i-1].Time) {
					t.Errorf("not newest first: %+v before %+v", all[i-1], all[i])
				}
			}
			byAction := map[string]*latchkey.AuditEvent{}
			for _, e := range all {
				byAction[e.Action] = e
			}
			if e := byAction[latchkey.AuditAPIKeyCreate]; e.Target != key.ID || e.Actor != cliActorName() || e.RemoteAddr != "local" || e.Method != "cli" {
				t.Errorf("apikey.create = %+v", e)
			}
			if e := byAction[latchkey.AuditLoginFailure]; e.Actor != `LAB\goran` || e.RemoteAddr != "192.0.2.8:6666" || e.ActorID != 0 {
				t.Errorf("login.failure = %+v", e)
			}
			if e := byAction[latchkey.AuditSessionEnd]; e.Target != sessionID || e.Actor != cliActorName() || e.SubjectID != goranID {
				t.Errorf("session.end = %+v", e)
			}
			raw := mustCLI(t, "", with("audit", "-o", "json")...)
			if strings.Contains(raw, key.Key) || strings.Contains(raw, "long password") || strings.Contains(raw, "wrong password") {
				t.Errorf("the audit log holds a secret:\n%s", raw)
			}

			if got := actions(events("--action", "login.")); !slices.Equal(got, []string{latchkey.AuditLoginFailure, latchkey.AuditLoginSuccess}) {
				t.Errorf("--action login. = %v", got)
			}
			if got := actions(events("--action", "login.success")); !slices.Equal(got, []string{latchkey.AuditLoginSuccess}) {
				t.Errorf("--action login.success = %v", got)
			}
			if got := events("--action", "login"); len(got) != 0 {
				t.Errorf("--action login (no dot) matched %v", actions(got))
			}
			mine := events("--directory", "lab", "--user", "goran")
			if got := actions(mine); !slices.Equal(got, []string{latchkey.AuditLoginSuccess, latchkey.AuditSessionCreate}) {
				t.Errorf("--user goran = %v", got)
			}
			for _, e := range mine {
				if e.ActorID != goranID {
					t.Errorf("--user goran listed %+v", e)
				}
			}
			if got := events("--limit", "2"); len(got) != 2 || got[0].ID != all[0].ID || got[1].ID != all[1].ID {
				t.Errorf("--limit 2 = %v", actions(got))
			}
			if got := actions(events("--before", strconv.FormatInt(all[3].ID, 10))); !slices.Equal(got, want[4:]) {
				t.Errorf("--before %d = %v, want %v", all[3].ID, got, want[4:])
			}
			if got := events("--since", "1h"); len(got) != len(all) {
				t.Errorf("--since 1h lists %d events, want %d", len(got), len(all))
			}
			if got := events("--since", "2d"); len(got) != len(all) {
				t.Errorf("--since 2d lists %d events, want %d", len(got), len(all))
			}
			if got := events("--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
				t.Errorf("--since an hour from now lists %v", actions(got))
			}
			if got := events("--since", all[1].Time.Format(time.RFC3339Nano)); len(got) < 2 {
				t.Errorf("--since the second newest event lists %v", actions(got))
			}

			// What concerns goran, by name or id: his account, his key,
			// his sign-in and session, and the session the operator ended.
			about := []string{latchkey.AuditSessionEnd, latchkey.AuditLoginSuccess, latchkey.AuditSessionCreate,
				latchkey.AuditAPIKeyCreate, latchkey.AuditUserCreate}
			if got := actions(events("--subject-directory", "lab", "--subject-user", "goran")); !slices.Equal(got, about) {
				t.Errorf("--subject-user goran = %v, want %v", got, about)
			}
			if got := actions(events("--subject-id", strconv.FormatInt(goranID, 10))); !slices.Equal(got, about) {
				t.Errorf("--subject-id = %v, want %v", got, about)
			}
			if got := actions(events("--actor-id", strconv.FormatInt(goranID, 10))); !slices.Equal(got, actions(mine)) {
				t.Errorf("--actor-id = %v, want %v", got, actions(mine))
			}
			// The actor exactly as recorded: the operator, or a name tried.
			if got := actions(events("--actor", cliActorName())); !slices.Equal(got, []string{latchkey.AuditSessionEnd,
				latchkey.AuditAPIKeyCreate, latchkey.AuditUserCreate}) {
				t.Errorf("--actor %s = %v", cliActorName(), got)
			}
			if got := actions(events("--actor", `LAB\goran`, "--action", "login.")); !slices.Equal(got, []string{latchkey.AuditLoginFailure, latchkey.AuditLoginSuccess}) {
				t.Errorf("--actor LAB\\goran --action login. = %v", got)
			}
			if got := events("--until", "1h"); len(got) != 0 {
				t.Errorf("--until 1h (ago) lists %v", actions(got))
			}
			if got := events("--since", "1h", "--until", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != len(all) {
				t.Errorf("--since 1h --until an hour from now lists %d events, want %d", len(got), len(all))
			}
			// Paging: --limit stops early and prints the next cursor on
			// stderr, which --cursor takes back.
			out, errOut, code := cli(t, nil, "", with("audit", "--limit", "2", "-o", "json")...)
			next := nextCursor(t, errOut)
			if code != 0 || len(decode[[]*latchkey.AuditEvent](t, out)) != 2 || next == "" {
				t.Fatalf("audit --limit 2: exit %d, cursor %q, stderr %q", code, next, errOut)
			}
			if got := actions(events("--cursor", next)); !slices.Equal(got, want[2:]) {
				t.Errorf("--cursor %s = %v, want %v", next, got, want[2:])
			}
			if _, errOut, _ := cli(t, nil, "", with("audit", "-o", "json")...); errOut != "" {
				t.Errorf("a whole list printed on stderr: %q", errOut)
			}

			table := mustCLI(t, "", with("audit", "--action", "apikey.")...)
			lines := strings.Split(strings.TrimSpace(table), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "ACTION") ||
				!strings.Contains(lines[1], "apikey.create") || !strings.Contains(lines[1], key.ID) {
				t.Errorf("audit table:\n%s", table)
			}

			mustFail(t, "--limit", with("audit", "--limit", "0")...)
			mustFail(t, "--since", with("audit", "--since", "yesterday")...)
			mustFail(t, "--user", with("audit", "--directory", "LAB")...)
			mustFail(t, "nobody", with("audit", "--user", "nobody")...)
			mustFail(t, "--before", with("audit", "--before", "0")...)
			mustFail(t, "table or json", with("audit", "-o", "csv")...)
			mustFail(t, "--subject-user", with("audit", "--subject-directory", "LAB")...)
			mustFail(t, "not both", with("audit", "--before", "5", "--cursor", "4")...)
			mustFail(t, "not both", with("audit", "--user", "goran", "--directory", "LAB", "--actor-id", "1")...)
			mustFail(t, "--until", with("audit", "--until", "tomorrow")...)
			mustFail(t, "empty", with("audit", "--since", "1h", "--until", "2h")...)
			mustFail(t, "cursor", with("audit", "--cursor", "nonsense")...)
		})
	}
}

func TestAuditHelp(t *testing.T) {
	out := mustCLI(t, "", "audit", "--help")
	if !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey audit --action login.") {
		t.Errorf("audit --help lacks examples:\n%s", out)
	}
}

func TestAuditParseSince(t *testing.T) {
	now := time.Date(2024, 10, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.AddDate(0, 0, -7),
		"2024-10-25T19:43:56Z": time.Date(2024, 10, 25, 19, 43, 56, 0, time.UTC),
		"2024-10-25":           time.Date(2024, 10, 25, 0, 0, 0, 0, time.Local),
	} {
		got, err := parseTime("--since", in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "-3d", "d", "2024-13-01"} {
		if _, err := parseTime("--since", in, now); err == nil {
			t.Errorf("parseTime(%q) succeeded", in)
		}
	}
}
