package main

import (
	"bufio"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey/testenv"
)

// upstream is an API behind latchkey that records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	last *http.Request
}

func newUpstream(t *testing.T, body string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Clone(r.Context())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) seen() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// writeConfig writes a configuration file for a test and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// mintCLI runs "latchkey jwt create" and returns the token it prints.
func mintCLI(t *testing.T, args ...string) string {
	t.Helper()
	out := mustCLI(t, "", append([]string{"jwt", "create"}, append(args, "--minimal-output")...)...)
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("jwt create --minimal-output printed %q", out)
	}
	return tok
}

// curl runs curl against a server, trusting its self-signed certificate,
// and returns the body and the status code.
func (s *server) curl(args ...string) (string, int) {
	s.t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(s.t, "curl is not installed")
	}
	all := append([]string{"-s", "--cacert", filepath.Join(s.dir, "tls", "server.pem"), "-w", "\n%{http_code}"}, args...)
	out, err := exec.Command("curl", all...).Output()
	if err != nil {
		s.t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
	}
	text := string(out)
	i := strings.LastIndex(text, "\n")
	var code int
	fmt.Sscan(text[i+1:], &code)
	return text[:i], code
}

const xsrfBody = "XSRF prevention check failed. Possible XSRF discovered."

// TestSeed000QSEoW sends seed 000's first curl command, with a token from
// "latchkey jwt create qseow", through a real latchkey to an upstream.
func TestSeed000QSEoW(t *testing.T) {
	keys := t.TempDir()
	token := mintCLI(t, "qseow", "--userdir", "LAB", "--userid", "goran", "--username", "Göran Sander",
		"--useremail", "", "--groups", "Sales,Finance", "--audience", "abc123", "--expires", "365d",
		"--cert-create", "--cert-dir", keys)
	about := `{"buildVersion":"30.4.0.0","schemaPath":"About"}`
	up := newUpstream(t, about)
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
jwt:
  verifiers:
    - name: qseow
      keys: [{file: %s}]
      algorithms: [RS256]
      audience: [abc123]
      claims: {user: userId, directory: userDirectory}
routes:
  - prefix: /jwt/
    upstream: %s
    strip_prefix: true
    auth: [jwt]
    jwt_verifiers: [qseow]
    xrfkey: true
`, filepath.Join(keys, "publickey.pem"), up.URL)))

	for _, path := range []string{"/jwt/qrs/about", "/jwt/qrs/about/"} {
		body, code := s.curl(s.url+path+"?Xrfkey=abcdefghij123456",
			"-H", "Authorization: Bearer "+token,
			"-H", "X-Qlik-Xrfkey: abcdefghij123456")
		if code != 200 || body != about {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		r := up.seen()
		if r.URL.Path != strings.TrimPrefix(path, "/jwt") || r.Header.Get("X-Latchkey-User") != "goran" ||
			r.Header.Get("X-Latchkey-Directory") != "LAB" || r.Header.Get("X-Latchkey-Method") != "jwt" ||
			r.Header.Get("X-Latchkey-Name") != "Göran Sander" || r.Header.Get("Authorization") == "" {
			t.Errorf("%s reached the upstream as %s %v", path, r.URL.Path, r.Header)
		}
	}
	for name, header := range map[string][]string{
		"without the header":  {"-H", "Authorization: Bearer " + token},
		"with another Xrfkey": {"-H", "Authorization: Bearer " + token, "-H", "X-Qlik-Xrfkey: abcdefghij123457"},
		"with a short Xrfkey": {"-H", "Authorization: Bearer " + token, "-H", "X-Qlik-Xrfkey: abcdefghij12345"},
	} {
		body, code := s.curl(append([]string{s.url + "/jwt/qrs/about?Xrfkey=abcdefghij123456"}, header...)...)
		if code != 403 || body != xsrfBody {
			t.Errorf("%s: %d %q, want 403 %q", name, code, body, xsrfBody)
		}
	}
	if _, code := s.curl(s.url+"/jwt/qrs/about?Xrfkey=abcdefghij123456", "-H", "X-Qlik-Xrfkey: abcdefghij123456"); code != 401 {
		t.Errorf("the right Xrfkey but no token: %d, want 401", code)
	}
}

// cookieJar reads one cookie's value from a curl cookie jar.
func cookieJar(t *testing.T, file, name string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimPrefix(sc.Text(), "#HttpOnly_"), "\t")
		if len(fields) == 7 && fields[5] == name {
			return fields[6]
		}
	}
	t.Fatalf("cookie %s not in the jar", name)
	return ""
}

// TestSeed000QlikCloud runs seed 000's Qlik Cloud two-step with a token
// from "latchkey jwt create cloud".
func TestSeed000QlikCloud(t *testing.T) {
	keys := t.TempDir()
	mint := func() string {
		return mintCLI(t, "cloud", "--userid", "auth0|a08D000001", "--username", "Ann Andersson",
			"--useremail", "ann@example.com", "--groups", "Analysts", "--issuer", "https://idp.example.com",
			"--keyid", "0330d3e7-1966-41c4-b3ef-d311d1ff7191", "--expires", "60m",
			"--cert-privatekey-file", filepath.Join(keys, "privatekey.pem"))
	}
	mintCLI(t, "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", keys)
	token := mint()
	spaces := `{"data":[],"meta":{"count":0}}`
	up := newUpstream(t, spaces)
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
sessions:
  cookie: eas.sid
jwt:
  verifiers:
    - name: cloud
      profile: qlik-cloud
      issuer: https://idp.example.com
      keys: [{file: %s, kid: 0330d3e7-1966-41c4-b3ef-d311d1ff7191}]
      algorithms: [RS256]
  session:
    path: /login/jwt-session
    verifier: cloud
    directory: QLIKCLOUD
routes:
  - prefix: /api/v1/
    upstream: %s
    auth: [session]
`, filepath.Join(keys, "publickey.pem"), up.URL)))
	jar := filepath.Join(t.TempDir(), "cookies.txt")

	// Step 1: get session cookies. Step 2: use them.
	if body, code := s.curl("-X", "POST", s.url+"/login/jwt-session", "-H", "Authorization: Bearer "+token, "-c", jar); code != 200 {
		t.Fatalf("step 1: %d %s", code, body)
	}
	if body, code := s.curl(s.url+"/api/v1/spaces", "-b", jar); code != 200 || body != spaces {
		t.Fatalf("step 2: %d %s", code, body)
	}
	if r := up.seen(); r.Header.Get("X-Latchkey-User") != "auth0|a08D000001" || r.Header.Get("X-Latchkey-Directory") != "QLIKCLOUD" {
		t.Errorf("the upstream saw %v", r.Header)
	}
	// The same token a second time is refused.
	if body, code := s.curl("-X", "POST", s.url+"/login/jwt-session", "-H", "Authorization: Bearer "+token); code != 401 || !strings.Contains(body, `"errors"`) {
		t.Errorf("replayed token: %d %s", code, body)
	}
	// Unsafe requests on the session need the CSRF token from the cookie.
	if body, code := s.curl("-X", "POST", s.url+"/api/v1/spaces", "-b", jar, "-d", "{}"); code != 403 || !strings.Contains(body, "qlik-csrf-token") {
		t.Errorf("POST without qlik-csrf-token: %d %s", code, body)
	}
	csrf := cookieJar(t, jar, "_csrfToken")
	if body, code := s.curl("-X", "POST", s.url+"/api/v1/spaces", "-b", jar, "-d", "{}", "-H", "qlik-csrf-token: "+csrf); code != 200 {
		t.Errorf("POST with qlik-csrf-token: %d %s", code, body)
	}
	// A malformed token is 400, in Qlik's error shape.
	if body, code := s.curl("-X", "POST", s.url+"/login/jwt-session", "-H", "Authorization: Bearer not.a.jwt"); code != 400 || !strings.Contains(body, `"errors"`) {
		t.Errorf("malformed token: %d %s", code, body)
	}
	// A second exchange with a new token (new jti) reuses the user.
	if _, code := s.curl("-X", "POST", s.url+"/login/jwt-session", "-H", "Authorization: Bearer "+mint()); code != 200 {
		t.Errorf("a fresh token: %d", code)
	}
}

