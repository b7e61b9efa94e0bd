package gateway

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// forwardAuthServer is a gateway with the test method, forward-auth at
// /auth/verify, and routes whose upstream counts what reaches it.
func forwardAuthServer(t testing.TB) (*Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	cfg := testConfig(
		config.Route{Name: "private", Prefix: "/private", Upstream: up.URL, Auth: []string{"test"}},
		config.Route{Name: "qrs", Prefix: "/qrs", Upstream: up.URL, Auth: []string{"test"}, Xrfkey: true},
		config.Route{Name: "public", Prefix: "/public", Upstream: up.URL},
		config.Route{Name: "reader", Prefix: "/reader", Upstream: up.URL, Auth: []string{"test"}, Methods: []string{"GET"}},
		config.Route{Name: "hosted", Prefix: "/hosted", Upstream: up.URL, Auth: []string{"test"}, Host: "api.example.com"},
	)
	cfg.Server.ForwardAuthPath = "/auth/verify"
	s, err := New(cfg, Deps{Log: quietLog()}, tokenAuth{})
	if err != nil {
		t.Fatal(err)
	}
	return s, &hits
}

// verify sends a forward-auth request with the headers, as name-value
// pairs, through s.
func verify(s *Server, method, path string, header ...string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, request(method, path, "", header...))
	return w
}

// TestForwardAuthAdmits checks the 200 answer and its identity headers, for
// each way a proxy names the original request.
func TestForwardAuthAdmits(t *testing.T) {
	s, hits := forwardAuthServer(t)
	tests := []struct {
		name, method, path string
		header             []string
	}{
		{"nginx", "GET", "/auth/verify", []string{"X-Original-URI", "/private/x?a=1", "X-Forwarded-Method", "DELETE"}},
		{"traefik", "GET", "/auth/verify", []string{"X-Forwarded-Uri", "/private/x", "X-Forwarded-Method", "POST", "X-Forwarded-Host", "example.com"}},
		{"no method given: GET", "POST", "/auth/verify", []string{"X-Forwarded-Uri", "/reader"}},
		{"host from X-Forwarded-Host", "GET", "/auth/verify", []string{"X-Forwarded-Uri", "/hosted/x", "X-Forwarded-Host", "API.example.com:443, proxy.local"}},
		{"envoy path prefix", "PUT", "/auth/verify/private/x", nil},
		{"xrfkey", "GET", "/auth/verify", []string{"X-Forwarded-Uri", "/qrs/about?Xrfkey=abcdefghij123456", "X-Qlik-Xrfkey", "abcdefghij123456"}},
	}
	for _, tt := range tests {
		h := append([]string{"Authorization", "Test goran", HeaderUser, "evil"}, tt.header...)
		w := verify(s, tt.method, tt.path, h...)
		if w.Code != 200 {
			t.Errorf("%s: %d %s", tt.name, w.Code, w.Body)
			continue
		}
		want := map[string]string{HeaderUser: "goran", HeaderDirectory: "LAB", HeaderName: "Göran Sander",
			HeaderGroups: "a,b", HeaderMethod: "test", HeaderKeyID: "cred1"}
		for k, v := range want {
			if g := w.Header().Get(k); g != v {
				t.Errorf("%s: %s = %q, want %q", tt.name, k, g, v)
			}
		}
		for _, k := range answerHeaders {
			if _, ok := w.Header()[k]; !ok {
				t.Errorf("%s: no %s header, not even empty", tt.name, k)
			}
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: the decision may be cached", tt.name)
		}
	}
	w := verify(s, "GET", "/auth/verify", "X-Forwarded-Uri", "/public/x", HeaderUser, "evil")
	if w.Code != 200 || w.Header().Get(HeaderMethod) != latchkey.MethodAnonymous || w.Header().Get(HeaderUser) != "" {
		t.Errorf("public route: %d %v", w.Code, w.Header())
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("forward-auth proxied %d requests", n)
	}
}

