package main

import (
	"context"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// The administration commands, each on both backends. Fixtures are made
// through the command line or the credential service, never the store; a
// change made at the command line is checked by a node that starts after it
// (a fresh credential service), so that no test waits for the change feed.

// cliActorName is the actor the audit log records for these commands.
func cliActorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// nextCursor returns the cursor that a list stopped by --limit printed on
// stderr, "" when it printed none; anything else on stderr fails the test.
func nextCursor(t *testing.T, stderr string) string {
	t.Helper()
	stderr = strings.TrimSuffix(stderr, "\n")
	if stderr == "" {
		return ""
	}
	c, ok := strings.CutPrefix(stderr, nextCursorLine)
	if !ok || c == "" || strings.ContainsAny(c, " \n") {
		t.Fatalf("stderr %q is not %q and a cursor", stderr, nextCursorLine)
	}
	return c
}

// showUser returns "user show -o json" of DIR\user.
func showUser(t *testing.T, store []string, dir, name string) credential.UserView {
	t.Helper()
	return decode[credential.UserView](t, mustCLI(t, "", append([]string{"user", "show", "--directory", dir, "--user", name, "-o", "json"}, store...)...))
}

// TestUserDisableEnable: disabling ends the user's sessions and stops their
// API keys; enabling brings the keys back, not the sessions.
func TestUserDisableEnable(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			const pw = "goran's long password"
			mustCLI(t, "", with("user", "add", "--user", "root", "--role", "admin", "--no-password")...)
			mustCLI(t, pw+"\n", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--password-stdin")...)
			key := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran", "-o", "json")...))
			var token string
			withService(t, store, func(svc *credential.Service) {
				var err error
				if _, token, _, err = svc.Login(context.Background(), `LAB\goran`, pw, "192.0.2.7:5555", "test"); err != nil {
					t.Fatal(err)
				}
			})

			v := decode[credential.UserView](t, mustCLI(t, "", with("user", "disable", "--directory", "LAB", "--user", "goran", "-o", "json")...))
			if !v.Disabled || v.QualifiedName() != `LAB\goran` {
				t.Errorf("user disable -o json = %+v", v)
			}
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				if _, _, err := svc.VerifySession(ctx, token); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("the session of a disabled user: %v", err)
				}
				if _, err := svc.VerifyAPIKey(ctx, key.Key); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("the API key of a disabled user: %v", err)
				}
				if _, _, _, err := svc.Login(ctx, `LAB\goran`, pw, "192.0.2.7:5555", "test"); err == nil {
					t.Error("a disabled user signed in")
				}
			})
			if got := decode[[]credential.SessionView](t, mustCLI(t, "", with("session", "list", "--directory", "LAB", "--user", "goran", "-o", "json")...)); len(got) != 0 {
				t.Errorf("sessions of a disabled user are listed: %+v", got)
			}
			listed := decode[[]credential.UserView](t, mustCLI(t, "", with("user", "list", "--disabled", "-o", "json")...))
			if len(listed) != 1 || listed[0].Username != "goran" {
				t.Errorf("user list --disabled = %+v", listed)
			}
			// Disabling twice changes nothing and is no error.
			mustCLI(t, "", with("user", "disable", "--directory", "LAB", "--user", "goran")...)

			if out := mustCLI(t, "", with("user", "enable", "--directory", "LAB", "--user", "goran")...); out != "enabled user LAB\\goran\n" {
				t.Errorf("user enable printed %q", out)
			}
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				if _, err := svc.VerifyAPIKey(ctx, key.Key); err != nil {
					t.Errorf("the API key after enable: %v", err)
				}
				if _, _, err := svc.VerifySession(ctx, token); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("the ended session came back with enable: %v", err)
				}
			})
			evs := decode[[]*latchkey.AuditEvent](t, mustCLI(t, "", with("audit", "--subject-directory", "LAB", "--subject-user", "goran", "--action", "user.", "-o", "json")...))
			var acts []string
			for _, e := range evs {
				acts = append(acts, e.Action)
				if e.Actor != cliActorName() || e.RemoteAddr != "local" {
					t.Errorf("audit record %+v", e)
				}
			}
			if want := []string{latchkey.AuditUserEnable, latchkey.AuditUserDisable, latchkey.AuditUserCreate}; !slices.Equal(acts, want) {
				t.Errorf("audit of goran = %v, want %v", acts, want)
			}
		})
	}
}

