package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/xrfkey"
)

// route is one configured route, ready to serve.
type route struct {
	name        string
	prefix      string // without a trailing slash; "" for the root route
	strip       bool
	auths       []Authenticator
	methodNames []string
	challenges  []string // WWW-Authenticate values of a 401
	anonymous   bool
	abilities   []string     // all needed, else 403
	upstream    http.Handler // reverse proxy or echo
	xrfkey      bool         // the Xrfkey guard runs before authentication
	stripXrfkey bool         // the Xrfkey parameter does not reach the upstream
	upstreamJWT bool         // the principal also goes upstream as a latchkey-signed JWT
	limits      routeLimits  // rate limits and the shape of their refusals (ratelimit.go)

	// The route's scope: requests for another host, with another method or
	// on another listener pass it by. Empty means any.
	host      string // lower case, without a port
	methods   []string
	listeners []string
}

// useMethods sets the route's authenticators from their names.
func (r *route) useMethods(names []string, methods map[string]Authenticator) error {
	r.methodNames = names
	for _, m := range names {
		a, ok := methods[m]
		if !ok {
			return fmt.Errorf("route %s: authentication method %q is not available", r.name, m)
		}
		r.auths = append(r.auths, a)
		if c, ok := a.(Challenger); ok {
			r.challenges = append(r.challenges, c.Challenge())
		}
	}
	return nil
}

// router matches a request to the route with the longest prefix among
// those whose scope takes it.
type router struct {
	routes    []*route // longest prefix first; of equal prefixes, the narrowest scope first
	upstreams upstreams
	s         *Server
}

func newRouter(cfgs []config.Route, methods map[string]Authenticator, s *Server) (*router, error) {
	rt := &router{s: s}
	for _, c := range cfgs {
		r := &route{
			name:        c.Name,
			prefix:      strings.TrimSuffix(c.Prefix, "/"),
			strip:       c.StripPrefix,
			anonymous:   len(c.Auth) == 0 || c.AllowAnonymous,
			abilities:   c.Abilities,
			xrfkey:      c.Xrfkey,
			stripXrfkey: c.Xrfkey && c.StripXrfkey,
			upstreamJWT: c.UpstreamJWT,
			host:        strings.ToLower(c.Host),
			methods:     c.Methods,
			listeners:   c.Listeners,
			limits:      s.newRouteLimits(c),
		}
		if err := r.useMethods(c.Auth, methods); err != nil {
			return nil, err
		}
		for i, a := range r.auths { // methods that depend on the route, such as jwt's verifiers
			if rs, ok := a.(routeScoped); ok {
				var err error
				if r.auths[i], err = rs.forRoute(c); err != nil {
					return nil, fmt.Errorf("route %s: %w", c.Name, err)
				}
			}
		}
		if c.UpstreamJWT && s.issuer == nil {
			return nil, fmt.Errorf("route %s: upstream_jwt needs latchkey's token issuer, and there is none", c.Name)
		}
		if c.Upstream == config.Echo {
			r.upstream = echoHandler{route: c.Name}
		} else {
			target, err := url.Parse(c.Upstream)
			if err != nil {
				return nil, fmt.Errorf("route %s: upstream: %w", c.Name, err)
			}
			r.upstream = s.proxy(target, rt.upstreams.transport(target, c.Timeout.D()))
		}
		rt.routes = append(rt.routes, r)
	}
	slices.SortStableFunc(rt.routes, func(a, b *route) int {
		return cmp.Or(cmp.Compare(len(b.prefix), len(a.prefix)), cmp.Compare(b.narrowness(), a.narrowness()))
	})
	return rt, nil
}

// narrowness ranks routes of one prefix: one that names its host, its
// listeners or its methods is tried before one that takes any.
func (r *route) narrowness() int {
	n := 0
	for i, limited := range []bool{len(r.methods) > 0, len(r.listeners) > 0, r.host != ""} {
		if limited {
			n |= 1 << i
		}
	}
	return n
}

// target is what a request is routed by.
type target struct {
	host     string // without the port
	method   string
	listener string // "" when served outside Listen (tests, embedding)
	path     string
}

func targetOf(r *http.Request) target {
	return target{host: hostOnly(r.Host), method: r.Method, listener: listenerOf(r.Context()), path: r.URL.Path}
}

// hostOnly returns the host of a Host header without its port, brackets
// or trailing dot: example.com:8443 → example.com, [::1]:8443 → ::1. (It
// allocates nothing: it runs on every request.)
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		if h[0] == '[' || strings.IndexByte(h, ':') == i { // not an unbracketed IPv6 address
			h = h[:i]
		}
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(h, ".")
}

