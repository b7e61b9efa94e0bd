package gateway

import (
	"fmt"
	"net/http"
)

// JWKSPath is where latchkey publishes the public keys of its own tokens.
const JWKSPath = "/.well-known/jwks.json"

// buildJWTEndpoints sets up the JWT endpoints that d makes possible: the
// JWKS with an issuer; the JWT login with an issuer and a credential
// service, at jwt.login.path; the JWT session exchange with a credential
// service and the verifier jwt.session.verifier, at jwt.session.path. A
// path configured without what its endpoint needs is an error. The
// exchange gets what it uses from md.
func (s *Server) buildJWTEndpoints(d Deps, md *methodDeps) error {
	j := s.cfg.JWT
	if d.Issuer != nil {
		s.jwks = s.handle(s.serveJWKS)
	}
	if j.Login.Path != "" && d.Creds != nil {
		if d.Issuer == nil {
			return fmt.Errorf("jwt.login.path %s: latchkey's token issuer is not available", j.Login.Path)
		}
		s.jwtLogin = s.handle(s.serveJWTLogin)
	}
	if j.Session.Path != "" && d.Creds != nil {
		v := d.Verifiers[j.Session.Verifier]
		if v == nil {
			return fmt.Errorf("jwt.session.verifier: the JWT verifier %q is not available", j.Session.Verifier)
		}
		if j.Session.CSRFCookie == "" || j.Session.CSRFHeader == "" {
			return fmt.Errorf("jwt.session: the CSRF cookie and header must be named")
		}
		s.jwtSession = s.handleQlik(newJWTSession(md, v).serve)
	}
	return nil
}

// serveJWKS answers GET and HEAD {JWKSPath} with the issuer's JSON Web Key
// Set, which clients may cache for five minutes. A rotated key signs from
// the moment it is made, so a client that meets an unknown kid should fetch
// the set again.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET, HEAD")
		return nil
	}
	b, err := s.issuer.JWKS(r.Context())
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(b)
	}
	return nil
}