// TestLastAdministrator: the store refuses to leave no enabled
// administrator; the command prints why and exits non-zero.
func TestLastAdministrator(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--user", "root", "--role", "admin", "--no-password")...)
			const why = "no enabled user with the role admin"
			mustFail(t, why, with("user", "disable", "--user", "root")...)
			mustFail(t, why, with("user", "delete", "--user", "root", "--yes")...)
			mustFail(t, why, with("role", "revoke", "--user", "root", "--role", "admin")...)
			if v := showUser(t, store, "LOCAL", "root"); v.Disabled || !slices.Equal(v.Roles, []string{"admin"}) {
				t.Errorf("after the refusals root is %+v", v)
			}
			// With a second administrator the first may go.
			mustCLI(t, "", with("user", "add", "--user", "second", "--role", "admin", "--no-password")...)
			mustCLI(t, "", with("user", "disable", "--user", "root")...)
			mustFail(t, why, with("user", "disable", "--user", "second")...)
			mustFail(t, "built-in role", with("role", "set-abilities", "admin", "--ability", "audit.read")...)
		})
	}
}

// TestUserDelete: delete needs --yes, takes the user's keys and sessions,
// and leaves the audit log.
func TestUserDelete(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--no-password")...)
			key := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran", "-o", "json")...))
			goran := showUser(t, store, "LAB", "goran")

			mustFail(t, "--yes", with("user", "delete", "--directory", "LAB", "--user", "goran")...)
			showUser(t, store, "LAB", "goran") // still there
			out := decode[struct {
				Success bool
				ID      int64
				User    string
			}](t, mustCLI(t, "", with("user", "delete", "--directory", "LAB", "--user", "goran", "--yes", "-o", "json")...))
			if !out.Success || out.ID != goran.ID || out.User != `LAB\goran` {
				t.Errorf("user delete -o json = %+v", out)
			}
			mustFail(t, `no user lab\goran`, with("user", "show", "--directory", "LAB", "--user", "goran")...)
			withService(t, store, func(svc *credential.Service) {
				if _, err := svc.VerifyAPIKey(context.Background(), key.Key); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("the key of a deleted user: %v", err)
				}
			})
			if got := decode[[]keyOut](t, mustCLI(t, "", with("apikey", "list", "-o", "json")...)); len(got) != 0 {
				t.Errorf("keys of a deleted user are listed: %+v", got)
			}
			evs := decode[[]*latchkey.AuditEvent](t, mustCLI(t, "", with("audit", "--subject-id", strconv.FormatInt(goran.ID, 10), "-o", "json")...))
			if len(evs) != 2 || evs[0].Action != latchkey.AuditUserDelete || evs[0].Target != `LAB\goran` || evs[1].Action != latchkey.AuditUserCreate {
				t.Errorf("the audit log of a deleted user: %+v", evs)
			}
			mustFail(t, "nobody", with("user", "delete", "--user", "nobody", "--yes")...)
		})
	}
}

