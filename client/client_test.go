package client_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/xrfkey"
)

func base(t *testing.T, a *api) *client.Transport {
	t.Helper()
	b, err := client.NewTransport(client.Options{CACertFile: a.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func do(t *testing.T, rt http.RoundTripper, method, url, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func cloudMinter(t *testing.T) client.Minter {
	t.Helper()
	sharedFiles()
	signer, err := client.LoadSigner(files.PrivateKey, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.CloudMinter(signer, jwtmint.Cloud{Subject: "ann", Issuer: "https://idp.example.com", KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// transports returns one of each credential transport over next, for the
// tests that hold for them all.
func transports(t *testing.T, a *api, next http.RoundTripper) map[string]http.RoundTripper {
	t.Helper()
	login, err := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: demoPassword}, next)
	if err != nil {
		t.Fatal(err)
	}
	jl, err := client.JWTLogin(client.JWTLoginConfig{URL: a.URL + "/api/Account/login", Email: demoEmail, Password: demoPassword}, next)
	if err != nil {
		t.Fatal(err)
	}
	js, err := client.JWTSession(client.JWTSessionConfig{URL: a.URL + "/login/jwt-session", Minter: cloudMinter(t)}, next)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := client.LoadSigner(files.PrivateKey, "")
	qm, _ := client.QSEoWMinter(signer, jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran"})
	return map[string]http.RoundTripper{
		"Bearer":       client.Bearer("tok.en.x", next),
		"MintedBearer": client.MintedBearer(qm, next),
		"APIKey":       client.APIKey(demoAPIKey, next),
		"Basic":        client.Basic(demoUser, demoPassword, next),
		"QlikUser":     client.QlikUser("INTERNAL", "sa_repository", next),
		"Login":        login,
		"JWTLogin":     jl,
		"JWTSession":   js,
		"Xrfkey":       client.Xrfkey(next),
	}
}

// TestRequestNotModified checks the RoundTripper contract: the caller's
// request is the same afterwards, whatever was added to what was sent.
func TestRequestNotModified(t *testing.T) {
	a := startAPI()
	defer a.Close()
	for name, rt := range transports(t, a, base(t, a)) {
		req, _ := http.NewRequest("POST", a.URL+"/api/v1/projects?x=1", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if len(req.Header) != 1 || req.URL.RawQuery != "x=1" || len(req.Cookies()) != 0 {
			t.Errorf("%s changed the request: %v %s", name, req.Header, req.URL)
		}
	}
}

// TestPlainHTTP checks that no credential goes to an http:// URL, and that
// nothing is sent at all, unless plain HTTP is allowed.
func TestPlainHTTP(t *testing.T) {
	a := startAPI()
	defer a.Close()
	var seen atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		a.Config.Handler.ServeHTTP(w, r)
	}))
	defer plain.Close()
	plainAPI := &api{Server: plain}
	plainAPI.URL = plain.URL

	for _, next := range []http.RoundTripper{nil, http.DefaultTransport, base(t, a)} {
		for _, mk := range []func() (http.RoundTripper, error){
			func() (http.RoundTripper, error) {
				return client.Login(client.LoginConfig{URL: plain.URL + "/api/v1/login", Username: "u", Password: "p"}, next)
			},
			func() (http.RoundTripper, error) {
				return client.JWTLogin(client.JWTLoginConfig{URL: plain.URL + "/api/Account/login", Email: "e", Password: "p"}, next)
			},
			func() (http.RoundTripper, error) {
				return client.JWTSession(client.JWTSessionConfig{URL: plain.URL + "/login/jwt-session", Token: "t"}, next)
			},
		} {
			if _, err := mk(); !errors.Is(err, client.ErrPlainHTTP) {
				t.Errorf("an http:// login URL: %v", err)
			}
		}
		for _, rt := range []http.RoundTripper{client.Bearer("t", next), client.APIKey("k", next), client.Basic("u", "p", next),
			client.QlikUser("D", "U", next), client.MintedBearer(client.MinterFunc(func() (string, error) { return "t", nil }), next)} {
			_, err := (&http.Client{Transport: rt}).Get(plain.URL + "/api/v1/projects")
			if !errors.Is(err, client.ErrPlainHTTP) {
				t.Errorf("%v over http: %v", rt, err)
			}
		}
	}
	// An https login whose API calls go to http:// is refused too.
	login, _ := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: demoPassword}, base(t, a))
	if _, err := (&http.Client{Transport: login}).Get(plain.URL + "/api/v1/projects"); !errors.Is(err, client.ErrPlainHTTP) {
		t.Errorf("Login to an http:// URL: %v", err)
	}
	if n := seen.Load(); n != 0 {
		t.Fatalf("%d requests reached the plain HTTP server", n)
	}

	// Xrfkey is no credential.
	if code, _ := do(t, client.Xrfkey(nil), "GET", plain.URL+"/qrs/about", ""); code != 401 {
		t.Errorf("Xrfkey over plain HTTP: %d", code)
	}
	// Allowed: by Options, or around a transport of one's own.
	allowed, err := client.NewTransport(client.Options{AllowPlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, next := range []http.RoundTripper{allowed, client.AllowPlainHTTP(http.DefaultTransport), client.AllowPlainHTTP(nil)} {
		if code, body := do(t, client.Xrfkey(client.Basic(demoUser, demoPassword, next)), "GET", plain.URL+"/api/v1/projects", ""); code != 200 {
			t.Errorf("allowed plain HTTP: %d %s", code, body)
		}
		jl, err := client.JWTLogin(client.JWTLoginConfig{URL: plain.URL + "/api/Account/login", Email: demoEmail, Password: demoPassword}, next)
		if err != nil {
			t.Fatal(err)
		}
		if code, body := do(t, jl, "GET", plain.URL+"/api/data/x", ""); code != 200 {
			t.Errorf("allowed plain HTTP, JWT login: %d %s", code, body)
		}
	}
}

// TestRedirects checks that credentials follow a redirect within the
// origin of the request, and not one to another origin.
func TestRedirects(t *testing.T) {
	a := startAPI()
	defer a.Close()
	var got sync.Map
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store("auth", r.Header.Get("Authorization")+r.Header.Get("X-Api-Key")+r.Header.Get("Cookie")+r.Header.Get("X-Qlik-User"))
		io.WriteString(w, "elsewhere")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/v1/projects", http.StatusFound)
	})
	mux.Handle("/", a.Config.Handler)
	a.Config.Handler = mux

	for name, rt := range transports(t, a, base(t, a)) {
		if name == "Xrfkey" {
			continue
		}
		got.Store("auth", "unset")
		if code, body := do(t, rt, "GET", a.URL+"/away", ""); code != 200 || body != "elsewhere" {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		if v, _ := got.Load("auth"); v != "" {
			t.Errorf("%s sent credentials to another origin: %q", name, v)
		}
		do(t, rt, "GET", a.URL+"/here", "")
		r := a.lastRequest()
		if r.URL.Path != "/api/v1/projects" || r.Header.Get("Authorization")+r.Header.Get("X-Api-Key")+r.Header.Get("Cookie")+r.Header.Get("X-Qlik-User") == "" {
			t.Errorf("%s, a redirect within the origin, arrived without credentials: %s %v", name, r.URL, r.Header)
		}
	}
}

// TestNoSecretInErrors sends every secret to a server that repeats what it
// got in its error answers, and checks that no error and no printed
// transport or configuration holds a secret.
func TestNoSecretInErrors(t *testing.T) {
	const password, token, key = "pw-Sekr3t-p4ss", "eyJ0eXAi.c2VjcmV0LXRva2Vu.c2ln", "lk_secret_api_key_value"
	echo := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		fmt.Fprintf(w, `{"error":{"code":"unauthorized","message":%q}}`, "you sent "+string(b)+" "+r.Header.Get("Authorization"))
	}))
	defer echo.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeCert(t, caFile, echo)
	b, err := client.NewTransport(client.Options{CACertFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var errs []error

	login, _ := client.Login(client.LoginConfig{URL: echo.URL + "/api/v1/login", Username: "u", Password: password}, b)
	_, err = (&http.Client{Transport: login}).Get(echo.URL + "/x")
	errs = append(errs, err)
	_, err = client.JWTLoginConfig{URL: echo.URL + "/api/Account/login", Email: "e", Password: password}.Token(ctx, b)
	errs = append(errs, err)
	js, _ := client.JWTSession(client.JWTSessionConfig{URL: echo.URL + "/login/jwt-session", Token: token}, b)
	_, err = (&http.Client{Transport: js}).Get(echo.URL + "/x")
	errs = append(errs, err)
	jl, _ := client.JWTLogin(client.JWTLoginConfig{URL: echo.URL + "/api/Account/login", Email: "e", Password: password}, b)
	_, err = (&http.Client{Transport: jl}).Get(echo.URL + "/x")
	errs = append(errs, err)
	// Plain HTTP, bad URLs, a password in a URL.
	_, err = (&http.Client{Transport: client.Basic("u", password, nil)}).Get("http://example.com/x")
	errs = append(errs, err)
	_, err = client.Login(client.LoginConfig{URL: "https://u:" + password + "@example.com/%zz", Username: "u", Password: password}, nil)
	errs = append(errs, err)
	_, err = client.Login(client.LoginConfig{URL: "ftp://u:" + password + "@example.com/", Username: "u", Password: password}, nil)
	errs = append(errs, err)
	_, err = (&http.Client{Transport: client.APIKey(key, b)}).Get("https://u:" + password + "@127.0.0.1:1/x")
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("error %d is nil", i)
			continue
		}
		for _, s := range []string{password, token, key, "c2VjcmV0"} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %d holds a secret: %v", i, err)
			}
		}
	}
	var se *client.StatusError
	if !errors.As(errs[0], &se) || se.StatusCode != 401 {
		t.Errorf("a refused login is not a *StatusError 401: %#v", errs[0])
	}

	printable := []any{
		client.Bearer(token, nil), client.APIKey(key, nil), client.Basic("u", password, nil), login, js, jl,
		client.LoginConfig{URL: "https://x/", Username: "u", Password: password},
		client.JWTLoginConfig{URL: "https://x/", Email: "e", Password: password},
		client.JWTSessionConfig{URL: "https://x/", Token: token},
	}
	for _, v := range printable {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, password) || strings.Contains(out, token) || strings.Contains(out, key) {
				t.Errorf("%s of %T shows a secret: %s", verb, v, out)
			}
		}
	}
}

