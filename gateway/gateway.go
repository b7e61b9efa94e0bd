// Package gateway is latchkey's HTTP transport: it listens, matches each
// request to a route, authenticates it with the route's methods, authorizes
// it, and forwards it to the route's upstream (a URL, reverse-proxied, or the
// built-in echo). It also serves /healthz, /readyz, /metrics and the OpenAPI
// document of its own endpoints (openapi.json), and, over the credential
// service, seed 004's JSON login and logout, the API key endpoints, the
// admin API (users, roles, abilities, sessions, audit) and the JWT
// endpoints: the JWKS of latchkey's own tokens, seed 002's JWT login and
// seed 000's JWT session exchange. It mounts the pages for people
// (Deps.Pages, the web package's handler, which it does not import) under
// ui.prefix on the listeners of ui.listeners.
//
// Each authentication method is one file here (session.go, basic.go,
// apikey.go, jwt.go, cert.go) and one line in methods.go; it is built from
// the narrow dependencies of methodDeps, never the Server. The methods only
// parse the request and call the credential service (or the JWT
// verifiers), which does the verifying.
//
// Handlers return errors; one function (writeError) turns an error into the
// HTTP status and client message, and logs the cause.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// Server is a running gateway: its routes, authenticators and listeners.
type Server struct {
	cfg      *config.Config
	store    latchkey.Store
	creds    *credential.Service // nil: no built-in methods and no login or key endpoints
	log      *slog.Logger
	required *requiredHeaders
	headers  headerRules    // the client headers that are latchkey's to write (headers.go)
	trusted  trustedProxies // server.trusted_proxies (clientaddr.go)
	methods  map[string]Authenticator
	routes   *router
	metrics  *metrics
	handler  http.Handler

	// verifiers are the configured JWT verifiers by name; issuer signs and
	// verifies latchkey's own tokens (nil: none).
	verifiers map[string]TokenVerifier
	issuer    Issuer

	// latchkey's own endpoints over the credential service.
	login, logout http.Handler
	apiKeys       *apiKeyEndpoints
	admin         *adminEndpoints // nil when login.admin_path is "-"

	// The JWT endpoints (nil when not served): the JWKS of the issuer,
	// the JWT login (seed 002) and the JWT session exchange (seed 000).
	jwks, jwtLogin, jwtSession http.Handler

	// forwardAuth answers a proxy in front that asks whether to let a
	// request through (nil: not served).
	forwardAuth *forwardAuth

	rate *rateLimiting // the routes' rate limits (nil: no route has any)

	// pages are the pages for people (nil: not served), on the listeners
	// of pageListeners (empty: every listener).
	pages         Pages
	pageListeners []string

	listeners []*listener

	refusalDelay time.Duration // RefusalDelay; tests shorten it
}

type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
	tls  bool

	files *tlsFiles // the TLS files it reloads (nil: none)
}

// Deps are what a gateway uses besides its configuration. Store and Log are
// needed to serve; the rest may be nil, which leaves out what needs them.
type Deps struct {
	Store     latchkey.Store
	Creds     *credential.Service
	Log       *slog.Logger
	Verifiers map[string]TokenVerifier // the configured JWT verifiers, by name
	Issuer    Issuer                   // latchkey's own tokens
	// Pages are the pages for people (package web), served when ui.enabled
	// is set, under their prefix, on the listeners of ui.listeners.
	Pages Pages
}

// Pages is a handler of pages under a prefix of its own, such as the web
// package's. The gateway sends it every clean path it owns, on the
// listeners that serve it, before the routes.
type Pages interface {
	http.Handler
	// Owns reports whether the pages answer the path.
	Owns(path string) bool
}

// NotePrincipal records who a request served by the pages is, for the
// request log, as the gateway records it for its own endpoints.
func NotePrincipal(r *http.Request, p *latchkey.Principal) { setPrincipal(r, p) }

