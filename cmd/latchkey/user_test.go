package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestUserRoleRoundTrip drives user and role management through the command
// line on each backend.
func TestUserRoleRoundTrip(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			// Another administrator, so that goran may be disabled.
			mustCLI(t, "", with("user", "add", "--user", "root", "--role", "admin", "--no-password")...)

			out := mustCLI(t, "a long password\n", with("user", "add", "--directory", "LAB", "--user", "goran",
				"--name", "Göran Sander", "--email", "g@example.com", "--group", "sales", "--group", "emea",
				"--role", "apikey-user", "--password-stdin")...)
			if !strings.Contains(out, `created user LAB\goran`) {
				t.Fatalf("user add printed %q", out)
			}
			mustCLI(t, "", with("role", "grant", "--directory", "lab", "--user", "GORAN", "--role", "admin")...)

			var users []*latchkey.User
			if err := json.Unmarshal([]byte(mustCLI(t, "", with("user", "list", "-o", "json")...)), &users); err != nil {
				t.Fatalf("user list -o json: %v", err)
			}
			i := slices.IndexFunc(users, func(u *latchkey.User) bool { return u.Username == "goran" })
			if i < 0 {
				t.Fatalf("goran not listed: %+v", users)
			}
			u := users[i]
			if u.Directory != "LAB" || u.DisplayName != "Göran Sander" || u.Email != "g@example.com" ||
				!slices.Equal(u.Groups, []string{"sales", "emea"}) || !slices.Equal(u.Roles, []string{"admin", "apikey-user"}) {
				t.Errorf("listed user = %+v", u)
			}

			var shown struct {
				Roles       []string `json:"roles"`
				Abilities   []string `json:"abilities"`
				HasPassword bool     `json:"has_password"`
				Disabled    bool     `json:"disabled"`
			}
			show := func() {
				t.Helper()
				if err := json.Unmarshal([]byte(mustCLI(t, "", with("user", "show", "--directory", "LAB", "--user", "goran", "-o", "json")...)), &shown); err != nil {
					t.Fatal(err)
				}
			}
			show()
			if !shown.HasPassword || !slices.Contains(shown.Abilities, latchkey.AbilityAPIKeySignIn) || !slices.Contains(shown.Abilities, latchkey.AbilityUsersManage) {
				t.Errorf("user show = %+v", shown)
			}

			mustCLI(t, "", with("user", "disable", "--directory", "LAB", "--user", "goran")...)
			show()
			if !shown.Disabled {
				t.Error("user disable did not disable")
			}
			mustCLI(t, "", with("user", "enable", "--directory", "LAB", "--user", "goran")...)
			show()
			if shown.Disabled {
				t.Error("user enable did not enable")
			}

			mustCLI(t, "", with("role", "revoke", "--directory", "LAB", "--user", "goran", "--role", "admin")...)
			show()
			if !slices.Equal(shown.Roles, []string{"apikey-user"}) || slices.Contains(shown.Abilities, latchkey.AbilityUsersManage) {
				t.Errorf("after revoke: %+v", shown)
			}

			// Custom abilities and roles.
			if _, errOut, code := cli(t, nil, "", with("role", "add", "reporting", "--ability", "reports.read")...); code == 0 || !strings.Contains(errOut, "reports.read") {
				t.Errorf("role add with an undefined ability: exit %d, %q", code, errOut)
			}
			mustCLI(t, "", with("ability", "add", "reports.read", "--description", "Read reports")...)
			mustCLI(t, "", with("role", "add", "reporting", "--ability", "reports.read")...)
			var roles []*latchkey.Role
			if err := json.Unmarshal([]byte(mustCLI(t, "", with("role", "list", "-o", "json")...)), &roles); err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, r := range roles {
				names = append(names, r.Name)
			}
			for _, want := range []string{"admin", "apikey-user", "apikey-admin", "reporting"} {
				if !slices.Contains(names, want) {
					t.Errorf("role list lacks %s: %v", want, names)
				}
			}

			// Passwords: set from the environment, removed, refused when short.
			if _, errOut, code := cli(t, map[string]string{"PW": "new long password"}, "", with("user", "passwd", "--directory", "LAB", "--user", "goran", "--password-env", "PW")...); code != 0 {
				t.Errorf("passwd from env: %s", errOut)
			}
			if _, errOut, code := cli(t, nil, "short\n", with("user", "passwd", "--directory", "LAB", "--user", "goran", "--password-stdin")...); code == 0 || !strings.Contains(errOut, "at least 8") {
				t.Errorf("short password: exit %d, %q", code, errOut)
			}
			mustCLI(t, "", with("user", "passwd", "--directory", "LAB", "--user", "goran", "--clear")...)
			show()
			if shown.HasPassword {
				t.Error("passwd --clear left a password")
			}
		})
	}
}

// TestCLIErrors checks that failures exit non-zero with one sentence on
// stderr.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "", "user", "add", "--data-dir", dir, "--user", "ann", "--no-password")
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate user", "", []string{"user", "add", "--user", "ANN", "--no-password"}, "exists"},
		{"unknown user", "", []string{"user", "show", "--user", "bob"}, "bob"},
		{"unknown role", "", []string{"role", "grant", "--user", "ann", "--role", "nope"}, "nope"},
		{"bad directory", "", []string{"user", "add", "--directory", `A\B`, "--user", "x", "--no-password"}, "directory"},
		{"missing flag", "", []string{"user", "show"}, "user"},
		{"bad output", "", []string{"user", "list", "-o", "yaml"}, "table or json"},
		{"both secrets", "pw\n", []string{"user", "passwd", "--user", "ann", "--password-stdin", "--password-env", "X"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := cli(t, nil, tt.stdin, append(tt.args, "--data-dir", dir)...)
			if code == 0 {
				t.Fatal("exit status 0")
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "latchkey: ") || !strings.Contains(strings.ToLower(lines[0]), strings.ToLower(tt.want)) {
				t.Errorf("stderr = %q; want one line mentioning %q", errOut, tt.want)
			}
		})
	}
}
