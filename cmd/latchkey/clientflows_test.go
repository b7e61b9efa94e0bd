package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/testenv"
	"github.com/latchkey/latchkey/xrfkey"
)

// The tests in this file drive every flow of seeds 000, 002, 003 and 004
// through package client, and then through "latchkey call", against a real
// "latchkey serve".

// echoed is what the built-in echo upstream answers.
type echoed struct {
	Authenticated bool
	Principal     struct{ Directory, User, Method string }
	Request       struct{ Method, Path, Query string }
}

func parseEcho(t *testing.T, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not the echo upstream's answer: %v\n%s", err, body)
	}
	return e
}

// caFile is the server's self-signed development certificate.
func (s *server) caFile() string { return filepath.Join(s.dir, "tls", "server.pem") }

// base is the package's transport, trusting the server.
func (s *server) base() *client.Transport {
	s.t.Helper()
	b, err := client.NewTransport(client.Options{CACertFile: s.caFile()})
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// send makes one request through rt and returns the status and body.
func send(t *testing.T, rt http.RoundTripper, method, url, body string) (int, string) {
	t.Helper()
	code, b, err := trySend(rt, method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return code, b
}

func trySend(rt http.RoundTripper, method, url, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// wantUser checks that the echo upstream saw the user, by the method.
func wantUser(t *testing.T, what string, code int, body, dir, user, method string) {
	t.Helper()
	if code != 200 {
		t.Fatalf("%s: %d %s", what, code, body)
	}
	e := parseEcho(t, body)
	if !e.Authenticated || !strings.EqualFold(e.Principal.Directory, dir) || e.Principal.User != user || e.Principal.Method != method {
		t.Fatalf("%s: the upstream saw %s\\%s by %s, want %s\\%s by %s", what, e.Principal.Directory, e.Principal.User,
			e.Principal.Method, dir, user, method)
	}
}

// callCLI runs "latchkey call" in-process.
func callCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return cli(t, nil, stdin, append([]string{"call"}, args...)...)
}

// mustCall runs "latchkey call", which must succeed, and returns its output.
func mustCall(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := callCLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("latchkey call %s: exit %d: %s\n%s", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// liveSessions returns the ids of the sessions that can still be used.
func (s *server) liveSessions() []string {
	s.t.Helper()
	var list []struct{ ID string }
	if err := json.Unmarshal([]byte(s.cli("", "session", "list", "-o", "json")), &list); err != nil {
		s.t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.ID)
	}
	return ids
}

// revokeSessions ends every session with "latchkey session revoke".
func (s *server) revokeSessions() {
	s.t.Helper()
	for _, id := range s.liveSessions() {
		s.cli("", "session", "revoke", id)
	}
}

// cookieSpy is a transport that remembers the last Cookie header sent.
type cookieSpy struct {
	next   http.RoundTripper
	mu     sync.Mutex
	cookie string
}

func (c *cookieSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	if v := r.Header.Get("Cookie"); v != "" {
		c.mu.Lock()
		c.cookie = v
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

func (c *cookieSpy) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cookie
}

// waitRefused waits until the server refuses a cookie that "latchkey
// session revoke" ended (the revocation reaches the server's cache through
// the store's change feed, within a second).
func waitRefused(t *testing.T, s *server, path, cookie string) {
	t.Helper()
	if cookie == "" {
		t.Fatal("no cookie was sent")
	}
	testenv.Eventually(t, 5*time.Second, "a revoked session still works", func() bool {
		code, _, _ := s.do("GET", path, http.Header{"Cookie": {cookie}}, "")
		return code == 401
	})
}

// TestClientFlowsSeed004 drives seed 004 (Journyx): the login and the
// session cookie, a new login after "latchkey session revoke", logout, and
// HTTP Basic with a password and with an API key.
func TestClientFlowsSeed004(t *testing.T) {
	s := startServer(t, filepath.Join("testdata", "journyx.yaml"))
	const password = "apiuser password"
	s.cli(password+"\n", "user", "add", "--user", "apiuser", "--role", "apikey-user", "--password-stdin")
	_, key := s.createKey("apiuser")
	projects := s.url + "/api/v1/projects"

	t.Run("package", func(t *testing.T) {
		// The seed's Origin, which the configuration allows.
		spy := &cookieSpy{next: s.base()}
		login, err := client.Login(client.LoginConfig{URL: s.url + "/api/v1/login", Username: "apiuser", Password: password,
			Origin: "example.apps.journyx.com"}, spy)
		if err != nil {
			t.Fatal(err)
		}
		code, body := send(t, login, "GET", projects, "")
		wantUser(t, "GET with the cookie", code, body, "LOCAL", "apiuser", "session")
		code, body = send(t, login, "POST", projects, `{"name": "x"}`)
		wantUser(t, "POST with the cookie", code, body, "LOCAL", "apiuser", "session")
		sessions := s.liveSessions()
		if len(sessions) != 1 {
			t.Fatalf("sessions after one login: %v", sessions)
		}

		// Revoked by the operator: the next requests log in again, a POST
		// with its body sent a second time.
		s.revokeSessions()
		waitRefused(t, s, "/api/v1/projects", spy.last())
		code, body = send(t, login, "POST", projects, `{"name": "y"}`)
		wantUser(t, "POST after session revoke", code, body, "LOCAL", "apiuser", "session")
		if after := s.liveSessions(); len(after) != 1 || after[0] == sessions[0] {
			t.Errorf("sessions after the re-login: %v (before %v)", after, sessions)
		}
		s.revokeSessions()
		waitRefused(t, s, "/api/v1/projects", spy.last())
		code, body = send(t, login, "GET", projects, "")
		wantUser(t, "GET after session revoke", code, body, "LOCAL", "apiuser", "session")

		// Logout ends the session at the server.
		if err := login.Logout(context.Background()); err != nil {
			t.Fatal(err)
		}
		if live := s.liveSessions(); len(live) != 0 {
			t.Errorf("sessions after Logout: %v", live)
		}

		// An API key as the password, the gateway's own origin.
		keyLogin, err := client.Login(client.LoginConfig{URL: s.url + "/api/v1/login", Username: "apiuser", Password: key}, s.base())
		if err != nil {
			t.Fatal(err)
		}
		code, body = send(t, keyLogin, "DELETE", projects+"/1", "")
		wantUser(t, "DELETE with a key's session", code, body, "LOCAL", "apiuser", "session")

		// HTTP Basic, with the password and with the key.
		for name, secret := range map[string]string{"password": password, "API key": key} {
			code, body := send(t, client.Basic("apiuser", secret, s.base()), "POST", projects, "{}")
			wantUser(t, "Basic with the "+name, code, body, "LOCAL", "apiuser", "basic")
		}

		// A wrong password: an error that names the status, not the password.
		bad, _ := client.Login(client.LoginConfig{URL: s.url + "/api/v1/login", Username: "apiuser", Password: "wrong password 1"}, s.base())
		_, _, err = trySend(bad, "GET", projects, "")
		var se *client.StatusError
		if !errors.As(err, &se) || se.StatusCode != 401 || strings.Contains(err.Error(), "wrong password 1") {
			t.Errorf("wrong password: %v", err)
		}
		if code, _ := send(t, client.Basic("apiuser", "wrong password 1", s.base()), "GET", projects, ""); code != 401 {
			t.Errorf("Basic with a wrong password: %d", code)
		}
	})

	t.Run("call", func(t *testing.T) {
		before := len(s.liveSessions())
		out := mustCall(t, "", "--cacert", s.caFile(), "--login", "apiuser:"+password, "--origin", "example.apps.journyx.com", projects)
		wantUser(t, "call --login", 200, out, "LOCAL", "apiuser", "session")
		// The password from stdin; a POST with a body; the default login URL and Origin.
		out = mustCall(t, password+"\n", "--cacert", s.caFile(), "--login", "apiuser", "-X", "PUT", "-d", `{"name": "x"}`, projects+"/1")
		if e := parseEcho(t, out); e.Principal.Method != "session" || e.Request.Method != "PUT" {
			t.Errorf("call --login -X PUT: %s", out)
		}
		if after := len(s.liveSessions()); after != before {
			t.Errorf("call left %d sessions open", after-before)
		}
		out = mustCall(t, "", "--cacert", s.caFile(), "--login", "apiuser:"+key, "--login-url", s.url+"/api/v1/login", "-d", "{}", projects)
		wantUser(t, "call --login with a key", 200, out, "LOCAL", "apiuser", "session")

		out = mustCall(t, "", "--cacert", s.caFile(), "--basic", "apiuser:"+password, projects)
		wantUser(t, "call --basic", 200, out, "LOCAL", "apiuser", "basic")
		out = mustCall(t, key+"\n", "--cacert", s.caFile(), "--basic", "apiuser", "-d", "{}", projects)
		wantUser(t, "call --basic with the key on stdin", 200, out, "LOCAL", "apiuser", "basic")

		// -i shows the status line and headers.
		out = mustCall(t, "", "--cacert", s.caFile(), "-i", "--basic", "apiuser:"+password, projects)
		if !strings.HasPrefix(out, "HTTP/") || !strings.Contains(out, " 200 OK\n") || !strings.Contains(out, "\nContent-Type: application/json") ||
			!strings.Contains(out, "\n\n{") {
			t.Errorf("call -i printed %q", out)
		}

		// 400 and above: the body, and exit 1 with the status.
		out, errOut, code := callCLI(t, "", "--cacert", s.caFile(), "--basic", "apiuser:wrong password 2", projects)
		if code != 1 || !strings.Contains(out, `"unauthorized"`) || !strings.Contains(errOut, "401 Unauthorized") ||
			strings.Contains(errOut+out, "wrong password 2") {
			t.Errorf("call with a wrong password: exit %d, %q, %q", code, out, errOut)
		}
		_, errOut, code = callCLI(t, "", "--cacert", s.caFile(), "--login", "apiuser:wrong password 3", projects)
		if code != 1 || !strings.Contains(errOut, "The username or password is not correct.") || strings.Contains(errOut, "wrong password 3") {
			t.Errorf("call --login with a wrong password: exit %d, %q", code, errOut)
		}
		// Without --cacert the self-signed certificate is not trusted; -k skips the check.
		if _, errOut, code := callCLI(t, "", "--basic", "apiuser:"+password, projects); code != 1 || !strings.Contains(errOut, "certificate") {
			t.Errorf("call without --cacert: exit %d, %q", code, errOut)
		}
		mustCall(t, "", "-k", "--basic", "apiuser:"+password, projects)
	})

	t.Run("binary", func(t *testing.T) {
		// The installed command, as a shell user runs it.
		cmd := exec.Command(binary, "call", "--cacert", s.caFile(), "--login", "apiuser", "-X", "POST", "-d", `{"a":1}`, projects)
		cmd.Stdin = strings.NewReader(password + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("latchkey call: %v", err)
		}
		wantUser(t, "latchkey call (binary)", 200, string(out), "LOCAL", "apiuser", "session")
		cmd = exec.Command(binary, "call", "--cacert", s.caFile(), "--basic", "apiuser:nope", projects)
		if err := cmd.Run(); err == nil {
			t.Error("latchkey call with a wrong password exited 0")
		}
	})
}

// TestClientFlowsSeed002 drives seed 002 (Quantamatics): the login for a
// JWT, the token as a bearer, and X-Api-Key.
func TestClientFlowsSeed002(t *testing.T) {
	s := startServer(t, writeConfig(t, `
jwt:
  login:
    path: /api/Account/login
routes:
  - prefix: /api/data/
    upstream: echo
    auth: [jwt, apikey]
    jwt_verifiers: [latchkey]
`))
	const password = "quant password 1"
	s.cli(password+"\n", "user", "add", "--user", "quant", "--email", "quant@example.com", "--role", "apikey-user", "--password-stdin")
	_, key := s.createKey("quant")
	endpoint, loginURL := s.url+"/api/data/endpoint", s.url+"/api/Account/login"

	t.Run("package", func(t *testing.T) {
		rt, err := client.JWTLogin(client.JWTLoginConfig{URL: loginURL, Email: "quant@example.com", Password: password}, s.base())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"GET", "POST"} {
			code, body := send(t, rt, m, endpoint, "{}")
			wantUser(t, m+" with the JWT", code, body, "LOCAL", "quant", "jwt")
		}
		cfg := client.JWTLoginConfig{URL: loginURL, Email: "quant@example.com", Password: key} // a key as the password
		token, err := cfg.Token(context.Background(), s.base())
		if err != nil {
			t.Fatal(err)
		}
		if _, claims, err := jwtmint.Decode(token); err != nil || claims["username"] != "quant" {
			t.Errorf("the login's token: %v %v", claims, err)
		}
		code, body := send(t, client.Bearer(token, s.base()), "GET", endpoint, "")
		wantUser(t, "Bearer with the login's token", code, body, "LOCAL", "quant", "jwt")

		code, body = send(t, client.APIKey(key, s.base()), "GET", endpoint, "")
		wantUser(t, "X-Api-Key", code, body, "LOCAL", "quant", "apikey")
		code, body = send(t, client.APIKeyHeader("x-api-key", key, s.base()), "GET", endpoint, "")
		wantUser(t, "x-api-key", code, body, "LOCAL", "quant", "apikey")

		cfg.Password = "wrong password 4"
		_, err = cfg.Token(context.Background(), s.base())
		var se *client.StatusError
		if !errors.As(err, &se) || se.StatusCode != 401 || strings.Contains(err.Error(), cfg.Password) {
			t.Errorf("wrong password: %v", err)
		}
		if code, _ := send(t, client.APIKey("lk_nope", s.base()), "GET", endpoint, ""); code != 401 {
			t.Errorf("a wrong key: %d", code)
		}
	})

	t.Run("call", func(t *testing.T) {
		out := mustCall(t, "", "--cacert", s.caFile(), "--jwt-login", loginURL, "--login", "quant@example.com:"+password, endpoint)
		wantUser(t, "call --jwt-login", 200, out, "LOCAL", "quant", "jwt")
		out = mustCall(t, password+"\n", "--cacert", s.caFile(), "--jwt-login", loginURL, "--login", "quant@example.com", "-d", "{}", endpoint)
		wantUser(t, "call --jwt-login, password on stdin", 200, out, "LOCAL", "quant", "jwt")
		out = mustCall(t, "", "--cacert", s.caFile(), "--api-key", key, endpoint)
		wantUser(t, "call --api-key", 200, out, "LOCAL", "quant", "apikey")
		out = mustCall(t, key+"\n", "--cacert", s.caFile(), "--api-key", "-", endpoint)
		wantUser(t, "call --api-key -", 200, out, "LOCAL", "quant", "apikey")
		token, err := client.JWTLoginConfig{URL: loginURL, Email: "quant@example.com", Password: password}.Token(context.Background(), s.base())
		if err != nil {
			t.Fatal(err)
		}
		out = mustCall(t, "", "--cacert", s.caFile(), "--bearer", token, endpoint)
		wantUser(t, "call --bearer", 200, out, "LOCAL", "quant", "jwt")
		if _, errOut, code := callCLI(t, "", "--cacert", s.caFile(), "--api-key", "lk_nope", endpoint); code != 1 || !strings.Contains(errOut, "401") {
			t.Errorf("call with a wrong key: exit %d %q", code, errOut)
		}
	})
}

// TestClientFlowsSeed000QSEoW drives seed 000's QSEoW virtual proxy: a JWT
// bearer (fixed, or minted for each request from the key that "latchkey
// jwt create qseow --cert-create" made) and an Xrfkey on every request.
func TestClientFlowsSeed000QSEoW(t *testing.T) {
	keys := t.TempDir()
	token := mintCLI(t, "qseow", "--userdir", "LAB", "--userid", "goran", "--username", "Göran Sander",
		"--audience", "abc123", "--expires", "1h", "--cert-create", "--cert-dir", keys)
	privateKey := filepath.Join(keys, "privatekey.pem")
	about := `{"buildVersion":"30.4.0.0","schemaPath":"About"}`
	up := newUpstream(t, about)
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
jwt:
  verifiers:
    - name: qseow
      keys: [{file: %s}]
      algorithms: [RS256]
      audience: [abc123]
      claims: {user: userId, directory: userDirectory, name: name}
routes:
  - prefix: /jwt/
    upstream: %s
    strip_prefix: true
    auth: [jwt]
    jwt_verifiers: [qseow]
    xrfkey: true
`, filepath.Join(keys, "publickey.pem"), up.URL)))
	aboutURL := s.url + "/jwt/qrs/about"

	// upstreamSaw checks that the call reached the upstream as seed 000's.
	upstreamSaw := func(what string) {
		t.Helper()
		r := up.seen()
		if r == nil || r.URL.Path != "/qrs/about" || !xrfkey.Check(r) || r.Header.Get("X-Latchkey-User") != "goran" ||
			r.Header.Get("X-Latchkey-Directory") != "LAB" || r.Header.Get("X-Latchkey-Method") != "jwt" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Fatalf("%s reached the upstream as %v", what, r)
		}
	}

	t.Run("package", func(t *testing.T) {
		signer, err := client.LoadSigner(privateKey, "")
		if err != nil {
			t.Fatal(err)
		}
		minter, err := client.QSEoWMinter(signer, jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Name: "Göran Sander", Audience: "abc123"})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for range 2 {
			code, body := send(t, client.Xrfkey(client.MintedBearer(minter, s.base())), "GET", aboutURL, "")
			if code != 200 || body != about {
				t.Fatalf("minted bearer and Xrfkey: %d %s", code, body)
			}
			upstreamSaw("minted bearer and Xrfkey")
			keys = append(keys, up.seen().Header.Get("X-Qlik-Xrfkey"))
		}
		if keys[0] == keys[1] {
			t.Errorf("the same Xrfkey twice: %v", keys)
		}
		code, body := send(t, client.Xrfkey(client.Bearer(token, s.base())), "GET", aboutURL+"/", "")
		if code != 200 || body != about {
			t.Fatalf("fixed bearer and Xrfkey: %d %s", code, body)
		}
		if code, body := send(t, client.MintedBearer(minter, s.base()), "GET", aboutURL, ""); code != 403 || body != xsrfBody {
			t.Errorf("without Xrfkey: %d %q", code, body)
		}
		other, _ := client.QSEoWMinter(signer, jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "other"})
		if code, _ := send(t, client.Xrfkey(client.MintedBearer(other, s.base())), "GET", aboutURL, ""); code != 401 {
			t.Errorf("another audience: %d, want 401", code)
		}
	})

	t.Run("call", func(t *testing.T) {
		out := mustCall(t, "", "--cacert", s.caFile(), "--xrfkey", "--jwt-key", privateKey, "--userdir", "LAB", "--userid", "goran",
			"--username", "Göran Sander", "--audience", "abc123", "--expires", "2m", aboutURL)
		if out != about {
			t.Fatalf("call --xrfkey --jwt-key: %q", out)
		}
		upstreamSaw("call --xrfkey --jwt-key")
		out = mustCall(t, token+"\n", "--cacert", s.caFile(), "--xrfkey", "--bearer", "-", aboutURL+"/")
		if out != about {
			t.Fatalf("call --xrfkey --bearer: %q", out)
		}
		out, _, code := callCLI(t, "", "--cacert", s.caFile(), "--bearer", token, aboutURL)
		if code != 1 || out != xsrfBody {
			t.Errorf("call without --xrfkey: exit %d %q", code, out)
		}
	})
}

// TestClientFlowsSeed000QlikCloud drives seed 000's Qlik Cloud flow: a JWT
// exchanged for session cookies, the CSRF header on a POST, and a new
// exchange after the session is revoked.
func TestClientFlowsSeed000QlikCloud(t *testing.T) {
	keys := t.TempDir()
	mintCLI(t, "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", keys)
	privateKey := filepath.Join(keys, "privatekey.pem")
	const kid, issuer, sub = "0330d3e7-1966-41c4-b3ef-d311d1ff7191", "https://idp.example.com", "auth0|a08D000001"
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
sessions:
  cookie: eas.sid
jwt:
  verifiers:
    - name: cloud
      profile: qlik-cloud
      issuer: %s
      keys: [{file: %s, kid: %s}]
      algorithms: [RS256]
  session:
    path: /login/jwt-session
    verifier: cloud
    directory: QLIKCLOUD
routes:
  - prefix: /api/v1/
    upstream: echo
    auth: [session]
`, issuer, filepath.Join(keys, "publickey.pem"), kid)))
	exchange, spaces := s.url+"/login/jwt-session", s.url+"/api/v1/spaces"
	cloud := jwtmint.Cloud{Subject: sub, Name: "Ann Andersson", Email: "ann@example.com", Issuer: issuer, KeyID: kid}

	t.Run("package", func(t *testing.T) {
		signer, err := client.LoadSigner(privateKey, "")
		if err != nil {
			t.Fatal(err)
		}
		minter, err := client.CloudMinter(signer, cloud)
		if err != nil {
			t.Fatal(err)
		}
		spy := &cookieSpy{next: s.base()}
		rt, err := client.JWTSession(client.JWTSessionConfig{URL: exchange, Minter: minter}, spy)
		if err != nil {
			t.Fatal(err)
		}
		code, body := send(t, rt, "GET", spaces, "")
		wantUser(t, "GET with the session", code, body, "QLIKCLOUD", sub, "session")
		code, body = send(t, rt, "POST", spaces, `{"name": "x"}`)
		wantUser(t, "POST with the session and the CSRF header", code, body, "QLIKCLOUD", sub, "session")

		// Revoked: a new token, with a new jti, opens a new session.
		s.revokeSessions()
		waitRefused(t, s, "/api/v1/spaces", spy.last())
		before := spy.last()
		code, body = send(t, rt, "POST", spaces, `{"name": "y"}`)
		wantUser(t, "POST after session revoke", code, body, "QLIKCLOUD", sub, "session")
		if spy.last() == before {
			t.Error("the same cookies after the session was revoked")
		}

		// A fixed token opens one session; once it is revoked, the 401 stands.
		tok, _ := minter.Mint()
		fixed, err := client.JWTSession(client.JWTSessionConfig{URL: exchange, Token: tok}, spy)
		if err != nil {
			t.Fatal(err)
		}
		code, body = send(t, fixed, "DELETE", spaces+"/1", "")
		wantUser(t, "DELETE with a fixed token's session", code, body, "QLIKCLOUD", sub, "session")
		s.revokeSessions()
		waitRefused(t, s, "/api/v1/spaces", spy.last())
		if code, _ := send(t, fixed, "GET", spaces, ""); code != 401 {
			t.Errorf("a fixed token's revoked session: %d, want 401", code)
		}
		// The token again: the exchange refuses it, and says why.
		again, _ := client.JWTSession(client.JWTSessionConfig{URL: exchange, Token: tok}, s.base())
		if _, _, err := trySend(again, "GET", spaces, ""); err == nil || !strings.Contains(err.Error(), "used already") || strings.Contains(err.Error(), tok) {
			t.Errorf("a replayed token: %v", err)
		}
	})

	t.Run("call", func(t *testing.T) {
		out := mustCall(t, "", "--cacert", s.caFile(), "--jwt-session", exchange, "--jwt-key", privateKey,
			"--issuer", issuer, "--keyid", kid, "--userid", sub, "--username", "Ann Andersson", "--useremail", "ann@example.com",
			"-X", "POST", "-d", `{"name": "x"}`, spaces)
		wantUser(t, "call --jwt-session --jwt-key -X POST", 200, out, "QLIKCLOUD", sub, "session")
		tok := mintCLI(t, "cloud", "--userid", sub, "--username", "Ann Andersson", "--useremail", "ann@example.com",
			"--issuer", issuer, "--keyid", kid, "--expires", "5m", "--cert-privatekey-file", privateKey)
		out = mustCall(t, "", "--cacert", s.caFile(), "--jwt-session", exchange, "--bearer", tok, spaces)
		wantUser(t, "call --jwt-session --bearer", 200, out, "QLIKCLOUD", sub, "session")
		_, errOut, code := callCLI(t, "", "--cacert", s.caFile(), "--jwt-session", exchange, "--bearer", tok, spaces)
		if code != 1 || !strings.Contains(errOut, "used already") || strings.Contains(errOut, tok) {
			t.Errorf("call with a used token: exit %d %q", code, errOut)
		}
	})
}

