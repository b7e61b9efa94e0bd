package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// tokenAuth is a test method: "Authorization: Test <user>" authenticates as
// LAB\<user>; "Test bad" is a bad credential; "Test ro-<user>" is read-only.
type tokenAuth struct{}

func (tokenAuth) Method() string { return "test" }

func (tokenAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test ")
	if !ok {
		return nil, ErrNoCredentials
	}
	if v == "bad" {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "Bad test credentials.")
	}
	user, ro := strings.CutPrefix(v, "ro-")
	return &latchkey.Principal{Directory: "LAB", Username: user, DisplayName: "Göran Sander",
		Groups: []string{"a", "b"}, Method: "test", CredentialID: "cred1", ReadOnly: ro}, nil
}

func testConfig(routes ...config.Route) *config.Config {
	return &config.Config{
		DataDir: "",
		Server: config.Server{
			ReadHeaderTimeout: config.Duration(5 * time.Second),
			IdleTimeout:       config.Duration(time.Minute),
			ShutdownTimeout:   config.Duration(5 * time.Second),
			MaxHeaderBytes:    65536,
		},
		Routes:       routes,
		Certificates: config.Certificates{ImpersonationHeader: "X-Qlik-User"},
		Caches:       config.Caches{TokensMiB: 32, PrincipalsMiB: 8},
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestServer(t *testing.T, routes ...config.Route) *Server {
	t.Helper()
	s, err := New(testConfig(routes...), Deps{Log: quietLog()}, tokenAuth{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRouteMatch(t *testing.T) {
	s := newTestServer(t,
		config.Route{Name: "root", Prefix: "/", Upstream: "echo"},
		config.Route{Name: "jwt", Prefix: "/jwt/", Upstream: "echo", StripPrefix: true},
		config.Route{Name: "about", Prefix: "/qrs/about", Upstream: "echo"},
		config.Route{Name: "api", Prefix: "/api", Upstream: "echo", StripPrefix: true},
	)
	tests := []struct {
		path, route, upstream string
	}{
		{"/", "root", "/"},
		{"/other", "root", "/other"},
		{"/jwt/qrs/about", "jwt", "/qrs/about"},
		{"/jwt/qrs/about/", "jwt", "/qrs/about/"},
		{"/jwt", "jwt", "/"},
		{"/jwt/", "jwt", "/"},
		{"/jwtx", "root", "/jwtx"},
		{"/qrs/about", "about", "/qrs/about"},
		{"/qrs/about/", "about", "/qrs/about/"},
		{"/qrs/aboutx", "root", "/qrs/aboutx"},
		{"/api/v1/x", "api", "/v1/x"},
	}
	for _, tt := range tests {
		r, up, _ := s.routes.match(target{method: "GET", path: tt.path})
		if r == nil || r.name != tt.route || up != tt.upstream {
			name := "<nil>"
			if r != nil {
				name = r.name
			}
			t.Errorf("match(%q) = %s, %q; want %s, %q", tt.path, name, up, tt.route, tt.upstream)
		}
	}
}

func TestNoRoute(t *testing.T) {
	s := newTestServer(t, config.Route{Name: "api", Prefix: "/api", Upstream: "echo"})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/elsewhere", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("status = %d, want 404", w.Code)
	}
}

func TestUncleanPathsRefused(t *testing.T) {
	s := newTestServer(t, config.Route{Name: "root", Prefix: "/", Upstream: "echo"})
	for _, p := range []string{"/public/../admin", "/a/./b", "/a//b", "/public/%2e%2e/admin"} {
		req := httptest.NewRequest("GET", "http://x"+p, nil)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400", p, w.Code)
		}
	}
}

func TestAuthentication(t *testing.T) {
	s := newTestServer(t,
		config.Route{Name: "public", Prefix: "/public", Upstream: "echo"},
		config.Route{Name: "private", Prefix: "/private", Upstream: "echo", Auth: []string{"test"}},
		config.Route{Name: "optional", Prefix: "/optional", Upstream: "echo", Auth: []string{"test"}, AllowAnonymous: true},
	)
	tests := []struct {
		method, path, auth string
		status             int
		user               string
	}{
		{"GET", "/public", "", 200, ""},
		{"GET", "/public", "Test goran", 200, ""}, // public routes run no method
		{"GET", "/private", "", 401, ""},
		{"GET", "/private", "Test bad", 401, ""},
		{"GET", "/private", "Test goran", 200, "goran"},
		{"GET", "/optional", "", 200, ""},
		{"GET", "/optional", "Test bad", 401, ""},
		{"GET", "/optional", "Test goran", 200, "goran"},
		{"GET", "/private", "Test ro-goran", 200, "goran"},
		{"HEAD", "/private", "Test ro-goran", 200, ""},
		{"POST", "/private", "Test ro-goran", 403, ""},
		{"DELETE", "/private", "Test ro-goran", 403, ""},
		{"POST", "/private", "Test goran", 200, "goran"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Errorf("%s %s (%s): status = %d, want %d; body %s", tt.method, tt.path, tt.auth, w.Code, tt.status, w.Body)
			continue
		}
		if tt.status == 401 && w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: 401 without Cache-Control: no-store", tt.method, tt.path)
		}
		if tt.status != 200 || tt.method == "HEAD" {
			var e errorBody
			if tt.status != 200 && (json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Message == "") {
				t.Errorf("%s %s: error body %q is not the JSON error shape", tt.method, tt.path, w.Body)
			}
			continue
		}
		var echo echoBody
		if err := json.Unmarshal(w.Body.Bytes(), &echo); err != nil {
			t.Fatalf("echo body: %v", err)
		}
		if echo.Principal.Username != tt.user || echo.Authenticated != (tt.user != "") {
			t.Errorf("%s %s (%s): echo says user %q authenticated %v", tt.method, tt.path, tt.auth, echo.Principal.Username, echo.Authenticated)
		}
	}
}

func TestProxyIdentityHeaders(t *testing.T) {
	var got *http.Request
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		io.WriteString(w, "upstream says hi")
	}))
	defer upstream.Close()
	s := newTestServer(t,
		config.Route{Name: "jwt", Prefix: "/jwt/", Upstream: upstream.URL + "/base", StripPrefix: true, Auth: []string{"test"}},
		config.Route{Name: "open", Prefix: "/open", Upstream: upstream.URL},
	)
	front := httptest.NewServer(s.Handler())
	defer front.Close()

	req, _ := http.NewRequest("GET", front.URL+"/jwt/qrs/about?Xrfkey=abcdefghij123456", nil)
	req.Header.Set("Authorization", "Test goran")
	req.Header.Set("X-Latchkey-User", "evil")
	req.Header.Set("x-latchkey-directory", "EVIL")
	req.Header.Set("X-Latchkey-Anything", "spoofed")
	req.Header.Set("X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_repository")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "upstream says hi" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if got.URL.Path != "/base/qrs/about" || got.URL.RawQuery != "Xrfkey=abcdefghij123456" {
		t.Errorf("upstream got %s?%s, want /base/qrs/about?Xrfkey=abcdefghij123456", got.URL.Path, got.URL.RawQuery)
	}
	want := map[string]string{
		HeaderUser: "goran", HeaderDirectory: "LAB", HeaderName: "Göran Sander", HeaderGroups: "a,b",
		HeaderMethod: "test", HeaderKeyID: "cred1", "X-Latchkey-Anything": "", "X-Qlik-User": "",
	}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("upstream header %s = %q, want %q", k, g, v)
		}
	}
	if got.Header.Get("X-Forwarded-For") == "" || got.Header.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-* not set: %v", got.Header)
	}

	// On a public route the spoofed headers are stripped too.
	req, _ = http.NewRequest("GET", front.URL+"/open", nil)
	req.Header.Set("X-Latchkey-User", "evil")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Header.Get(HeaderUser) != "" || got.Header.Get(HeaderMethod) != latchkey.MethodAnonymous {
		t.Errorf("public route passed on %q as user, method %q", got.Header.Get(HeaderUser), got.Header.Get(HeaderMethod))
	}
}