// takes reports whether the route's host and listeners admit t.
func (r *route) takes(t target) bool {
	return (r.host == "" || strings.EqualFold(r.host, t.host)) &&
		(len(r.listeners) == 0 || slices.Contains(r.listeners, t.listener))
}

// allows reports whether the route answers method; listing GET allows HEAD.
func (r *route) allows(method string) bool {
	return len(r.methods) == 0 || slices.Contains(r.methods, method) ||
		method == http.MethodHead && slices.Contains(r.methods, http.MethodGet)
}

// upstreamPath returns the path the upstream sees for p, and whether the
// route's prefix matches p at all. A prefix matches with and without its
// trailing slash: /qrs/about and /qrs/about/.
func (r *route) upstreamPath(p string) (string, bool) {
	if r.prefix == "" {
		return p, true
	}
	rest, ok := strings.CutPrefix(p, r.prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return "", false // /jwtx does not match /jwt
	}
	if !r.strip {
		return p, true
	}
	return cmp.Or(rest, "/"), true
}

// match returns the route for t and the path the upstream sees. When no
// route matches but some would for another method, it returns the methods
// those allow instead, for a 405.
func (rt *router) match(t target) (*route, string, []string) {
	var allow []string
	for _, r := range rt.routes {
		up, ok := r.upstreamPath(t.path)
		if !ok || !r.takes(t) {
			continue
		}
		if r.allows(t.method) {
			return r, up, nil
		}
		allow = append(allow, r.methods...)
		if slices.Contains(r.methods, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	return nil, "", slices.Compact(allow)
}

// cleanPath reports whether p is a canonical absolute path: no ".", ".." or
// empty segments that an upstream might resolve differently than the route
// matcher did.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// admission is a request that its route lets through.
type admission struct {
	route     *route
	path      string // what the upstream sees
	principal *latchkey.Principal
	token     string     // the upstream JWT; "" without upstream_jwt or for anonymous callers
	body      clientBody // the request body as the proxy reads it (framing.go)
}

// admit decides a request as its route does, for the proxy and for
// forward-auth alike: route matching, the Xrfkey guard, authentication and
// authorization, with the rate limits around authentication (ratelimit.go).
// A refusal is an error to write, or, for the Xrfkey guard's 403, a 405 and
// a rate limit's 429, a nil admission with a nil error: admit has answered.
func (rt *router) admit(w http.ResponseWriter, r *http.Request) (*admission, error) {
	t := targetOf(r)
	if err := rt.checkPath(t, r.URL); err != nil {
		return nil, err
	}
	rte, upstreamPath, allow := rt.match(t)
	if rte == nil && len(allow) > 0 {
		methodNotAllowed(w, r, strings.Join(allow, ", "))
		return nil, nil
	}
	if rte == nil {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No route matches %s.", r.URL.Path)
	}
	ri := requestInfoOf(r)
	var limited rateState
	if ri != nil {
		ri.route = rte.name
		limited.at = ri.start
	}
	if rte.xrfkey && !xrfkey.Check(r) {
		rt.s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", "xrfkey")
		xrfkeyFailed(w)
		return nil, nil
	}
	if !rt.s.checkLimits(w, r, rte, rte.limits.before, nil, &limited) {
		return nil, nil
	}
	p, err := rte.authenticate(r, rt.s.metrics)
	if err == nil {
		if ri != nil {
			ri.principal = p
		}
		err = rte.authorize(p, r)
	}
	if err != nil {
		rte.challenge(w, err)
		return nil, err
	}
	allowed := rt.s.checkLimits(w, r, rte, rte.limits.after, p, &limited)
	rt.s.countKeyUse(p, allowed)
	if !allowed {
		return nil, nil
	}
	a := &admission{route: rte, path: upstreamPath, principal: p}
	if rte.upstreamJWT && !p.IsAnonymous() {
		if a.token, err = rt.s.upstreamToken(r.Context(), p); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.s.handle(rt.serve).ServeHTTP(w, r)
}

// serve sends an admitted request to its route's upstream.
func (rt *router) serve(w http.ResponseWriter, r *http.Request) error {
	rt.s.headers.strip(r.Header) // before anything else reads them
	a, err := rt.admit(w, r)
	if a == nil {
		return err
	}
	out := r.WithContext(withAdmission(r.Context(), a))
	if a.path != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = a.path, ""
		if raw, ok := strings.CutPrefix(r.URL.RawPath, a.route.prefix); ok && raw != "" {
			u.RawPath = raw // keep the client's escaping of what follows the prefix
		}
		out.URL = &u
	}
	if a.route.stripXrfkey {
		u := *out.URL
		u.RawQuery = withoutXrfkey(u.RawQuery)
		out.URL = &u
	}
	a.route.upstream.ServeHTTP(w, out)
	return nil
}