func writeCert(t *testing.T, file string, s *httptest.Server) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLoginRenewal checks the re-login: once after a 401, with the body
// sent again; not for a body that cannot be replayed, but at the next
// request; before a request when X-Session-Expires says the session ends.
func TestLoginRenewal(t *testing.T) {
	a := startAPI()
	defer a.Close()
	login, err := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: demoAPIKey}, base(t, a))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: login}
	if code, body := do(t, login, "GET", a.URL+"/api/v1/projects", ""); code != 200 || body != `LOCAL\apiuser via session` {
		t.Fatalf("GET: %d %s", code, body)
	}
	a.revokeAll()
	if code, body := do(t, login, "PUT", a.URL+"/api/v1/projects/1", `{"name":"replayed"}`); code != 200 {
		t.Fatalf("PUT after revoke: %d %s", code, body)
	}
	r := a.lastRequest()
	if b, _ := io.ReadAll(r.Body); string(b) != `{"name":"replayed"}` || r.Header.Get("X-Requested-With") != "XMLHttpRequest" ||
		r.Header.Get("Origin") != a.URL || r.Header.Get("Accept") != "application/json" {
		t.Errorf("the retried PUT reached the server as %s %v", b, r.Header)
	}
	if n := a.loginCount(); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}

	// A body without GetBody cannot be sent again: the 401 is returned,
	// and the next request logs in.
	a.revokeAll()
	req, _ := http.NewRequest("POST", a.URL+"/api/v1/projects", io.NopCloser(strings.NewReader("{}")))
	req.GetBody = nil
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unreplayable POST after revoke: %d, want 401", resp.StatusCode)
	}
	if code, _ := do(t, login, "GET", a.URL+"/api/v1/projects", ""); code != 200 || a.loginCount() != 3 {
		t.Errorf("GET after the unreplayed 401: %d, %d logins", code, a.loginCount())
	}

	// A request's own Origin, Accept and X-Requested-With are kept.
	req, _ = http.NewRequest("DELETE", a.URL+"/api/v1/projects/1", nil)
	req.Header.Set("Origin", demoOrigin)
	req.Header.Set("Accept", "text/plain")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	if r := a.lastRequest(); r.Header.Get("Origin") != demoOrigin || r.Header.Get("Accept") != "text/plain" {
		t.Errorf("the request's own headers were replaced: %v", r.Header)
	}

	// A session about to end is replaced before the request.
	a.setExpiresIn(5 * time.Second)
	a.revokeAll() // the first GET gets a 401 and a session that ends in 5s
	before := a.loginCount()
	for range 3 {
		if code, _ := do(t, login, "GET", a.URL+"/api/v1/projects", ""); code != 200 {
			t.Fatalf("GET: %d", code)
		}
	}
	if n := a.loginCount() - before; n != 3 {
		t.Errorf("%d logins for 3 requests on sessions that end in 5s, want 3", n)
	}
	requests := a.requestCount()
	do(t, login, "GET", a.URL+"/api/v1/projects", "")
	if n := a.requestCount() - requests; n != 2 {
		t.Errorf("%d requests for a login and a GET", n)
	}

	// Logout, then a request logs in again; Logout without a session is nothing.
	if err := login.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := login.Logout(context.Background()); err != nil {
		t.Errorf("second Logout: %v", err)
	}
	if code, _ := do(t, login, "GET", a.URL+"/api/v1/projects", ""); code != 200 {
		t.Errorf("GET after Logout: %d", code)
	}

	// A wrong password: an error, with the server's message.
	bad, _ := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: "wrong password"}, base(t, a))
	_, err = (&http.Client{Transport: bad}).Get(a.URL + "/api/v1/projects")
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: The username or password is not correct.") {
		t.Errorf("wrong password: %v", err)
	}
}