// TestSeed002Quantamatics logs in for a JWT, calls the API with it, and
// checks it against /.well-known/jwks.json; the X-Api-Key half works on the
// same route.
func TestSeed002Quantamatics(t *testing.T) {
	up := newUpstream(t, `{"data":[1,2,3]}`)
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
jwt:
  login:
    path: /api/Account/login
routes:
  - prefix: /api/data/
    upstream: %s
    auth: [jwt, apikey]
    jwt_verifiers: [latchkey]
`, up.URL)))
	s.cli("quant password 1\n", "user", "add", "--user", "quant", "--email", "Quant@Example.com",
		"--role", "apikey-user", "--password-stdin")

	body, code := s.curl("-X", "POST", s.url+"/api/Account/login", "-H", "Content-Type: application/json",
		"-d", `{"email": "quant@example.com", "password": "quant password 1"}`)
	var login struct {
		Token string
		User  struct {
			ID *int64 `json:"id"`
		}
	}
	if err := json.Unmarshal([]byte(body), &login); code != 200 || err != nil || login.Token == "" || login.User.ID == nil {
		t.Fatalf("login: %d %s", code, body)
	}
	if body, code := s.curl(s.url+"/api/data/endpoint", "-H", "Authorization: Bearer "+login.Token); code != 200 || body != `{"data":[1,2,3]}` {
		t.Fatalf("bearer call: %d %s", code, body)
	}
	if r := up.seen(); r.Header.Get("X-Latchkey-User") != "quant" {
		t.Errorf("the upstream saw %v", r.Header)
	}
	jwks, code := s.curl(s.url + "/.well-known/jwks.json")
	if code != 200 {
		t.Fatalf("jwks: %d %s", code, jwks)
	}
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(jwks))
	if err != nil {
		t.Fatalf("jwks does not parse: %v\n%s", err, jwks)
	}
	if tok, err := jwt.Parse(login.Token, kf.Keyfunc); err != nil || !tok.Valid {
		t.Errorf("the token does not verify against /.well-known/jwks.json: %v", err)
	}
	if _, code := s.curl("-X", "POST", s.url+"/api/Account/login", "-H", "Content-Type: application/json",
		"-d", `{"email": "quant@example.com", "password": "wrong"}`); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	_, key := s.createKey("quant")
	if _, code := s.curl(s.url+"/api/data/endpoint", "-H", "X-Api-Key: "+key); code != 200 {
		t.Errorf("X-Api-Key: %d", code)
	}
}

// TestJWTRejections sends a real latchkey tokens that must each get 401.
func TestJWTRejections(t *testing.T) {
	keys := t.TempDir()
	mintCLI(t, "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", keys)
	pemBytes, err := os.ReadFile(filepath.Join(keys, "privatekey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	var priv *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		priv, _ = k.(*rsa.PrivateKey)
	} else if priv, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		t.Fatalf("private key: %v", err)
	}
	pubPEM, _ := os.ReadFile(filepath.Join(keys, "publickey.pem"))
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
jwt:
  verifiers:
    - name: strict
      keys: [{file: %s, kid: k1}]
      algorithms: [RS256]
      audience: [abc123]
      issuer: https://qlik.example.com
      leeway: 5s
      claims: {user: userId, directory: userDirectory}
routes:
  - prefix: /strict/
    upstream: echo
    auth: [jwt]
    jwt_verifiers: [strict]
`, filepath.Join(keys, "publickey.pem"))))
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"userId": "goran", "userDirectory": "LAB", "aud": "abc123", "iss": "https://qlik.example.com",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodRS256, priv, "k1", claims(nil))
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "goran", "admin", 1))) + "." + parts[2]

	tests := map[string]string{
		"alg none":                      sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", claims(nil)),
		"HS256 with the RSA public key": sign(jwt.SigningMethodHS256, pubPEM, "k1", claims(nil)),
		"expired":                       sign(jwt.SigningMethodRS256, priv, "k1", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"not yet valid":                 sign(jwt.SigningMethodRS256, priv, "k1", claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"wrong audience":                sign(jwt.SigningMethodRS256, priv, "k1", claims(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"wrong issuer":                  sign(jwt.SigningMethodRS256, priv, "k1", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })),
		"unknown kid":                   sign(jwt.SigningMethodRS256, priv, "k2", claims(nil)),
		"tampered payload":              tampered,
		"no exp":                        sign(jwt.SigningMethodRS256, priv, "k1", claims(func(c jwt.MapClaims) { delete(c, "exp") })),
	}
	if _, code := s.curl(s.url+"/strict/x", "-H", "Authorization: Bearer "+good); code != 200 {
		t.Fatalf("the good token: %d", code)
	}
	for name, tok := range tests {
		if body, code := s.curl(s.url+"/strict/x", "-H", "Authorization: Bearer "+tok); code != 401 {
			t.Errorf("%s: %d %s, want 401", name, code, body)
		}
	}
}
