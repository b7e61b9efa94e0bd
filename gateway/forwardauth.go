package gateway

import (
	"cmp"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
)

// forwardAuth is the decision service for a proxy in front of an upstream
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy
// ext_authz over HTTP). The proxy sends it the original request's headers
// and says in X-Forwarded-Method, X-Forwarded-Uri (or X-Original-URI) and
// X-Forwarded-Host which request that was; latchkey decides it exactly as
// it would decide a proxied request to the route (the router's admit), and
// answers 200 with the identity headers, or the route's own refusal. Envoy,
// which sends the original method and path below a prefix instead, is
// served at every path below the forward-auth path.
//
// Nothing is proxied, and the connection's client certificate is not the
// client's: it is the proxy's, so the cert method never applies here.
type forwardAuth struct {
	path string
	s    *Server
	h    http.Handler
}

// newForwardAuth returns the endpoint at the configured path, or nil when
// none is configured ("" or "-").
func newForwardAuth(s *Server) *forwardAuth {
	p := s.cfg.Server.ForwardAuthPath
	if p == "" || p == "-" {
		return nil
	}
	f := &forwardAuth{path: strings.TrimSuffix(p, "/"), s: s}
	f.h = s.handle(f.serve)
	return f
}

// owns reports whether p is the forward-auth path or below it.
func (f *forwardAuth) owns(p string) bool {
	rest, ok := strings.CutPrefix(p, f.path)
	return ok && (rest == "" || rest[0] == '/')
}

func (f *forwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.h.ServeHTTP(w, r) }

func (f *forwardAuth) serve(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store") // a decision is for one request
	orig, err := f.original(r)
	if err != nil {
		return err
	}
	if err := f.s.headers.checkForwardAuth(orig.Header, orig.Method); err != nil {
		return err // what the proxy in front would pass on, latchkey cannot remove
	}
	a, err := f.s.routes.admit(w, orig)
	if a == nil {
		return err
	}
	h := w.Header()
	setIdentity(h, a.principal)
	if a.token != "" {
		h.Set(HeaderJWT, a.token)
	}
	for _, k := range answerHeaders {
		if _, ok := h[k]; !ok {
			h[k] = []string{""}
		}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// answerHeaders are the identity headers that a 200 always carries, empty
// when the principal has no such value, so that a proxy which copies a
// list of them onto the request only when present (Envoy, Caddy) still
// replaces every value a client sent under those names.
var answerHeaders = []string{HeaderUser, HeaderDirectory, HeaderName, HeaderEmail, HeaderGroups,
	HeaderRoles, HeaderMethod, HeaderKeyID, HeaderJWT}

// originalHeaders describe the original request to the forward-auth path.
var originalHeaders = []string{"X-Forwarded-Method", "X-Forwarded-Uri", "X-Original-Uri", "X-Forwarded-Host"}

// original reconstructs the request the proxy asks about: its method from
// X-Forwarded-Method (default GET), its path and query from
// X-Forwarded-Uri or X-Original-URI, its host from X-Forwarded-Host (else
// Host), and every other header as the proxy passed it on. Without either
// URI header, a path below the forward-auth path is the original one and
// the request's own method the original method (Envoy's path_prefix).
//
// The decision rests on these headers, so each must be given at most once,
// and the two URI headers, when both are given, must agree: a front proxy
// that sets one and passes a client's other on (nginx sets X-Original-URI
// and passes the client's X-Forwarded-Uri) is then refused (400) rather
// than judged on what the client chose.
func (f *forwardAuth) original(r *http.Request) (*http.Request, error) {
	for _, name := range originalHeaders {
		if len(r.Header[name]) > 1 {
			return nil, latchkey.Errorf(latchkey.EINVALID,
				"The forward-auth request has %s more than once; the front proxy must set it, replacing the client's.", name)
		}
	}
	method := r.Header.Get("X-Forwarded-Method")
	uri := r.Header.Get("X-Forwarded-Uri")
	if other := r.Header.Get("X-Original-Uri"); uri == "" {
		uri = other
	} else if other != "" && other != uri {
		return nil, latchkey.Errorf(latchkey.EINVALID,
			"The forward-auth request's X-Forwarded-Uri and X-Original-URI disagree; the front proxy must set the one it sends and clear the other.")
	}
	if uri == "" {
		if rest := strings.TrimPrefix(r.URL.EscapedPath(), f.path); rest != "" {
			uri, method = rest, cmp.Or(method, r.Method)
			if r.URL.RawQuery != "" {
				uri += "?" + r.URL.RawQuery
			}
		}
	}
	if uri == "" || uri[0] != '/' {
		return nil, latchkey.Errorf(latchkey.EINVALID,
			"A forward-auth request needs the original path and query in X-Forwarded-Uri or X-Original-URI.")
	}
	method = cmp.Or(method, http.MethodGet)
	if !validMethod(method) {
		return nil, latchkey.Errorf(latchkey.EINVALID, "X-Forwarded-Method is not an HTTP method.")
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The original URI %q is not a path and query.", uri)
	}
	out := r.Clone(r.Context())
	out.Method, out.URL, out.RequestURI = method, u, uri
	if h, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ","); strings.TrimSpace(h) != "" {
		if out.Host = strings.TrimSpace(h); !validHost(out.Host) {
			return nil, latchkey.Errorf(latchkey.EINVALID, "X-Forwarded-Host is not a host name or address.")
		}
	}
	out.Body, out.ContentLength = http.NoBody, 0 // the decision reads no body
	out.TLS = nil
	return out, nil
}

// validMethod reports whether m is an HTTP method token.
func validMethod(m string) bool {
	for _, c := range m {
		if c < '!' || c > '~' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	return m != ""
}

// validHost reports whether h can be a request's Host: a name, an IPv4
// address or a bracketed IPv6 address, with an optional port (the bytes Go's
// server accepts in a Host header).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-._~:[]%!$&'()*+,;=", c) >= 0) {
			return false
		}
	}
	return h != ""
}
