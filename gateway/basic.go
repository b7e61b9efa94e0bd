package gateway

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// basicChallenge is the WWW-Authenticate value of a 401 on a route that
// accepts Basic (RFC 7617, with the charset the username and password are
// decoded in).
const basicChallenge = `Basic realm="latchkey", charset="UTF-8"`

// basicAuth is the method "basic": HTTP Basic with a password or an API key
// as the password (seed 004). The username is "DIR\user", or a bare name in
// the default directory.
type basicAuth struct {
	creds *credential.Service
}

func newBasicAuth(d *methodDeps) Authenticator { return &basicAuth{creds: d.creds} }

// Method returns "basic".
func (a *basicAuth) Method() string { return latchkey.MethodBasic }

// Challenge returns the WWW-Authenticate value of a 401.
func (a *basicAuth) Challenge() string { return basicChallenge }

var _ Challenger = (*basicAuth)(nil)

// Authenticate signs in with the header's username and secret. Another
// Authorization scheme (or none) is no credentials; a malformed Basic header
// or a failed sign-in is 401, too many failures 429.
func (a *basicAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	user, secret, err := parseBasic(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	p, _, err := a.creds.SignIn(r.Context(), user, secret, r.RemoteAddr, latchkey.MethodBasic)
	if err != nil {
		setFailedSignIn(r, a.creds, user)
	}
	return p, err
}

var errBasicShape = latchkey.Errorf(latchkey.EUNAUTHORIZED,
	"The Basic credentials must be base64 of username:password (or username:API key).")

// parseBasic splits an Authorization header of the Basic scheme (in any
// case) into username and secret. It returns ErrNoCredentials for any other
// header, and an EUNAUTHORIZED error for a Basic header that is not base64 of
// "username:secret" with a non-empty username. The secret may contain ':'.
func parseBasic(header string) (user, secret string, err error) {
	const scheme = "Basic "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		if strings.EqualFold(strings.TrimSpace(header), "basic") {
			return "", "", errBasicShape
		}
		return "", "", ErrNoCredentials
	}
	decoded, err := decodeBase64(strings.TrimSpace(header[len(scheme):]))
	if err != nil {
		return "", "", errBasicShape
	}
	user, secret, ok := strings.Cut(decoded, ":")
	if !ok || user == "" {
		return "", "", errBasicShape
	}
	return user, secret, nil
}

// decodeBase64 is base64.StdEncoding.DecodeString with one allocation, not
// two, for the lengths that Basic credentials have.
func decodeBase64(s string) (string, error) {
	var src [256]byte
	var dst [192]byte
	if len(s) > len(src) {
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err
	}
	n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], s)])
	return string(dst[:n]), err
}
