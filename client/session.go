package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// expirySkew is how long before a known expiry a session or token is
// renewed: a request must not leave with one that ends on its way.
const expirySkew = 30 * time.Second

// maxAnswer is the most of a login's answer that is read.
const maxAnswer = 1 << 20

// credentials are what one login or exchange gave: cookies, or a token.
type credentials struct {
	jar     *cookiejar.Jar // cookies; nil for a token
	bearer  string         // a token; "" for cookies
	expires time.Time      // zero when not known
}

func (c *credentials) expiring(now time.Time) bool {
	return !c.expires.IsZero() && now.Add(expirySkew).After(c.expires)
}

// renewing is a transport whose credentials come from a login (or an
// exchange) that it makes when first needed, again when they expire, and
// once again when the server answers 401 to them.
type renewing struct {
	name string // for String and errors, such as "Login"
	next http.RoundTripper
	// open logs in. It sends through next.
	open func(ctx context.Context) (*credentials, error)
	// renewable reports whether open may be called after it succeeded once.
	renewable bool
	// apply adds the credentials to a clone of a request and reports
	// whether it added any (a request to another site gets no cookies).
	apply func(r *http.Request, c *credentials) bool

	mu     sync.Mutex // held while logging in: one login at a time
	cur    *credentials
	opened bool
}

// credentials returns the current credentials, logging in when there are
// none, when they expire, or when they are stale (the ones a 401 refused);
// fresh reports whether this call logged in.
func (t *renewing) credentials(ctx context.Context, stale *credentials) (c *credentials, fresh bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c = t.cur
	if c != nil && c != stale && !c.expiring(time.Now()) {
		return c, false, nil
	}
	if t.opened && !t.renewable {
		if c != nil && c != stale {
			return c, false, nil // expiring, but nothing better can be had
		}
		return nil, false, fmt.Errorf("client: %s: the session has ended, and a fixed token cannot open another (a token works once); give a Minter", t.name)
	}
	if c, err = t.open(ctx); err != nil {
		return nil, false, err
	}
	t.cur, t.opened = c, true
	return c, true, nil
}

// forget drops c, so that the next request logs in again.
func (t *renewing) forget(c *credentials) {
	t.mu.Lock()
	if t.cur == c {
		t.cur = nil
	}
	t.mu.Unlock()
}

func (t *renewing) current() *credentials {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

func (t *renewing) RoundTrip(r *http.Request) (*http.Response, error) {
	if !carriesCredentials(r) {
		return t.next.RoundTrip(r)
	}
	if err := checkScheme(origin(r), r.URL.Scheme, t.next); err != nil {
		closeBody(r)
		return nil, err
	}
	ctx := r.Context()
	c, fresh, err := t.credentials(ctx, nil)
	if err != nil {
		closeBody(r)
		return nil, err
	}
	r2 := r.Clone(ctx)
	applied := t.apply(r2, c)
	resp, err := t.next.RoundTrip(r2)
	if err != nil {
		return nil, err
	}
	t.keepCookies(r2, resp, c)
	if resp.StatusCode != http.StatusUnauthorized || !applied || !t.renewable || fresh {
		// Not refused, or refused what another login would not change:
		// credentials this very request logged in for.
		return resp, nil
	}

	// The credentials were refused: the session ended (idle, revoked,
	// logged out) or the token expired. Log in once more and, when the
	// body can be sent again, retry once.
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		t.forget(c) // the next request logs in again
		return resp, nil
	}
	c2, _, err := t.credentials(ctx, c)
	if err != nil {
		discard(resp)
		return nil, err
	}
	r3 := r.Clone(ctx)
	if r.GetBody != nil && r.Body != nil && r.Body != http.NoBody {
		if r3.Body, err = r.GetBody(); err != nil {
			discard(resp)
			return nil, fmt.Errorf("client: %s: replay the request body: %w", t.name, err)
		}
	}
	discard(resp)
	if !t.apply(r3, c2) {
		closeBody(r3)
		return nil, fmt.Errorf("client: %s: the new session has no cookie for %s", t.name, origin(r))
	}
	resp, err = t.next.RoundTrip(r3)
	if err == nil {
		t.keepCookies(r3, resp, c2)
	}
	return resp, err
}

