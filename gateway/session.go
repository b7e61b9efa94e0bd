package gateway

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// sessionAuth is the method "session": the session cookie that the login
// endpoint sets (seed 004's wtsession). A cookie-authenticated request that
// may change something must also carry the required headers (csrf.go), since
// a browser sends the cookie on cross-site requests too.
type sessionAuth struct {
	cookie   string
	creds    *credential.Service
	required *requiredHeaders
}

func newSessionAuth(s *Server) Authenticator {
	return &sessionAuth{cookie: s.cfg.Sessions.Cookie, creds: s.creds, required: s.required}
}

// Method returns "session".
func (a *sessionAuth) Method() string { return latchkey.MethodSession }

// Authenticate verifies the session cookie. No cookie (or an empty one, as
// logout leaves it) is no credentials; an unknown, ended or expired session
// is 401; an unsafe request without the required headers is 403.
func (a *sessionAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	token, ok := cookieValue(r, a.cookie)
	if !ok || token == "" {
		return nil, ErrNoCredentials
	}
	p, _, err := a.creds.VerifySession(r.Context(), token)
	if err != nil {
		return nil, err
	}
	if err := a.required.check(r); err != nil {
		return nil, err
	}
	return p, nil
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
