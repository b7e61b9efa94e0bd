package gateway

// Decision-path benchmarks: what the router decides for one request —
// authenticate with the route's methods, then authorize — for every method,
// cached and (where it means something) uncached, next to the raw
// cryptographic floors on the same machine. No network: the request is
// built in memory and no upstream is called.
//
// Already measured elsewhere, and not repeated here:
//   - bench_test.go: Authenticate alone (no authorize) for apikey, session
//     and basic (cached).
//   - jwt_bench_test.go: the RS256 route decision cached
//     (BenchmarkJWTCached) and uncached (BenchmarkJWTUncachedRS256), and
//     the floor rsa.VerifyPKCS1v15 2048 (BenchmarkRawRSAVerifyPKCS1v15).
//
// Run: go test ./gateway -run '^$' -bench 'Decision|Raw|JWT|Authenticate' -benchtime 1s -count 1

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/argon2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtverify"
	"github.com/latchkey/latchkey/password"
)

// decider returns a function that makes s's decision on r and checks that
// the principal is want; it fails the benchmark otherwise.
func decider(b *testing.B, s *Server, r *http.Request, want string) func() {
	b.Helper()
	rte, _, _ := s.routes.match(targetOf(r))
	if rte == nil {
		b.Fatalf("no route for %s", r.URL.Path)
	}
	return func() {
		p, err := rte.authenticate(r, s.metrics)
		if err == nil {
			err = rte.authorize(p, r)
		}
		if err != nil || p.Username != want {
			b.Fatal(p, err)
		}
	}
}

// benchDecision times the cached decision: one warm-up call fills the
// credential caches, then every iteration is answered from them.
func benchDecision(b *testing.B, s *Server, r *http.Request, want string) {
	decide := decider(b, s, r, want)
	decide()
	b.ReportAllocs()
	for b.Loop() {
		decide()
	}
}

// BenchmarkDecisionAPIKeyCached: X-Api-Key on /keyonly, key and owner in the
// credential caches.
func BenchmarkDecisionAPIKeyCached(b *testing.B) {
	f := newFixture(b)
	key := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false).Key
	benchDecision(b, f.s, request("GET", "/keyonly/x", "", "X-Api-Key", key), "goran")
}

// BenchmarkDecisionAPIKeyUncached: every iteration a key the service has
// never seen (made outside the timer), so the decision reads the key and
// its owner from SQLite.
func BenchmarkDecisionAPIKeyUncached(b *testing.B) {
	f := newFixture(b)
	u := f.addUser("goran", latchkey.RoleAPIKeyUser)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		decide := decider(b, f.s, request("GET", "/keyonly/x", "", "X-Api-Key", f.key(u, false).Key), "goran")
		b.StartTimer()
		decide()
	}
}

// BenchmarkDecisionSessionCached: the wtsession cookie on /api/v1/.
func BenchmarkDecisionSessionCached(b *testing.B) {
	f := newFixture(b)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	token := f.login(`LAB\goran`, "password-goran")
	benchDecision(b, f.s, request("GET", "/api/v1/x", "", "Cookie", "wtsession="+token), "goran")
}

// BenchmarkDecisionSessionUncached: the wtsession cookie on /api/v1/ with,
// every iteration, a session the credential service opened (outside the
// timer, as a login does after the password check) but has never verified,
// so the decision reads the session from SQLite. One session verified
// before the loop puts the user in the cache, so that each iteration is
// that one read, as for BenchmarkDecisionAPIKeyUncached after its first.
func BenchmarkDecisionSessionUncached(b *testing.B) {
	f := newFixture(b)
	u := f.addUser("goran", latchkey.RoleAPIKeyUser)
	p := &latchkey.Principal{UserID: u.ID, Directory: u.Directory, Username: u.Username}
	open := func() func() {
		token, _, err := f.creds.OpenSession(context.Background(), p, credential.ByPassword, "", "192.0.2.1:1234", "bench")
		if err != nil {
			b.Fatal(err)
		}
		return decider(b, f.s, request("GET", "/api/v1/x", "", "Cookie", "wtsession="+token), "goran")
	}
	open()()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		decide := open()
		b.StartTimer()
		decide()
	}
}

