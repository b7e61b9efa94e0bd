package jwtissue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/jwtverify"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/sqlite"
	"github.com/latchkey/latchkey/storetest"
)

// clock is a settable time for rotation tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testSeal is the seal key of the test issuers.
var testSeal = Options{SealKey: []byte("0123456789abcdef0123456789abcdef")}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openStores opens n stores over one database, as n nodes would: on
// PostgreSQL when LATCHKEY_TEST_POSTGRES is set, else on one SQLite file.
func openStores(t *testing.T, n int) []latchkey.Store {
	t.Helper()
	ctx := context.Background()
	var out []latchkey.Store
	pg := os.Getenv(storetest.PostgresEnv) != ""
	dsn, path := "", filepath.Join(t.TempDir(), "latchkey.db")
	if pg {
		dsn = storetest.PostgresDSN(t)
	}
	for range n {
		var st latchkey.Store
		var err error
		if pg {
			st, err = postgres.Open(ctx, dsn, postgres.Options{Logger: quiet(), Timeout: 10 * time.Second})
		} else {
			st, err = sqlite.Open(ctx, path, sqlite.Options{Logger: quiet(), Timeout: 10 * time.Second})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out = append(out, st)
	}
	return out
}

func newTestIssuer(t *testing.T, st latchkey.Store, c Options, clk *clock) *Issuer {
	t.Helper()
	c = configured(c)
	c.SealKey = testSeal.SealKey
	c.Cache = jwtverify.NewCache(32<<20, clk.now)
	t.Cleanup(c.Cache.Close)
	is, err := newIssuer(context.Background(), st, quiet(), c, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	return is
}

var goran = &latchkey.Principal{UserID: 7, Directory: "LAB", Username: "goran", DisplayName: "Göran Sander",
	Email: "g@example.com", Groups: []string{"a", "b"}, Method: latchkey.MethodJWT}

func TestSignVerifyEachAlgorithm(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			clk := newClock()
			is := newTestIssuer(t, openStores(t, 1)[0], Options{Algorithm: alg, Issuer: "lk", Audience: "api",
				Lifetime: time.Hour, RotateEvery: 2 * time.Hour}, clk)
			raw, exp, err := is.Sign(context.Background(), goran)
			if err != nil {
				t.Fatal(err)
			}
			if want := clk.now().Add(time.Hour); !exp.Equal(want) {
				t.Errorf("exp = %v, want %v", exp, want)
			}
			r, err := is.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.Directory != "LAB" || r.Username != "goran" || r.DisplayName != "Göran Sander" || r.Email != "g@example.com" ||
				!slices.Equal(r.Groups, goran.Groups) || r.Subject != `LAB\goran` || r.Issuer != "lk" ||
				!slices.Equal(r.Audience, []string{"api"}) || r.JTI == "" ||
				!r.ExpiresAt.Equal(exp) || !r.IssuedAt.Equal(clk.now()) || !r.NotBefore.Equal(clk.now()) {
				t.Errorf("result = %+v", r)
			}
			tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header["alg"] != alg || tok.Header["kid"] != r.KeyID || r.KeyID == "" {
				t.Errorf("header = %v, kid %q", tok.Header, r.KeyID)
			}
			c := tok.Claims.(jwt.MapClaims)
			if c["uid"] != 7.0 || c["sub"] != `LAB\goran` {
				t.Errorf("uid %v, sub %v", c["uid"], c["sub"])
			}
			for _, name := range []string{"iss", "aud", "sub", "uid", "name", "email", "groups", "directory", "username", "iat", "nbf", "exp", "jti"} {
				if _, ok := c[name]; !ok {
					t.Errorf("claim %s missing: %v", name, c)
				}
			}
			raw2, _, _ := is.Sign(context.Background(), goran)
			if r2, err := is.Verify(context.Background(), raw2); err != nil || r2.JTI == r.JTI {
				t.Errorf("second token: %v, jti %q twice", err, r.JTI)
			}
		})
	}
}

