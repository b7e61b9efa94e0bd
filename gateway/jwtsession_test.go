package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtissue"
	"github.com/latchkey/latchkey/jwtverify"
)

// cloudVerifier is a test-only TokenVerifier in the manner of the
// qlik-cloud profile: RS256 with a kid, the audience, sub and jti required;
// EINVALID for a malformed or incomplete token, EUNAUTHORIZED otherwise.
type cloudVerifier struct{ pub *rsa.PublicKey }

func (v cloudVerifier) Verify(_ context.Context, raw string) (*jwtverify.Result, error) {
	var c struct {
		jwt.RegisteredClaims
		Name   string   `json:"name"`
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != "idp-key" {
			return nil, errors.New("unknown kid")
		}
		return v.pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithAudience(config.QlikCloudAudience))
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, latchkey.Errorf(latchkey.EINVALID, "The token is not a well-formed JWT.")
	case err != nil:
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The token is not valid.")
	case c.Subject == "" || c.ID == "":
		return nil, latchkey.Errorf(latchkey.EINVALID, "The token lacks the sub or jti claim.")
	}
	return &jwtverify.Result{Directory: "IGNORED", Username: c.Subject, DisplayName: c.Name, Email: c.Email,
		Groups: c.Groups, Subject: c.Subject, JTI: c.ID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// jwtFixture is the fixture with latchkey's issuer, the JWT login at
// /api/Account/login, the JWT session exchange at /login/jwt-session (users
// in CLOUD) and a route /api/data/ for latchkey's tokens (the jwt method with
// the verifier "latchkey").
type jwtFixture struct {
	*fixture
	idp *rsa.PrivateKey
}

func newJWTFixture(t *testing.T) *jwtFixture {
	t.Helper()
	return newJWTFixtureWith(t, nil)
}

// newJWTFixtureWith is newJWTFixture with its configuration changed by edit.
func newJWTFixtureWith(t *testing.T, edit func(*config.Config)) *jwtFixture {
	t.Helper()
	f := newFixture(t)
	idp, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is, err := jwtissue.New(context.Background(), f.st, quietLog(), IssuerOptions(defaultIssuer(), make([]byte, 32), nil, testTokenCache(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	cfg := *f.s.cfg
	cfg.Routes = append(slices.Clip(cfg.Routes), config.Route{Name: "data", Prefix: "/api/data/", Upstream: "echo",
		Auth: []string{latchkey.MethodJWT}, JWTVerifiers: []string{config.OwnVerifier}})
	cfg.JWT = config.JWT{
		Login: config.JWTLogin{Path: "/api/Account/login"},
		Session: config.JWTSession{Path: "/login/jwt-session", Verifier: "qlik", Directory: "CLOUD",
			CSRFCookie: "_csrfToken", CSRFHeader: "qlik-csrf-token"},
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Issuer: is,
		Verifiers: map[string]TokenVerifier{"qlik": cloudVerifier{&idp.PublicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	s.refusalDelay = testRefusalDelay
	f.s = s
	return &jwtFixture{fixture: f, idp: idp}
}

// cloudToken signs a Qlik Cloud token for sub with the IdP's key; claims
// override the defaults (nil removes one).
func (f *jwtFixture) cloudToken(sub string, claims jwt.MapClaims) string {
	f.t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": "idp.example.com", "aud": config.QlikCloudAudience, "sub": sub, "subType": "user",
		"name": "Ann Example", "email": sub + "@example.com", "email_verified": true, "jti": "jti-" + rand.Text(),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "idp-key"
	raw, err := tok.SignedString(f.idp)
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// exchange posts a token to the JWT session endpoint as seed 000's curl
// does: no other header.
func (f *jwtFixture) exchange(raw string) *httptest.ResponseRecorder {
	return f.serve(request("POST", "/login/jwt-session", "", "Authorization", "Bearer "+raw))
}

// qlikError decodes a Qlik Cloud error answer, or fails.
func qlikErrorOf(t *testing.T, w *httptest.ResponseRecorder) qlikError {
	t.Helper()
	var body qlikErrors
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code == "" ||
		body.Errors[0].Title == "" || body.Errors[0].Detail == "" || body.Errors[0].Status != strconv.Itoa(w.Code) {
		t.Fatalf("not a Qlik error: %d %s", w.Code, w.Body)
	}
	return body.Errors[0]
}

// TestJWTSessionExchange follows seed 000's Qlik Cloud steps: the exchange,
// then cookies only; the token is single-use; unsafe requests need the CSRF
// header instead of seed 004's headers.
func TestJWTSessionExchange(t *testing.T) {
	f := newJWTFixture(t)
	ctx := context.Background()
	w := f.exchange(f.cloudToken("ann", nil))
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{\n  \"success\": true\n}" {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	cookies := w.Header().Values("Set-Cookie")
	if len(cookies) != 2 {
		t.Fatalf("Set-Cookie = %q", cookies)
	}
	session, ok := strings.CutPrefix(cookies[0], "wtsession=")
	session, attrs, _ := strings.Cut(session, ";")
	if !ok || !tokenRE.MatchString(session) || attrs != " Path=/; Secure; HttpOnly; SameSite=Strict" {
		t.Errorf("session cookie = %q", cookies[0])
	}
	csrf := credential.CSRFToken(session)
	if want := "_csrfToken=" + csrf + "; Path=/; Secure; SameSite=Strict"; cookies[1] != want {
		t.Errorf("CSRF cookie = %q, want %q", cookies[1], want)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("the answer may be cached")
	}
	jar := "wtsession=" + session + "; _csrfToken=" + csrf

	// Step 2: cookies only.
	w = f.serve(request("GET", "/api/v1/spaces", "", "Cookie", jar))
	if e := echoed(t, w); w.Code != 200 || e.Principal.Directory != "CLOUD" || e.Principal.Username != "ann" ||
		e.Principal.DisplayName != "Ann Example" || e.Principal.Method != latchkey.MethodSession {
		t.Errorf("GET with the cookie: %d %s", w.Code, w.Body)
	}
	// Unsafe requests: the CSRF header, not Origin/Accept/X-Requested-With.
	w = f.serve(request("POST", "/api/v1/spaces", "{}", "Cookie", jar))
	if w.Code != 403 || !strings.Contains(errorMessage(t, w), "qlik-csrf-token") {
		t.Errorf("POST without the CSRF header: %d %s", w.Code, w.Body)
	}
	w = f.serve(request("POST", "/api/v1/spaces", "{}", xhr("Cookie", jar, "qlik-csrf-token", csrf[1:]+"x")...))
	if w.Code != 403 {
		t.Errorf("POST with a wrong CSRF header and seed 004's headers: %d %s", w.Code, w.Body)
	}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		w = f.serve(request(m, "/api/v1/spaces", "{}", "Cookie", jar, "Qlik-Csrf-Token", csrf))
		if w.Code != 200 || echoed(t, w).Principal.Username != "ann" {
			t.Errorf("%s with the CSRF header: %d %s", m, w.Code, w.Body)
		}
	}
	// A session of the Journyx login still needs seed 004's headers.
	f.addUser(`LOCAL\apiuser`)
	journyx := "wtsession=" + f.login("apiuser", "password-apiuser")
	if w := f.serve(request("POST", "/api/v1/spaces", "{}", "Cookie", journyx, "qlik-csrf-token", csrf)); w.Code != 403 ||
		!strings.Contains(errorMessage(t, w), "X-Requested-With") {
		t.Errorf("Journyx session without seed 004's headers: %d %s", w.Code, w.Body)
	}
	sessions, _ := f.st.Sessions(ctx, latchkey.SessionFilter{})
	if !slices.ContainsFunc(sessions, func(s *latchkey.Session) bool { return s.Method == "jwt" && strings.HasPrefix(s.CredentialID, "jti-") }) {
		t.Errorf("no session with method jwt and the jti: %+v", sessions)
	}
}

func TestJWTSessionSingleUseAndUsers(t *testing.T) {
	f := newJWTFixture(t)
	ctx := context.Background()
	raw := f.cloudToken("bob", jwt.MapClaims{"name": "Bob", "groups": []string{"sales"}})
	if w := f.exchange(raw); w.Code != 200 {
		t.Fatalf("first exchange: %d %s", w.Code, w.Body)
	}
	w := f.exchange(raw)
	if e := qlikErrorOf(t, w); w.Code != 401 || !strings.Contains(e.Detail, "used already") || e.Title != "Unauthorized" {
		t.Errorf("replay: %d %s", w.Code, w.Body)
	}
	u, err := f.st.UserByName(ctx, "CLOUD", "bob")
	if err != nil || u.DisplayName != "Bob" || u.Email != "bob@example.com" || !slices.Equal(u.Groups, []string{"sales"}) {
		t.Fatalf("created user: %+v, %v", u, err)
	}
	// A new token (new jti) reuses the user and updates its name.
	if w := f.exchange(f.cloudToken("bob", jwt.MapClaims{"name": "Bob B."})); w.Code != 200 {
		t.Fatalf("second exchange: %d %s", w.Code, w.Body)
	}
	users, _ := f.st.Users(ctx, latchkey.UserFilter{Directory: "CLOUD"})
	if len(users) != 1 || users[0].ID != u.ID || users[0].DisplayName != "Bob B." {
		t.Errorf("users after the second exchange: %+v", users)
	}
	disabled := true
	f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil)
	if w := f.exchange(f.cloudToken("bob", nil)); w.Code != 401 {
		t.Errorf("disabled user: %d %s", w.Code, w.Body)
	}
	events, _ := f.st.AuditEvents(ctx, latchkey.AuditFilter{Action: latchkey.AuditUserCreate})
	if len(events) != 1 || events[0].Target != `CLOUD\bob` {
		t.Errorf("user.create audit: %+v", events)
	}
}

func TestJWTSessionRefusals(t *testing.T) {
	f := newJWTFixture(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "eve", "jti": "j-forged",
		"aud": config.QlikCloudAudience, "exp": time.Now().Add(time.Hour).Unix()})
	forged.Header["kid"] = "idp-key"
	forgedRaw, _ := forged.SignedString(other)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"malformed", []string{"Authorization", "Bearer not.a.jwt"}, 400},
		{"missing sub", []string{"Authorization", "Bearer " + f.cloudToken("", nil)}, 400},
		{"missing jti", []string{"Authorization", "Bearer " + f.cloudToken("ann", jwt.MapClaims{"jti": nil})}, 400},
		{"expired", []string{"Authorization", "Bearer " + f.cloudToken("ann", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})}, 401},
		{"bad signature", []string{"Authorization", "Bearer " + forgedRaw}, 401},
		{"no credential", nil, 401},
		{"Basic", []string{"Authorization", basic("ann", "x")}, 401},
	} {
		w := f.serve(request("POST", "/login/jwt-session", "", tc.header...))
		e := qlikErrorOf(t, w)
		if w.Code != tc.status || e.Status != strconv.Itoa(tc.status) || w.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	w := f.serve(request("GET", "/login/jwt-session", ""))
	if qlikErrorOf(t, w); w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
}

// TestJWTEndpointsNeedTheirDeps: a path configured without what its
// endpoint needs fails at New; no issuer means no JWKS.
func TestJWTEndpointsNeedTheirDeps(t *testing.T) {
	f := newFixture(t)
	cfg := *f.s.cfg
	cfg.JWT.Session = config.JWTSession{Path: "/login/jwt-session", Verifier: "missing"}
	if _, err := New(&cfg, Deps{Store: f.st, Creds: f.creds}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("session without its verifier: %v", err)
	}
	cfg.JWT = config.JWT{Login: config.JWTLogin{Path: "/api/Account/login"}}
	if _, err := New(&cfg, Deps{Store: f.st, Creds: f.creds}); err == nil {
		t.Error("JWT login without an issuer")
	}
	if w := f.serve(request("GET", JWKSPath, "")); w.Code != 404 {
		t.Errorf("JWKS without an issuer: %d", w.Code)
	}
}
