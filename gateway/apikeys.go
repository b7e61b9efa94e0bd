package gateway

import (
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// apiKeyEndpoints serves the JSON endpoints for API keys under
// cfg.Login.APIKeyPath (seed 004's /api/v1/api_keys):
//
//	GET    {path}                       the caller's keys; ?user=DIR\user for another's
//	POST   {path}/generate_api_key      {"name","days","read_only","user","rate_limit"} → the new key
//	GET    {path}/{id}                  one key (its owner sees a key made for them, once; no HEAD)
//	POST   {path}/{id}/revoke           revoke → {"success": true}
//	DELETE {path}/{id}                  the same
//	POST   {path}/{id}/rotate           a replacement with the same settings → the new key
//	POST   {path}/{id}/rate_limit       {"requests","window","burst"}: the key's own limit → the key
//	DELETE {path}/{id}/rate_limit       the key has no limit of its own any more → the key
//
// Callers authenticate with a session, Basic or an API key; unsafe requests
// need the required headers (csrf.go); read-only credentials may only read.
// Who may do what is the credential service's to decide.
type apiKeyEndpoints struct {
	s       *Server
	prefix  string
	auth    *route // the methods that may call, and the rules of authorize
	handler http.Handler
}

// keyOp is one endpoint, called for an authenticated, authorized principal.
type keyOp func(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error

func newAPIKeyEndpoints(s *Server) (*apiKeyEndpoints, error) {
	k := &apiKeyEndpoints{s: s, prefix: s.cfg.Login.APIKeyPath, auth: &route{name: "api_keys"}}
	if err := k.auth.useMethods([]string{latchkey.MethodSession, latchkey.MethodBasic, latchkey.MethodAPIKey}, s.methods); err != nil {
		return nil, err
	}
	k.handler = s.handle(k.serve)
	return k, nil
}

// owns reports whether p is a clean path at or below the prefix.
func (k *apiKeyEndpoints) owns(p string) bool {
	rest, ok := strings.CutPrefix(p, k.prefix)
	return ok && (rest == "" || rest[0] == '/') && cleanPath(p)
}

func (k *apiKeyEndpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.handler.ServeHTTP(w, r)
}

func (k *apiKeyEndpoints) serve(w http.ResponseWriter, r *http.Request) error {
	op, id, allow := k.match(r.Method, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, k.prefix), "/"))
	if op == nil {
		if allow != "" {
			methodNotAllowed(w, r, allow)
			return nil
		}
		return latchkey.Errorf(latchkey.ENOTFOUND, "There is no API key endpoint at %s.", r.URL.Path)
	}
	if err := k.s.required.check(r); err != nil {
		return err
	}
	p, err := k.auth.authenticate(r, k.s.metrics)
	if err == nil {
		setPrincipal(r, p)
		err = k.auth.authorize(p, r)
	}
	if err != nil {
		k.auth.challenge(w, err)
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // answers may hold a key
	return op(w, r, p, id)
}

// match picks the endpoint for the method and the path after the prefix. It
// returns no op when none matches: with the methods the path does take, or
// with none when no endpoint has that path.
func (k *apiKeyEndpoints) match(method, rest string) (op keyOp, id, allow string) {
	read := method == http.MethodGet || method == http.MethodHead
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "":
		return when(read, k.list), "", "GET, HEAD"
	case rest == "/generate_api_key":
		return when(method == http.MethodPost, k.generate), "", "POST"
	case len(parts) == 1:
		if method == http.MethodDelete {
			return k.revoke, parts[0], ""
		}
		// GET only: a HEAD would take a key shown once and drop the body.
		return when(method == http.MethodGet, k.details), parts[0], "GET, DELETE"
	case len(parts) == 2 && parts[1] == "revoke":
		return when(method == http.MethodPost, k.revoke), parts[0], "POST"
	case len(parts) == 2 && parts[1] == "rotate":
		return when(method == http.MethodPost, k.rotate), parts[0], "POST"
	case len(parts) == 2 && parts[1] == "rate_limit":
		switch method {
		case http.MethodPost:
			return k.setLimit, parts[0], ""
		case http.MethodDelete:
			return k.clearLimit, parts[0], ""
		}
		return nil, "", "POST, DELETE"
	}
	return nil, "", ""
}

func when(ok bool, op keyOp) keyOp {
	if ok {
		return op
	}
	return nil
}

func (k *apiKeyEndpoints) list(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ string) error {
	owner, err := k.s.creds.KeyOwner(r.Context(), p, r.URL.Query().Get("user"))
	if err != nil {
		return err
	}
	views, err := k.s.creds.APIKeys(r.Context(), p, owner)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, views)
	return nil
}

type generateRequest struct {
	Name      string              `json:"name"`
	Days      int                 `json:"days"`
	ReadOnly  bool                `json:"read_only"`
	User      string              `json:"user"`       // DIR\user to make the key for; "" for oneself
	RateLimit *latchkey.RateLimit `json:"rate_limit"` // the key's own; absent or null for none
}

func (k *apiKeyEndpoints) generate(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ string) error {
	var req generateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	owner, err := k.s.creds.KeyOwner(r.Context(), p, req.User)
	if err != nil {
		return err
	}
	v, err := k.s.creds.GenerateAPIKey(r.Context(), p,
		credential.KeyRequest{OwnerID: owner, Name: req.Name, Days: req.Days, ReadOnly: req.ReadOnly, RateLimit: req.RateLimit}, r.RemoteAddr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (k *apiKeyEndpoints) details(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error {
	v, err := k.s.creds.APIKeyDetails(r.Context(), p, id, r.RemoteAddr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (k *apiKeyEndpoints) revoke(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error {
	if err := k.s.creds.RevokeAPIKey(r.Context(), p, id, r.RemoteAddr); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, successBody{true})
	return nil
}

func (k *apiKeyEndpoints) rotate(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error {
	v, err := k.s.creds.RotateAPIKey(r.Context(), p, id, r.RemoteAddr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// limitRequest is the body of POST {id}/rate_limit: requests per window
// seconds, burst more at once.
type limitRequest struct {
	Requests *int `json:"requests"`
	Window   *int `json:"window"`
	Burst    int  `json:"burst"`
}

func (k *apiKeyEndpoints) setLimit(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error {
	var req limitRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Requests == nil || req.Window == nil {
		return latchkey.Errorf(latchkey.EINVALID, "Give the limit as {\"requests\": N, \"window\": SECONDS, \"burst\": N}; burst may be left out.")
	}
	return k.writeLimit(w, r, p, id, &latchkey.RateLimit{Requests: *req.Requests, Window: *req.Window, Burst: req.Burst})
}

func (k *apiKeyEndpoints) clearLimit(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string) error {
	return k.writeLimit(w, r, p, id, nil)
}

func (k *apiKeyEndpoints) writeLimit(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, id string, l *latchkey.RateLimit) error {
	v, err := k.s.creds.SetAPIKeyLimit(r.Context(), p, id, l, r.RemoteAddr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
