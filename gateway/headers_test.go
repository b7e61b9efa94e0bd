package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// upstreamRecorder is an upstream that remembers the last request it
// received, as its own server parsed it.
type upstreamRecorder struct {
	mu  sync.Mutex
	got *http.Request
	srv *httptest.Server
}

func newUpstreamRecorder(t *testing.T) *upstreamRecorder {
	u := &upstreamRecorder{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.got = r.Clone(context.Background())
		u.mu.Unlock()
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// last returns the last request received, and forgets it.
func (u *upstreamRecorder) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.got
	u.got = nil
	return r
}

// cgiName is a header name as CGI, WSGI and PHP read it: upper case, with
// '-' and '_' alike.
func cgiName(k string) string { return strings.ToUpper(strings.ReplaceAll(k, "-", "_")) }

// headerServer is a gateway with the test method in front of rec, and
// forward-auth at /auth/verify.
func headerServer(t *testing.T, rec *upstreamRecorder) *Server {
	t.Helper()
	cfg := testConfig(config.Route{Name: "up", Prefix: "/", Upstream: rec.srv.URL, Auth: []string{"test"}, AllowAnonymous: true})
	cfg.Server.ForwardAuthPath = "/auth/verify"
	s, err := New(cfg, Deps{Log: quietLog()}, tokenAuth{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdentityHeaderSpellings sends identity headers (and the others that
// latchkey writes) in spellings that an upstream stack reads as the real
// name, and checks that none reaches the upstream through the proxy, and that
// forward-auth, which cannot remove them, refuses them.
func TestIdentityHeaderSpellings(t *testing.T) {
	rec := newUpstreamRecorder(t)
	s := headerServer(t, rec)
	front := httptest.NewServer(s.Handler())
	defer front.Close()
	names := []string{
		"X_Latchkey_User", "x_latchkey_user", "X-LATCHKEY_USER", "X_Latchkey-Groups", "X_Latchkey_Roles",
		"X_Latchkey_Jwt", "X_Latchkey_Method", "X_Latchkey_Key_Id", "X_Latchkey_Whatever",
		"X_Qlik_User", "x_qlik_user", "X-Qlik_User",
		"X_Forwarded_For", "X_Forwarded_Host", "X_Forwarded_Proto",
	}
	for _, name := range names {
		for _, auth := range []string{"", "Test goran"} {
			req, _ := http.NewRequest("GET", front.URL+"/data", nil)
			req.Header[name] = []string{"spoofed"} // as sent, not canonicalised
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := rec.last()
			if resp.StatusCode != 200 || got == nil {
				t.Errorf("%s (auth %q): status %d", name, auth, resp.StatusCode)
				continue
			}
			for k, v := range got.Header {
				if cgiName(k) == cgiName(name) && strings.Contains(strings.Join(v, ","), "spoofed") {
					t.Errorf("%s (auth %q) reached the upstream as %s: %q", name, auth, k, v)
				}
			}
		}
	}

	// Forward-auth: the proxy in front replaces the canonical names it
	// copies from the answer, not the other spellings, nor the
	// impersonation header; those are refused.
	fa := []struct {
		name   string
		status int
	}{
		{HeaderUser, 200}, {HeaderJWT, 200}, {"x-latchkey-user", 200},
		{"X_Latchkey_User", 400}, {"X_latchkey_groups", 400}, {"X-Latchkey_Jwt", 400},
		{"X-Latchkey-Other", 400}, {"X-Qlik-User", 400}, {"X_Qlik_User", 400},
	}
	for _, tt := range fa {
		r := request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/data", "Authorization", "Test goran")
		r.Header[tt.name] = []string{"spoofed"}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("forward-auth with %s: status %d, want %d: %s", tt.name, w.Code, tt.status, w.Body)
			continue
		}
		if tt.status == 200 && w.Header().Get(HeaderUser) != "goran" {
			t.Errorf("forward-auth with %s: %s = %q", tt.name, HeaderUser, w.Header().Get(HeaderUser))
		}
		if tt.status == 400 && !strings.Contains(errorMessage(t, w), tt.name) {
			t.Errorf("forward-auth with %s: the message does not name the header: %s", tt.name, w.Body)
		}
	}
}

// fixedAuth is a test method ("fixed") that authenticates every request
// with Authorization: Fixed as a copy of its principal.
type fixedAuth struct{ p latchkey.Principal }

func (fixedAuth) Method() string { return "fixed" }

func (a fixedAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	if r.Header.Get("Authorization") != "Fixed" {
		return nil, ErrNoCredentials
	}
	p := a.p
	return &p, nil
}

// signedWithKid signs seed 000's claims, without jti so that the key id
// names the credential, under the kid header.
func signedWithKid(t *testing.T, kid string) string {
	t.Helper()
	c := jwt.MapClaims{"userId": "goran", "userDirectory": "LAB", "name": "Göran Sander",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "aud": "abc123"}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(bearerKeys()["qs"])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdentityHeaderValues checks that a validly signed token whose kid
// (which names the credential in X-Latchkey-Key-Id) cannot be a header
// value is refused with 401 at verification, through the proxy and
// forward-auth, and that a principal of any method whose identity cannot be
// written as headers is refused too instead of failing at the transport.
func TestIdentityHeaderValues(t *testing.T) {
	rec := newUpstreamRecorder(t)
	f := newBearerFixture(t, config.Route{Name: "up", Prefix: "/up", Upstream: rec.srv.URL, Auth: []string{"jwt"}})
	cfg := *f.s.cfg
	cfg.Server.ForwardAuthPath = "/auth/verify"
	var err error
	if f.s, err = New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Verifiers: f.s.verifiers, Issuer: bearerIssuer{}}); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(f.s.Handler())
	defer front.Close()
	for _, tt := range []struct {
		kid    string
		status int
	}{
		{"key-1", 200},
		{"k\r\nX-Injected: 1", 401},
		{"k\nx", 401},
		{"k\x00x", 401},
		{"k\x7fx", 401},
	} {
		tok := signedWithKid(t, tt.kid)
		req, _ := http.NewRequest("GET", front.URL+"/up/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		got := rec.last()
		if resp.StatusCode != tt.status {
			t.Errorf("kid %q through the proxy: status %d, want %d: %s", tt.kid, resp.StatusCode, tt.status, body)
		}
		if tt.status == 401 && got != nil {
			t.Errorf("kid %q reached the upstream", tt.kid)
		}
		if tt.status == 401 && !strings.Contains(body, "kid") {
			t.Errorf("kid %q: the message does not say what is wrong: %s", tt.kid, body)
		}
		w := f.serve(request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/up/x", "Authorization", "Bearer "+tok))
		if w.Code != tt.status {
			t.Errorf("kid %q through forward-auth: status %d, want %d: %s", tt.kid, w.Code, tt.status, w.Body)
		}
	}

	// Any method: a principal whose fields cannot be header values.
	for _, tt := range []struct {
		name string
		p    latchkey.Principal
	}{
		{"display name", latchkey.Principal{Directory: "LAB", Username: "goran", DisplayName: "G\r\nX-Injected: 1", Method: "fixed"}},
		{"email", latchkey.Principal{Directory: "LAB", Username: "goran", Email: "g@x\n", Method: "fixed"}},
		{"groups", latchkey.Principal{Directory: "LAB", Username: "goran", Groups: []string{"a", "b\rc"}, Method: "fixed"}},
		{"credential", latchkey.Principal{Directory: "LAB", Username: "goran", CredentialID: "c\x00", Method: "fixed"}},
	} {
		s, err := New(testConfig(config.Route{Name: "up", Prefix: "/", Upstream: rec.srv.URL, Auth: []string{"fixed"}}),
			Deps{Log: quietLog()}, fixedAuth{tt.p})
		if err != nil {
			t.Fatal(err)
		}
		front := httptest.NewServer(s.Handler())
		req, _ := http.NewRequest("GET", front.URL+"/x", nil)
		req.Header.Set("Authorization", "Fixed")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		front.Close()
		if resp.StatusCode != 401 || rec.last() != nil {
			t.Errorf("%s with a control character: status %d, want 401 before the upstream: %s", tt.name, resp.StatusCode, body)
		}
	}
}

// TestMethodOverride checks that the method-override headers never reach
// an upstream, that a read-only principal's _method query parameter naming
// an unsafe method is refused, and that forward-auth, which cannot remove
// the headers, refuses an override of the method it decided.
func TestMethodOverride(t *testing.T) {
	rec := newUpstreamRecorder(t)
	s := headerServer(t, rec)
	front := httptest.NewServer(s.Handler())
	defer front.Close()
	overrides := []string{"X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "x_http_method_override", "X_Method_Override"}
	for _, name := range overrides {
		for _, auth := range []string{"Test ro-goran", "Test goran"} {
			req, _ := http.NewRequest("GET", front.URL+"/data", nil)
			req.Header[name] = []string{"DELETE"}
			req.Header.Set("Authorization", auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := rec.last()
			if resp.StatusCode != 200 || got == nil {
				t.Errorf("%s (%s): status %d", name, auth, resp.StatusCode)
				continue
			}
			if got.Method != "GET" {
				t.Errorf("%s (%s): the upstream saw %s", name, auth, got.Method)
			}
			for k, v := range got.Header {
				if cgiName(k) == cgiName(name) {
					t.Errorf("%s (%s) reached the upstream as %s: %q", name, auth, k, v)
				}
			}
		}
	}

	queries := []struct {
		auth, query string
		status      int
	}{
		{"Test ro-goran", "_method=DELETE", 403},
		{"Test ro-goran", "a=1&_method=put", 403},
		{"Test ro-goran", "%5Fmethod=DELETE", 403},
		{"Test ro-goran", "_METHOD=POST", 403},
		{"Test ro-goran", ".method=PATCH", 403}, // PHP reads "." in a name as "_"
		{"Test ro-goran", "_method=GET", 200},
		{"Test ro-goran", "method=DELETE", 200}, // an ordinary parameter
		{"Test goran", "_method=DELETE", 200},   // may write anyway
	}
	for _, tt := range queries {
		req, _ := http.NewRequest("GET", front.URL+"/data?"+tt.query, nil)
		req.Header.Set("Authorization", tt.auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		got := rec.last()
		if resp.StatusCode != tt.status {
			t.Errorf("GET ?%s (%s): status %d, want %d: %s", tt.query, tt.auth, resp.StatusCode, tt.status, body)
		}
		if tt.status == 403 && got != nil {
			t.Errorf("GET ?%s (%s) reached the upstream", tt.query, tt.auth)
		}
	}
	// A read-only POST, with or without a _method field, is refused as before.
	req, _ := http.NewRequest("POST", front.URL+"/data", strings.NewReader("_method=DELETE"))
	req.Header.Set("Authorization", "Test ro-goran")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 || rec.last() != nil {
		t.Errorf("read-only POST with _method: %v %v", resp, err)
	}

	fa := []struct {
		auth, name, value string
		status            int
	}{
		{"Test ro-goran", "X-HTTP-Method-Override", "DELETE", 400},
		{"Test goran", "X-Method-Override", "DELETE", 400},
		{"Test goran", "X_HTTP_Method", "PUT", 400},
		{"Test goran", "X-HTTP-Method-Override", "get", 200}, // the method decided
	}
	for _, tt := range fa {
		r := request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/data", "Authorization", tt.auth)
		r.Header[tt.name] = []string{tt.value}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("forward-auth with %s: %s (%s): status %d, want %d: %s", tt.name, tt.value, tt.auth, w.Code, tt.status, w.Body)
		}
	}
	r := request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/data?_method=DELETE", "Authorization", "Test ro-goran")
	w := httptest.NewRecorder()
	if s.Handler().ServeHTTP(w, r); w.Code != 403 {
		t.Errorf("forward-auth, read-only with ?_method=DELETE: status %d, want 403", w.Code)
	}
}
