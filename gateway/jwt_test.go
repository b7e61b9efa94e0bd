package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtverify"
)

// bearerKeys are two RSA keys, made once per test binary: "qs" signs for
// the qs verifier, "idp" for the idp verifier.
var bearerKeys = sync.OnceValue(func() map[string]*rsa.PrivateKey {
	m := map[string]*rsa.PrivateKey{}
	for _, name := range []string{"qs", "idp"} {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		m[name] = k
	}
	return m
})

// bearerVerifierConfig is seed 000's QSEoW verifier (or another like it).
func bearerVerifierConfig(t testing.TB, name string) config.JWTVerifier {
	der, err := x509.MarshalPKIXPublicKey(&bearerKeys()[name].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return config.JWTVerifier{
		Name: name, Keys: []config.JWTKey{{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}},
		Algorithms: []string{"RS256"}, Audience: []string{"abc123"}, Leeway: config.Duration(30 * time.Second),
		Claims: config.JWTClaims{User: "userId", Directory: "userDirectory", DefaultDirectory: "LOCAL",
			Name: "name", Email: "email", Groups: []string{"group", "groups"}},
	}
}

// bearerToken signs seed 000's claims (with changes: name, value pairs) with
// the named key.
func bearerJWT(t testing.TB, key string, changes ...any) string {
	t.Helper()
	c := jwt.MapClaims{"userId": "goran", "userDirectory": "LAB", "name": "Göran Sander", "email": "",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "aud": "abc123", "jti": "t-1"}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == nil {
			delete(c, changes[i].(string))
		} else {
			c[changes[i].(string)] = changes[i+1]
		}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(bearerKeys()[key])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// bearerIssuer stands in for latchkey's own issuer: "own-token" is
// LOCAL\robot's.
type bearerIssuer struct{}

func (bearerIssuer) Verify(_ context.Context, raw string) (*jwtverify.Result, error) {
	if raw != "own-token" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "Not latchkey's token.")
	}
	return &jwtverify.Result{Directory: "LOCAL", Username: "robot", KeyID: "own-kid", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

func (bearerIssuer) Sign(context.Context, *latchkey.Principal) (string, time.Time, error) {
	return "own-token", time.Now().Add(time.Hour), nil
}

func (bearerIssuer) JWKS(context.Context) ([]byte, error) { return []byte(`{"keys":[]}`), nil }

// The routes of the bearer fixture.
var bearerRoutes = []config.Route{
	{Name: "qseow", Prefix: "/jwt/", Upstream: "echo", StripPrefix: true, Auth: []string{"jwt"}, JWTVerifiers: []string{"qs"}, Xrfkey: true},
	{Name: "any", Prefix: "/any", Upstream: "echo", Auth: []string{"jwt"}},
	{Name: "own", Prefix: "/own", Upstream: "echo", Auth: []string{"jwt"}, JWTVerifiers: []string{"latchkey"}},
	{Name: "idp-first", Prefix: "/idp", Upstream: "echo", Auth: []string{"jwt"}, JWTVerifiers: []string{"idp", "qs"}},
	{Name: "users-admin", Prefix: "/users", Upstream: "echo", Auth: []string{"jwt", "basic"}, Abilities: []string{latchkey.AbilityUsersManage}},
}

// newBearerFixture is the fixture's store and credentials behind a gateway
// with the bearer routes, the verifiers qs and idp, and the issuer.
func newBearerFixture(t testing.TB, routes ...config.Route) *fixture {
	t.Helper()
	f := newFixture(t)
	cfg := *f.s.cfg // the fixture's sessions, API keys and login
	cfg.Routes = append(append([]config.Route(nil), bearerRoutes...), routes...)
	cfg.JWT.Verifiers = []config.JWTVerifier{bearerVerifierConfig(t, "qs"), bearerVerifierConfig(t, "idp")}
	verifiers := map[string]TokenVerifier{}
	for _, c := range cfg.JWT.Verifiers {
		v, err := jwtverify.New(context.Background(), VerifierConfig(c, testTokenCache(t)), func(string) string { return "" }, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(v.Close)
		verifiers[c.Name] = v
	}
	var err error
	if f.s, err = New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Verifiers: verifiers, Issuer: bearerIssuer{}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// xrf is seed 000's Xrfkey, as parameter and header.
const xrf = "abcdefghij123456"

func TestJWTMethodSeed000(t *testing.T) {
	var got *http.Request
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Write([]byte(`{"buildVersion":"30.4.0.0"}`))
	}))
	defer upstream.Close()
	f := newBearerFixture(t, config.Route{Name: "qrs", Prefix: "/qrs-jwt/", Upstream: upstream.URL, StripPrefix: true,
		Auth: []string{"jwt"}, JWTVerifiers: []string{"qs"}, Xrfkey: true})
	tok := bearerJWT(t, "qs")

	// Through the echo upstream: who the caller is.
	w := f.serve(request("GET", "/jwt/qrs/about?Xrfkey="+xrf, "", "Authorization", "Bearer "+tok, "X-Qlik-Xrfkey", xrf))
	e := echoed(t, w)
	p := e.Principal
	if w.Code != 200 || p.Method != "jwt" || p.Directory != "LAB" || p.Username != "goran" || p.DisplayName != "Göran Sander" ||
		p.CredentialID != "t-1" || p.ExpiresAt.IsZero() || p.UserID != 0 || len(p.Roles) != 0 {
		t.Fatalf("%d %+v", w.Code, p)
	}
	if e.Request.Path != "/qrs/about" || e.Request.Query != "Xrfkey="+xrf {
		t.Fatalf("upstream request %+v", e.Request)
	}

	// Through a real upstream: the seed's call arrives as QRS expects it.
	w = f.serve(request("GET", "/qrs-jwt/qrs/about?Xrfkey="+xrf, "", "Authorization", "Bearer "+tok, "x-qlik-xrfkey", xrf))
	if w.Code != 200 || got == nil || got.URL.Path != "/qrs/about" || got.URL.RawQuery != "Xrfkey="+xrf ||
		got.Header.Get("X-Qlik-Xrfkey") != xrf || got.Header.Get(HeaderUser) != "goran" || got.Header.Get(HeaderDirectory) != "LAB" {
		t.Fatalf("%d %s; upstream got %+v", w.Code, w.Body, got)
	}
}

func TestJWTMethod(t *testing.T) {
	f := newBearerFixture(t)
	admin := f.addUser(`LAB\anna`, latchkey.RoleAdmin)
	f.addUser(`LAB\olle`)
	disabled := true
	if _, err := f.st.UpdateUser(context.Background(), f.addUser(`LAB\gone`).ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
		t.Fatal(err)
	}
	qs, idp := bearerJWT(t, "qs"), bearerJWT(t, "idp", "userId", "ivan", "jti", nil)
	tests := []struct {
		name, path, auth string
		status           int
		user, msg        string
	}{
		{"no credentials", "/any", "", 401, "", "needs credentials"},
		{"another scheme", "/any", basic(`LAB\anna`, "password-anna"), 401, "", "needs credentials"},
		{"empty bearer", "/any", "Bearer ", 401, "", "Bearer credentials are empty"},
		{"bare bearer", "/any", "bearer", 401, "", "Bearer credentials are empty"},
		{"scheme in any case", "/any", "bEaReR " + qs, 200, "goran", ""},
		{"not a JWT is 401, not 400", "/any", "Bearer abc", 401, "", "not a JWT"},
		{"expired", "/any", "Bearer " + bearerJWT(t, "qs", "exp", time.Now().Add(-time.Hour).Unix()), 401, "", "expired"},
		{"missing claim is 401", "/any", "Bearer " + bearerJWT(t, "qs", "exp", nil), 401, "", "lacks the claim exp"},
		{"default chain: qs", "/any", "Bearer " + qs, 200, "goran", ""},
		{"default chain: idp", "/any", "Bearer " + idp, 200, "ivan", ""},
		{"default chain: latchkey", "/any", "Bearer own-token", 200, "robot", ""},
		{"default chain refuses with the first verifier's answer", "/any", "Bearer " + bearerJWT(t, "idp", "aud", "x"), 401, "", "signature"},
		{"listed chain refuses with the first verifier's answer", "/idp", "Bearer " + bearerJWT(t, "idp", "aud", "x"), 401, "", "audience"},
		{"route's verifiers only", "/jwt/x?Xrfkey=" + xrf, "Bearer " + idp, 401, "", "signature"},
		{"latchkey only", "/own", "Bearer " + qs, 401, "", "Not latchkey's token"},
		{"latchkey only, its token", "/own", "Bearer own-token", 200, "robot", ""},
		{"listed order", "/idp", "Bearer " + qs, 200, "goran", ""},
		{"store user lends abilities", "/users", "Bearer " + bearerJWT(t, "qs", "userId", "ANNA", "userDirectory", "lab"), 200, "anna", ""},
		{"store user without the ability", "/users", "Bearer " + bearerJWT(t, "qs", "userId", "olle"), 403, "", "users.manage"},
		{"user not in the store", "/users", "Bearer " + qs, 403, "", "users.manage"},
		{"disabled user", "/any", "Bearer " + bearerJWT(t, "qs", "userId", "gone"), 401, "", "disabled"},
		{"other method on the same route", "/users", basic(`LAB\anna`, "password-anna"), 200, "anna", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []string{"X-Qlik-Xrfkey", xrf}
			if tt.auth != "" {
				h = append(h, "Authorization", tt.auth)
			}
			w := f.serve(request("GET", tt.path, "", h...))
			if w.Code != tt.status {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if tt.status == 401 && !strings.Contains(strings.Join(w.Header().Values("WWW-Authenticate"), ","), "Bearer") {
				t.Fatalf("401 without the Bearer challenge: %v", w.Header())
			}
			if tt.status != 200 {
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.msg) {
					t.Fatalf("message %q, want %q", msg, tt.msg)
				}
				return
			}
			if p := echoed(t, w).Principal; p.Username != tt.user {
				t.Fatalf("principal %+v", p)
			}
		})
	}

	// The store's user: roles, abilities, id, canonical names; the token's
	// id is the credential id, the kid without one.
	w := f.serve(request("GET", "/users", "", "Authorization", "Bearer "+bearerJWT(t, "qs", "userId", "Anna")))
	if p := echoed(t, w).Principal; p.UserID != admin.ID || p.Username != "anna" || !p.Can(latchkey.AbilityUsersManage) ||
		p.CredentialID != "t-1" || p.Method != "jwt" {
		t.Fatalf("%+v", p)
	}
	w = f.serve(request("GET", "/own", "", "Authorization", "Bearer own-token"))
	if p := echoed(t, w).Principal; p.CredentialID != "own-kid" {
		t.Fatalf("%+v", p)
	}
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("a 200 with a challenge")
	}
}

