package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// The JWT session exchange of seed 000 (Qlik Cloud): POST with
// "Authorization: Bearer <JWT>" answers 200 with the session cookie and a
// CSRF cookie; later requests send the cookies only, and unsafe ones echo
// the CSRF cookie in a header (session.go). Each token opens one session:
// its jti is recorded as used until it expires. Errors take Qlik Cloud's
// shape, {"errors":[{"code","title","detail","status"}]}.

// jwtExchange serves the exchange with one verifier.
type jwtExchange struct {
	creds      *credential.Service
	verifier   TokenVerifier
	directory  string // where users are found or created
	cookie     string // the session cookie
	csrfCookie string
}

func newJWTSession(d *methodDeps, v TokenVerifier) *jwtExchange {
	c := d.jwtSession
	return &jwtExchange{creds: d.creds, verifier: v, directory: c.Directory, cookie: d.sessions.Cookie,
		csrfCookie: c.CSRFCookie}
}

// serve answers POST {cfg.JWT.Session.Path}.
func (x *jwtExchange) serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeQlikError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s does not answer %s; use POST.", r.URL.Path, r.Method))
		return nil
	}
	raw, ok := exchangeBearer(r)
	if !ok {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "Send the JWT in the Authorization header: Bearer <token>.")
	}
	res, err := x.verifier.Verify(r.Context(), raw)
	if err != nil {
		return err
	}
	dir := cmp.Or(x.directory, res.Directory, latchkey.DefaultDirectory)
	p, token, _, err := x.creds.OpenJWTSession(r.Context(), credential.JWTIdentity{
		Directory: dir, Username: res.Username, Name: res.DisplayName, Email: res.Email, Groups: res.Groups,
		JTI: res.JTI, ExpiresAt: res.ExpiresAt,
	}, r.RemoteAddr, r.UserAgent())
	if err != nil {
		return err
	}
	setPrincipal(r, p)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Set-Cookie", x.cookie+"="+token+"; Path=/; Secure; HttpOnly; SameSite=Strict")
	// Not HttpOnly: the page's script reads it to send it back in the header.
	h.Add("Set-Cookie", x.csrfCookie+"="+credential.CSRFToken(token)+"; Path=/; Secure; SameSite=Strict")
	writeJSON(w, http.StatusOK, successBody{true})
	return nil
}

// exchangeBearer returns the token of "Authorization: Bearer <token>" (the
// scheme in any case).
func exchangeBearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// qlikErrors is Qlik Cloud's error body.
type qlikErrors struct {
	Errors []qlikError `json:"errors"`
}

type qlikError struct {
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Status string `json:"status"`
}

// handleQlik is handle with errors in Qlik Cloud's shape: the status of the
// error's code (400 for a malformed or incomplete token, 401 for a bad,
// expired, unknown or replayed one), logged and held (429) as writeError
// does.
func (s *Server) handleQlik(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeErrorAs(w, r, err, writeQlikError)
		}
	})
}

func writeQlikError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, qlikErrors{Errors: []qlikError{{Code: code, Title: http.StatusText(status),
		Detail: detail, Status: strconv.Itoa(status)}}})
}
