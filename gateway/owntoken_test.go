package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtissue"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/storetest"
)

// ownTokenFixture is a gateway with latchkey's issuer, seed 002's JWT login
// and data route (latchkey's own tokens only), and a route with upstream_jwt
// whose upstream keeps the token it was sent.
type ownTokenFixture struct {
	*fixture
	mu       sync.Mutex
	upstream string // the last X-Latchkey-Jwt the upstream got
}

func newOwnTokenFixture(t *testing.T) *ownTokenFixture {
	t.Helper()
	return ownTokenFixtureOf(t, newFixture(t))
}

// ownTokenFixtureOf is newOwnTokenFixture over the fixture f.
func ownTokenFixtureOf(t *testing.T, f *fixture) *ownTokenFixture {
	t.Helper()
	of := &ownTokenFixture{fixture: f}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		of.mu.Lock()
		of.upstream = r.Header.Get(HeaderJWT)
		of.mu.Unlock()
	}))
	t.Cleanup(up.Close)
	is, err := jwtissue.New(context.Background(), of.st, quietLog(), IssuerOptions(defaultIssuer(), make([]byte, 32), nil, testTokenCache(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	cfg := *of.s.cfg
	cfg.Routes = append(slices.Clip(cfg.Routes),
		config.Route{Name: "data", Prefix: "/api/data/", Upstream: "echo",
			Auth: []string{latchkey.MethodJWT}, JWTVerifiers: []string{config.OwnVerifier}},
		config.Route{Name: "signed", Prefix: "/signed/", Upstream: up.URL,
			Auth: []string{"apikey", "basic", "session"}, UpstreamJWT: true})
	cfg.JWT = config.JWT{Login: config.JWTLogin{Path: "/api/Account/login"}}
	s, err := New(&cfg, Deps{Store: of.st, Creds: of.creds, Log: quietLog(), Issuer: is})
	if err != nil {
		t.Fatal(err)
	}
	s.refusalDelay = testRefusalDelay
	of.s = s
	return of
}

// upstreamToken sends GET /signed/x with the credential headers and returns
// the token the upstream got.
func (f *ownTokenFixture) upstreamToken(t *testing.T, cred ...string) string {
	t.Helper()
	if w := f.serve(request("GET", "/signed/x", "", cred...)); w.Code != 200 {
		t.Fatalf("GET /signed/x: %d %s", w.Code, w.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.upstream == "" {
		t.Fatal("the upstream got no token")
	}
	return f.upstream
}

// loginToken signs in at /api/Account/login and returns the token.
func (f *ownTokenFixture) loginToken(t *testing.T, email, secret string) string {
	t.Helper()
	body, _ := json.Marshal(jwtLoginRequest{Email: email, Password: secret})
	w := f.serve(request("POST", "/api/Account/login", string(body), "Content-Type", "application/json"))
	var resp jwtLoginResponse
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &resp) != nil {
		t.Fatalf("JWT login: %d %s", w.Code, w.Body)
	}
	return resp.Token
}

// claims decodes a token's claims, unverified.
func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(b, &c) != nil {
		t.Fatalf("not a JWT: %q", tok)
	}
	return c
}

// TestOwnTokensKeepTheirCredential signs tokens for principals of every
// kind of credential, sends them back as bearer tokens, and checks that
// each keeps the read-only state and the life of the credential it came
// from, and names that credential (never its secret).
func TestOwnTokensKeepTheirCredential(t *testing.T) {
	tests := []struct {
		name           string
		token          func(t *testing.T, s setup) (tok, secret, keyID string)
		after          func(t *testing.T, s setup, keyID string) // nil: nothing
		get, post      int                                       // the answers to the token, after
		readOnly       bool
		method, credID string // the claims; credID "key" is the key's id
	}{
		{"upstream_jwt of a read-only key", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, true)
			return s.f.upstreamToken(t, "X-Api-Key", k.Key), k.Key, k.ID
		}, nil, 200, 403, true, latchkey.MethodAPIKey, "key"},
		{"upstream_jwt of a read-only key through Basic", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, true)
			return s.f.upstreamToken(t, "Authorization", basic(`LAB\quant`, k.Key)), k.Key, k.ID
		}, nil, 200, 403, true, latchkey.MethodAPIKey, "key"},
		{"upstream_jwt of a read-only session", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, true)
			return s.f.upstreamToken(t, "Cookie", "wtsession="+s.f.login(`LAB\quant`, k.Key)), k.Key, k.ID
		}, nil, 200, 403, true, latchkey.MethodSession, ""},
		{"upstream_jwt of a key", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, false)
			return s.f.upstreamToken(t, "X-Api-Key", k.Key), k.Key, k.ID
		}, nil, 200, 200, false, latchkey.MethodAPIKey, "key"},
		{"upstream_jwt of a key revoked since", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, false)
			return s.f.upstreamToken(t, "X-Api-Key", k.Key), k.Key, k.ID
		}, revoke, 401, 401, false, latchkey.MethodAPIKey, "key"},
		{"upstream_jwt of a password", func(t *testing.T, s setup) (string, string, string) {
			return s.f.upstreamToken(t, "Authorization", basic(`LAB\quant`, "password-quant")), "password-quant", ""
		}, nil, 200, 200, false, credential.ByPassword, ""},
		{"JWT login with a key", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, false)
			return s.f.loginToken(t, "quant@example.com", k.Key), k.Key, k.ID
		}, nil, 200, 200, false, latchkey.MethodAPIKey, "key"},
		{"JWT login with a key revoked since", func(t *testing.T, s setup) (string, string, string) {
			k := s.f.key(s.user, false)
			return s.f.loginToken(t, "quant@example.com", k.Key), k.Key, k.ID
		}, revoke, 401, 401, false, latchkey.MethodAPIKey, "key"},
		{"JWT login with a password", func(t *testing.T, s setup) (string, string, string) {
			return s.f.loginToken(t, "quant@example.com", "password-quant"), "password-quant", ""
		}, nil, 200, 200, false, credential.ByPassword, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newOwnTokenFixture(t)
			u := f.addUser("quant", latchkey.RoleAPIKeyUser)
			email := "quant@example.com"
			if _, err := f.st.UpdateUser(context.Background(), u.ID, latchkey.UserUpdate{Email: &email}, nil); err != nil {
				t.Fatal(err)
			}
			s := setup{f, u}
			tok, secret, keyID := tt.token(t, s)
			c := claims(t, tok)
			if strings.Contains(tok, secret) || strings.Contains(string(mustJSON(c)), secret) {
				t.Errorf("the token holds the secret: %v", c)
			}
			wantID := tt.credID
			if wantID == "key" {
				wantID = keyID
			}
			if c["read_only"] != tt.readOnly || c["credential_method"] != tt.method || (wantID != "" && c["credential_id"] != wantID) {
				t.Errorf("claims %v; want read_only %v, credential_method %q, credential_id %q", c, tt.readOnly, tt.method, wantID)
			}
			if tt.after != nil {
				tt.after(t, s, keyID)
			}
			bearer := []string{"Authorization", "Bearer " + tok}
			if w := f.serve(request("GET", "/api/data/x", "", bearer...)); w.Code != tt.get {
				t.Errorf("GET with the token: %d %s, want %d", w.Code, w.Body, tt.get)
			}
			if w := f.serve(request("POST", "/api/data/x", "{}", xhr(bearer...)...)); w.Code != tt.post {
				t.Errorf("POST with the token: %d %s, want %d", w.Code, w.Body, tt.post)
			}
		})
	}
}

