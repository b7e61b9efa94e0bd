package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/sqlite"
	"github.com/latchkey/latchkey/testenv"
)

// server is a real latchkey process for end-to-end tests.
type server struct {
	t    *testing.T
	dir  string
	url  string
	host string
}

// startServer runs the latchkey binary with the config file until the test
// ends.
func startServer(t *testing.T, configFile string) *server {
	t.Helper()
	dir := t.TempDir()
	logs := &syncBuffer{}
	cmd := exec.Command(binary, "serve", "--config", configFile, "--data-dir", dir,
		"--listen", "127.0.0.1:0", "--log-format", "json")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = append(os.Environ(), "LATCHKEY_ADMIN_PASSWORD=admin password 1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	u := waitListening(t, logs.String, "main")
	return &server{t: t, dir: dir, url: u, host: strings.TrimPrefix(u, "https://")}
}

// cli runs the latchkey binary against the server's store.
func (s *server) cli(stdin string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(binary, append(args, "--data-dir", s.dir)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		s.t.Fatalf("latchkey %s: %v %s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}

// createKey makes an API key with the CLI and returns its id and secret.
func (s *server) createKey(user string, extra ...string) (id, key string) {
	s.t.Helper()
	var v struct{ ID, Key string }
	out := s.cli("", append([]string{"apikey", "create", "--user", user, "--days", "30", "-o", "json"}, extra...)...)
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Key == "" {
		s.t.Fatalf("apikey create printed %q: %v", out, err)
	}
	return v.ID, v.Key
}

// do sends a request and returns the status, headers and body.
func (s *server) do(method, path string, header http.Header, body string) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := insecureClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// raw sends bytes as they are over TLS and reads one response.
func (s *server) raw(request string) (*http.Response, string) {
	s.t.Helper()
	conn, err := tls.Dial("tcp", s.host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// seed004Login is the login request of seed 004, byte for byte but for the
// Host header (which the seed leaves out), Content-Length, and the
// credentials.
func seed004Login(host, username, password string) string {
	body := fmt.Sprintf("{\n\"username\": %q,\n\"password\": %q\n}", username, password)
	return "POST /api/v1/login HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Origin: example.apps.journyx.com\r\n" +
		"Accept: application/json\r\n" +
		"X-Requested-With: XMLHttpRequest\r\n" +
		"Content-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(body)) +
		"Connection: close\r\n\r\n" + body
}

var (
	expiresHeader = regexp.MustCompile(`^(\d+\.\d{2}), (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}), (\d+\.\d{2})$`)
	cookieHeader  = regexp.MustCompile(`^wtsession=([A-Za-z0-9_-]+); Path=/; Secure; HttpOnly; SameSite=Strict$`)
)

// TestSeed004 drives seed 004's flows against a real latchkey serve over
// HTTPS: login for a cookie, the cookie on a GET, the required headers,
// logout; HTTP Basic from the seed's Python example with a password and
// with an API key.
func TestSeed004(t *testing.T) {
	s := startServer(t, filepath.Join("testdata", "journyx.yaml"))
	s.cli("apiuser password\n", "user", "add", "--user", "apiuser", "--role", "apikey-user", "--password-stdin")

	resp, body := s.raw(seed004Login(s.host, "apiuser", "apiuser password"))
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	token := resp.Header.Get("X-Session-Id")
	m := cookieHeader.FindStringSubmatch(resp.Header.Get("Set-Cookie"))
	if token == "" || m == nil || m[1] != token {
		t.Fatalf("X-Session-Id %q and Set-Cookie %q do not match the seed's shape", token, resp.Header.Get("Set-Cookie"))
	}
	e := expiresHeader.FindStringSubmatch(resp.Header.Get("X-Session-Expires"))
	if e == nil {
		t.Fatalf("X-Session-Expires = %q, not the seed's shape", resp.Header.Get("X-Session-Expires"))
	}
	var epoch, left float64
	fmt.Sscan(e[1], &epoch)
	fmt.Sscan(e[3], &left)
	iso, err := time.Parse("2006-01-02T15:04:05.000000", e[2])
	if err != nil || iso.Unix() != int64(epoch) || left < 3600 || float64(time.Now().Unix())+left-epoch > 2 || epoch-float64(time.Now().Unix())-left > 2 {
		t.Errorf("X-Session-Expires parts disagree: %q", resp.Header.Get("X-Session-Expires"))
	}
	var lb struct {
		Success *bool `json:"success"`
		Auth    struct {
			Abilities []string `json:"abilities"`
			Expires   *float64 `json:"expires"`
		} `json:"auth"`
	}
	if err := json.Unmarshal([]byte(body), &lb); err != nil || lb.Success == nil || !*lb.Success || lb.Auth.Expires == nil ||
		len(lb.Auth.Abilities) == 0 || strings.Contains(body, token) {
		t.Errorf("login body = %s", body)
	}

	cookie := http.Header{"Cookie": {"wtsession=" + token}}
	code, _, echo := s.do("GET", "/api/v1/projects", cookie, "")
	if code != 200 || !strings.Contains(echo, `"user": "apiuser"`) || !strings.Contains(echo, `"method": "session"`) {
		t.Fatalf("GET with the cookie: %d %s", code, echo)
	}
	unsafe := http.Header{"Cookie": {"wtsession=" + token}, "Origin": {"example.apps.journyx.com"}, "Accept": {"application/json"}}
	if code, _, b := s.do("POST", "/api/v1/projects", unsafe, "{}"); code != 403 || !strings.Contains(b, "X-Requested-With") {
		t.Errorf("POST without X-Requested-With: %d %s", code, b)
	}
	unsafe.Set("X-Requested-With", "XMLHttpRequest")
	if code, _, b := s.do("POST", "/api/v1/projects", unsafe, "{}"); code != 200 {
		t.Errorf("POST with the required headers: %d %s", code, b)
	}
	if code, _, b := s.do("POST", "/api/v1/logout", unsafe, ""); code != 200 {
		t.Fatalf("logout: %d %s", code, b)
	}
	if code, _, _ := s.do("GET", "/api/v1/projects", cookie, ""); code != 401 {
		t.Errorf("GET after logout: %d, want 401", code)
	}

	// The same login with an API key as the password.
	_, key := s.createKey("apiuser")
	if resp, body := s.raw(seed004Login(s.host, "apiuser", key)); resp.StatusCode != 200 || resp.Header.Get("X-Session-Id") == "" {
		t.Errorf("login with an API key: %d %s", resp.StatusCode, body)
	}

	// Seed 004's Python example: Basic with a password, then with the key.
	python := pythonWithRequests()
	if python == "" {
		testenv.Missing(t, "no python3 with the requests module (.ci/run installs python3-requests); skipping the Python example")
	}
	for name, secret := range map[string]string{"password": "apiuser password", "api key": key} {
		cmd := exec.Command(python, filepath.Join("testdata", "seed004_basic.py"))
		cmd.Env = append(os.Environ(), "LK_URL="+s.url, "LK_USERNAME=apiuser", "LK_PASSWORD="+secret)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "200\n") || !strings.Contains(string(out), `"user": "apiuser"`) {
			t.Errorf("Python Basic with a %s: %v\n%s", name, err, out)
		}
	}
}

// pythonWithRequests returns a Python interpreter that has the requests
// module, or "".
func pythonWithRequests() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import requests").Run() == nil {
			return p
		}
	}
	return ""
}

// TestAPIKeyRules checks, against a real server, what each kind of key may
// do: read-only keys only read, expired and revoked keys stop at once, and a
// key is refused when its owner lacks apikey.signin.
func TestAPIKeyRules(t *testing.T) {
	s := startServer(t, filepath.Join("testdata", "journyx.yaml"))
	s.cli("", "user", "add", "--user", "reader", "--role", "apikey-user", "--no-password")
	s.cli("", "user", "add", "--user", "nosignin", "--no-password")
	keyHeader := func(k string) http.Header { return http.Header{"X-Api-Key": {k}} }

	_, ro := s.createKey("reader", "--read-only")
	if code, _, b := s.do("GET", "/api/v1/data", keyHeader(ro), ""); code != 200 {
		t.Errorf("read-only key GET: %d %s", code, b)
	}
	if code, _, _ := s.do("POST", "/api/v1/data", keyHeader(ro), "{}"); code != 403 {
		t.Errorf("read-only key POST: %d, want 403", code)
	}

	// An expired key, written to the store as another process would.
	u := decode[credential.UserView](t, s.cli("", "user", "show", "--user", "reader", "-o", "json"))
	st, err := sqlite.Open(context.Background(), filepath.Join(s.dir, "latchkey.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id, expired, hash := credential.MintAPIKey()
	past := time.Now().Add(-48 * time.Hour)
	if err := st.CreateAPIKey(context.Background(), &latchkey.APIKey{ID: id, UserID: u.ID, CreatedAt: past.Add(-time.Hour),
		ExpiresAt: past, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if code, _, _ := s.do("GET", "/api/v1/data", keyHeader(expired), ""); code != 401 {
		t.Errorf("expired key: %d, want 401", code)
	}

	// Revoked through the API: 401 on the very next request.
	kid, key := s.createKey("reader")
	if code, _, _ := s.do("GET", "/api/v1/data", keyHeader(key), ""); code != 200 {
		t.Fatalf("fresh key: %d", code)
	}
	headers := http.Header{"X-Api-Key": {key}, "Origin": {"example.apps.journyx.com"},
		"Accept": {"application/json"}, "X-Requested-With": {"XMLHttpRequest"}}
	if code, _, b := s.do("POST", "/api/v1/api_keys/"+url.PathEscape(kid)+"/revoke", headers, ""); code != 200 {
		t.Fatalf("revoke through the API: %d %s", code, b)
	}
	if code, _, _ := s.do("GET", "/api/v1/data", keyHeader(key), ""); code != 401 {
		t.Errorf("the request right after revoking: %d, want 401", code)
	}

	// Revoked by the command line in another process: refused within the
	// change feed's delay (the SQLite feed polls every half second).
	kid, key = s.createKey("reader")
	if code, _, _ := s.do("GET", "/api/v1/data", keyHeader(key), ""); code != 200 {
		t.Fatalf("fresh key: %d", code)
	}
	s.cli("", "apikey", "revoke", kid)
	testenv.Eventually(t, 2*time.Second, "a key revoked by the command line still works", func() bool {
		code, _, _ := s.do("GET", "/api/v1/data", keyHeader(key), "")
		return code == 401
	})

	// A key of a user without apikey.signin is refused.
	_, nk := s.createKey("nosignin")
	if code, _, b := s.do("GET", "/api/v1/data", keyHeader(nk), ""); code != 403 || !strings.Contains(b, "apikey.signin") {
		t.Errorf("key without apikey.signin: %d %s", code, b)
	}
}
