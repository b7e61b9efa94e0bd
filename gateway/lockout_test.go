package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestFailuresSameForUnknownIdentities fails sign-ins over and over on every
// login endpoint and with Basic, for an identity that exists and one that
// does not, with every kind of wrong secret: the answers (status, body and
// the headers that say why) must follow the same sequence, through the
// lockout and after it.
func TestFailuresSameForUnknownIdentities(t *testing.T) {
	type attempt func(f *jwtFixture, who, secret string) string
	show := func(code int, h map[string][]string, body string) string {
		return fmt.Sprintf("%d %q %q %s", code, strings.Join(h["Www-Authenticate"], ","), strings.Join(h["Retry-After"], ","), body)
	}
	endpoints := []struct {
		name           string
		known, unknown string
		try            attempt
	}{
		{"basic", `LAB\quant`, `LAB\nobody`, func(f *jwtFixture, who, secret string) string {
			w := f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(who, secret)))
			return show(w.Code, w.Header(), w.Body.String())
		}},
		{"/api/v1/login", `LAB\quant`, `LAB\nobody`, func(f *jwtFixture, who, secret string) string {
			body, _ := json.Marshal(loginRequest{Username: who, Password: secret})
			w := f.serve(request("POST", "/api/v1/login", string(body), xhr()...))
			return show(w.Code, w.Header(), w.Body.String())
		}},
		{"/api/Account/login", "quant@example.com", "nobody@example.com", func(f *jwtFixture, who, secret string) string {
			body, _ := json.Marshal(jwtLoginRequest{Email: who, Password: secret})
			w := f.serve(request("POST", "/api/Account/login", string(body), "Content-Type", "application/json"))
			return show(w.Code, w.Header(), w.Body.String())
		}},
	}
	secrets := []struct {
		name   string
		secret func(f *jwtFixture, other *latchkey.User) string
	}{
		{"wrong password", func(*jwtFixture, *latchkey.User) string { return "wrong" }},
		{"unknown key", func(*jwtFixture, *latchkey.User) string { return "lk_aaaaaaaaaaaaa_" + strings.Repeat("A", 43) }},
		{"another user's key", func(f *jwtFixture, other *latchkey.User) string { return f.key(other, false).Key }},
	}
	for _, ep := range endpoints {
		for _, sc := range secrets {
			t.Run(ep.name+"/"+sc.name, func(t *testing.T) {
				var seqs [2][]string
				for i, who := range []string{ep.known, ep.unknown} {
					f := newJWTFixture(t)
					f.addEmailUser("quant", "quant@example.com", latchkey.RoleAPIKeyUser)
					other := f.addEmailUser("other", "other@example.com", latchkey.RoleAPIKeyUser)
					secret := sc.secret(f, other)
					for range 8 {
						seqs[i] = append(seqs[i], ep.try(f, who, secret))
					}
				}
				if !strings.HasPrefix(seqs[0][len(seqs[0])-1], "429") {
					t.Errorf("never throttled: %q", seqs[0])
				}
				for j := range seqs[0] {
					if seqs[0][j] != seqs[1][j] {
						t.Errorf("attempt %d: known %s\n\tunknown %s", j+1, seqs[0][j], seqs[1][j])
					}
				}
			})
		}
	}
}

// TestLockoutTellsNoEmailsOwner locks out one way of naming an account and
// then tries the other: the answer must not depend on whether the email
// and the login name are the same user's.
func TestLockoutTellsNoEmailsOwner(t *testing.T) {
	basicTry := func(f *jwtFixture, who string) int {
		return f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(who, "wrong"))).Code
	}
	loginTry := func(f *jwtFixture, who string) int {
		body, _ := json.Marshal(loginRequest{Username: who, Password: "wrong"})
		return f.serve(request("POST", "/api/v1/login", string(body), xhr()...)).Code
	}
	emailTry := func(f *jwtFixture, who string) int {
		code, _ := f.jwtLogin(who, "wrong")
		return code
	}
	tests := []struct {
		name               string
		lock               func(*jwtFixture, string) int
		lockOwn, lockOther string // the user's name or email, and another that no user has
		probe              func(*jwtFixture, string) int
		probeAs            string
	}{
		{"name locked by /api/v1/login, email probed", loginTry, `LAB\quant`, `LAB\nobody`, emailTry, "quant@example.com"},
		{"name locked by Basic, email probed", basicTry, `LAB\quant`, `LAB\nobody`, emailTry, "quant@example.com"},
		{"email locked, name probed by Basic", emailTry, "quant@example.com", "nobody@example.com", basicTry, `LAB\quant`},
		{"email locked, name probed by /api/v1/login", emailTry, "quant@example.com", "nobody@example.com", loginTry, `LAB\quant`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]int
			for i, locked := range []string{tt.lockOwn, tt.lockOther} {
				f := newJWTFixture(t)
				f.addEmailUser("quant", "quant@example.com", latchkey.RoleAPIKeyUser)
				for range 6 {
					tt.lock(f, locked)
				}
				if c := tt.lock(f, locked); c != 429 {
					t.Fatalf("%s is not locked out: %d", locked, c)
				}
				got[i] = tt.probe(f, tt.probeAs)
			}
			if got[0] != got[1] || got[0] != 401 {
				t.Errorf("%s after locking its own account: %d; after locking another: %d; want 401 both", tt.probeAs, got[0], got[1])
			}
		})
	}
}