// TestClientFlowsSeed003 drives seed 003 (Qlik QRS): a client certificate
// from "latchkey cert", the user to act as in X-Qlik-User, an Xrfkey.
func TestClientFlowsSeed003(t *testing.T) {
	certs := t.TempDir()
	mustCLI(t, "", "cert", "ca", "--out", certs)
	mustCLI(t, "", "cert", "server", "--out", certs, "--ca-dir", certs, "--host", "127.0.0.1", "--host", "localhost")
	mustCLI(t, "", "cert", "client", "--out", certs, "--ca-dir", certs, "--cn", "QlikClient")
	root, clientPEM, clientKey := filepath.Join(certs, "root.pem"), filepath.Join(certs, "client.pem"), filepath.Join(certs, "client_key.pem")
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
certificates:
  trusted: ["cn:QlikClient"]
listeners:
  - address: 127.0.0.1:4242
    tls:
      cert_file: %[1]s/server.pem
      key_file: %[1]s/server_key.pem
      client_auth: require
      client_ca_file: %[1]s/root.pem
routes:
  - prefix: /qrs/
    upstream: echo
    auth: [cert]
    xrfkey: true
`, certs)))
	about := s.url + "/qrs/about/"

	t.Run("package", func(t *testing.T) {
		withCert, err := client.NewTransport(client.Options{CACertFile: root, CertFile: clientPEM, KeyFile: clientKey})
		if err != nil {
			t.Fatal(err)
		}
		code, body := send(t, client.Xrfkey(client.QlikUser("INTERNAL", "sa_repository", withCert)), "GET", about, "")
		wantUser(t, "certificate, X-Qlik-User and Xrfkey", code, body, "INTERNAL", "sa_repository", "cert")
		if e := parseEcho(t, body); !strings.Contains(e.Request.Query, "Xrfkey=") {
			t.Errorf("the Xrfkey did not reach the upstream: %q", e.Request.Query)
		}
		code, body = send(t, client.Xrfkey(client.QlikUser("Lab", "Göran Sander", withCert)), "POST", about, "{}")
		wantUser(t, "an encoded X-Qlik-User", code, body, "LAB", "Göran Sander", "cert")
		code, body = send(t, client.Xrfkey(withCert), "GET", about, "")
		wantUser(t, "the certificate alone", code, body, "INTERNAL", "QlikClient", "cert")
		if code, body := send(t, client.QlikUser("INTERNAL", "sa_repository", withCert), "GET", about, ""); code != 403 || body != xsrfBody {
			t.Errorf("without Xrfkey: %d %q", code, body)
		}
		noCert, _ := client.NewTransport(client.Options{CACertFile: root})
		if _, _, err := trySend(client.Xrfkey(client.QlikUser("INTERNAL", "sa_repository", noCert)), "GET", about, ""); err == nil {
			t.Error("no certificate: the handshake succeeded")
		}
		// The server is verified: against the system's CAs it is unknown.
		strict, _ := client.NewTransport(client.Options{CertFile: clientPEM, KeyFile: clientKey})
		if _, _, err := trySend(client.Xrfkey(strict), "GET", about, ""); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("a server the system does not trust: %v", err)
		}
	})

	t.Run("call", func(t *testing.T) {
		for _, user := range []string{"UserDirectory=INTERNAL; UserId=sa_repository", `INTERNAL\sa_repository`} {
			out := mustCall(t, "", "--cert", clientPEM, "--key", clientKey, "--cacert", root, "--qlik-user", user, "--xrfkey", about)
			wantUser(t, "call --cert --qlik-user "+user, 200, out, "INTERNAL", "sa_repository", "cert")
		}
		out := mustCall(t, "", "--cert", clientPEM, "--key", clientKey, "--cacert", root, "--xrfkey", about)
		wantUser(t, "call --cert", 200, out, "INTERNAL", "QlikClient", "cert")
		if _, _, code := callCLI(t, "", "--cacert", root, "--xrfkey", about); code != 1 {
			t.Errorf("call without a certificate: exit %d", code)
		}
		if _, errOut, code := callCLI(t, "", "--cert", clientPEM, "--key", clientKey, "--cacert", root, "--qlik-user", "sa_repository", "--xrfkey", about); code != 1 || !strings.Contains(errOut, "--qlik-user") {
			t.Errorf("a malformed --qlik-user: exit %d %q", code, errOut)
		}
	})
}
