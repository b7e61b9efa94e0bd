package main

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder is an HTTPS server that records the requests it gets and
// answers with a handler of the test's.
type recorder struct {
	*httptest.Server
	ca   string
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newRecorder(t *testing.T, h http.HandlerFunc, tls bool) *recorder {
	t.Helper()
	rec := &recorder{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Clone(r.Context()))
		rec.body = append(rec.body, string(b))
		rec.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	})
	if tls {
		rec.Server = httptest.NewTLSServer(handler)
		rec.ca = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(rec.ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.Certificate().Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		rec.Server = httptest.NewServer(handler)
	}
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) last() (*http.Request, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return nil, ""
	}
	return r.reqs[len(r.reqs)-1], r.body[len(r.body)-1]
}

// TestCallFlagErrors checks that mistakes on the command line are refused
// with a message that says what to do, before anything is sent.
func TestCallFlagErrors(t *testing.T) {
	rec := newRecorder(t, nil, true)
	plain := newRecorder(t, nil, false)
	u := rec.URL + "/x"
	tests := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{}, "", "accepts 1 arg"},
		{[]string{"ftp://example.com/"}, "", "is not an http:// or https:// URL"},
		{[]string{"--userid", "goran", u}, "", "give --jwt-key"},
		{[]string{"--bearer", "t", "--jwt-key", "k.pem", u}, "", "either --bearer or --jwt-key"},
		{[]string{"--bearer", "t", "--api-key", "k", u}, "", "give one way to authenticate, not --bearer/--jwt-key and --api-key"},
		{[]string{"--basic", "u:p", "--login", "u:p", u}, "", "give one way to authenticate"},
		{[]string{"--login-url", rec.URL + "/login", u}, "", "need --login"},
		{[]string{"--jwt-login", rec.URL + "/login", u}, "", "need --login"},
		{[]string{"--login", "u:p", "--jwt-login", rec.URL, "--login-url", rec.URL, u}, "", "not both"},
		{[]string{"--origin", "x", u}, "", "--origin is the Origin of --login"},
		{[]string{"--jwt-session", rec.URL + "/s", u}, "", "--jwt-session needs the token"},
		{[]string{"--jwt-session", rec.URL + "/s", "--bearer", "t", "--api-key", "k", u}, "", "cannot be combined with --api-key"},
		{[]string{"--basic", ":pw", u}, "", "give USER:PASSWORD"},
		{[]string{"--basic", "u", u}, "", "--basic: stdin is empty"},
		{[]string{"-H", "NoColon", u}, "", `-H "NoColon" is not "Name: value"`},
		{[]string{"--bearer", "-", "-d", "@-", u}, "tok\n", "both read stdin"},
		{[]string{"-d", "@" + filepath.Join(t.TempDir(), "missing"), u}, "", "--data"},
		{[]string{"--jwt-key", filepath.Join(t.TempDir(), "missing.pem"), "--userdir", "LAB", "--userid", "g", u}, "", "read the private key"},
		{[]string{"--cert", "client.pem", u}, "", "give both the client certificate"},
		{[]string{"--cacert", filepath.Join(t.TempDir(), "missing.pem"), u}, "", "read the CA certificates"},
		{[]string{"--qlik-user", `\x`, u}, "", "--qlik-user"},
		{[]string{"--expires", "soon", "--jwt-key", "k.pem", "--userdir", "L", "--userid", "g", u}, "", "--expires"},
		// Plain HTTP: refused before anything is sent.
		{[]string{"--basic", "u:p", plain.URL + "/x"}, "", "credentials are not sent over plain HTTP to " + plain.URL + ": use https, or give --allow-plain-http"},
		{[]string{"--login", "u:p", plain.URL + "/x"}, "", "credentials are not sent over plain HTTP"},
	}
	for _, tt := range tests {
		out, errOut, code := callCLI(t, tt.stdin, tt.args...)
		if code != 1 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("call %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(tt.args, " "), code, out, errOut, tt.want)
		}
	}
	if n := rec.count() + plain.count(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}