// TestNoReloginForAFreshSession checks that a 401 to the session that the
// request itself logged in for is returned as it is: another login would
// not change it.
func TestNoReloginForAFreshSession(t *testing.T) {
	a := startAPI()
	defer a.Close()
	login, err := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: demoPassword}, base(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, login, "GET", a.URL+"/always401", ""); code != 401 || a.loginCount() != 1 || a.requestCount() != 2 {
		t.Errorf("%d after %d logins and %d requests, want 401 after 1 and 2", code, a.loginCount(), a.requestCount())
	}
}

// TestLoginConcurrent sends requests from many goroutines: one login, and
// one re-login after a revoke, serves them all.
func TestLoginConcurrent(t *testing.T) {
	a := startAPI()
	defer a.Close()
	login, err := client.Login(client.LoginConfig{URL: a.URL + "/api/v1/login", Username: demoUser, Password: demoPassword}, base(t, a))
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if code, body := do(t, login, "POST", a.URL+"/api/v1/projects", "{}"); code != 200 {
					t.Errorf("POST: %d %s", code, body)
				}
			})
		}
		wg.Wait()
	}
	run()
	if n := a.loginCount(); n != 1 {
		t.Errorf("%d logins for 20 concurrent requests", n)
	}
	a.revokeAll()
	run()
	if n := a.loginCount(); n != 2 {
		t.Errorf("%d logins after a revoke, want 2", n)
	}
}