// TestSignCapsExpiry: a token never outlives the principal's credentials.
func TestSignCapsExpiry(t *testing.T) {
	clk := newClock()
	is := newTestIssuer(t, openStores(t, 1)[0], Options{}, clk)
	p := *goran
	p.ExpiresAt = clk.now().Add(10 * time.Minute)
	_, exp, err := is.Sign(context.Background(), &p)
	if err != nil || !exp.Equal(p.ExpiresAt) {
		t.Errorf("exp = %v, %v; want %v", exp, err, p.ExpiresAt)
	}
	p.ExpiresAt = clk.now().Add(-time.Second)
	if _, _, err := is.Sign(context.Background(), &p); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		t.Errorf("expired principal: %v", err)
	}
	if _, _, err := is.Sign(context.Background(), latchkey.Anonymous); latchkey.ErrorCode(err) != latchkey.EINVALID {
		t.Errorf("anonymous: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	stores := openStores(t, 1)
	is := newTestIssuer(t, stores[0], Options{Lifetime: time.Hour}, clk)
	raw, _, err := is.Sign(ctx, goran)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestIssuer(t, openStores(t, 1)[0], Options{}, clk) // another deployment's keys
	foreign, _, _ := other.Sign(ctx, goran)
	// An issuer over the same keys with another audience.
	elsewhere := newTestIssuer(t, stores[0], Options{Audience: "elsewhere"}, clk)
	wrongAud, _, _ := elsewhere.Sign(ctx, goran)
	parts := strings.Split(raw, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := base64.RawURLEncoding.EncodeToString([]byte(strings.ReplaceAll(string(payload), "goran", "admin")))
	k := is.set.Load().keys[0]
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "exp": clk.now().Add(time.Hour).Unix()})
	hmac.Header["kid"] = k.id
	hs, _ := hmac.SignedString([]byte("secret"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"directory": "LAB", "username": "goran"})
	none.Header["kid"] = k.id
	unsigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	for _, tc := range []struct {
		name, raw, code string
	}{
		{"not a JWT", "abc", latchkey.EINVALID},
		{"empty", "", latchkey.EINVALID},
		{"tampered claims", parts[0] + "." + tampered + "." + parts[2], latchkey.EUNAUTHORIZED},
		{"other signature", parts[0] + "." + parts[1] + "." + strings.Split(foreign, ".")[2], latchkey.EUNAUTHORIZED},
		{"unknown kid", foreign, latchkey.EUNAUTHORIZED},
		{"wrong audience", wrongAud, latchkey.EUNAUTHORIZED},
		{"HS256", hs, latchkey.EUNAUTHORIZED},
		{"alg none", unsigned, latchkey.EUNAUTHORIZED},
	} {
		if _, err := is.Verify(ctx, tc.raw); latchkey.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	clk.advance(time.Hour + Leeway - time.Second)
	if _, err := is.Verify(ctx, raw); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	clk.advance(2 * time.Second)
	if _, err := is.Verify(ctx, raw); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED || !strings.Contains(latchkey.ErrorMessage(err), "expired") {
		t.Errorf("expired: %v", err)
	}
}

// jwksKeys returns the kids JWKS publishes.
func jwksKeys(t *testing.T, is *Issuer) []string {
	t.Helper()
	b, err := is.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// TestRotation: a new key after rotate_every; tokens of the old key stay
// valid until they expire, and the old key goes when it retires.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := openStores(t, 1)[0]
	is := newTestIssuer(t, st, Options{Lifetime: time.Hour, RotateEvery: 2 * time.Hour}, clk)
	first := jwksKeys(t, is)
	if len(first) != 1 {
		t.Fatalf("keys at start: %v", first)
	}
	clk.advance(2*time.Hour - time.Minute)
	old, _, _ := is.Sign(ctx, goran) // expires an hour later, after the rotation
	if err := is.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKeys(t, is); len(kids) != 1 {
		t.Fatalf("rotated too early: %v", kids)
	}
	clk.advance(2 * time.Minute)
	fresh, _, err := is.Sign(ctx, goran) // Sign itself rotates when due
	if err != nil {
		t.Fatal(err)
	}
	kids := jwksKeys(t, is)
	if len(kids) != 2 || kids[1] != first[0] {
		t.Fatalf("after rotation: %v", kids)
	}
	if r, err := is.Verify(ctx, fresh); err != nil || r.KeyID != kids[0] {
		t.Errorf("new token: %v", err)
	}
	clk.advance(50 * time.Minute)
	if r, err := is.Verify(ctx, old); err != nil || r.KeyID != first[0] {
		t.Errorf("old token before its expiry: %v", err)
	}
	clk.advance(10 * time.Minute) // the old key retires: 3h after it became active
	if err := is.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKeys(t, is); len(kids) != 1 || kids[0] == first[0] {
		t.Errorf("after retirement: %v", kids)
	}
	rows, _ := st.SigningKeys(ctx)
	if len(rows) != 1 {
		t.Errorf("%d keys stored, want 1", len(rows))
	}
	if _, err := is.Verify(ctx, old); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		t.Errorf("old token after retirement: %v", err)
	}
	events, _ := st.AuditEvents(ctx, latchkey.AuditFilter{Action: "signing_key."})
	if len(events) != 3 {
		t.Errorf("%d audit events, want 2 creations and 1 deletion", len(events))
	}
}

