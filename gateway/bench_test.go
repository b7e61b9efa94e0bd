package gateway

import (
	"net/http"
	"testing"

	"github.com/latchkey/latchkey"
)

// benchAuthenticate times one method's Authenticate on a prepared request,
// after one warm-up call, so that the credential caches are hot.
func benchAuthenticate(b *testing.B, f *fixture, method string, r *http.Request) {
	a := f.s.methods[method]
	if p, err := a.Authenticate(r); err != nil || p.Username != "goran" {
		b.Fatalf("warm-up: %v %v", p, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthenticateAPIKey(b *testing.B) {
	f := newFixture(b)
	key := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false).Key
	benchAuthenticate(b, f, latchkey.MethodAPIKey, request("GET", "/api/v1/x", "", "X-Api-Key", key))
}

func BenchmarkAuthenticateSession(b *testing.B) {
	f := newFixture(b)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	token := f.login(`LAB\goran`, "password-goran")
	benchAuthenticate(b, f, latchkey.MethodSession, request("GET", "/api/v1/x", "", "Cookie", "wtsession="+token))
}

func BenchmarkAuthenticateBasicCached(b *testing.B) {
	f := newFixture(b)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	benchAuthenticate(b, f, latchkey.MethodBasic, request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\goran`, "password-goran")))
}