func TestJWTMethodRouteConfig(t *testing.T) {
	f := newFixture(t)
	qs, err := jwtverify.New(context.Background(), VerifierConfig(bearerVerifierConfig(t, "qs"), testTokenCache(t)), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.Close()
	tests := []struct {
		name      string
		route     config.Route
		verifiers map[string]TokenVerifier
		issuer    Issuer
		want      string
	}{
		{"unknown verifier", config.Route{Auth: []string{"jwt"}, JWTVerifiers: []string{"nope"}}, map[string]TokenVerifier{"qs": qs}, nil, `"nope" is not available`},
		{"latchkey without an issuer", config.Route{Auth: []string{"jwt"}, JWTVerifiers: []string{"latchkey"}}, map[string]TokenVerifier{"qs": qs}, nil, `"latchkey" is not available`},
		{"no verifier at all", config.Route{Auth: []string{"jwt"}}, nil, nil, "no verifier"},
		{"fine", config.Route{Auth: []string{"jwt"}, JWTVerifiers: []string{"qs", "latchkey"}}, map[string]TokenVerifier{"qs": qs}, bearerIssuer{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.route.Name, tt.route.Prefix, tt.route.Upstream = "r", "/r", "echo"
			cfg := *f.s.cfg
			cfg.Routes = []config.Route{tt.route}
			_, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Verifiers: tt.verifiers, Issuer: tt.issuer})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBearerTokenParse(t *testing.T) {
	tests := []struct {
		header, token string
		err           error
	}{
		{"", "", ErrNoCredentials},
		{"Basic abc", "", ErrNoCredentials},
		{"Bearerabc", "", ErrNoCredentials},
		{"Bearer abc", "abc", nil},
		{"BEARER   abc  ", "abc", nil},
		{"Bearer", "", errBearerEmpty},
		{" bearer ", "", errBearerEmpty},
		{"Bearer    ", "", errBearerEmpty},
	}
	for _, tt := range tests {
		if got, err := bearerToken(tt.header); got != tt.token || err != tt.err {
			t.Errorf("bearerToken(%q) = %q, %v", tt.header, got, err)
		}
	}
}