// TestUserPasswd: a password flag or --clear is required; setting one ends
// the user's sessions; passwords.min_length holds.
func TestUserPasswd(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			const old, fresh = "the old long password", "the new long password"
			mustCLI(t, old+"\n", with("user", "add", "--user", "ann", "--password-stdin")...)

			mustFail(t, "--password-stdin", with("user", "passwd", "--user", "ann")...)
			mustFail(t, "not both", with("user", "passwd", "--user", "ann", "--clear", "--password-env", "PW")...)
			mustFail(t, "empty", with("user", "passwd", "--user", "ann", "--password-stdin")...)
			mustFail(t, "PW", with("user", "passwd", "--user", "ann", "--password-env", "PW")...)

			var token string
			withService(t, store, func(svc *credential.Service) {
				var err error
				if _, token, _, err = svc.Login(context.Background(), "ann", old, "192.0.2.1:1", "test"); err != nil {
					t.Fatal(err)
				}
			})
			v := decode[credential.UserView](t, mustCLI(t, fresh+"\n", with("user", "passwd", "--user", "ann", "--password-stdin", "-o", "json")...))
			if !v.HasPassword || v.Username != "ann" {
				t.Errorf("user passwd -o json = %+v", v)
			}
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				if _, _, err := svc.VerifySession(ctx, token); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
					t.Errorf("a session from before the new password: %v", err)
				}
				if _, _, _, err := svc.Login(ctx, "ann", old, "192.0.2.1:1", "test"); err == nil {
					t.Error("the old password still signs in")
				}
				if _, _, _, err := svc.Login(ctx, "ann", fresh, "192.0.2.1:1", "test"); err != nil {
					t.Errorf("the new password: %v", err)
				}
			})

			// The configured minimum length holds at the command line too.
			strict := filepath.Join(t.TempDir(), "strict.yaml")
			if err := os.WriteFile(strict, []byte("passwords:\n  min_length: 30\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, errOut, code := cli(t, map[string]string{"PW": fresh}, "", with("user", "passwd", "--config", strict, "--user", "ann", "--password-env", "PW")...); code == 0 || !strings.Contains(errOut, "at least 30") {
				t.Errorf("a password under passwords.min_length: exit %d, %q", code, errOut)
			}
			if _, errOut, code := cli(t, map[string]string{"PW": strings.Repeat("x", 30)}, "", with("user", "add", "--config", strict, "--user", "bob", "--password-env", "PW")...); code != 0 {
				t.Errorf("a password of passwords.min_length: %s", errOut)
			}

			if out := mustCLI(t, "", with("user", "passwd", "--user", "ann", "--clear")...); !strings.Contains(out, "removed") || !strings.Contains(out, "sessions ended") {
				t.Errorf("passwd --clear printed %q", out)
			}
			if showUser(t, store, "LOCAL", "ann").HasPassword {
				t.Error("passwd --clear left a password")
			}

			// user add wants a password, or to be told there is none.
			mustFail(t, "--no-password", with("user", "add", "--user", "cid")...)
			mustFail(t, "not both", with("user", "add", "--user", "cid", "--no-password", "--password-env", "PW")...)
			if v := decode[credential.UserView](t, mustCLI(t, "", with("user", "add", "--user", "cid", "--no-password", "-o", "json")...)); v.HasPassword || v.Username != "cid" || v.ID == 0 {
				t.Errorf("user add --no-password -o json = %+v", v)
			}
		})
	}
}