// TestLoginSessionIDOnly reads X-Session-Id when the login sets no cookie.
func TestLoginSessionIDOnly(t *testing.T) {
	var cookie atomic.Value
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/login" {
			w.Header().Set("X-Session-Id", "tok123")
			return
		}
		cookie.Store(r.Header.Get("Cookie"))
	}))
	defer s.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeCert(t, ca, s)
	b, _ := client.NewTransport(client.Options{CACertFile: ca})
	for name, want := range map[string]string{"": "wtsession=tok123", "JSESSIONID": "JSESSIONID=tok123"} {
		login, _ := client.Login(client.LoginConfig{URL: s.URL + "/api/v1/login", Username: "u", Password: "p", CookieName: name}, b)
		do(t, login, "GET", s.URL+"/x", "")
		if got := cookie.Load(); got != want {
			t.Errorf("CookieName %q: sent %q", name, got)
		}
	}
	// Neither cookie nor X-Session-Id: an error.
	login, _ := client.Login(client.LoginConfig{URL: s.URL + "/nothing", Username: "u", Password: "p"}, b)
	if _, err := (&http.Client{Transport: login}).Get(s.URL + "/x"); err == nil || !strings.Contains(err.Error(), "no session cookie") {
		t.Errorf("a login without a session: %v", err)
	}
}

