package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlite"
)

// cheap argon2id parameters: the tests check behaviour, not cost.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// fixture is a gateway over a real SQLite store and credential service.
type fixture struct {
	t     testing.TB
	st    latchkey.Store
	creds *credential.Service
	h     *password.Hasher
	s     *Server
}

// The routes of every fixture.
var fixtureRoutes = []config.Route{
	{Name: "api", Prefix: "/api/v1/", Upstream: "echo", Auth: []string{"session", "basic", "apikey"}},
	{Name: "optional", Prefix: "/optional", Upstream: "echo", Auth: []string{"session", "basic", "apikey"}, AllowAnonymous: true},
	{Name: "keyonly", Prefix: "/keyonly", Upstream: "echo", Auth: []string{"apikey"}},
	{Name: "admin", Prefix: "/admin", Upstream: "echo", Auth: []string{"session", "basic", "apikey"},
		Abilities: []string{latchkey.AbilityUsersManage}},
	{Name: "reports", Prefix: "/reports", Upstream: "echo", Auth: []string{"session", "basic", "apikey"},
		Abilities: []string{latchkey.AbilityAuditRead, "reports.view"}},
	{Name: "audit", Prefix: "/audit", Upstream: "echo", Auth: []string{"session", "basic", "apikey"}, AllowAnonymous: true,
		Abilities: []string{latchkey.AbilityAuditRead}},
}

const testOrigin = "example.apps.journyx.com"

// testRefusalDelay stands for RefusalDelay in fixtures, so that the tests
// that reach a limit do not each wait a second.
const testRefusalDelay = 20 * time.Millisecond

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"), sqlite.Options{Logger: quietLog(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, st)
}

// newFixtureOn is newFixture over st, which it closes when the test ends.
func newFixtureOn(t testing.TB, st latchkey.Store) *fixture {
	t.Helper()
	return newFixtureOnWith(t, st, nil)
}

// newFixtureWith is newFixture with its configuration changed by edit.
func newFixtureWith(t testing.TB, edit func(*config.Config)) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"), sqlite.Options{Logger: quietLog(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOnWith(t, st, edit)
}

func newFixtureOnWith(t testing.TB, st latchkey.Store, edit func(*config.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	h := password.NewHasher(testParams, 4)
	creds, err := credential.New(ctx, st, h, quietLog(), credential.Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 5, MaxAddressFailures: 50, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, PasswordMinLength: 8, FlushEvery: 15 * time.Second, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close(); st.Close() })
	cfg := testConfig(fixtureRoutes...)
	cfg.Sessions = config.Sessions{Cookie: "wtsession", IdleTimeout: config.Duration(time.Hour), Lifetime: config.Duration(24 * time.Hour)}
	cfg.APIKeys = config.APIKeys{Header: "X-Api-Key", MaxDays: 365, DefaultDays: 30}
	cfg.Login = config.Login{Path: "/api/v1/login", LogoutPath: "/api/v1/logout", APIKeyPath: "/api/v1/api_keys",
		AdminPath: "/api/v1", AllowedOrigins: []string{testOrigin, "https://app.example.org"}}
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, Deps{Store: st, Creds: creds, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	s.refusalDelay = testRefusalDelay
	return &fixture{t: t, st: st, creds: creds, h: h, s: s}
}

// addUser makes DIR\name (LAB\name without a backslash) with the password
// "password-<name>" and the roles.
func (f *fixture) addUser(login string, roles ...string) *latchkey.User {
	f.t.Helper()
	dir, name, ok := strings.Cut(login, `\`)
	if !ok {
		dir, name = "LAB", login
	}
	hash, err := f.h.Hash(context.Background(), "password-"+name)
	if err != nil {
		f.t.Fatal(err)
	}
	u := &latchkey.User{Directory: dir, Username: name, PasswordHash: hash, Roles: roles}
	if err := f.st.CreateUser(context.Background(), u, nil); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// key makes an API key for u as the operator would, and returns it.
func (f *fixture) key(u *latchkey.User, readOnly bool) *credential.KeyView {
	f.t.Helper()
	v, err := f.creds.GenerateAPIKey(context.Background(), nil, credential.KeyRequest{OwnerID: u.ID, ReadOnly: readOnly}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

// request builds a request as a client at 192.0.2.1 would send it to
// example.com. Header values are given as "Name", "value" pairs.
func request(method, path, body string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "http://example.com"+path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.1:1234"
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// xhr are the headers seed 004 requires on unsafe requests, and a JSON
// body's, with more added; a header in more replaces the default.
func xhr(more ...string) []string {
	h := append([]string(nil), more...)
	defaults := []string{"Origin", testOrigin, "Accept", "application/json",
		"X-Requested-With", "XMLHttpRequest", "Content-Type", "application/json"}
	for i := 0; i < len(defaults); i += 2 {
		given := false
		for j := 0; j+1 < len(more); j += 2 {
			given = given || strings.EqualFold(more[j], defaults[i])
		}
		if !given {
			h = append(h, defaults[i], defaults[i+1])
		}
	}
	return h
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// serve sends r through the whole gateway.
func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, r)
	return w
}

// login signs in through the endpoint and returns the session token.
func (f *fixture) login(user, secret string) string {
	f.t.Helper()
	body, _ := json.Marshal(loginRequest{Username: user, Password: secret})
	w := f.serve(request("POST", "/api/v1/login", string(body), xhr()...))
	if w.Code != 200 || w.Header().Get("X-Session-Id") == "" {
		f.t.Fatalf("login %s: %d %s", user, w.Code, w.Body)
	}
	return w.Header().Get("X-Session-Id")
}

// echoed decodes what the echo upstream answered.
func echoed(t testing.TB, w *httptest.ResponseRecorder) echoBody {
	t.Helper()
	var e echoBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Principal == nil {
		t.Fatalf("not an echo answer: %d %s", w.Code, w.Body)
	}
	return e
}

// errorMessage returns the message of a JSON error answer, or fails.
func errorMessage(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %d %s", w.Code, w.Body)
	}
	return e.Error.Message
}

// readAll reads and closes a response body.
func readAll(t testing.TB, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