// New builds a gateway for cfg. With a credential service it offers the
// methods of MethodNames and serves the login, logout and API key endpoints;
// extra adds methods of other kinds (and may replace a built-in one). Every
// method a route names must be among these. Nothing listens until Listen.
func New(cfg *config.Config, d Deps, extra ...Authenticator) (*Server, error) {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, store: d.Store, creds: d.Creds, log: log, metrics: newMetrics(),
		required: newRequiredHeaders(cfg.Login), verifiers: d.Verifiers, issuer: d.Issuer,
		headers:      newHeaderRules(cfg.Certificates.ImpersonationHeader),
		refusalDelay: RefusalDelay}
	if d.Creds != nil {
		s.metrics.registerUsage(d.Creds.UsageWrites)
	}
	creds := d.Creds
	trusted, err := newTrustedProxies(cfg.Server.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}
	s.trusted = trusted
	md := newMethodDeps(cfg, d, s.required)
	s.methods = buildMethods(md, extra)
	s.metrics.prepareAuth(slices.Collect(maps.Keys(s.methods)))
	if s.rate, err = s.newRateLimiting(cfg, nil); err != nil {
		return nil, err
	}
	rt, err := newRouter(cfg.Routes, s.methods, s)
	if err != nil {
		return nil, err
	}
	s.routes = rt
	if creds != nil {
		s.login, s.logout = s.handle(s.serveLogin), s.handle(s.serveLogout)
		if s.apiKeys, err = newAPIKeyEndpoints(s); err != nil {
			return nil, err
		}
		if a := cfg.Login.AdminPath; a != "-" && a != "" {
			if s.admin, err = newAdminEndpoints(s); err != nil {
				return nil, err
			}
		}
	}
	if err := s.buildJWTEndpoints(d, md); err != nil {
		return nil, err
	}
	s.forwardAuth = newForwardAuth(s)
	if d.Pages != nil && cfg.UI.Enabled {
		s.pages, s.pageListeners = d.Pages, cfg.UI.Listeners
	}
	s.handler = s.logRequests(s.dispatch(map[string]ownEndpoint{
		"/healthz":  {"healthz", s.handle(s.healthz)},
		"/readyz":   {"readyz", s.handle(s.readyz)},
		"/metrics":  {"metrics", s.metrics.handler()},
		OpenAPIPath: {"openapi", s.handle(s.serveOpenAPI)},
	}))
	return s, nil
}

// ownEndpoint is one of the endpoints that dispatch answers at a fixed path
// for GET and HEAD, with the route name its requests are logged under.
type ownEndpoint struct {
	name string
	h    http.Handler
}

// dispatch serves latchkey's own endpoints and sends everything else to the
// routes: /healthz, /readyz, /metrics and the OpenAPI document (OpenAPIPath)
// for GET and HEAD; the forward-auth
// path (and, for Envoy, every path below it) for every method; the JWKS, the
// JWT login and JWT session paths, and the login and logout paths for every
// method (they answer 405 but to their own); every clean path under the
// API key prefix; every clean path at or below the admin API's collections
// (admin.go); and, on the listeners that serve them, every clean path the
// pages own (ui.prefix). No path cleaning or redirects happen here: the
// router refuses unclean paths itself.
func (s *Server) dispatch(own map[string]ownEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if e, ok := own[p]; ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			setRouteName(r, e.name)
			e.h.ServeHTTP(w, r)
			return
		}
		if s.forwardAuth != nil && s.forwardAuth.owns(p) {
			setRouteName(r, "forward_auth")
			s.forwardAuth.ServeHTTP(w, r)
			return
		}
		if h, name := s.jwtEndpoint(p); h != nil {
			setRouteName(r, name)
			h.ServeHTTP(w, r)
			return
		}
		if s.creds != nil {
			switch l := s.cfg.Login; {
			case p == l.Path:
				setRouteName(r, "login")
				s.login.ServeHTTP(w, r)
				return
			case p == l.LogoutPath:
				setRouteName(r, "logout")
				s.logout.ServeHTTP(w, r)
				return
			case s.apiKeys.owns(p):
				setRouteName(r, "api_keys")
				s.apiKeys.ServeHTTP(w, r)
				return
			case s.admin != nil && s.admin.owns(p):
				setRouteName(r, "admin_api")
				s.admin.ServeHTTP(w, r)
				return
			}
		}
		if s.pages != nil && s.pages.Owns(p) && cleanPath(p) && s.servesPages(r) {
			setRouteName(r, "pages")
			s.pages.ServeHTTP(w, r)
			return
		}
		s.routes.ServeHTTP(w, r)
	})
}

// servesPages reports whether the listener r arrived on serves the pages.
func (s *Server) servesPages(r *http.Request) bool {
	return len(s.pageListeners) == 0 || slices.Contains(s.pageListeners, listenerOf(r.Context()))
}