// TestJWTSession checks the CSRF header, the re-exchange with a Minter and
// the 401 with a fixed token.
func TestJWTSession(t *testing.T) {
	a := startAPI()
	defer a.Close()
	rt, err := client.JWTSession(client.JWTSessionConfig{URL: a.URL + "/login/jwt-session", Minter: cloudMinter(t)}, base(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, rt, "POST", a.URL+"/api/v1/spaces", "{}"); code != 200 || body != `QLIKCLOUD\ann via session` {
		t.Fatalf("POST: %d %s", code, body)
	}
	r := a.lastRequest()
	if r.Header.Get("Authorization") != "" || r.Header.Get("qlik-csrf-token") == "" {
		t.Errorf("the POST carried %v", r.Header)
	}
	if code, _ := do(t, rt, "GET", a.URL+"/api/v1/spaces", ""); code != 200 || a.lastRequest().Header.Get("qlik-csrf-token") != "" {
		t.Errorf("GET: %d %v", code, a.lastRequest().Header)
	}
	a.revokeAll()
	if code, body := do(t, rt, "PATCH", a.URL+"/api/v1/spaces/1", `{"a":1}`); code != 200 || a.loginCount() != 2 {
		t.Errorf("PATCH after revoke: %d %s, %d exchanges", code, body, a.loginCount())
	}

	// A fixed token opens one session; when it ends, the 401 comes back.
	tok, _ := cloudMinter(t).Mint()
	fixed, err := client.JWTSession(client.JWTSessionConfig{URL: a.URL + "/login/jwt-session", Token: tok}, base(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, fixed, "GET", a.URL+"/api/v1/spaces", ""); code != 200 {
		t.Fatalf("fixed token: %d", code)
	}
	a.revokeAll()
	for range 2 {
		if code, _ := do(t, fixed, "GET", a.URL+"/api/v1/spaces", ""); code != 401 {
			t.Errorf("fixed token after revoke: %d, want 401", code)
		}
	}
	if n := a.loginCount(); n != 3 {
		t.Errorf("%d exchanges, want 3", n)
	}
	// The same token again: the server's refusal is the error.
	again, _ := client.JWTSession(client.JWTSessionConfig{URL: a.URL + "/login/jwt-session", Token: tok}, base(t, a))
	_, err = (&http.Client{Transport: again}).Get(a.URL + "/api/v1/spaces")
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized: This token has been used already.") {
		t.Errorf("replayed token: %v", err)
	}
	if _, err := client.JWTSession(client.JWTSessionConfig{URL: a.URL + "/login/jwt-session"}, nil); err == nil {
		t.Error("JWTSession without a token or Minter")
	}
}

// TestXrfkeyFresh checks that each request gets its own key, replacing one
// the request had, and keeps the other parameters.
func TestXrfkeyFresh(t *testing.T) {
	a := startAPI()
	defer a.Close()
	rt := client.Xrfkey(client.APIKey(demoAPIKey, base(t, a)))
	seen := map[string]bool{}
	for range 5 {
		if code, _ := do(t, rt, "GET", a.URL+"/qrs/app?xrfkey=AAAAAAAAAAAAAAAA&filter=name+eq+%27x%27", ""); code != 200 {
			t.Fatalf("GET: %d", code)
		}
		r := a.lastRequest()
		q := r.URL.Query()
		k := q.Get("Xrfkey")
		if !xrfkey.Check(r) || k == "AAAAAAAAAAAAAAAA" || q.Get("filter") != "name eq 'x'" || seen[k] {
			t.Errorf("sent %s with %q", r.URL, r.Header.Get("X-Qlik-Xrfkey"))
		}
		seen[k] = true
	}
}

// TestMintedBearerMintsEachRequest counts the tokens minted.
func TestMintedBearerMintsEachRequest(t *testing.T) {
	a := startAPI()
	defer a.Close()
	var n atomic.Int32
	m := client.MinterFunc(func() (string, error) {
		n.Add(1)
		return fmt.Sprintf("tok%d", n.Load()), nil
	})
	rt := client.MintedBearer(m, base(t, a))
	for i := 1; i <= 3; i++ {
		do(t, rt, "GET", a.URL+"/api/v1/projects", "")
		if got := a.lastRequest().Header.Get("Authorization"); got != fmt.Sprintf("Bearer tok%d", i) {
			t.Errorf("request %d: %q", i, got)
		}
	}
	failing := client.MintedBearer(client.MinterFunc(func() (string, error) { return "", errors.New("no key") }), base(t, a))
	if _, err := (&http.Client{Transport: failing}).Get(a.URL + "/x"); err == nil || !strings.Contains(err.Error(), "mint a token: no key") {
		t.Errorf("a failing Minter: %v", err)
	}
	for name, rt := range map[string]http.RoundTripper{"Bearer": client.Bearer("", nil), "APIKey": client.APIKey("", nil),
		"Basic": client.Basic("", "p", nil), "QlikUser": client.QlikUser("", "u", nil), "MintedBearer": client.MintedBearer(nil, nil)} {
		if _, err := (&http.Client{Transport: rt}).Get(a.URL + "/x"); err == nil {
			t.Errorf("%s with an empty credential sent the request", name)
		}
	}
}

// TestNewTransportErrors checks the errors of bad files.
func TestNewTransportErrors(t *testing.T) {
	sharedFiles()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	key, _ := os.ReadFile(files.ClientKey)
	tests := map[string]client.Options{
		"no CA file":      {CACertFile: filepath.Join(dir, "missing.pem")},
		"CA file not PEM": {CACertFile: notPEM},
		"cert, no key":    {CertFile: files.ClientCert},
		"key, no cert":    {KeyFile: files.ClientKey},
		"wrong key":       {CertFile: files.ClientCert, KeyFile: files.PrivateKey},
		"key as cert":     {CertFile: files.ClientKey, KeyFile: files.ClientKey},
	}
	for name, o := range tests {
		_, err := client.NewTransport(o)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(key[40:80])) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if _, err := client.NewTransport(client.Options{CACertFile: files.ClientCert, CertFile: files.ClientCert, KeyFile: files.ClientKey}); err != nil {
		t.Errorf("good files: %v", err)
	}
}

// TestInsecureSkipVerify reaches a server the system's CAs do not know.
func TestInsecureSkipVerify(t *testing.T) {
	a := startAPI()
	defer a.Close()
	strict, _ := client.NewTransport(client.Options{})
	if _, err := (&http.Client{Transport: strict}).Get(a.URL + "/x"); err == nil {
		t.Error("an unknown CA was accepted")
	}
	insecure, _ := client.NewTransport(client.Options{InsecureSkipVerify: true})
	if code, _ := do(t, client.APIKey(demoAPIKey, insecure), "GET", a.URL+"/api/x", ""); code != 200 {
		t.Errorf("InsecureSkipVerify: %d", code)
	}
}
