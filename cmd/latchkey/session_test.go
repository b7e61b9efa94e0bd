package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// TestSessionListRevoke lists and ends sessions that logins opened on a
// running node, and checks that the node refuses an ended session's token.
func TestSessionListRevoke(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "goran's long password\n", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--password-stdin")...)
			mustCLI(t, "bob's long password\n", with("user", "add", "--user", "bob", "--password-stdin")...)

			if out := decode[[]credential.SessionView](t, mustCLI(t, "", with("session", "list", "-o", "json")...)); len(out) != 0 {
				t.Errorf("sessions before any login: %+v", out)
			}

			// A session idle longer than its idle timeout cannot be used,
			// though it has not ended: it is not listed. A node whose
			// sessions idle out after a nanosecond opens one.
			idleConfig := filepath.Join(t.TempDir(), "idle.yaml")
			if err := os.WriteFile(idleConfig, []byte("sessions:\n  idle_timeout: 1ns\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var idle *latchkey.Session
			withServiceConfig(t, store, idleConfig, func(svc *credential.Service) {
				var err error
				if _, _, idle, err = svc.Login(context.Background(), "bob", "bob's long password", "198.51.100.9:444", "test-agent"); err != nil {
					t.Fatal(err)
				}
			})

			var tokBob string
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				_, tokG, sessG, err := svc.Login(ctx, `LAB\goran`, "goran's long password", "192.0.2.7:5555", "test-agent")
				if err != nil {
					t.Fatal(err)
				}
				_, tokB, sessB, err := svc.Login(ctx, "bob", "bob's long password", "198.51.100.9:443", "test-agent")
				if err != nil {
					t.Fatal(err)
				}

				ids := func(args ...string) []string {
					t.Helper()
					var out []string
					for _, s := range decode[[]credential.SessionView](t, mustCLI(t, "", with(append([]string{"session", "list", "-o", "json"}, args...)...)...)) {
						out = append(out, s.ID+" "+s.User)
					}
					slices.Sort(out)
					return out
				}
				g, b := sessG.ID+` LAB\goran`, sessB.ID+` LOCAL\bob`
				if got, want := ids(), slices.Sorted(slices.Values([]string{g, b})); !slices.Equal(got, want) {
					t.Errorf("session list = %v, want %v", got, want)
				}
				if got := ids("--directory", "LAB", "--user", "goran"); !slices.Equal(got, []string{g}) {
					t.Errorf("session list --user goran = %v", got)
				}
				if got := ids("--directory", "local"); !slices.Equal(got, []string{b}) {
					t.Errorf("session list --directory local = %v", got)
				}
				all := decode[[]credential.SessionView](t, mustCLI(t, "", with("session", "list", "--directory", "LAB", "--user", "goran", "-o", "json")...))
				if s := all[0]; s.Method != credential.ByPassword || s.RemoteAddr != "192.0.2.7:5555" || s.UserID != sessG.UserID || s.ExpiresAt.IsZero() {
					t.Errorf("listed session = %+v", s)
				}
				table := mustCLI(t, "", with("session", "list")...)
				if !strings.HasPrefix(table, "ID ") || !regexp.MustCompile(sessG.ID+`\s+LAB\\goran\s+password\s+-\s+192\.0\.2\.7:5555\s`).MatchString(table) {
					t.Errorf("session list printed\n%s", table)
				}
				if strings.Contains(table, tokG) || strings.Contains(table, tokB) {
					t.Errorf("session list shows a token:\n%s", table)
				}

				if _, _, err := svc.VerifySession(ctx, tokG); err != nil {
					t.Fatalf("goran's session does not work before revoke: %v", err)
				}
				if out := mustCLI(t, "", with("session", "revoke", sessG.ID)...); !strings.Contains(out, "ended session "+sessG.ID+` of LAB\goran`) {
					t.Errorf("session revoke printed %q", out)
				}
				eventually(t, "the node still accepts the ended session", func() bool {
					_, _, err := svc.VerifySession(ctx, tokG)
					return latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED
				})
				if _, _, err := svc.VerifySession(ctx, tokB); err != nil {
					t.Errorf("bob's session stopped working: %v", err)
				}
				if got := ids(); !slices.Equal(got, []string{b}) {
					t.Errorf("session list after revoke = %v", got)
				}
				if out := mustCLI(t, "", with("session", "revoke", sessG.ID)...); !strings.Contains(out, "ended already") {
					t.Errorf("second revoke printed %q", out)
				}

				// A session opened with an API key is listed with the key's id
				// until the key is revoked, which ends it.
				key := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran", "--read-only", "-o", "json")...))
				_, tokK, sessK, err := svc.Login(ctx, `LAB\goran`, key.Key, "192.0.2.7:5556", "test-agent")
				if err != nil {
					t.Fatal(err)
				}
				listed := decode[[]credential.SessionView](t, mustCLI(t, "", with("session", "list", "--directory", "LAB", "--user", "goran", "-o", "json")...))
				if len(listed) != 1 || listed[0].ID != sessK.ID || listed[0].Method != credential.ByAPIKey || listed[0].CredentialID != key.ID || !listed[0].ReadOnly {
					t.Errorf("session opened with a key: listed %+v", listed)
				}
				mustCLI(t, "", with("apikey", "revoke", key.ID)...)
				if got := ids("--directory", "LAB", "--user", "goran"); len(got) != 0 {
					t.Errorf("the session of a revoked key is listed: %v", got)
				}
				eventually(t, "the session of a revoked key still works", func() bool {
					_, _, err := svc.VerifySession(ctx, tokK)
					return latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED
				})

				// --all lists what can no longer be used too, with why.
				status := map[string]string{}
				for _, row := range strings.Split(strings.TrimSpace(mustCLI(t, "", with("session", "list", "--all")...)), "\n")[1:] {
					f := strings.Fields(row)
					status[f[0]] = f[len(f)-1]
				}
				want := map[string]string{sessG.ID: "ended", sessB.ID: "active", idle.ID: "idle", sessK.ID: "key-invalid"}
				if !maps.Equal(status, want) {
					t.Errorf("session list --all: status %v, want %v", status, want)
				}
				tokBob = tokB
			})

			// Paging: --limit 1 lists one and prints the cursor of the next
			// page on stderr; the pages together are the whole list.
			var paged []string
			cursor := ""
			for range 10 {
				args := with("session", "list", "--all", "--limit", "1", "-o", "json")
				if cursor != "" {
					args = append(args, "--cursor", cursor)
				}
				out, errOut, code := cli(t, nil, "", args...)
				if code != 0 {
					t.Fatalf("session list --limit 1: %s", errOut)
				}
				page := decode[[]credential.SessionView](t, out)
				if len(page) != 1 {
					t.Fatalf("session list --limit 1 listed %d", len(page))
				}
				paged = append(paged, page[0].ID)
				if cursor = nextCursor(t, errOut); cursor == "" {
					break
				}
			}
			if len(paged) != 4 || len(slices.Compact(slices.Sorted(slices.Values(paged)))) != 4 {
				t.Errorf("four sessions paged one at a time: %v", paged)
			}

			shown := decode[credential.SessionView](t, mustCLI(t, "", with("session", "show", idle.ID, "-o", "json")...))
			if shown.ID != idle.ID || shown.User != `LOCAL\bob` || shown.Active || shown.EndedAt != nil {
				t.Errorf("session show = %+v", shown)
			}

			// end-all ends every session of one user.
			ended := decode[struct {
				Success bool
				User    string
				Ended   int
			}](t, mustCLI(t, "", with("session", "end-all", "--user", "bob", "-o", "json")...))
			if !ended.Success || ended.User != `LOCAL\bob` || ended.Ended < 1 {
				t.Errorf("session end-all = %+v", ended)
			}
			withService(t, store, func(svc *credential.Service) {
				if _, _, err := svc.VerifySession(context.Background(), tokBob); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("bob's session works after end-all: %v", err)
				}
			})
			if got := decode[[]credential.SessionView](t, mustCLI(t, "", with("session", "list", "-o", "json")...)); len(got) != 0 {
				t.Errorf("sessions after end-all: %+v", got)
			}
			mustFail(t, "nosuch", with("session", "revoke", "nosuch")...)
			mustFail(t, "nobody", with("session", "list", "--user", "nobody")...)
			mustFail(t, "table or json", with("session", "list", "-o", "xml")...)
			mustFail(t, "arg", with("session", "revoke")...)
		})
	}
}

func TestSessionHelp(t *testing.T) {
	for _, sub := range []string{"list", "show", "revoke", "end-all"} {
		out := mustCLI(t, "", "session", sub, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey session "+sub) {
			t.Errorf("session %s --help lacks an example:\n%s", sub, out)
		}
	}
}
