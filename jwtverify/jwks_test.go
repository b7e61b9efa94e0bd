package jwtverify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// jwksServer serves a JWK Set that a test can replace, or a 500. It answers
// from memory, as the verifier's transport, so that tests may run in a
// synctest bubble, where the network is out of reach.
type jwksServer struct {
	URL     string
	body    atomic.Pointer[[]byte]
	failing atomic.Bool
	fetches atomic.Int32
	fetched chan struct{} // signalled after each fetch
}

func newJWKSServer(t *testing.T) *jwksServer {
	return &jwksServer{URL: "https://idp.test/jwks.json", fetched: make(chan struct{}, 1)}
}

func (s *jwksServer) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	if s.failing.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}
	s.fetches.Add(1)
	select {
	case s.fetched <- struct{}{}:
	default: // a signal is pending already
	}
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

// waitFetches waits, in a synctest bubble, until the set has been fetched n
// times in all and the verifier is done with the answer. It fails the test
// when an hour of the bubble's time passes first.
func (s *jwksServer) waitFetches(t *testing.T, n int32) {
	t.Helper()
	deadline := time.NewTimer(time.Hour)
	defer deadline.Stop()
	for s.fetches.Load() < n {
		select {
		case <-s.fetched:
		case <-deadline.C:
			t.Fatalf("%d fetches in an hour, want %d", s.fetches.Load(), n)
		}
	}
	synctest.Wait()
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

// jwksClock is a verifier's clock that a test moves.
type jwksClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jwksClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *jwksClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksVerifier returns a verifier of srv's set on clk (nil: testNow, which
// never moves).
func jwksVerifier(t *testing.T, srv *jwksServer, clk *jwksClock, refreshEvery, unknownKIDEvery time.Duration) *Verifier {
	o := defaultOptions
	o.now = func() time.Time { return testNow }
	if clk != nil {
		o.now = clk.now
	}
	o.transport = srv
	o.httpTimeout, o.refreshEvery, o.unknownKIDEvery = 2*time.Second, refreshEvery, unknownKIDEvery
	return newTest(t, Config{Name: "idp", Keys: []Key{{JWKSURL: srv.URL}},
		Algorithms: []string{"RS256", "ES256"}, Leeway: 30 * time.Second,
		Claims: Claims{User: "sub", DefaultDirectory: "IDP"}}, nil, o)
}

// TestJWKSRotationAndOutage runs on a clock the test moves: the unknown-kid
// gate opens again a minute after it last let a refetch through.
func TestJWKSRotationAndOutage(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	clk := &jwksClock{t: testNow}
	v := jwksVerifier(t, srv, clk, time.Hour, time.Minute)
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
	tokC := sign(t, jwt.SigningMethodRS256, k.rsa2, "c", c)
	_, err := v.VerifyUncached(ctx, tokC)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches for an unknown kid within a minute of the last, want still 2", n)
	}
	clk.advance(time.Minute) // the gate opens again
	_, err = v.VerifyUncached(ctx, tokC)
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
	clk.advance(time.Minute)
	v.VerifyUncached(ctx, sign(t, jwt.SigningMethodRS256, k.rsa2, "d", c)) // unknown kid: refetch
	if n := srv.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches after the second unknown kid, want 4", n)
	}
	_, err = v.VerifyUncached(ctx, tokA)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
}

// TestJWKSBackgroundRefreshKeepsLastGoodSet runs in a synctest bubble: the
// refreshes come on the bubble's clock, and the test waits for them.
func TestJWKSBackgroundRefreshKeepsLastGoodSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := keysOnce()
		srv := newJWKSServer(t)
		srv.publish(t, map[string]any{"a": k.rsa})
		v := jwksVerifier(t, srv, nil, 10*time.Millisecond, time.Hour)
		srv.failing.Store(true)
		srv.waitFetches(t, srv.fetches.Load()+3)
		ctx := context.Background()
		c := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
		if _, err := v.VerifyUncached(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "a", c)); err != nil {
			t.Fatalf("after failed refreshes: %v", err)
		}
		// An unknown kid spends the gate for the hour, so that only the
		// background refresh can find b.
		_, err := v.VerifyUncached(ctx, sign(t, jwt.SigningMethodRS256, k.rsa2, "x", c))
		wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")

		// The background refresh picks up a new set without an unknown kid.
		srv.publish(t, map[string]any{"a": k.rsa, "b": k.p256})
		srv.failing.Store(false)
		tokB := sign(t, jwt.SigningMethodES256, k.p256, "b", c)
		if _, err := v.VerifyUncached(ctx, tokB); err == nil {
			t.Fatal("b was found before a refresh")
		}
		srv.waitFetches(t, srv.fetches.Load()+1)
		if _, err := v.VerifyUncached(ctx, tokB); err != nil {
			t.Fatalf("the refresh did not find b: %v", err)
		}
	})
}

// TestJWKSUnknownKIDRateLimited runs in a synctest bubble, whose clock
// moves only when every goroutine waits: an unknown kid that waited for
// anything timed would take time.
func TestJWKSUnknownKIDRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := keysOnce()
		srv := newJWKSServer(t)
		srv.publish(t, map[string]any{"a": k.rsa})
		v := jwksVerifier(t, srv, nil, time.Hour, time.Hour)
		c := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
		for i, kid := range []string{"x", "y", "z"} {
			start := time.Now()
			_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, kid, c))
			wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
			if d := time.Since(start); d != 0 {
				t.Fatalf("unknown kid %d waited %s", i, d)
			}
		}
		if n := srv.fetches.Load(); n != 2 {
			t.Fatalf("%d fetches, want 2: the start and one refetch", n)
		}
	})
}

// TestJWKSFamilies: a JWK Set's keys, too, serve only their own family,
// with and without a kid, and an RSA key's bytes are no HMAC secret.
func TestJWKSFamilies(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa, "b": k.p256})
	v := jwksVerifier(t, srv, nil, time.Hour, time.Hour)
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
// stop New; its keys serve once it answers (an unknown kid refetches, when
// the gate opens again).
func TestJWKSDownAtStart(t *testing.T) {
	k := keysOnce()
	srv := newJWKSServer(t)
	srv.publish(t, map[string]any{"a": k.rsa})
	srv.failing.Store(true)
	clk := &jwksClock{t: testNow}
	v := jwksVerifier(t, srv, clk, time.Hour, time.Minute)
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "a", jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)})
	_, err := v.Verify(context.Background(), tok)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	srv.failing.Store(false)
	clk.advance(time.Minute)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

// TestJWKSClose: Close stops the background refresh. It runs in a synctest
// bubble: an hour of its time after Close brings no fetch, where a refresh
// still running would have fetched every 5ms.
func TestJWKSClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newJWKSServer(t)
		srv.publish(t, map[string]any{"a": keysOnce().rsa})
		v := jwksVerifier(t, srv, nil, 5*time.Millisecond, time.Hour)
		srv.waitFetches(t, 3)
		v.Close()
		synctest.Wait() // a refresh under way finishes
		select {
		case <-srv.fetched:
		default:
		}
		n := srv.fetches.Load()
		quiet := time.NewTimer(time.Hour)
		select {
		case <-srv.fetched:
			t.Fatalf("%d fetches after Close", srv.fetches.Load()-n)
		case <-quiet.C:
		}
	})
}