// TestUserUpdateAndList changes users' fields and lists them with each filter
// and a page at a time.
func TestUserUpdateAndList(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--user", "root", "--role", "admin", "--no-password")...)
			for _, u := range []string{"ann", "bob", "cid", "dan", "eve"} {
				mustCLI(t, "", with("user", "add", "--directory", "LAB", "--user", u, "--name", strings.ToUpper(u)+" Example",
					"--email", u+"@example.com", "--group", "staff", "--no-password")...)
			}
			mustCLI(t, "", with("role", "grant", "--directory", "LAB", "--user", "bob", "--role", "apikey-user")...)
			mustCLI(t, "", with("user", "disable", "--directory", "LAB", "--user", "cid")...)

			v := decode[credential.UserView](t, mustCLI(t, "", with("user", "update", "--directory", "LAB", "--user", "ann",
				"--name", "Ann Other", "--group", "sales", "--group", "emea", "-o", "json")...))
			if v.DisplayName != "Ann Other" || v.Email != "ann@example.com" || !slices.Equal(v.Groups, []string{"sales", "emea"}) {
				t.Errorf("user update = %+v", v)
			}
			mustCLI(t, "", with("user", "update", "--directory", "LAB", "--user", "ann", "--no-groups", "--email", "")...)
			if v := showUser(t, store, "LAB", "ann"); len(v.Groups) != 0 || v.Email != "" || v.DisplayName != "Ann Other" {
				t.Errorf("after --no-groups --email '': %+v", v)
			}
			mustFail(t, "nothing to change", with("user", "update", "--directory", "LAB", "--user", "ann")...)
			mustFail(t, "not an email", with("user", "update", "--directory", "LAB", "--user", "ann", "--email", "nope")...)

			names := func(args ...string) []string {
				t.Helper()
				var out []string
				for _, u := range decode[[]credential.UserView](t, mustCLI(t, "", with(append([]string{"user", "list", "-o", "json"}, args...)...)...)) {
					out = append(out, u.Username)
				}
				return out
			}
			for _, tt := range []struct {
				args []string
				want []string
			}{
				{nil, []string{"ann", "bob", "cid", "dan", "eve", "root"}},
				{[]string{"--directory", "lab"}, []string{"ann", "bob", "cid", "dan", "eve"}},
				{[]string{"--search", "EVE@"}, []string{"eve"}},
				{[]string{"--search", "other"}, []string{"ann"}},
				{[]string{"--role", "apikey-user"}, []string{"bob"}},
				{[]string{"--role", "admin"}, []string{"root"}},
				{[]string{"--disabled"}, []string{"cid"}},
				{[]string{"--enabled", "--directory", "LAB"}, []string{"ann", "bob", "dan", "eve"}},
				{[]string{"--search", "nobody"}, nil},
			} {
				if got := names(tt.args...); !slices.Equal(got, tt.want) {
					t.Errorf("user list %v = %v, want %v", tt.args, got, tt.want)
				}
			}
			if out := mustCLI(t, "", with("user", "list", "--search", "nobody", "-o", "json")...); strings.TrimSpace(out) != "[]" {
				t.Errorf("an empty list prints %q, want []", out)
			}

			// A page at a time: two, two, two, and no cursor after the last.
			var paged []string
			cursor := ""
			for page := 0; ; page++ {
				args := with("user", "list", "--limit", "2", "-o", "json")
				if cursor != "" {
					args = append(args, "--cursor", cursor)
				}
				out, errOut, code := cli(t, nil, "", args...)
				if code != 0 {
					t.Fatalf("user list --limit 2: %s", errOut)
				}
				for _, u := range decode[[]credential.UserView](t, out) {
					paged = append(paged, u.Username)
				}
				cursor = nextCursor(t, errOut)
				if cursor == "" || page > 5 {
					break
				}
			}
			if want := []string{"ann", "bob", "cid", "dan", "eve", "root"}; !slices.Equal(paged, want) {
				t.Errorf("paged = %v, want %v", paged, want)
			}
			table := mustCLI(t, "", with("user", "list", "--limit", "1")...)
			if lines := strings.Split(strings.TrimSpace(table), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") {
				t.Errorf("user list --limit 1 printed\n%s", table)
			}
			mustFail(t, "not both", with("user", "list", "--disabled", "--enabled")...)
			mustFail(t, "limit", with("user", "list", "--limit", "-1")...)
			mustFail(t, "cursor", with("user", "list", "--cursor", "garbage")...)
		})
	}
}

