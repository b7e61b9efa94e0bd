package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlite"
)

// cheap argon2id parameters: the tests check behaviour, not cost.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// testStart is the fixed clock's first reading: every time the pages show
// is relative to it, so that the golden files stay put.
var testStart = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is the pages over a real SQLite store and credential service,
// both on the fake clock.
type fixture struct {
	t     *testing.T
	st    latchkey.Store
	creds *credential.Service
	clock *clock
	h     *Handler
	// masks replace values that differ from run to run (ids, tokens,
	// secrets) with stable names, for the golden files.
	masks []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

func newFixtureWith(t *testing.T, edit func(*Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: testStart}
	creds, err := credential.New(ctx, st, password.NewHasher(testParams, 4), slog.New(slog.DiscardHandler), credential.Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 90, KeyDefaultDays: 30,
		MaxFailures: 5, MaxAddressFailures: 50, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		PasswordMinLength: 10, Now: c.Now, FlushEvery: time.Hour,
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close(); st.Close() })
	o := Options{Prefix: "/ui/", Cookie: "wtsession", Creds: creds, KeyMaxDays: 90, KeyDefaultDays: 30, Now: c.Now}
	if edit != nil {
		edit(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, creds: creds, clock: c, h: h}
}

// addUser makes DIR\name (LAB\name without a backslash) through the
// credential service as the operator, with the password "password-<name>"
// and the roles.
func (f *fixture) addUser(login string, roles ...string) *credential.UserView {
	f.t.Helper()
	dir, name, ok := strings.Cut(login, `\`)
	if !ok {
		dir, name = "LAB", login
	}
	u, err := f.creds.CreateUser(context.Background(), credential.Operator("test"), credential.NewUser{
		Directory: dir, Username: name, DisplayName: strings.ToUpper(name[:1]) + name[1:], Email: name + "@example.com",
		Roles: roles, Password: "password-" + name}, "local")
	if err != nil {
		f.t.Fatal(err)
	}
	f.clock.advance(time.Second)
	return u
}

// mask makes the golden files show name where value was.
func (f *fixture) mask(value, name string) {
	if value != "" {
		f.masks = append(f.masks, value, name)
	}
}

// masked returns s with every masked value replaced.
func (f *fixture) masked(s string) string {
	return strings.NewReplacer(f.masks...).Replace(s)
}

// browser is one person's browser: its cookies, kept as a browser keeps
// them, and the page it has open.
type browser struct {
	f       *fixture
	name    string
	cookies map[string]string
}

func (f *fixture) browser(name string) *browser {
	return &browser{f: f, name: name, cookies: map[string]string{}}
}

// page is an answer as the browser got it.
type page struct {
	status int
	header http.Header
	body   string
}

func (p *page) location() string { return p.header.Get("Location") }

// do sends a request from the browser, as a same-origin page of the site
// does, and keeps the cookies it is given. A header in more ("Name",
// "value" pairs) replaces the browser's own; a value "" removes it.
func (b *browser) do(method, target string, form url.Values, more ...string) *page {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, "https://latchkey.example"+target, body)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "test browser")
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", "https://latchkey.example")
	}
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for name, value := range b.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	for i := 0; i+1 < len(more); i += 2 {
		if more[i+1] == "" {
			r.Header.Del(more[i])
		} else {
			r.Header.Set(more[i], more[i+1])
		}
	}
	w := httptest.NewRecorder()
	b.f.h.ServeHTTP(w, r)
	for _, line := range w.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.f.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return &page{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// get opens a page, following redirects as a browser does.
func (b *browser) get(target string) *page {
	b.f.t.Helper()
	return b.follow(b.do("GET", target, nil))
}

// follow follows a redirect answer to the page it leads to.
func (b *browser) follow(p *page) *page {
	b.f.t.Helper()
	for i := 0; p.status == http.StatusSeeOther || p.status == http.StatusFound; i++ {
		if i == 5 {
			b.f.t.Fatalf("too many redirects, last to %s", p.location())
		}
		p = b.do("GET", p.location(), nil)
	}
	return p
}

// csrf is the form token of the browser's session.
func (b *browser) csrf() string { return credential.CSRFToken(b.cookies["wtsession"]) }

// post sends a form with the session's form token, and follows where it
// leads.
func (b *browser) post(target string, kv ...string) *page {
	b.f.t.Helper()
	return b.follow(b.postRaw(target, kv...))
}

// postRaw sends a form with the session's form token and returns the
// answer itself.
func (b *browser) postRaw(target string, kv ...string) *page {
	b.f.t.Helper()
	form := url.Values{"csrf": {b.csrf()}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return b.do("POST", target, form)
}

// signIn signs the browser in through the sign-in form and masks the
// session's token and id.
func (b *browser) signIn(login, secret string) *page {
	b.f.t.Helper()
	p := b.do("POST", "/ui/signin", url.Values{"username": {login}, "password": {secret}})
	if p.status != http.StatusSeeOther || b.cookies["wtsession"] == "" {
		b.f.t.Fatalf("sign in as %s: %d %s", login, p.status, p.body)
	}
	token := b.cookies["wtsession"]
	_, sess, err := b.f.creds.VerifySession(context.Background(), token)
	if err != nil {
		b.f.t.Fatal(err)
	}
	b.f.mask(credential.CSRFToken(token), "CSRF-"+b.name)
	b.f.mask(sess.ID, "session-"+b.name)
	b.f.clock.advance(time.Second)
	return b.follow(p)
}

var secretRE = regexp.MustCompile(`<code id="secret" class="secret"[^>]*>([^<]+)</code>`)

// secret returns the secret a page shows once, or "".
func secret(p *page) string {
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

// wantStatus fails unless the page has the status.
func (p *page) want(t *testing.T, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d; body:\n%s", p.status, status, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("the page lacks %q:\n%s", c, p.body)
		}
	}
}