// BenchmarkDecisionBasicCached: Basic with the right password, after the
// first check (the password cache answers; no argon2id).
func BenchmarkDecisionBasicCached(b *testing.B) {
	f := newFixture(b)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	benchDecision(b, f.s, request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\goran`, "password-goran")), "goran")
}

// defaultHash is "password-goran" hashed at password.DefaultParams, made
// once per test binary.
var defaultHash = sync.OnceValue(func() string {
	h, err := password.NewHasher(password.DefaultParams, 1).Hash(context.Background(), "password-goran")
	if err != nil {
		panic(err)
	}
	return h
})

// BenchmarkDecisionBasicUncachedDefaultParams: Basic with the right
// password for a user never checked before, whose hash has the production
// cost (password.DefaultParams): one argon2id per iteration. Each iteration
// gets a new user (made outside the timer) with the same stored hash.
func BenchmarkDecisionBasicUncachedDefaultParams(b *testing.B) {
	f := newFixture(b)
	hash := defaultHash()
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		n++
		name := fmt.Sprintf("goran%d", n)
		u := &latchkey.User{Directory: "LAB", Username: name, PasswordHash: hash, Roles: []string{latchkey.RoleAPIKeyUser}}
		if err := f.st.CreateUser(context.Background(), u, nil); err != nil {
			b.Fatal(err)
		}
		decide := decider(b, f.s, request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\`+name, "password-goran")), name)
		b.StartTimer()
		decide()
	}
}

// edKey is the Ed25519 key of the EdDSA verifier "ed".
var edKey = sync.OnceValue(func() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// benchEdDSADecision is BenchmarkJWTCached / BenchmarkJWTUncachedRS256 for
// an EdDSA verifier.
func benchEdDSADecision(b *testing.B, cached bool) {
	f := newFixture(b)
	f.addUser(`LAB\goran`)
	der, err := x509.MarshalPKIXPublicKey(edKey().Public())
	if err != nil {
		b.Fatal(err)
	}
	c := bearerVerifierConfig(b, "qs")
	c.Name = "ed"
	c.Keys = []config.JWTKey{{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}
	c.Algorithms = []string{"EdDSA"}
	v, err := jwtverify.New(context.Background(), VerifierConfig(c, testTokenCache(b)), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	var tv TokenVerifier = v
	if !cached {
		tv = uncachedVerifier{v}
	}
	cfg := *f.s.cfg
	cfg.Routes = []config.Route{{Name: "ed", Prefix: "/jwt/", Upstream: "echo", Auth: []string{"jwt"}, JWTVerifiers: []string{"ed"}}}
	if f.s, err = New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Verifiers: map[string]TokenVerifier{"ed": tv}}); err != nil {
		b.Fatal(err)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"userId": "goran", "userDirectory": "LAB",
		"name": "Göran Sander", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "aud": "abc123", "jti": "t-1"}).
		SignedString(edKey())
	if err != nil {
		b.Fatal(err)
	}
	benchDecision(b, f.s, request("GET", "/jwt/qrs/about", "", "Authorization", "Bearer "+tok), "goran")
}

// BenchmarkDecisionJWTEdDSAUncached verifies the Ed25519 signature on every
// iteration (VerifyUncached).
func BenchmarkDecisionJWTEdDSAUncached(b *testing.B) { benchEdDSADecision(b, false) }

// BenchmarkDecisionJWTEdDSACached repeats the same token.
func BenchmarkDecisionJWTEdDSACached(b *testing.B) { benchEdDSADecision(b, true) }

// BenchmarkDecisionCert: a client certificate (CN alice) that the listener
// verified; the user INTERNAL\alice is in the store. The method keeps no
// cache of its own beyond the credential service's user cache, so there is
// no separate uncached case (the TLS handshake, which verifies the chain,
// is outside the decision).
func BenchmarkDecisionCert(b *testing.B) {
	f := newFixture(b)
	f.addUser(`INTERNAL\alice`, latchkey.RoleAPIKeyUser)
	cfg := testConfig(config.Route{Name: "qrs", Prefix: "/qrs/", Upstream: "echo", Auth: []string{"cert"}})
	cfg.Certificates = config.Certificates{Identity: "cn", Directory: "INTERNAL", ImpersonationHeader: "X-Qlik-User"}
	cfg.Sessions, cfg.APIKeys, cfg.Login = f.s.cfg.Sessions, f.s.cfg.APIKeys, f.s.cfg.Login
	s, err := New(cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	benchDecision(b, s, withCert(request("GET", "/qrs/about", ""), testPKI().alice), "alice")
}

// BenchmarkDecisionAuthOff: a public route (auth: []), the floor of the
// decision itself.
func BenchmarkDecisionAuthOff(b *testing.B) {
	f := newFixture(b)
	cfg := *f.s.cfg
	cfg.Routes = []config.Route{{Name: "open", Prefix: "/open/", Upstream: "echo", Auth: []string{}}}
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	benchDecision(b, s, request("GET", "/open/x", ""), latchkey.Anonymous.Username)
}

// The raw floors. BenchmarkRawRSAVerifyPKCS1v15 is in jwt_bench_test.go.

// BenchmarkRawECDSAVerifyP256: ecdsa.Verify of a SHA-256 digest, P-256.
func BenchmarkRawECDSAVerifyP256(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJnb3JhbiJ9"))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(&k.PublicKey, digest[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkRawEd25519Verify: ed25519.Verify over a JWT-sized signing input.
func BenchmarkRawEd25519Verify(b *testing.B) {
	k := edKey()
	msg := make([]byte, 200)
	sig := ed25519.Sign(k, msg)
	pub := k.Public().(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkRawHMACSHA256: HMAC-SHA256 over a 64-byte message with a 32-byte
// key (new MAC each time, as a verifier would).
func BenchmarkRawHMACSHA256(b *testing.B) {
	key, msg := make([]byte, 32), make([]byte, 64)
	var out [sha256.Size]byte
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		m.Sum(out[:0])
	}
}

// BenchmarkRawArgon2idDefaultParams: argon2.IDKey at password.DefaultParams.
func BenchmarkRawArgon2idDefaultParams(b *testing.B) {
	p := password.DefaultParams
	salt := make([]byte, p.SaltLen)
	b.ReportAllocs()
	for b.Loop() {
		argon2.IDKey([]byte("password-goran"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
}