// TestTwoNodes: a second issuer over the same database verifies the first's
// tokens and learns of its rotation through the change feed.
func TestTwoNodes(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	stores := openStores(t, 2)
	c := Options{Lifetime: time.Hour, RotateEvery: 2 * time.Hour}
	a := newTestIssuer(t, stores[0], c, clk)
	b := newTestIssuer(t, stores[1], c, clk)
	if rows, _ := stores[1].SigningKeys(ctx); len(rows) != 1 {
		t.Fatalf("%d keys after the second start, want 1", len(rows))
	}
	raw, _, _ := a.Sign(ctx, goran)
	if _, err := b.Verify(ctx, raw); err != nil {
		t.Fatalf("b verifies a's token: %v", err)
	}
	before := jwksKeys(t, a)
	heardB := storetest.Record(t, stores[1]) // after b's own subscription: hears each change after b
	clk.advance(2*time.Hour + time.Second)
	if err := a.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	heardB.WaitUntil(t, 5*time.Second, "b's store hears of no new signing key", func(got []latchkey.Change) bool {
		return slices.ContainsFunc(got, func(c latchkey.Change) bool {
			return c.Kind == latchkey.ChangeSigningKey && !slices.Contains(before, c.Name)
		})
	})
	if kids := jwksKeys(t, b); len(kids) != 2 {
		t.Fatalf("b did not take in a's rotation: %v", kids)
	}
	fresh, _, _ := a.Sign(ctx, goran)
	rb, err := b.Verify(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	bs, _, _ := b.Sign(ctx, goran)
	if r, err := a.Verify(ctx, bs); err != nil || r.KeyID != rb.KeyID {
		t.Errorf("b signs with another key than a: %v", err)
	}
	if rows, _ := stores[0].SigningKeys(ctx); len(rows) != 2 {
		t.Errorf("%d keys, want 2", len(rows))
	}
}

// TestSimultaneousStart: nodes that start at once over an empty store may
// both make a key, but then sign with the same one and rotate no further.
func TestSimultaneousStart(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	stores := openStores(t, 3)
	issuers := make([]*Issuer, len(stores))
	var wg sync.WaitGroup
	for i, st := range stores {
		wg.Go(func() {
			is, err := newIssuer(ctx, st, quiet(), configured(testSeal), clk.now)
			if err != nil {
				t.Error(err)
				return
			}
			issuers[i] = is
		})
	}
	wg.Wait()
	for _, is := range issuers {
		if is == nil {
			t.FailNow()
		}
		t.Cleanup(func() { is.Close() })
	}
	rows, _ := stores[0].SigningKeys(ctx)
	if len(rows) < 1 || len(rows) > len(stores) {
		t.Fatalf("%d keys", len(rows))
	}
	kid := func(is *Issuer) string {
		raw, _, err := is.Sign(ctx, goran)
		if err != nil {
			t.Fatal(err)
		}
		r, err := issuers[0].Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return r.KeyID
	}
	heardAll(t, stores)
	if k0, k1, k2 := kid(issuers[0]), kid(issuers[1]), kid(issuers[2]); k0 != k1 || k1 != k2 {
		t.Fatalf("the nodes sign with different keys: %s %s %s", k0, k1, k2)
	}
	for _, is := range issuers {
		if err := is.maintain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := stores[0].SigningKeys(ctx); len(again) != len(rows) {
		t.Errorf("%d keys after maintenance, had %d", len(again), len(rows))
	}
}

// heardAll returns once the feed of every store has delivered, to every
// subscriber there, each change committed before heardAll was called. Each
// store commits a marker change, and each waits for the marker of another:
// a store's feed delivers the changes of the others in commit order, one
// change to all its subscribers before the next.
func heardAll(t *testing.T, stores []latchkey.Store) {
	t.Helper()
	const marker = 1 << 40 // no user has this id: ending its sessions changes nothing but the feed
	heard := make([]*storetest.Recorder, len(stores))
	for i, st := range stores {
		heard[i] = storetest.Record(t, st)
	}
	for i, st := range stores {
		if _, err := st.EndUserSessions(context.Background(), marker+int64(i), time.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range heard {
		r.WaitUntil(t, 5*time.Second, "no marker of another store", func(got []latchkey.Change) bool {
			return slices.ContainsFunc(got, func(c latchkey.Change) bool {
				return c.Kind == latchkey.ChangeUserSession && c.UserID >= marker && c.UserID != marker+int64(i)
			})
		})
	}
}

// TestJWKSVerifies: a client can verify a token with golang-jwt and the
// published key alone.
func TestJWKSVerifies(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			is := newTestIssuer(t, openStores(t, 1)[0], Options{Algorithm: alg}, newClock())
			raw, _, _ := is.Sign(ctx, goran)
			b, err := is.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(b, &doc); err != nil || len(doc.Keys) != 1 {
				t.Fatalf("JWKS = %s", b)
			}
			if k := doc.Keys[0]; k["use"] != "sig" || k["alg"] != alg || k["kid"] == "" || k["d"] != nil {
				t.Errorf("JWK = %v", k)
			}
			var set jwkset.JWKSMarshal
			json.Unmarshal(b, &set)
			jwks, err := set.JWKSlice()
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			_, err = jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
				for _, k := range jwks {
					if k.Marshal().KID == tok.Header["kid"] {
						return k.Key(), nil
					}
				}
				return nil, jwt.ErrTokenUnverifiable
			}, jwt.WithValidMethods([]string{alg}), jwt.WithAudience("latchkey"), jwt.WithIssuer("latchkey"))
			if err != nil || claims["sub"] != `LAB\goran` {
				t.Errorf("verify with the JWKS: %v, claims %v", err, claims)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	st := openStores(t, 1)[0]
	for _, c := range []Options{
		{Algorithm: "HS256"},
		{Lifetime: 3 * time.Hour, RotateEvery: time.Hour},
	} {
		c = configured(c)
		c.SealKey = testSeal.SealKey
		if _, err := New(context.Background(), st, nil, c); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestVerifyRemembers: a repeated token is answered from memory until it
// expires, and verified afresh once the signing keys change.
func TestVerifyRemembers(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := openStores(t, 1)[0]
	is := newTestIssuer(t, st, Options{Lifetime: time.Hour, RotateEvery: 2 * time.Hour}, clk)
	clk.advance(90 * time.Minute)
	raw, _, err := is.Sign(ctx, goran) // valid for an hour, past the next rotation
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Verify(ctx, raw); err != nil { // seen once: noted, not remembered
		t.Fatal(err)
	}
	first, err := is.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := is.Verify(ctx, raw); err != nil || again != first {
		t.Fatalf("a repeated token was verified again: %p %p %v", first, again, err)
	}
	if _, err := is.Verify(ctx, raw[:len(raw)-2]+"AA"); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("a token with another signature: %v", err)
	}

	// A key change (the rotation makes a key) makes every token be
	// verified afresh; the feed delivers it.
	clk.advance(31 * time.Minute)
	if err := is.maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKeys(t, is); len(kids) != 2 {
		t.Fatalf("no rotation: %v", kids)
	}
	// The store delivers its own changes as they commit, before maintain
	// returns.
	if r, err := is.Verify(ctx, raw); err != nil {
		t.Fatalf("the token before its expiry: %v", err)
	} else if r == first {
		t.Fatal("a token is still answered from memory after the keys changed")
	}

	clk.advance(30 * time.Minute) // past its expiry and the leeway
	if _, err := is.Verify(ctx, raw); latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("an expired token remembered: %v", err)
	}
}
