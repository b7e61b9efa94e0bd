package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// DefaultSessionCookie is the session cookie of seed 004 (Journyx) and
// latchkey's default sessions.cookie.
const DefaultSessionCookie = "wtsession"

// LoginConfig says where and as whom Login logs in.
type LoginConfig struct {
	// URL is the login endpoint, such as https://host/api/v1/login.
	URL string
	// Username is "user" or "DIRECTORY\user".
	Username string
	// Password is the user's password or one of their API keys.
	Password string
	// Origin is sent as the Origin header of the login and of every
	// unsafe request; "" means the login URL's own origin
	// (https://host:port). Seed 004 sends the site's name
	// ("example.apps.journyx.com"), which latchkey accepts when it is in
	// login.allowed_origins.
	Origin string
	// CookieName is the session cookie's name, used only when the login's
	// answer has X-Session-Id but sets no cookie; "" means wtsession.
	CookieName string
	// LogoutURL is where Logout posts; "" means "logout" beside the login
	// path (/api/v1/login → /api/v1/logout).
	LogoutURL string
}

// String shows the configuration without the password.
func (c LoginConfig) String() string {
	return fmt.Sprintf("{URL:%s Username:%s Password:<redacted> Origin:%s}", redactURL(c.URL), c.Username, c.Origin)
}

// GoString is String, for %#v.
func (c LoginConfig) GoString() string { return "client.LoginConfig" + c.String() }

// LoginTransport logs in with a username and password (or API key) and
// sends the session cookie it gets. Made by Login; safe for concurrent use.
type LoginTransport struct {
	rt     *renewing
	next   http.RoundTripper
	cfg    LoginConfig
	login  *url.URL
	logout *url.URL
	origin string
}

// Login returns a transport that logs in the way seed 004 (Journyx)
// describes, and latchkey's POST /api/v1/login answers:
//
//	POST /api/v1/login
//	Origin: <Origin>
//	Accept: application/json
//	X-Requested-With: XMLHttpRequest
//	Content-Type: application/json
//
//	{"username": "...", "password": "..."}
//
// It logs in before the first request, keeps the session cookie the answer
// sets (or, failing that, the X-Session-Id header as the cookie
// CookieName), and sends it on every request to the login's site. POST,
// PUT, PATCH and DELETE requests also get the headers seed 004 requires of
// them, Origin, Accept and X-Requested-With: XMLHttpRequest (each unless
// the request has it already).
//
// It logs in again before a request when X-Session-Expires said that the
// session ends, and once when the server answers 401 to the cookie (a
// session that idled out, was revoked, or logged out): the request is then
// sent again if its body can be replayed (http.NewRequest sets GetBody for
// the usual bodies); otherwise the 401 is returned and the next request
// logs in. A failed login is an error, *StatusError when the server
// answered, that never holds the password.
//
// A nil next means a Transport with the zero Options. The login URL must be
// https unless the chain allows plain HTTP.
func Login(c LoginConfig, next http.RoundTripper) (*LoginTransport, error) {
	next = orDefault(next)
	u, err := parseEndpoint("Login", c.URL, next)
	if err != nil {
		return nil, err
	}
	if c.Username == "" || c.Password == "" {
		return nil, errors.New("client: Login: give a username and a password (or API key)")
	}
	out := u
	if c.LogoutURL != "" {
		if out, err = parseEndpoint("Login (logout)", c.LogoutURL, next); err != nil {
			return nil, err
		}
	} else {
		o := *u
		o.Path, o.RawPath, o.RawQuery = path.Join(path.Dir(strings.TrimSuffix(u.Path, "/")), "logout"), "", ""
		out = &o
	}
	t := &LoginTransport{next: next, cfg: c, login: u, logout: out,
		origin: cmp.Or(c.Origin, u.Scheme+"://"+canonicalHost(u.Scheme, u.Host))}
	t.rt = &renewing{name: "Login", next: next, renewable: true, open: t.open, apply: t.apply}
	return t, nil
}

// RoundTrip sends the request with the session cookie, logging in first
// when needed.
func (t *LoginTransport) RoundTrip(r *http.Request) (*http.Response, error) { return t.rt.RoundTrip(r) }

// CloseIdleConnections closes the idle connections of the transport below.
func (t *LoginTransport) CloseIdleConnections() { closeIdle(t.next) }

func (t *LoginTransport) allowsPlainHTTP() bool { return allowsPlain(t.next) }

func (t *LoginTransport) open(ctx context.Context) (*credentials, error) {
	h := t.requiredHeaders()
	body := struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}{t.cfg.Username, t.cfg.Password}
	resp, b, err := post(ctx, t.next, t.login.String(), body, h)
	if err != nil {
		return nil, fmt.Errorf("client: log in at %s: %w", t.login.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, refused("log in", t.login, resp, b, t.cfg.Password)
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(t.login, resp.Cookies())
	if len(jar.Cookies(t.login)) == 0 {
		id := resp.Header.Get("X-Session-Id")
		if id == "" {
			return nil, fmt.Errorf("client: log in at %s: the answer (%s) set no session cookie and no X-Session-Id", t.login.Redacted(), resp.Status)
		}
		jar.SetCookies(t.login, []*http.Cookie{{Name: cmp.Or(t.cfg.CookieName, DefaultSessionCookie), Value: id, Path: "/"}})
	}
	return &credentials{jar: jar, expires: sessionExpires(resp.Header.Get("X-Session-Expires"))}, nil
}

// requiredHeaders are seed 004's headers of unsafe requests.
func (t *LoginTransport) requiredHeaders() http.Header {
	return http.Header{"Origin": {t.origin}, "Accept": {"application/json"}, "X-Requested-With": {"XMLHttpRequest"}}
}

func (t *LoginTransport) apply(r *http.Request, c *credentials) bool {
	if len(addCookies(r, c.jar)) == 0 {
		return false
	}
	if !safeMethod(r.Method) {
		for k, v := range t.requiredHeaders() {
			if r.Header.Get(k) == "" {
				r.Header[k] = v
			}
		}
	}
	return true
}

// Logout ends the session at the server (POST to the logout URL with the
// cookie and seed 004's headers) and forgets it; a later request logs in
// again. Without a session it does nothing. A session the server no longer
// knows (401) is not an error.
func (t *LoginTransport) Logout(ctx context.Context) error {
	c := t.rt.current()
	if c == nil {
		return nil
	}
	defer t.rt.forget(c)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.logout.String(), http.NoBody)
	if err != nil {
		return err
	}
	if !t.apply(req, c) {
		return nil
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("client: log out at %s: %w", t.logout.Redacted(), err)
	}
	defer discard(resp)
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusUnauthorized {
		return &StatusError{StatusCode: resp.StatusCode,
			msg: fmt.Sprintf("client: log out at %s: %s", t.logout.Redacted(), resp.Status)}
	}
	return nil
}

// String names the transport without its secrets.
func (t *LoginTransport) String() string { return "client.Login(" + t.cfg.String() + ")" }

// GoString is String, for %#v.
func (t *LoginTransport) GoString() string { return t.String() }

// sessionExpires reads the epoch seconds at the start of seed 004's
// X-Session-Expires ("1729903436.26, 2024-10-25T19:43:56.264769,
// 102000.00"); the zero time when there is none.
func sessionExpires(h string) time.Time {
	first, _, _ := strings.Cut(h, ",")
	f, err := strconv.ParseFloat(strings.TrimSpace(first), 64)
	if err != nil || f <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(f * 1000))
}
