package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// maxForm bounds a form's body: the largest the pages send is a few
// hundred bytes.
const maxForm = 64 << 10

// visit is one request of a signed-in person.
type visit struct {
	w     http.ResponseWriter
	r     *http.Request
	p     *latchkey.Principal
	sess  *latchkey.Session
	token string // the session token, from the cookie
	csrf  string // the session's form token
	now   time.Time
}

// form returns a field of the posted form.
func (v *visit) form(name string) string { return strings.TrimSpace(v.r.PostForm.Get(name)) }

// signedIn adapts a page that needs a signed-in person. Without a valid
// session a GET is sent to the sign-in page, to come back after; a form
// post without one is sent there too, and does nothing. A form post must
// carry the session's form token. An error fn returns is rendered as a page
// (a session that ended meanwhile goes to the sign-in page).
func (h *Handler) signedIn(fn func(*visit) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &visit{w: w, r: r, now: h.now()}
		token, _ := cookieValue(r, h.o.Cookie)
		if token != "" {
			p, sess, err := h.creds.VerifySession(r.Context(), token)
			switch {
			case err == nil:
				v.p, v.sess, v.token, v.csrf = p, sess, token, credential.CSRFToken(token)
			case latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED:
				h.renderError(w, r, nil, statusOf(err), h.message(r, err))
				return
			}
		}
		if v.p == nil {
			h.toSignIn(w, r, token != "")
			return
		}
		if h.o.Observe != nil {
			h.o.Observe(r, v.p)
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				h.renderError(w, r, v, http.StatusBadRequest, "The form could not be read; go back and send it again.")
				return
			}
			if !credential.CheckCSRF(token, r.PostForm.Get("csrf")) {
				h.renderError(w, r, v, http.StatusForbidden,
					"This form is not from your session (it may be from before you last signed in), so it was refused. Reload the page and send it again.")
				return
			}
		}
		if err := fn(v); err != nil {
			if latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
				h.toSignIn(w, r, true)
				return
			}
			h.renderError(w, r, v, statusOf(err), h.message(r, err))
		}
	})
}

// toSignIn sends the browser to the sign-in page: a GET to come back to
// where it was going; ended says a session cookie was there but its session
// has ended, which the page says (and the cookie is cleared).
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request, ended bool) {
	q := url.Values{}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if next := r.URL.RequestURI(); next != h.o.Prefix && safeNext(h.o.Prefix, next) {
			q.Set("next", next)
		}
	}
	if ended {
		q.Set("ended", "1")
		h.clearSession(w)
	}
	to := h.o.Prefix + "signin"
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// setSession gives the browser the session cookie, as the JSON login does.
func (h *Handler) setSession(w http.ResponseWriter, token string) {
	w.Header().Add("Set-Cookie", h.o.Cookie+"="+token+"; "+h.o.CookieAttributes)
}

// clearSession removes the session cookie, as the JSON logout does.
func (h *Handler) clearSession(w http.ResponseWriter) {
	w.Header().Add("Set-Cookie", h.o.Cookie+"=; Max-Age=0; "+h.o.CookieAttributes)
}

// cookieValue returns the value of the first cookie called name.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, c := range r.CookiesNamed(name) {
		return c.Value, true
	}
	return "", false
}

// Flash messages: after a change the browser is redirected to a page that
// says what was done. The message travels in a short-lived cookie for the
// pages' path, signed with a key derived from the session token, so that it
// cannot be forged without the session and belongs to it alone. It says
// what was done in words and names; it never holds a secret.

const (
	flashCookie = "latchkey_flash"
	flashLabel  = "latchkey page message\x00"
	maxFlash    = 400
)

// flash is a message shown once on the next page.
type flash struct {
	Kind string // "ok" or "error"
	Text string
}

func flashMAC(token, payload string) []byte {
	key := sha256.Sum256([]byte(flashLabel + token))
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}

// redirect ends a form post: the browser goes on to the page at to (under
// the prefix), which shows text once.
func (h *Handler) redirect(v *visit, to, text string) error {
	if len(text) > maxFlash {
		text = text[:maxFlash] + "…"
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte("ok\x00" + text))
	value := payload + "." + base64.RawURLEncoding.EncodeToString(flashMAC(v.token, payload))
	v.w.Header().Add("Set-Cookie", flashCookie+"="+value+"; Max-Age=60; "+h.flashAttributes())
	http.Redirect(v.w, v.r, h.o.Prefix+to, http.StatusSeeOther)
	return nil
}

// flashAttributes are the message cookie's: the pages' path alone, and
// Secure when the session cookie is.
func (h *Handler) flashAttributes() string {
	a := "Path=" + h.o.Prefix + "; HttpOnly; SameSite=Strict"
	for part := range strings.SplitSeq(h.o.CookieAttributes, ";") {
		if strings.EqualFold(strings.TrimSpace(part), "Secure") {
			a += "; Secure"
		}
	}
	return a
}

// takeFlash returns the message waiting for this page, if one is there and
// was signed for this session, and clears it.
func (h *Handler) takeFlash(v *visit) *flash {
	c, err := v.r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	v.w.Header().Add("Set-Cookie", flashCookie+"=; Max-Age=0; "+h.flashAttributes())
	payload, mac, ok := strings.Cut(c.Value, ".")
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if !ok || err != nil || v.token == "" || !hmac.Equal(got, flashMAC(v.token, payload)) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(b), "\x00")
	if !ok || text == "" {
		return nil
	}
	return &flash{Kind: kind, Text: text}
}

// statusOf maps an error code to the status of the page that shows it.
func statusOf(err error) int {
	switch latchkey.ErrorCode(err) {
	case latchkey.EINVALID:
		return http.StatusBadRequest
	case latchkey.ENOTFOUND:
		return http.StatusNotFound
	case latchkey.ECONFLICT:
		return http.StatusConflict
	case latchkey.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case latchkey.EFORBIDDEN:
		return http.StatusForbidden
	case latchkey.ERATELIMITED:
		return http.StatusTooManyRequests
	case latchkey.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// message is the client message of err; a server fault is logged with its
// cause, which the page never shows.
func (h *Handler) message(r *http.Request, err error) string {
	if statusOf(err) >= 500 {
		h.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "code", latchkey.ErrorCode(err), "err", err)
	}
	return latchkey.ErrorMessage(err)
}
