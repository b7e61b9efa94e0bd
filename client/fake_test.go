package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/xrfkey"
)

// This file is a stand-in for "latchkey serve" for the examples and unit
// tests: an HTTPS server that speaks the seeds' wire contracts and answers
// who the caller is ("LOCAL\apiuser via session"). It checks what the
// client must send — headers, cookies, Xrfkey, CSRF — but no signature:
// the real latchkey does, in cmd/latchkey's clientflows_test.go.

// files holds key and certificate files the examples share, made once.
var files struct {
	once sync.Once
	dir  string
	// PrivateKey is an RSA privatekey.pem as "latchkey jwt create
	// --cert-create" writes it.
	PrivateKey string
	// ClientCert and ClientKey are a client certificate (CN QlikClient) and
	// its key, as "latchkey cert client" writes them.
	ClientCert, ClientKey string
}

func sharedFiles() {
	files.once.Do(func() {
		dir, err := os.MkdirTemp("", "client-example-")
		check(err)
		files.dir = dir
		kp, err := jwtmint.NewKeyPair("RS256", jwtmint.KeyPairOptions{})
		check(err)
		f, err := kp.WriteFiles(dir, "", false)
		check(err)
		files.PrivateKey = f.PrivateKey
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		check(err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "QlikClient"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		check(err)
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		check(err)
		files.ClientCert, files.ClientKey = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client_key.pem")
		check(os.WriteFile(files.ClientCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
		check(os.WriteFile(files.ClientKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if files.dir != "" {
		os.RemoveAll(files.dir)
	}
	os.Exit(code)
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// The stand-in's users and credentials.
const (
	demoUser     = "apiuser"
	demoPassword = "a long password"
	demoEmail    = "analyst@example.com"
	demoAPIKey   = "lk_ugqay22wgvp7s_uG8xRXGvkaXf5xHKKrCSoKg4T0JkE9deyowFVBu2hMk"
	demoOrigin   = "example.apps.journyx.com"
)

type fakeSession struct {
	user string
	csrf string // for a session opened with a JWT
}

// api is the stand-in server.
type api struct {
	*httptest.Server
	// CAFile is the server's certificate, PEM: what Options.CACertFile
	// names to trust it.
	CAFile string
	dir    string

	mu        sync.Mutex
	sessions  map[string]fakeSession
	tokens    map[string]string // JWT login tokens → user
	usedJTI   map[string]bool
	logins    int // successful logins and exchanges
	requests  int // every request
	last      *http.Request
	expiresIn time.Duration // of sessions, in X-Session-Expires
}

// startAPI starts the stand-in on https://127.0.0.1:PORT.
func startAPI() *api {
	sharedFiles()
	a := &api{sessions: map[string]fakeSession{}, tokens: map[string]string{}, usedJTI: map[string]bool{}, expiresIn: time.Hour}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.Server.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	a.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	a.StartTLS()
	dir, err := os.MkdirTemp("", "client-api-")
	check(err)
	a.dir = dir
	a.CAFile = filepath.Join(dir, "server.pem")
	check(os.WriteFile(a.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw}), 0o644))
	return a
}

func (a *api) Close() {
	a.Server.Close()
	os.RemoveAll(a.dir)
}

// revokeAll ends every session and token, as "latchkey session revoke" does.
func (a *api) revokeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sessions = map[string]fakeSession{}
	a.tokens = map[string]string{}
}

func (a *api) loginCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins
}

func (a *api) requestCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

func (a *api) setExpiresIn(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expiresIn = d
}

func (a *api) lastRequest() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "x", "message": msg}})
}

// requiredHeaders is seed 004's check of unsafe requests.
func (a *api) requiredHeaders(r *http.Request) string {
	if safe(r.Method) {
		return ""
	}
	if o := r.Header.Get("Origin"); o != demoOrigin && o != a.URL {
		return "The Origin header is required."
	}
	if r.Header.Get("Accept") == "" || r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
		return "POST, PUT, PATCH and DELETE requests need Origin, Accept and X-Requested-With: XMLHttpRequest."
	}
	return ""
}

