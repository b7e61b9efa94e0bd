package gateway

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// sessionAuth is the method "session": the session cookie that the login
// endpoint sets (seed 004's wtsession) or the JWT session exchange sets
// (seed 000's Qlik Cloud). A cookie-authenticated request that may change
// something must also prove it comes from latchkey's own pages, since a
// browser sends the cookie on cross-site requests too: with the required
// headers (csrf.go) for a session opened by the login, with the CSRF header
// for one opened with a JWT.
type sessionAuth struct {
	cookie   string
	creds    *credential.Service
	required *requiredHeaders
	// csrfHeader must carry the CSRF token (the csrfCookie's value) on
	// unsafe requests of sessions opened with a JWT.
	csrfHeader, csrfCookie string
}

func newSessionAuth(d *methodDeps) Authenticator {
	j := d.jwtSession
	return &sessionAuth{cookie: d.sessions.Cookie, creds: d.creds, required: d.required,
		csrfHeader: j.CSRFHeader, csrfCookie: j.CSRFCookie}
}

// Method returns "session".
func (a *sessionAuth) Method() string { return latchkey.MethodSession }

// Authenticate verifies the session cookie. No cookie (or an empty one, as
// logout leaves it) is no credentials; an unknown, ended or expired session
// is 401; an unsafe request without the required headers, or for a session
// opened with a JWT without the CSRF header, is 403; so is an upgrade
// (WebSocket) without an allowed Origin, whichever way the session opened.
func (a *sessionAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	token, ok := cookieValue(r, a.cookie)
	if !ok || token == "" {
		return nil, ErrNoCredentials
	}
	p, sess, err := a.creds.VerifySession(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if err := a.required.checkUpgrade(r); err != nil {
		return nil, err
	}
	if sess.Method == credential.ByJWT {
		err = a.checkCSRF(r, token)
	} else {
		err = a.required.check(r)
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkCSRF is Qlik Cloud's defence for sessions opened with a JWT: an
// unsafe request must carry the CSRF header equal to the CSRF cookie, whose
// value is derived from the session token. A foreign page can make the
// browser send the cookies, but cannot read them to set the header.
func (a *sessionAuth) checkCSRF(r *http.Request, token string) error {
	if latchkey.SafeMethod(r.Method) || credential.CheckCSRF(token, r.Header.Get(a.csrfHeader)) {
		return nil
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN,
		"POST, PUT, PATCH and DELETE requests of a session opened with a JWT need the %s header, equal to the %s cookie.",
		a.csrfHeader, a.csrfCookie)
}

// cookieValue returns the value of the first cookie called name, without
// its quotes. (Unlike http.Request.Cookie it parses no other cookie, and
// allocates nothing: it runs on every request.)
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
