package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Authenticator is one way a client proves who it is. Each method (JWT
// bearer, session cookie, API key, Basic, client certificate) implements it in
// its own file; a route lists the methods it accepts, by Method name.
type Authenticator interface {
	// Method names the method as routes list it, e.g. "basic".
	Method() string
	// Authenticate returns the principal that the request's credentials
	// prove. It returns ErrNoCredentials when the request carries no
	// credentials of this method, so that the next method may try, and an
	// EUNAUTHORIZED *latchkey.Error when it carries bad ones.
	Authenticate(r *http.Request) (*latchkey.Principal, error)
}

// ErrNoCredentials is what an Authenticator returns for a request that does
// not carry its kind of credentials.
var ErrNoCredentials = errors.New("no credentials for this method")

type principalKey struct{}

// WithPrincipal returns a context that carries p.
func WithPrincipal(ctx context.Context, p *latchkey.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal that authenticated the request, or
// latchkey.Anonymous.
func PrincipalFrom(ctx context.Context) *latchkey.Principal {
	if p, ok := ctx.Value(principalKey{}).(*latchkey.Principal); ok {
		return p
	}
	return latchkey.Anonymous
}

// authenticate runs the route's methods in order. The first that finds its
// credentials decides: a principal, or a refusal. With no credentials at all
// the request is anonymous where the route allows that, else 401.
func (rt *route) authenticate(r *http.Request, m *metrics) (*latchkey.Principal, error) {
	for _, a := range rt.auths {
		start := time.Now()
		p, err := a.Authenticate(r)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		m.observeAuth(a.Method(), err, time.Since(start))
		if err != nil {
			return nil, err
		}
		if err := checkIdentity(p); err != nil {
			return nil, err // refused here rather than failing at the transport
		}
		return p, nil
	}
	if rt.anonymous {
		return latchkey.Anonymous, nil
	}
	return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED,
		"This route needs credentials: use one of %s.", strings.Join(rt.methodNames, ", "))
}

// Challenger is implemented by an Authenticator that names itself in the
// WWW-Authenticate header of a 401 (HTTP Basic does).
type Challenger interface {
	// Challenge returns the header's value, e.g. `Basic realm="latchkey"`.
	Challenge() string
}

// challenge adds the WWW-Authenticate headers of the route's methods when
// err is a 401.
func (rt *route) challenge(w http.ResponseWriter, err error) {
	if latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		return
	}
	for _, c := range rt.challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
}

// authorize applies the rules that hold on every route: a read-only
// principal may make only safe requests, and a route's abilities must all be
// held (anonymous callers are asked who they are; others are refused).
func (rt *route) authorize(p *latchkey.Principal, r *http.Request) error {
	if p.ReadOnly && !latchkey.SafeMethod(r.Method) {
		return latchkey.Errorf(latchkey.EFORBIDDEN,
			"These credentials are read-only: only GET, HEAD and OPTIONS requests are allowed.")
	}
	if p.ReadOnly && r.URL.RawQuery != "" {
		if m, ok := queryOverride(r.URL.RawQuery); ok { // an upstream may act on it instead of the method
			return latchkey.Errorf(latchkey.EFORBIDDEN,
				"These credentials are read-only: the _method parameter must not ask for %q.", m)
		}
	}
	if len(rt.abilities) == 0 {
		return nil
	}
	if p.IsAnonymous() {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED,
			"This route needs credentials: use one of %s.", strings.Join(rt.methodNames, ", "))
	}
	var missing []string
	for _, a := range rt.abilities {
		if !p.Can(a) {
			missing = append(missing, a)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return latchkey.Errorf(latchkey.EFORBIDDEN, "This route needs the ability %s.", missing[0])
	default:
		return latchkey.Errorf(latchkey.EFORBIDDEN, "This route needs the abilities %s.", strings.Join(missing, ", "))
	}
}