// setup is what a case of TestOwnTokensKeepTheirCredential works with.
type setup struct {
	f    *ownTokenFixture
	user *latchkey.User
}

func revoke(t *testing.T, s setup, id string) {
	t.Helper()
	if err := s.f.creds.RevokeAPIKey(context.Background(), nil, id, ""); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestClusterOwnTokenDiesWithItsKey signs in with an API key at the JWT
// login of node A, uses the token on node B until B has it cached, revokes
// the key on A, and measures how long B takes to refuse the token.
func TestClusterOwnTokenDiesWithItsKey(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	var nodes [2]*ownTokenFixture
	for i := range nodes {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{Logger: quietLog(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = ownTokenFixtureOf(t, newFixtureOn(t, st))
	}
	a, b := nodes[0], nodes[1]
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(t *testing.T, keyID string) latchkey.Change // on node A; the change node B hears
	}{
		{"revoked", func(t *testing.T, keyID string) latchkey.Change {
			k, err := a.st.APIKey(ctx, keyID)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.creds.RevokeAPIKey(ctx, nil, keyID, ""); err != nil {
				t.Fatal(err)
			}
			return latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: keyID, UserID: k.UserID}
		}},
		{"owner disabled", func(t *testing.T, keyID string) latchkey.Change {
			k, err := a.st.APIKey(ctx, keyID)
			if err != nil {
				t.Fatal(err)
			}
			yes := true
			if _, err := a.st.UpdateUser(ctx, k.UserID, latchkey.UserUpdate{Disabled: &yes}, nil); err != nil {
				t.Fatal(err)
			}
			return latchkey.Change{Kind: latchkey.ChangeUser, UserID: k.UserID}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("quant%d", i)
			u := a.addUser(name, latchkey.RoleAPIKeyUser)
			email := name + "@example.com"
			if _, err := a.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Email: &email}, nil); err != nil {
				t.Fatal(err)
			}
			k := a.key(u, false)
			tok := a.loginToken(t, email, k.Key)
			get := func() int {
				return b.serve(request("GET", "/api/data/x", "", "Authorization", "Bearer "+tok)).Code
			}
			if code := get(); code != 200 {
				t.Fatalf("node B does not take the token: %d", code)
			}
			// Wait for node B to hear the change itself, then ask once.
			heard := make(chan latchkey.Change, 16)
			t.Cleanup(b.st.Subscribe(func(c latchkey.Change) {
				select {
				case heard <- c:
				default:
				}
			}))
			want := tt.change(t, k.ID)
			start := time.Now()
			for c := (latchkey.Change{}); c != want; {
				select {
				case c = <-heard:
				case <-time.After(5 * time.Second):
					t.Fatalf("node B did not hear %+v within 5s", want)
				}
			}
			if code := get(); code != 401 {
				t.Fatalf("node B takes the token after hearing %+v: %d", want, code)
			}
			t.Logf("node B refused the token %v after the change on A", time.Since(start))
			if took := time.Since(start); took > time.Second {
				t.Errorf("node B refused the token only after %v, more than a second", took)
			}
		})
	}
}
