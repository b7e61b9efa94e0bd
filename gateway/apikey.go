package gateway

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// apiKeyAuth is the method "apikey": an API key in a header (seed 002's
// X-Api-Key; the name is configured and matched in any case, as HTTP header
// names are).
type apiKeyAuth struct {
	header string // canonical form of the configured name
	creds  *credential.Service
}

func newAPIKeyAuth(d *methodDeps) Authenticator {
	return &apiKeyAuth{header: http.CanonicalHeaderKey(d.apiKeys.Header), creds: d.creds}
}

// Method returns "apikey".
func (a *apiKeyAuth) Method() string { return latchkey.MethodAPIKey }

// Authenticate verifies the key in the header. No header is no credentials;
// an unknown, revoked or expired key is 401; a key whose owner lacks
// apikey.signin is 403.
func (a *apiKeyAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	v := r.Header[a.header]
	switch len(v) {
	case 0:
		return nil, ErrNoCredentials
	case 1:
		return a.creds.VerifyAPIKey(r.Context(), v[0])
	default:
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "Send one %s header, not %d.", a.header, len(v))
	}
}