func safe(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.requests++
	a.last = r.Clone(r.Context())
	a.last.Body = io.NopCloser(strings.NewReader(string(body)))
	a.mu.Unlock()
	switch r.URL.Path {
	case "/api/v1/login":
		if msg := a.requiredHeaders(r); msg != "" {
			fail(w, 403, msg)
			return
		}
		var v struct{ Username, Password string }
		json.Unmarshal(body, &v)
		if v.Username != demoUser || (v.Password != demoPassword && v.Password != demoAPIKey) {
			fail(w, 401, "The username or password is not correct.")
			return
		}
		tok := randomToken()
		a.mu.Lock()
		a.sessions[tok] = fakeSession{user: `LOCAL\` + v.Username}
		a.logins++
		exp := time.Now().Add(a.expiresIn)
		a.mu.Unlock()
		w.Header().Set("X-Session-Id", tok)
		w.Header().Set("X-Session-Expires", fmt.Sprintf("%d.00, %s, %.2f", exp.Unix(), exp.UTC().Format("2006-01-02T15:04:05.000000"), time.Until(exp).Seconds()))
		w.Header().Set("Set-Cookie", "wtsession="+tok+"; Path=/; Secure; HttpOnly; SameSite=Strict")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success": true, "auth": {"abilities": [], "expires": 0}}`)
		return
	case "/api/v1/logout":
		if msg := a.requiredHeaders(r); msg != "" {
			fail(w, 403, msg)
			return
		}
		c, err := r.Cookie("wtsession")
		if err != nil {
			fail(w, 401, "There is no session to end.")
			return
		}
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
		w.Header().Set("Set-Cookie", "wtsession=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
		io.WriteString(w, `{"success": true}`)
		return
	case "/login/jwt-session":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		_, claims, err := jwtmint.Decode(tok)
		if !ok || err != nil {
			w.WriteHeader(400)
			io.WriteString(w, `{"errors":[{"code":"invalid","title":"Bad Request","detail":"The bearer token is not a JWT.","status":"400"}]}`)
			return
		}
		jti, _ := claims["jti"].(string)
		sub, _ := claims["sub"].(string)
		a.mu.Lock()
		defer a.mu.Unlock()
		if jti == "" || a.usedJTI[jti] {
			w.WriteHeader(401)
			io.WriteString(w, `{"errors":[{"code":"unauthorized","title":"Unauthorized","detail":"This token has been used already.","status":"401"}]}`)
			return
		}
		a.usedJTI[jti] = true
		a.logins++
		sess, csrf := randomToken(), randomToken()
		a.sessions[sess] = fakeSession{user: `QLIKCLOUD\` + sub, csrf: csrf}
		w.Header().Add("Set-Cookie", "eas.sid="+sess+"; Path=/; Secure; HttpOnly; SameSite=Strict")
		w.Header().Add("Set-Cookie", "_csrfToken="+csrf+"; Path=/; Secure; SameSite=Strict")
		io.WriteString(w, `{"success": true}`)
		return
	case "/always401":
		fail(w, 401, "This route needs other credentials.")
		return
	case "/api/Account/login":
		var v struct{ Email, Password string }
		json.Unmarshal(body, &v)
		if v.Email != demoEmail || v.Password != demoPassword {
			fail(w, 401, "The username or password is not correct.")
			return
		}
		tok := randomToken()
		a.mu.Lock()
		a.tokens[tok] = `LOCAL\analyst`
		a.logins++
		a.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "user": map[string]any{"id": 1, "email": demoEmail}})
		return
	}
	if (strings.HasPrefix(r.URL.Path, "/jwt/") || strings.HasPrefix(r.URL.Path, "/qrs/")) && !xrfkey.Check(r) {
		w.WriteHeader(403)
		io.WriteString(w, "XSRF prevention check failed. Possible XSRF discovered.")
		return
	}
	who, how, msg := a.authenticate(r)
	if msg != "" {
		status := 401
		if how != "" {
			status = 403
		}
		fail(w, status, msg)
		return
	}
	if how == "" {
		fail(w, 401, "This route needs credentials.")
		return
	}
	fmt.Fprintf(w, "%s via %s", who, how)
}

// authenticate returns who sent r and how, or why not.
func (a *api) authenticate(r *http.Request) (who, how, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		who = `INTERNAL\` + r.TLS.PeerCertificates[0].Subject.CommonName
		if h := r.Header.Get("X-Qlik-User"); h != "" {
			var dir, user string
			for part := range strings.SplitSeq(h, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
				switch k {
				case "UserDirectory":
					dir = v
				case "UserId":
					user = v
				}
			}
			who = strings.ToUpper(dir) + `\` + user
		}
		return who, "cert", ""
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if u, ok := a.tokens[tok]; ok {
			return u, "jwt", ""
		}
		_, claims, err := jwtmint.Decode(tok)
		if err != nil || claims["userId"] == nil {
			return "", "", "The token is not valid."
		}
		return fmt.Sprintf(`%s\%s`, claims["userDirectory"], claims["userId"]), "jwt", ""
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		if subtle.ConstantTimeCompare([]byte(k), []byte(demoAPIKey)) != 1 {
			return "", "", "The API key is not valid."
		}
		return `LOCAL\apiuser`, "apikey", ""
	}
	if u, p, ok := r.BasicAuth(); ok {
		if u != demoUser || (p != demoPassword && p != demoAPIKey) {
			return "", "", "The username or password is not correct."
		}
		return `LOCAL\` + u, "basic", ""
	}
	for _, name := range []string{"wtsession", "eas.sid"} {
		c, err := r.Cookie(name)
		if err != nil {
			continue
		}
		s, ok := a.sessions[c.Value]
		if !ok {
			return "", "", "The session is not valid or has ended; sign in again."
		}
		if s.csrf != "" && !safe(r.Method) && r.Header.Get("qlik-csrf-token") != s.csrf {
			return s.user, "session", "POST, PUT, PATCH and DELETE requests need the qlik-csrf-token header."
		}
		if s.csrf == "" {
			if msg := a.requiredHeaders(r); msg != "" {
				return s.user, "session", msg
			}
		}
		return s.user, "session", ""
	}
	return "", "", ""
}

// show prints what an answer says: the status code and the body, or the
// error.
func show(resp *http.Response, err error) {
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
}
