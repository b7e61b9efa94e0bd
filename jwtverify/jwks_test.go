package jwtverify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// jwksServer serves a JWK Set that a test can replace, or a 500.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	failing atomic.Bool
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// publish serves the public halves of keys (kid → private key).
func (s *jwksServer) publish(t *testing.T, keys map[string]any) {
	t.Helper()
	st := jwkset.NewMemoryStorage()
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		if err != nil {
			t.Fatal(err)
		}
		st.KeyWrite(context.Background(), jwk)
	}
	raw, err := st.JSONPublic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(raw)
	s.body.Store(&b)
}

func jwksVerifier(t *testing.T, url string, refreshEvery, unknownKIDEvery time.Duration) *Verifier {
	o := defaultOptions
	o.now = func() time.Time { return testNow }
	o.httpTimeout, o.refreshEvery, o.unknownKIDEvery = 2*time.Second, refreshEvery, unknownKIDEvery
	return newTest(t, Config{Name: "idp", Keys: []Key{{JWKSURL: url}},
		Algorithms: []string{"RS256", "ES256"}, Leeway: 30 * time.Second,
		Claims: Claims{User: "sub", DefaultDirectory: "IDP"}}, nil, o)
}

func TestJWKSRotationAndOutage(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	v := jwksVerifier(t, srv.URL, time.Hour, time.Millisecond)
	ctx := context.Background()
	c := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
	tokA := sign(t, jwt.SigningMethodRS256, k.rsa, "a", c)
	tokB := sign(t, jwt.SigningMethodES256, k.p256, "b", c)
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches at start, want 1", n)
	}

	// Rotation: b appears; an unknown kid refetches once and finds it.
	srv.publish(t, map[string]any{"a": k.rsa, "b": k.p256})
	if res, err := v.VerifyUncached(ctx, tokB); err != nil || res.KeyID != "b" {
		t.Fatalf("after rotation: %+v %v", res, err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}

	// Outage: the server answers 500; the last good set still serves, and
	// an unknown kid is refused.
	srv.failing.Store(true)
	time.Sleep(5 * time.Millisecond) // let the unknown-kid limiter refill
	_, err := v.VerifyUncached(ctx, sign(t, jwt.SigningMethodRS256, k.rsa2, "c", c))
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	if n := srv.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after the unknown kid, want 3", n)
	}
	for _, tok := range []string{tokA, tokB} {
		if _, err := v.VerifyUncached(ctx, tok); err != nil {
			t.Fatalf("during the outage: %v", err)
		}
	}

	// A key removed from the set (revoked) stops working after a refetch.
	srv.failing.Store(false)
	srv.publish(t, map[string]any{"b": k.p256})
	time.Sleep(5 * time.Millisecond)
	v.VerifyUncached(ctx, sign(t, jwt.SigningMethodRS256, k.rsa2, "d", c)) // unknown kid: refetch
	_, err = v.VerifyUncached(ctx, tokA)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
}

func TestJWKSBackgroundRefreshKeepsLastGoodSet(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	v := jwksVerifier(t, srv.URL, 10*time.Millisecond, time.Hour)
	srv.failing.Store(true)
	start := srv.fetches.Load()
	deadline := time.Now().Add(5 * time.Second)
	for srv.fetches.Load() < start+3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.fetches.Load() < start+3 {
		t.Fatal("no background refresh")
	}
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)})
	if _, err := v.VerifyUncached(context.Background(), tok); err != nil {
		t.Fatalf("after failed refreshes: %v", err)
	}
	// The background refresh picks up a new set without an unknown kid.
	srv.publish(t, map[string]any{"a": k.rsa, "b": k.p256})
	srv.failing.Store(false)
	tokB := sign(t, jwt.SigningMethodES256, k.p256, "b", jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)})
	for {
		_, err := v.VerifyUncached(context.Background(), tokB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh never found b: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJWKSUnknownKIDRateLimited(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	v := jwksVerifier(t, srv.URL, time.Hour, time.Hour)
	c := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
	for i, kid := range []string{"x", "y", "z"} {
		start := time.Now()
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, kid, c))
		wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("unknown kid %d waited %s", i, d)
		}
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2: the start and one refetch", n)
	}
}

// TestJWKSFamilies: a JWK Set's keys, too, serve only their own family,
// with and without a kid, and an RSA key's bytes are no HMAC secret.
func TestJWKSFamilies(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa, "b": k.p256})
	v := jwksVerifier(t, srv.URL, time.Hour, time.Hour)
	c := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "", c)); err != nil {
		t.Fatalf("no kid, ES256: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "", c)); err != nil {
		t.Fatalf("no kid, RS256: %v", err)
	}
	empty := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	empty.Header["kid"] = ""
	raw, _ := empty.SignedString(k.rsa)
	_, err := v.Verify(ctx, raw) // an empty kid is no kid of the set
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	_, err = v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "a", c)) // kid of the RSA key
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	_, err = v.Verify(ctx, sign(t, jwt.SigningMethodHS256, k.rsa.PublicKey.N.Bytes(), "a", c))
	wantCode(t, err, latchkey.EUNAUTHORIZED, "HS256 is not accepted")
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want only the first", n)
	}
}

// TestJWKSDownAtStart: a JWK Set that does not answer at start does not
// stop New; its keys serve once it answers (an unknown kid refetches).
func TestJWKSDownAtStart(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	srv.failing.Store(true)
	v := jwksVerifier(t, srv.URL, time.Hour, time.Millisecond)
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)})
	_, err := v.Verify(context.Background(), tok)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	srv.failing.Store(false)
	time.Sleep(5 * time.Millisecond)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSClose: Close stops the background refresh.
func TestJWKSClose(t *testing.T) {
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": keysOnce().rsa})
	v := jwksVerifier(t, srv.URL, 5*time.Millisecond, time.Hour)
	time.Sleep(30 * time.Millisecond)
	v.Close()
	time.Sleep(10 * time.Millisecond) // a refresh under way may finish
	n := srv.fetches.Load()
	time.Sleep(50 * time.Millisecond)
	if m := srv.fetches.Load(); m != n {
		t.Fatalf("%d fetches after Close", m-n)
	}
}