func TestUpstreamDown(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	url := upstream.URL
	upstream.Close()
	s := newTestServer(t, config.Route{Name: "down", Prefix: "/", Upstream: url})
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "did not answer") {
		t.Fatalf("status %d body %s; want 502", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("502 body names the upstream address: %s", w.Body)
	}
}

func TestMetrics(t *testing.T) {
	s := newTestServer(t, config.Route{Name: "echo", Prefix: "/", Upstream: "echo", Auth: []string{"test"}})
	for _, a := range []string{"Test goran", "Test bad"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", a)
		s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`latchkey_requests_total{code="200",method="GET",route="echo"} 1`,
		`latchkey_requests_total{code="401",method="GET",route="echo"} 1`,
		`latchkey_auth_duration_seconds_count{method="test",outcome="ok"} 1`,
		`latchkey_auth_duration_seconds_count{method="test",outcome="unauthorized"} 1`,
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestHealthz(t *testing.T) {
	s := newTestServer(t)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if w.Code != 200 {
		t.Fatalf("healthz = %d", w.Code)
	}
}

func TestUnknownMethodRefused(t *testing.T) {
	_, err := New(testConfig(config.Route{Name: "r", Prefix: "/", Upstream: "echo", Auth: []string{"nope"}}), Deps{Log: quietLog()})
	if err == nil {
		t.Fatal("New accepted a route naming an unknown method")
	}
}

// TestGracefulShutdown starts real listeners (TLS with a generated
// certificate, and plain HTTP), begins a slow request, stops the server,
// waits until every listener has begun its shutdown (and refuses new
// connections), and checks that the request in flight still completes.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	started := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	}))
	defer slow.Close()
	defer releaseOnce() // a failure must not leave slow.Close waiting for the handler
	cfg := testConfig(config.Route{Name: "slow", Prefix: "/", Upstream: slow.URL})
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []config.Listener{
		{Name: "main", Address: "127.0.0.1:0", TLS: config.TLS{MinVersion: "1.2"}},
		{Name: "plain", Address: "127.0.0.1:0", TLS: config.TLS{InsecurePlainHTTP: true}},
	}
	s, err := New(cfg, Deps{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	// http.Server runs its shutdown hooks once Shutdown has closed its
	// listener: each listener reports that its drain began.
	draining := make(chan string, len(s.listeners))
	for _, l := range s.listeners {
		l.srv.RegisterOnShutdown(func() { draining <- l.name })
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, nil) }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := http.Get("http://" + s.Addrs()["plain"].String() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain listener: %v", err)
	}
	result := make(chan string, 1)
	go func() {
		resp, err := client.Get("https://" + s.Addrs()["main"].String() + "/slow")
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	<-started
	addrs := s.Addrs()
	cancel()
	for range s.listeners {
		within(t, draining, 10*time.Second, "the shutdown of a listener")
	}
	for name, addr := range addrs {
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			c.Close()
			t.Errorf("listener %s accepts connections while draining", name)
		}
	}
	select {
	case got := <-result:
		t.Fatalf("the request in flight ended before its upstream answered: %q", got)
	default:
	}
	releaseOnce()
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request got %q, want done", got)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
}