// keepCookies stores what an answer sets, as a browser does: a server may
// refresh its cookies, and a logout clears them.
func (t *renewing) keepCookies(r *http.Request, resp *http.Response, c *credentials) {
	if c.jar != nil {
		if cs := resp.Cookies(); len(cs) > 0 {
			c.jar.SetCookies(r.URL, cs)
		}
	}
}

func (t *renewing) CloseIdleConnections() { closeIdle(t.next) }
func (t *renewing) allowsPlainHTTP() bool { return allowsPlain(t.next) }

// discard reads a little of an answer that is not returned, so that its
// connection can be reused, and closes it.
func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// addCookies adds the jar's cookies for r's URL to r, and reports whether
// there were any.
func addCookies(r *http.Request, jar *cookiejar.Jar) []*http.Cookie {
	cs := jar.Cookies(r.URL)
	for _, c := range cs {
		r.AddCookie(c)
	}
	return cs
}

// post sends a JSON (or empty) POST for a login or exchange and returns the
// status, headers and body of the answer.
func post(ctx context.Context, next http.RoundTripper, u string, body any, header http.Header) (*http.Response, []byte, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}

// parseEndpoint checks a login or exchange URL and that the chain may send
// credentials to it.
func parseEndpoint(what, raw string, next http.RoundTripper) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("client: %s: no URL", what)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("client: %s: the URL %q is not an absolute http(s) URL", what, redactURL(raw))
	}
	if err := checkScheme(u.Scheme+"://"+canonicalHost(u.Scheme, u.Host), u.Scheme, next); err != nil {
		return nil, err
	}
	return u, nil
}

// redactURL is a URL without a password in it, for messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "…" + raw[i:]
	}
	return raw
}

// refused is the error of a login or exchange that the server refused:
// the status and the server's own message, left out if it holds one of the
// secrets sent (a server that echoes what it got must not put a password
// in an error).
func refused(what string, u *url.URL, resp *http.Response, body []byte, secrets ...string) error {
	msg := serverMessage(body)
	for _, s := range secrets {
		if s != "" && msg != "" && strings.Contains(msg, s) {
			msg = "(the server's message is left out: it repeats the credentials)"
		}
	}
	if msg != "" {
		msg = ": " + msg
	}
	return &StatusError{StatusCode: resp.StatusCode, msg: fmt.Sprintf("client: %s at %s: %s%s", what, u.Redacted(), resp.Status, msg)}
}

// StatusError is the error of a login or exchange that the server answered
// with a status other than 2xx. Its message has the status and the
// server's message, never a credential.
type StatusError struct {
	StatusCode int
	msg        string
}

func (e *StatusError) Error() string { return e.msg }

// serverMessage finds the message in an error answer: latchkey's
// {"error":{"message"}}, Qlik Cloud's {"errors":[{"detail"}]}, a
// {"message"}, or a short plain text.
func serverMessage(body []byte) string {
	var v struct {
		Error json.RawMessage `json:"error"`
		Errs  []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		} `json:"errors"`
		Message string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(body, &v) == nil {
		var e struct{ Message string }
		var s string
		switch {
		case json.Unmarshal(v.Error, &e) == nil && e.Message != "":
			msg = e.Message
		case json.Unmarshal(v.Error, &s) == nil && s != "":
			msg = s
		case len(v.Errs) > 0:
			msg = v.Errs[0].Detail
			if msg == "" {
				msg = v.Errs[0].Title
			}
		default:
			msg = v.Message
		}
	} else if t := strings.TrimSpace(string(body)); t != "" && !strings.ContainsAny(t, "<{") {
		msg, _, _ = strings.Cut(t, "\n")
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return msg
}