// jwtEndpoint returns the JWT endpoint served at p, if any, and its name.
func (s *Server) jwtEndpoint(p string) (http.Handler, string) {
	switch j := &s.cfg.JWT; {
	case s.jwks != nil && p == JWKSPath:
		return s.jwks, "jwks"
	case s.jwtLogin != nil && p == j.Login.Path:
		return s.jwtLogin, "jwt_login"
	case s.jwtSession != nil && p == j.Session.Path:
		return s.jwtSession, "jwt_session"
	}
	return nil, ""
}

// methodNotAllowed answers 405 with the Allow header. (A wrong method is the
// one refusal that no error code stands for.)
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeErrorBody(w, http.StatusMethodNotAllowed, "method_not_allowed",
		fmt.Sprintf("%s does not answer %s; use %s.", r.URL.Path, r.Method, allow))
}

// Handler returns the gateway's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen binds every configured listener, so that a port in use or a bad
// certificate fails before anything is served.
func (s *Server) Listen() error {
	for _, lc := range s.cfg.Listeners {
		tlsConf, files, err := serverTLS(lc, s.cfg.DataDir, s.log, s.metrics)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		ln, err := net.Listen("tcp", lc.Address)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		srv := &http.Server{
			Handler:           s.handler,
			TLSConfig:         tlsConf,
			ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout.D(),
			IdleTimeout:       s.cfg.Server.IdleTimeout.D(),
			MaxHeaderBytes:    s.cfg.Server.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
			// Requests carry the name of the listener they arrived on,
			// which routes may be limited to.
			BaseContext: func(net.Listener) context.Context { return WithListener(context.Background(), lc.Name) },
		}
		s.listeners = append(s.listeners, &listener{name: lc.Name, ln: ln, srv: srv, tls: tlsConf != nil, files: files})
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.ln.Close()
	}
	s.listeners = nil
}

// Addrs returns the bound address of each listener, by name.
func (s *Server) Addrs() map[string]net.Addr {
	m := make(map[string]net.Addr, len(s.listeners))
	for _, l := range s.listeners {
		m[l.name] = l.ln.Addr()
	}
	return m
}

// Serve serves every listener until ctx ends, then stops accepting, lets
// in-flight requests finish until the drain context ends, closes the
// connections of those that have not, and returns. It returns early with an
// error if a listener fails; the drain then begins at once.
//
// stopping is called once, as the drain begins, and returns the drain
// context: the deadline of the node's whole stop, so that what the caller
// closes afterwards shares it. A nil stopping drains for the configured
// shutdown timeout.
func (s *Server) Serve(ctx context.Context, stopping func() context.Context) error {
	errc := make(chan error, len(s.listeners))
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		scheme := "http"
		if l.tls {
			scheme = "https"
		}
		s.log.Info("listening", "listener", l.name, "url", scheme+"://"+l.ln.Addr().String())
		wg.Go(func() {
			var err error
			if l.tls {
				err = l.srv.ServeTLS(l.ln, "", "")
			} else {
				err = l.srv.Serve(l.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("listener %s: %w", l.name, err)
			}
		})
	}
	stopWatching := s.watchTLS(ctx)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	stopWatching()
	var stop context.Context
	if stopping != nil {
		stop = stopping()
	} else {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Server.ShutdownTimeout.D())
		defer cancel()
	}
	if d, ok := stop.Deadline(); ok {
		s.log.Info("shutting down: draining in-flight requests", "timeout", time.Until(d).Round(time.Millisecond).String())
	} else {
		s.log.Info("shutting down: draining in-flight requests")
	}
	// Every listener stops accepting at once, and drains until stop ends.
	var drains sync.WaitGroup
	for _, l := range s.listeners {
		drains.Go(func() {
			if e := l.srv.Shutdown(stop); e != nil {
				s.log.Warn("listener did not drain in time; closing it", "listener", l.name, "err", e)
				l.srv.Close()
			}
		})
	}
	drains.Wait()
	wg.Wait()
	s.routes.upstreams.closeIdle()
	s.rate.close()
	return err
}

type listenerKey struct{}

// WithListener returns a context for requests that arrived on the named
// listener. Listen gives every request its listener's; a handler served
// otherwise (Handler, in tests and embedding) may set it with this, else
// its requests match only routes that name no listeners.
func WithListener(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, listenerKey{}, name)
}

// listenerOf returns the name of the listener a request arrived on, or "".
func listenerOf(ctx context.Context) string {
	name, _ := ctx.Value(listenerKey{}).(string)
	return name
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return latchkey.Wrap(err, latchkey.EUNAVAILABLE, "The store is not reachable.")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
