package gateway

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"sort"
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

// router matches a request to the route with the longest prefix.
type router struct {
	routes []*route // longest prefix first
	s      *Server
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
		if c.Upstream == "echo" {
			r.upstream = echoHandler{route: c.Name}
		} else {
			target, err := url.Parse(c.Upstream)
			if err != nil {
				return nil, fmt.Errorf("route %s: upstream: %w", c.Name, err)
			}
			r.upstream = s.proxy(target)
		}
		rt.routes = append(rt.routes, r)
	}
	sort.SliceStable(rt.routes, func(i, j int) bool { return len(rt.routes[i].prefix) > len(rt.routes[j].prefix) })
	return rt, nil
}

// match returns the route for p and the path the upstream sees. A prefix
// matches with and without its trailing slash: /qrs/about and /qrs/about/.
func (rt *router) match(p string) (*route, string) {
	for _, r := range rt.routes {
		if r.prefix == "" {
			return r, p
		}
		if !strings.HasPrefix(p, r.prefix) {
			continue
		}
		rest := p[len(r.prefix):]
		if rest != "" && rest[0] != '/' {
			continue // /jwtx does not match /jwt
		}
		if !r.strip {
			return r, p
		}
		if rest == "" {
			rest = "/"
		}
		return r, rest
	}
	return nil, ""
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

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.s.handle(rt.serve).ServeHTTP(w, r)
}

func (rt *router) serve(w http.ResponseWriter, r *http.Request) error {
	if !cleanPath(r.URL.Path) {
		return latchkey.Errorf(latchkey.EINVALID, "The path must not contain '.', '..' or empty segments.")
	}
	rte, upstreamPath := rt.match(r.URL.Path)
	if rte == nil {
		return latchkey.Errorf(latchkey.ENOTFOUND, "No route matches %s.", r.URL.Path)
	}
	setRouteName(r, rte.name)
	if rte.xrfkey && !xrfkey.Check(r) {
		rt.s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", "xrfkey")
		xrfkeyFailed(w)
		return nil
	}
	p, err := rte.authenticate(r, rt.s.metrics)
	if err == nil {
		setPrincipal(r, p)
		err = rte.authorize(p, r)
	}
	if err != nil {
		rte.challenge(w, err)
		return err
	}
	out := r.WithContext(WithPrincipal(r.Context(), p))
	if upstreamPath != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = upstreamPath, ""
		if raw, ok := strings.CutPrefix(r.URL.RawPath, rte.prefix); ok && raw != "" {
			u.RawPath = raw // keep the client's escaping of what follows the prefix
		}
		out.URL = &u
	}
	if rte.stripXrfkey {
		u := *out.URL
		u.RawQuery = withoutXrfkey(u.RawQuery)
		out.URL = &u
	}
	rte.upstream.ServeHTTP(w, out)
	return nil
}

// proxy returns a reverse proxy to target that passes the principal on as
// identity headers.
func (s *Server) proxy(target *url.URL) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = target.Host
			setIdentity(pr.Out.Header, PrincipalFrom(pr.In.Context()))
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Error("upstream failed", "upstream", target.Redacted(), "path", r.URL.Path, "err", err)
			writeErrorBody(w, http.StatusBadGateway, "bad_gateway", "The upstream did not answer.")
		},
	}
}
