package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestSessionMethod(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	token := f.login(`LAB\goran`, "password-goran")
	ended := f.login(`LAB\goran`, "password-goran")
	if err := f.creds.EndSession(context.Background(), ended, ""); err != nil {
		t.Fatal(err)
	}
	cookie := "wtsession=" + token
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		user, mention      string
	}{
		{"cookie on a GET", "GET", "/api/v1/projects", []string{"Cookie", cookie}, 200, "goran", ""},
		{"among other cookies", "GET", "/api/v1/projects", []string{"Cookie", "a=b; " + cookie + "; c=d"}, 200, "goran", ""},
		{"HEAD is safe", "HEAD", "/api/v1/projects", []string{"Cookie", cookie}, 200, "", ""},
		{"no cookie", "GET", "/api/v1/projects", nil, 401, "", "credentials"},
		{"no cookie, anonymous allowed", "GET", "/optional", nil, 200, "", ""},
		{"empty cookie is none", "GET", "/optional", []string{"Cookie", "wtsession="}, 200, "", ""},
		{"unknown token", "GET", "/optional", []string{"Cookie", "wtsession=" + strings.Repeat("x", 43)}, 401, "", "sign in again"},
		{"garbage token", "GET", "/api/v1/projects", []string{"Cookie", "wtsession=nonsense"}, 401, "", "sign in again"},
		{"ended session", "GET", "/api/v1/projects", []string{"Cookie", "wtsession=" + ended}, 401, "", "sign in again"},
		{"other cookie name", "GET", "/api/v1/projects", []string{"Cookie", "session=" + token}, 401, "", "credentials"},
		{"POST without the headers", "POST", "/api/v1/projects", []string{"Cookie", cookie}, 403, "", "X-Requested-With"},
		{"POST without X-Requested-With", "POST", "/api/v1/projects",
			[]string{"Cookie", cookie, "Origin", testOrigin, "Accept", "*/*"}, 403, "", "X-Requested-With header must be XMLHttpRequest"},
		{"DELETE from a foreign origin", "DELETE", "/api/v1/projects/1", xhr("Cookie", cookie, "Origin", "https://evil.example"), 403, "", `"https://evil.example" is not allowed`},
		{"PUT without Accept", "PUT", "/api/v1/projects/1",
			[]string{"Cookie", cookie, "Origin", testOrigin, "X-Requested-With", "XMLHttpRequest"}, 403, "", "Accept"},
		{"POST with the headers", "POST", "/api/v1/projects", xhr("Cookie", cookie), 200, "goran", ""},
		{"PATCH with the headers", "PATCH", "/api/v1/projects/1", xhr("Cookie", cookie), 200, "goran", ""},
		{"a bad cookie is 401 before the headers", "POST", "/api/v1/projects", []string{"Cookie", "wtsession=nonsense"}, 401, "", "sign in again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, tt.path, "", tt.header...))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.mention != "" {
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.mention) {
					t.Errorf("message %q does not mention %q", msg, tt.mention)
				}
			}
			if tt.user != "" {
				e := echoed(t, w)
				if e.Principal.Username != tt.user || e.Principal.Method != latchkey.MethodSession {
					t.Errorf("principal %s by %s, want %s by session", e.Principal.Username, e.Principal.Method, tt.user)
				}
			}
		})
	}
}

// TestSessionNoBasicChallengeOnKeyRoute checks that WWW-Authenticate comes
// only from routes that accept Basic.
func TestSessionChallenge(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{"/api/v1/x": basicChallenge, "/keyonly": ""} {
		w := f.serve(request("GET", path, "", "Cookie", "wtsession=nonsense"))
		if w.Code != 401 || w.Header().Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d, WWW-Authenticate %q; want 401, %q", path, w.Code, w.Header().Get("WWW-Authenticate"), want)
		}
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		header []string
		value  string
		ok     bool
	}{
		{nil, "", false},
		{[]string{"Cookie", "wtsession=abc"}, "abc", true},
		{[]string{"Cookie", "x=1; wtsession=abc; y=2"}, "abc", true},
		{[]string{"Cookie", "x=1", "Cookie", "wtsession=abc"}, "abc", true},
		{[]string{"Cookie", `wtsession="abc"`}, "abc", true},
		{[]string{"Cookie", "wtsession="}, "", true},
		{[]string{"Cookie", "WTSESSION=abc"}, "", false},
		{[]string{"Cookie", "wtsessionx=abc"}, "", false},
		{[]string{"Cookie", "wtsession=abc; wtsession=def"}, "abc", true},
	}
	for _, tt := range tests {
		v, ok := cookieValue(request("GET", "/", "", tt.header...), "wtsession")
		if v != tt.value || ok != tt.ok {
			t.Errorf("cookieValue(%q) = %q, %v; want %q, %v", tt.header, v, ok, tt.value, tt.ok)
		}
	}
}