// TestRolesAndAbilities: custom roles and abilities, set-abilities reaching
// the holders, and the rules for built-in ones.
func TestRolesAndAbilities(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--directory", "LAB", "--user", "goran", "--no-password")...)
			ab := decode[latchkey.Ability](t, mustCLI(t, "", with("ability", "add", "reports.read", "--description", "Read reports", "-o", "json")...))
			if ab.Name != "reports.read" || ab.Description != "Read reports" || ab.BuiltIn {
				t.Errorf("ability add -o json = %+v", ab)
			}
			mustCLI(t, "", with("ability", "add", "reports.write")...)
			r := decode[latchkey.Role](t, mustCLI(t, "", with("role", "add", "reporting", "--ability", "reports.read", "--description", "Reads", "-o", "json")...))
			if r.Name != "reporting" || !slices.Equal(r.Abilities, []string{"reports.read"}) || r.BuiltIn {
				t.Errorf("role add -o json = %+v", r)
			}
			v := decode[credential.UserView](t, mustCLI(t, "", with("role", "grant", "--directory", "LAB", "--user", "goran", "--role", "reporting", "-o", "json")...))
			if !slices.Equal(v.Roles, []string{"reporting"}) || !slices.Equal(v.Abilities, []string{"reports.read"}) {
				t.Errorf("role grant -o json = %+v", v)
			}
			mustFail(t, "", with("role", "grant", "--directory", "LAB", "--user", "goran", "--role", "reporting")...)

			r = decode[latchkey.Role](t, mustCLI(t, "", with("role", "set-abilities", "reporting", "--ability", "reports.write", "--ability", "apikey.signin", "-o", "json")...))
			if !slices.Equal(r.Abilities, []string{"apikey.signin", "reports.write"}) {
				t.Errorf("set-abilities -o json = %+v", r)
			}
			if v := showUser(t, store, "LAB", "goran"); !slices.Equal(v.Abilities, []string{"apikey.signin", "reports.write"}) {
				t.Errorf("the holder's abilities after set-abilities: %v", v.Abilities)
			}
			withService(t, store, func(svc *credential.Service) {
				key, err := svc.GenerateAPIKey(context.Background(), credential.Operator("test"), credential.KeyRequest{OwnerID: v.ID}, "test")
				if err != nil {
					t.Fatal(err)
				}
				if p, err := svc.VerifyAPIKey(context.Background(), key.Key); err != nil || !p.Can("reports.write") || p.Can("reports.read") {
					t.Errorf("a node after set-abilities: %v, %+v", err, p)
				}
			})
			mustFail(t, "--ability", with("role", "set-abilities", "reporting")...)
			mustFail(t, "nope", with("role", "set-abilities", "reporting", "--ability", "nope")...)
			// A built-in role gains abilities but keeps its own.
			mustCLI(t, "", with("role", "set-abilities", "apikey-user", "--ability", "apikey.generate", "--ability", "apikey.signin", "--ability", "reports.read")...)
			mustFail(t, "built-in", with("role", "set-abilities", "apikey-user", "--ability", "reports.read")...)

			if r := decode[latchkey.Role](t, mustCLI(t, "", with("role", "update", "reporting", "--description", "Writes reports", "-o", "json")...)); r.Description != "Writes reports" {
				t.Errorf("role update = %+v", r)
			}
			if r := decode[latchkey.Role](t, mustCLI(t, "", with("role", "show", "reporting", "-o", "json")...)); r.Description != "Writes reports" || len(r.Abilities) != 2 {
				t.Errorf("role show = %+v", r)
			}
			if table := mustCLI(t, "", with("role", "show", "admin")...); !strings.Contains(table, "users.manage") || !strings.Contains(table, "builtin") {
				t.Errorf("role show admin:\n%s", table)
			}
			mustFail(t, "nosuch", with("role", "show", "nosuch")...)

			if v := decode[credential.UserView](t, mustCLI(t, "", with("role", "revoke", "--directory", "LAB", "--user", "goran", "--role", "reporting", "-o", "json")...)); len(v.Roles) != 0 {
				t.Errorf("role revoke -o json = %+v", v)
			}
			mustCLI(t, "", with("role", "grant", "--directory", "LAB", "--user", "goran", "--role", "reporting")...)

			// Deleting: --yes, built-ins never; holders lose the role.
			mustFail(t, "--yes", with("role", "delete", "reporting")...)
			mustFail(t, "built-in", with("role", "delete", "admin", "--yes")...)
			if d := decode[success](t, mustCLI(t, "", with("role", "delete", "reporting", "--yes", "-o", "json")...)); !d.Success || d.Message != "deleted role reporting" {
				t.Errorf("role delete -o json = %+v", d)
			}
			if v := showUser(t, store, "LAB", "goran"); len(v.Roles) != 0 {
				t.Errorf("goran still holds %v", v.Roles)
			}
			mustFail(t, "--yes", with("ability", "delete", "reports.read")...)
			mustFail(t, "built-in", with("ability", "delete", "users.manage", "--yes")...)
			mustCLI(t, "", with("ability", "delete", "reports.read", "--yes")...)
			var names []string
			for _, a := range decode[[]latchkey.Ability](t, mustCLI(t, "", with("ability", "list", "-o", "json")...)) {
				names = append(names, a.Name)
			}
			if slices.Contains(names, "reports.read") || !slices.Contains(names, "reports.write") || !slices.Contains(names, "audit.read") {
				t.Errorf("ability list = %v", names)
			}
			if r := decode[latchkey.Role](t, mustCLI(t, "", with("role", "show", "apikey-user", "-o", "json")...)); slices.Contains(r.Abilities, "reports.read") {
				t.Errorf("a deleted ability is still granted: %+v", r)
			}
			var acts []string
			for _, e := range decode[[]*latchkey.AuditEvent](t, mustCLI(t, "", with("audit", "--action", "ability.", "-o", "json")...)) {
				acts = append(acts, e.Action+" "+e.Target)
			}
			if want := []string{"ability.delete reports.read", "ability.create reports.write", "ability.create reports.read"}; !slices.Equal(acts, want) {
				t.Errorf("audit of abilities = %v, want %v", acts, want)
			}
		})
	}
}
