package gateway

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtverify"
)

// jwtAuth is the method "jwt": a JWT in "Authorization: Bearer <token>"
// (seed 000's QSEoW virtual proxy), checked by the route's verifiers in
// order. The entry in Server.methods is a template; each route gets its own
// (routeScoped) with the verifiers that its jwt_verifiers name.
type jwtAuth struct {
	d     *methodDeps
	chain []TokenVerifier
	memo  *principalMemo[*jwtverify.Result] // shared by every route's jwtAuth
}

// routeScoped is an Authenticator that each route needs its own of.
type routeScoped interface {
	forRoute(c config.Route) (Authenticator, error)
}

func newJWTAuth(d *methodDeps) Authenticator {
	return &jwtAuth{d: d, memo: newPrincipalMemo[*jwtverify.Result](d.creds, d.memoBytes)}
}

// Method returns "jwt".
func (a *jwtAuth) Method() string { return latchkey.MethodJWT }

// Challenge returns the WWW-Authenticate value of a 401 (RFC 6750).
func (a *jwtAuth) Challenge() string { return `Bearer realm="latchkey"` }

var (
	_ Challenger  = (*jwtAuth)(nil)
	_ routeScoped = (*jwtAuth)(nil)
)

// forRoute returns the method with the verifiers that c.JWTVerifiers names
// ("latchkey" is the issuer's); without names, every configured verifier in
// configuration order, then the issuer's, when there is one.
func (a *jwtAuth) forRoute(c config.Route) (Authenticator, error) {
	names := c.JWTVerifiers
	if len(names) == 0 {
		names = slices.Clone(a.d.verifierNames)
		for _, name := range sortedKeys(a.d.verifiers) { // given without configuration (tests, embedding)
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		if a.d.issuer != nil {
			names = append(names, config.OwnVerifier)
		}
	}
	r := &jwtAuth{d: a.d, memo: a.memo}
	for _, name := range names {
		v, ok := a.d.verifiers[name]
		if name == config.OwnVerifier && a.d.issuer != nil {
			v, ok = a.d.issuer, true
		}
		if !ok {
			return nil, fmt.Errorf("jwt verifier %q is not available", name)
		}
		r.chain = append(r.chain, v)
	}
	if len(r.chain) == 0 {
		return nil, fmt.Errorf("the jwt method has no verifier: configure jwt.verifiers or latchkey's issuer")
	}
	return r, nil
}

func sortedKeys(m map[string]TokenVerifier) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Authenticate verifies the bearer token with each verifier in turn; the
// first that accepts it names the principal. A request without a Bearer
// Authorization header is no credentials. When every verifier refuses, the
// first one's refusal is the answer, as 401 even for a malformed token.
func (a *jwtAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	raw, err := bearerToken(r.Header.Get("Authorization"))
	if err != nil {
		return nil, err
	}
	var first error
	for _, v := range a.chain {
		res, err := v.Verify(r.Context(), raw)
		if err == nil {
			return a.principal(r.Context(), res)
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = latchkey.Errorf(latchkey.EUNAUTHORIZED, "No JWT verifier serves this route.")
	}
	if latchkey.ErrorCode(first) == latchkey.EINVALID {
		first = &latchkey.Error{Code: latchkey.EUNAUTHORIZED, Message: latchkey.ErrorMessage(first), Err: first}
	}
	return nil, first
}

var errBearerEmpty = latchkey.Errorf(latchkey.EUNAUTHORIZED, "The Bearer credentials are empty; send Authorization: Bearer <JWT>.")

// bearerToken returns the token of an Authorization header of the Bearer
// scheme (in any case). Another scheme, or none, is ErrNoCredentials.
func bearerToken(header string) (string, error) {
	const scheme = "Bearer "
	if len(header) < len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		if strings.EqualFold(strings.TrimSpace(header), "bearer") {
			return "", errBearerEmpty
		}
		return "", ErrNoCredentials
	}
	raw := strings.TrimSpace(header[len(scheme):])
	if raw == "" {
		return "", errBearerEmpty
	}
	return raw, nil
}

// principal returns the principal of a verified token: remembered for a
// token verified from memory (the same Result), made otherwise. One of
// latchkey's own tokens keeps the read-only state it was signed with; one
// obtained with an API key is refused once the key is gone, and spends the
// key's budget under its limit as it is now (keyOrigin). A user the store
// holds under the same DIRECTORY\user lends their roles and abilities (and
// their name, email and groups where the token has none); a disabled one
// is refused (credential.Service.Vouch).
func (a *jwtAuth) principal(ctx context.Context, res *jwtverify.Result) (*latchkey.Principal, error) {
	// Checked on every request, before the memo: a key is revoked, or its
	// limit changed, without any change of its user.
	keyID, limit, err := keyOrigin(ctx, a.d.creds, res)
	if err != nil {
		return nil, err
	}
	if p := a.memo.get(res); p != nil && sameLimit(p.RateLimit, limit) {
		return p, nil
	}
	gen := a.memo.generation()
	p, found, err := a.makePrincipal(ctx, res, keyID, limit)
	if err == nil && res.Remembered() { // a one-time token's Result never comes back
		a.memo.set(res, p, gen, found)
	}
	return p, err
}

// makePrincipal makes the principal of a verified token; found says
// whether the store holds its user.
func (a *jwtAuth) makePrincipal(ctx context.Context, res *jwtverify.Result, keyID string, limit *latchkey.RateLimit) (*latchkey.Principal, bool, error) {
	return a.d.creds.Vouch(ctx, &latchkey.Principal{
		Directory: res.Directory, Username: res.Username, DisplayName: res.DisplayName, Email: res.Email,
		Groups: res.Groups, Claims: res.Claims, Method: latchkey.MethodJWT,
		CredentialID: cmp.Or(res.JTI, res.KeyID), ExpiresAt: res.ExpiresAt, ReadOnly: res.ReadOnly,
		RateLimit: limit, RateLimitID: keyID,
	})
}

// sameLimit reports whether two limits (nil: none) are the same.
func sameLimit(a, b *latchkey.RateLimit) bool {
	return a == b || a != nil && b != nil && *a == *b
}