// TestForwardAuthRefuses checks that forward-auth refuses exactly as the
// route does, body included.
func TestForwardAuthRefuses(t *testing.T) {
	s, hits := forwardAuthServer(t)
	tests := []struct {
		name        string
		method, uri string // the original request
		header      []string
		status      int
	}{
		{"no credentials", "GET", "/private/x", nil, 401},
		{"bad credentials", "GET", "/private/x", []string{"Authorization", "Test bad"}, 401},
		{"read-only POST", "POST", "/private/x", []string{"Authorization", "Test ro-goran"}, 403},
		{"no xrfkey", "GET", "/qrs/about?Xrfkey=abcdefghij123456", []string{"Authorization", "Test goran"}, 403},
		{"unclean path", "GET", "/private/../admin", []string{"Authorization", "Test goran"}, 400},
		{"no route", "GET", "/elsewhere", []string{"Authorization", "Test goran"}, 404},
		{"wrong host", "GET", "/hosted/x", []string{"Authorization", "Test goran"}, 404},
		{"wrong method", "POST", "/reader", []string{"Authorization", "Test goran"}, 405},
	}
	for _, tt := range tests {
		direct := httptest.NewRecorder()
		s.Handler().ServeHTTP(direct, request(tt.method, tt.uri, "", tt.header...))
		w := verify(s, "GET", "/auth/verify", append([]string{"X-Original-URI", tt.uri, "X-Forwarded-Method", tt.method}, tt.header...)...)
		if w.Code != tt.status || direct.Code != tt.status {
			t.Errorf("%s: forward-auth %d, route %d, want %d: %s", tt.name, w.Code, direct.Code, tt.status, w.Body)
			continue
		}
		if w.Body.String() != direct.Body.String() || w.Header().Get("Content-Type") != direct.Header().Get("Content-Type") ||
			w.Header().Get("Allow") != direct.Header().Get("Allow") {
			t.Errorf("%s: forward-auth answered %q, the route %q", tt.name, w.Body, direct.Body)
		}
		if w.Header().Get(HeaderUser) != "" {
			t.Errorf("%s: a refusal names a user", tt.name)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("forward-auth proxied %d requests (and direct requests none)", n)
	}
}

// TestForwardAuthBadRequest covers requests that do not say what to decide.
func TestForwardAuthBadRequest(t *testing.T) {
	s, _ := forwardAuthServer(t)
	for name, h := range map[string][]string{
		"no URI":         nil,
		"relative URI":   {"X-Forwarded-Uri", "private/x"},
		"absolute URI":   {"X-Forwarded-Uri", "https://example.com/private/x"},
		"bad method":     {"X-Forwarded-Uri", "/private/x", "X-Forwarded-Method", "GET /x"},
		"unparsable URI": {"X-Original-URI", "/private/%zz"},
		// A client's own header beside the proxy's: the two disagree.
		"URIs disagree": {"X-Original-URI", "/private/x", "X-Forwarded-Uri", "/public/x"},
		"two URIs":      {"X-Forwarded-Uri", "/private/x", "X-Forwarded-Uri", "/public/x"},
		"two methods":   {"X-Forwarded-Uri", "/private/x", "X-Forwarded-Method", "POST", "X-Forwarded-Method", "GET"},
		"two hosts":     {"X-Forwarded-Uri", "/private/x", "X-Forwarded-Host", "a.example", "X-Forwarded-Host", "b.example"},
		"bad host":      {"X-Forwarded-Uri", "/private/x", "X-Forwarded-Host", "a.example/x y"},
	} {
		w := verify(s, "GET", "/auth/verify", append([]string{"Authorization", "Test goran"}, h...)...)
		if w.Code != 400 {
			t.Errorf("%s: %d %s, want 400", name, w.Code, w.Body)
		}
	}
}

// TestForwardAuthOff checks that forward_auth_path "-" serves no endpoint:
// the path is a route's like any other.
func TestForwardAuthOff(t *testing.T) {
	cfg := testConfig(config.Route{Name: "root", Prefix: "/", Upstream: "echo"})
	cfg.Server.ForwardAuthPath = "-"
	s, err := New(cfg, Deps{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	w := verify(s, "GET", "/auth/verify", "X-Forwarded-Uri", "/x")
	if w.Code != 200 || echoed(t, w).Request.Route != "root" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestForwardAuthCredentials checks forward-auth with latchkey's own
// credentials: a session cookie (whose unsafe requests need the required
// headers, judged against the original host), and API keys.
func TestForwardAuthCredentials(t *testing.T) {
	f, _ := issuerFixture(t, config.Route{Name: "api", Prefix: "/api/", Upstream: "echo", Auth: []string{"session", "apikey"}})
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	ro := f.key(goran, true)
	cookie := "wtsession=" + f.login(`LAB\goran`, "password-goran")

	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"cookie GET", []string{"X-Forwarded-Method", "GET", "Cookie", cookie}, 200},
		{"cookie POST without the headers", []string{"X-Forwarded-Method", "POST", "Cookie", cookie}, 403},
		{"cookie POST", xhr("X-Forwarded-Method", "POST", "Cookie", cookie), 200},
		{"cookie POST from the original host's own origin", xhr("X-Forwarded-Method", "POST", "Cookie", cookie,
			"X-Forwarded-Host", "portal.example.net", "Origin", "https://portal.example.net"), 200},
		{"cookie POST from another origin", xhr("X-Forwarded-Method", "POST", "Cookie", cookie,
			"Origin", "https://portal.example.net"), 403},
		{"read-only key GET", []string{"X-Api-Key", ro.Key}, 200},
		{"read-only key POST", []string{"X-Forwarded-Method", "POST", "X-Api-Key", ro.Key}, 403},
		{"unknown key", []string{"X-Api-Key", "lk_nope"}, 401},
	}
	for _, tt := range tests {
		w := f.serve(request("GET", "/auth/verify", "", append([]string{"X-Forwarded-Uri", "/api/projects"}, tt.header...)...))
		if w.Code != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.status)
			continue
		}
		if tt.status == 200 && w.Header().Get(HeaderUser) != "goran" {
			t.Errorf("%s: %s = %q", tt.name, HeaderUser, w.Header().Get(HeaderUser))
		}
	}
}
