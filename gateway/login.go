package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// The JSON login of seed 004 (Journyx): POST {"username", "password"} (a
// password or an API key) opens a session whose token comes back in a
// cookie and in X-Session-Id, never in the body; POST to the logout path
// ends it.

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Success bool      `json:"success"`
	Auth    loginAuth `json:"auth"`
}

// successBody is the answer of an endpoint that has nothing else to say.
type successBody struct {
	Success bool `json:"success"`
}

type loginAuth struct {
	Abilities []string `json:"abilities"`
	Expires   int64    `json:"expires"` // epoch seconds
}

// serveLogin answers POST {cfg.Login.Path}.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return nil
	}
	if err := s.required.check(r); err != nil {
		return err
	}
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return latchkey.Errorf(latchkey.EINVALID, `Send a "username" and a "password" (or an API key as the password).`)
	}
	p, token, sess, err := s.creds.Login(r.Context(), req.Username, req.Password, r.RemoteAddr, r.UserAgent())
	if err != nil {
		setFailedSignIn(r, s.creds, req.Username)
		return err
	}
	setPrincipal(r, p)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Session-Id", token)
	h.Set("X-Session-Expires", sessionExpires(sess.ExpiresAt, time.Now()))
	h.Set("Set-Cookie", s.cfg.Sessions.Cookie+"="+token+"; Path=/; Secure; HttpOnly; SameSite=Strict")
	abilities := p.Abilities
	if abilities == nil {
		abilities = []string{}
	}
	writeJSON(w, http.StatusOK, loginResponse{Success: true, Auth: loginAuth{Abilities: abilities, Expires: sess.ExpiresAt.Unix()}})
	return nil
}

// serveLogout answers POST {cfg.Login.LogoutPath}: it ends the session of
// the cookie and clears the cookie.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return nil
	}
	if err := s.required.check(r); err != nil {
		return err
	}
	token, ok := cookieValue(r, s.cfg.Sessions.Cookie)
	if !ok || token == "" {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "There is no session to end: the request has no %s cookie.", s.cfg.Sessions.Cookie)
	}
	p, _, err := s.creds.VerifySession(r.Context(), token)
	if err != nil {
		return err
	}
	setPrincipal(r, p)
	if err := s.creds.EndSession(r.Context(), token, r.RemoteAddr); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Set-Cookie", s.cfg.Sessions.Cookie+"=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
	writeJSON(w, http.StatusOK, successBody{true})
	return nil
}

// sessionExpires formats seed 004's X-Session-Expires: epoch seconds, the
// UTC time without a zone to the microsecond, and the seconds left, e.g.
// "1729903436.26, 2024-10-25T19:43:56.264769, 102000.00". Hundredths are
// truncated, not rounded, so that the epoch's whole seconds are the time's.
func sessionExpires(exp, now time.Time) string {
	left := max(exp.Sub(now), 0) / (10 * time.Millisecond)
	centis := exp.UnixMicro() / 10_000
	return fmt.Sprintf("%d.%02d, %s, %d.%02d", centis/100, centis%100,
		exp.UTC().Format("2006-01-02T15:04:05.000000"), left/100, left%100)
}
