package gateway

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// TestRouteAbilities checks a route's abilities: 403 naming what is
// missing for a known caller, 401 for an anonymous one.
func TestRouteAbilities(t *testing.T) {
	f := newFixture(t)
	f.addUser("boss", latchkey.RoleAdmin)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	boss := basic(`LAB\boss`, "password-boss")
	key := f.key(goran, false).Key
	tests := []struct {
		name, path string
		header     []string
		status     int
		want       string
	}{
		{"holder", "/admin/users", []string{"Authorization", boss}, 200, ""},
		{"holder by session", "/admin/users", []string{"Cookie", "wtsession=" + f.login(`LAB\boss`, "password-boss")}, 200, ""},
		{"one missing", "/admin/users", []string{"X-Api-Key", key}, 403, "This route needs the ability users.manage."},
		{"two missing", "/reports", []string{"X-Api-Key", key}, 403, "This route needs the abilities audit.read, reports.view."},
		{"one of two held", "/reports", []string{"Authorization", boss}, 403, "This route needs the ability reports.view."},
		{"no credentials", "/admin", nil, 401, "needs credentials"},
		{"anonymous where anonymous is allowed", "/audit", nil, 401, "needs credentials"},
		{"holder where anonymous is allowed", "/audit", []string{"Authorization", boss}, 200, ""},
		{"no abilities needed", "/optional", nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request("GET", tt.path, "", tt.header...))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 && !strings.Contains(errorMessage(t, w), tt.want) {
				t.Errorf("message %q does not say %q", errorMessage(t, w), tt.want)
			}
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") != basicChallenge {
				t.Errorf("401 without the Basic challenge")
			}
		})
	}
}

func TestMethodNames(t *testing.T) {
	if got := strings.Join(MethodNames(), ","); got != "session,basic,apikey,jwt,cert" {
		t.Fatalf("MethodNames() = %s", got)
	}
	// Without a credential service none of them is available.
	for _, m := range MethodNames() {
		if _, err := New(testConfig(config.Route{Name: "r", Prefix: "/", Upstream: "echo", Auth: []string{m}}), Deps{Log: quietLog()}); err == nil {
			t.Errorf("New without credentials accepted a route with %s", m)
		}
	}
	// With one, each is, under its name.
	f := newFixture(t)
	for _, m := range MethodNames() {
		if a := f.s.methods[m]; a == nil || a.Method() != m {
			t.Errorf("method %s: %v", m, a)
		}
	}
}
