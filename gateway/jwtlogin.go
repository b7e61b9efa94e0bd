package gateway

import (
	"net/http"

	"github.com/latchkey/latchkey"
)

// The JWT login of seed 002 (Quantamatics): POST {"email", "password"} (a
// password or an API key) answers {"token", "user"} with a token that
// latchkey signs; the client then sends it as "Authorization: Bearer" to
// routes whose jwt_verifiers include latchkey. The seed's client sends no
// Origin or X-Requested-With, and no cookie is involved, so the endpoint
// does not ask for seed 004's headers.

type jwtLoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type jwtLoginResponse struct {
	Token string       `json:"token"`
	User  jwtLoginUser `json:"user"`
}

type jwtLoginUser struct {
	ID        int64  `json:"id"`
	Email     string `json:"email"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	Directory string `json:"directory"`
}

// serveJWTLogin answers POST {cfg.JWT.Login.Path}.
func (s *Server) serveJWTLogin(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, http.MethodPost)
		return nil
	}
	var req jwtLoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Email == "" || req.Password == "" {
		return latchkey.Errorf(latchkey.EINVALID, `Send an "email" and a "password" (or an API key as the password).`)
	}
	p, how, err := s.creds.SignInByEmail(r.Context(), req.Email, req.Password, r.RemoteAddr)
	if err != nil {
		return err
	}
	setPrincipal(r, p)
	if p.ReadOnly {
		// The token would say read_only, and latchkey heeds it, but others
		// that verify latchkey's tokens by its JWKS may not.
		return latchkey.Errorf(latchkey.EFORBIDDEN,
			"A read-only API key cannot be exchanged for a token; send the key itself in the %s header.", s.cfg.APIKeys.Header)
	}
	token, _, err := s.issuer.Sign(r.Context(), toSign(p, how))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, jwtLoginResponse{Token: token, User: jwtLoginUser{
		ID: p.UserID, Email: p.Email, Name: p.DisplayName, Username: p.Username, Directory: p.Directory}})
	return nil
}