// TestCallRequest checks the request that call makes from its flags, and
// what it prints.
func TestCallRequest(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"not here"}`)
		case "/moved":
			http.Redirect(w, r, "/landing", http.StatusFound)
		default:
			w.Header().Set("X-Session-Id", "secret-session")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		}
	}, true)
	base := []string{"--cacert", rec.ca}

	// Defaults: GET, no body.
	out := mustCall(t, "", append(base, rec.URL+"/a?b=1")...)
	r, body := rec.last()
	if out != "hello" || r.Method != "GET" || r.URL.String() != "/a?b=1" || body != "" {
		t.Errorf("plain GET: %q, sent %s %s %q", out, r.Method, r.URL, body)
	}

	// -d: POST, JSON detected; -X, -H, Host.
	mustCall(t, "", append(base, "-d", `{"a": 1}`, "-H", "X-Thing: one", "-H", "X-Thing: two", "-H", "Host: api.example.com", rec.URL+"/p")...)
	r, body = rec.last()
	if r.Method != "POST" || body != `{"a": 1}` || r.Header.Get("Content-Type") != "application/json" ||
		strings.Join(r.Header.Values("X-Thing"), ",") != "one,two" || r.Host != "api.example.com" {
		t.Errorf("-d JSON: %s %q %v host %s", r.Method, body, r.Header, r.Host)
	}
	mustCall(t, "", append(base, "-X", "patch", "-d", "a=1&b=2", rec.URL+"/p")...)
	if r, body = rec.last(); r.Method != "PATCH" || body != "a=1&b=2" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("-X patch -d form: %s %q %v", r.Method, body, r.Header)
	}
	file := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(file, []byte(`[1,2]`), 0o600)
	mustCall(t, "", append(base, "-d", "@"+file, "-H", "Content-Type: text/csv", rec.URL+"/p")...)
	if r, body = rec.last(); body != "[1,2]" || r.Header.Get("Content-Type") != "text/csv" {
		t.Errorf("-d @file: %q %v", body, r.Header)
	}
	mustCall(t, "from stdin", append(base, "-X", "PUT", "-d", "@-", rec.URL+"/p")...)
	if r, body = rec.last(); r.Method != "PUT" || body != "from stdin" {
		t.Errorf("-d @-: %s %q", r.Method, body)
	}

	// Credentials: bearer from stdin, API key in another header, Basic, X-Qlik-User, Xrfkey.
	mustCall(t, "tok123\n", append(base, "--bearer", "-", "--xrfkey", "--qlik-user", `LAB\Göran`, rec.URL+"/q?x=1")...)
	r, _ = rec.last()
	if r.Header.Get("Authorization") != "Bearer tok123" || r.Header.Get("X-Qlik-User") != "UserDirectory=LAB; UserId=G%C3%B6ran" ||
		r.URL.Query().Get("x") != "1" || r.URL.Query().Get("Xrfkey") != r.Header.Get("X-Qlik-Xrfkey") || len(r.Header.Get("X-Qlik-Xrfkey")) != 16 {
		t.Errorf("--bearer - --xrfkey --qlik-user: %s %v", r.URL, r.Header)
	}
	mustCall(t, "", append(base, "--api-key", "k1", "--api-key-header", "X-Custom-Key", rec.URL+"/q")...)
	if r, _ = rec.last(); r.Header.Get("X-Custom-Key") != "k1" || r.Header.Get("X-Api-Key") != "" {
		t.Errorf("--api-key-header: %v", r.Header)
	}
	mustCall(t, "", append(base, "--basic", "LAB\\goran:pass:word", rec.URL+"/q")...)
	if r, _ = rec.last(); !basicIs(r, `LAB\goran`, "pass:word") {
		t.Errorf("--basic: %v", r.Header)
	}

	// -i and -v; secrets left out of -v.
	out, errOut, code := callCLI(t, "", append(base, "-i", "-v", "--bearer", "tok456", rec.URL+"/q")...)
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\n") || !strings.Contains(out, "\nX-Session-Id: secret-session\n") ||
		!strings.HasSuffix(out, "\n\nhello") {
		t.Errorf("-i: %q", out)
	}
	if !strings.Contains(errOut, "> GET "+rec.URL+"/q\n") || !strings.Contains(errOut, "> Authorization: <redacted>") ||
		!strings.Contains(errOut, "< HTTP/1.1 200 OK") || strings.Contains(errOut, "tok456") || strings.Contains(errOut, "secret-session") {
		t.Errorf("-v: %q", errOut)
	}

	// 400 and above: the body is printed, the exit status is 1.
	out, errOut, code = callCLI(t, "", append(base, rec.URL+"/missing")...)
	if code != 1 || out != `{"error":"not here"}` || !strings.Contains(errOut, "latchkey: the server answered 404 Not Found") {
		t.Errorf("404: exit %d %q %q", code, out, errOut)
	}

	// Redirects: not followed without -L.
	n := rec.count()
	out, _, code = callCLI(t, "", append(base, "-i", rec.URL+"/moved")...)
	if code != 0 || !strings.Contains(out, " 302 Found\n") || !strings.Contains(out, "Location: /landing") || rec.count() != n+1 {
		t.Errorf("302 without -L: exit %d %q", code, out)
	}
	mustCall(t, "", append(base, "-L", rec.URL+"/moved")...)
	if r, _ = rec.last(); r.URL.Path != "/landing" {
		t.Errorf("-L went to %s", r.URL)
	}
}

// TestCallRedirectElsewhere checks that -L does not take the credentials
// to another server.
func TestCallRedirectElsewhere(t *testing.T) {
	other := newRecorder(t, nil, true)
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	}, true)
	mustCall(t, "", "--cacert", rec.ca, "-L", "--basic", "u:p", "--api-key-header", "X-Other", rec.URL+"/moved")
	r, _ := other.last()
	if r == nil || r.URL.Path != "/landing" || r.Header.Get("Authorization") != "" {
		t.Errorf("the other server got %v", r)
	}
	if r, _ := rec.last(); !basicIs(r, "u", "p") {
		t.Errorf("the first server got no credentials: %v", r.Header)
	}
}

// TestCallAllowPlainHTTP checks that --allow-plain-http lets credentials
// go to an http:// URL, -v included.
func TestCallAllowPlainHTTP(t *testing.T) {
	plain := newRecorder(t, nil, false)
	for _, v := range []string{"-v", "--verbose=false"} {
		mustCall(t, "", "--allow-plain-http", v, "--basic", "u:p", plain.URL+"/x")
		if r, _ := plain.last(); r == nil || !basicIs(r, "u", "p") {
			t.Errorf("%s --allow-plain-http: %v", v, r)
		}
	}
	// Without credentials, plain HTTP is fine.
	if out := mustCall(t, "", "--xrfkey", plain.URL+"/x"); out != "ok" {
		t.Errorf("plain GET: %q", out)
	}
}

func basicIs(r *http.Request, user, pass string) bool {
	u, p, ok := r.BasicAuth()
	return ok && u == user && p == pass
}
