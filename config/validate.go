package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// Validate checks every value and returns all problems at once, each an
// *Error that names the key and, for a loaded Config, the line or flag or
// environment variable it came from. authMethods names the authentication
// methods this build implements; routes may list only these.
func (c *Config) Validate(authMethods []string) error {
	v := &validator{s: c.src}
	if c.DataDir == "" {
		v.add("data_dir", "must not be empty; give a directory such as ./latchkey-data")
	}
	v.store(c.Store)
	v.oneOf("log.format", c.Log.Format, "text", "json")
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.name("admin.directory", "admin directory", c.Admin.Directory)
	v.name("admin.username", "admin username", c.Admin.Username)
	v.server(c.Server)
	v.certificates(c.Certificates)
	v.sessions(c.Sessions)
	v.apiKeys(c.APIKeys)
	v.login(c.Login)
	if n := c.Passwords.MinLength; n < 8 || n > 256 {
		v.add("passwords.min_length", "%d is out of range; use 8 to 256", n)
	}
	if d := c.Passwords.CacheTTL.D(); d < time.Second || d > time.Hour {
		v.add("passwords.cache_ttl", "%s is out of range; use 1s to 1h", d)
	}
	if n := c.Caches.CredentialEntries; n < 1000 || n > 10_000_000 {
		v.add("caches.credential_entries", "%d is out of range; use 1000 to 10000000", n)
	}
	if d := c.Store.LastUseFlush.D(); d < time.Second || d > time.Hour {
		v.add("store.last_use_flush", "%s is out of range; use 1s to 1h", d)
	}
	for path, n := range map[string]int{"caches.tokens_mib": c.Caches.TokensMiB, "caches.principals_mib": c.Caches.PrincipalsMiB} {
		if n < 0 || n > 4096 {
			v.add(path, "%d is out of range; use 0 (remember nothing) to 4096 MiB", n)
		}
	}
	v.jwt(c.JWT)
	names, addrs := map[string]int{}, map[string]int{}
	for i, l := range c.Listeners {
		v.listener(fmt.Sprintf("listeners[%d]", i), i, l, names, addrs)
	}
	names, prefixes := map[string]int{}, map[string]int{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		v.route(p, i, r, names, prefixes, authMethods)
		v.routeJWT(p, r, c.JWT.Verifiers)
		v.routeScope(p, r, c.Listeners)
		v.routeRateLimits(p, r)
	}
	v.rateLimits(c.RateLimits)
	v.forwardAuth(c)
	v.ui(c)
	return errors.Join(v.errs...)
}

// AdminCollections are the collections of the admin API, each served at
// login.admin_path/<name> and below.
var AdminCollections = []string{"users", "roles", "abilities", "sessions", "audit"}

// FixedPaths are the endpoints latchkey serves at paths of its own, whatever
// the configuration says: health, readiness, metrics, the JWKS of its own
// tokens and the OpenAPI document of its own endpoints.
var FixedPaths = []string{"/healthz", "/readyz", "/metrics", "/.well-known/jwks.json", "/api/v1/openapi.json"}

// forwardAuth checks server.forward_auth_path. The gateway answers it, and
// every path below it (Envoy appends the original path), before any route or
// other endpoint, so no route or endpoint may lie at or below it, nor may it
// lie below the API key endpoints' prefix.
func (v *validator) forwardAuth(c *Config) {
	fa := c.Server.ForwardAuthPath
	if fa == "-" || fa == "" {
		return
	}
	const key = "server.forward_auth_path"
	if !strings.HasPrefix(fa, "/") || path.Clean(fa) != fa || fa == "/" {
		v.add(key, "%q must be a clean absolute path other than /, such as /auth/verify, or - for none", fa)
		return
	}
	within := func(p, base string) bool { return p == base || strings.HasPrefix(p, base+"/") }
	type endpoint struct{ what, path string }
	var taken []endpoint
	for _, p := range FixedPaths {
		taken = append(taken, endpoint{"latchkey's own " + p, p})
	}
	for _, e := range []endpoint{
		{"login.path", c.Login.Path}, {"login.logout_path", c.Login.LogoutPath}, {"login.api_key_path", c.Login.APIKeyPath},
		{"jwt.login.path", c.JWT.Login.Path}, {"jwt.session.path", c.JWT.Session.Path},
	} {
		if e.path != "" {
			taken = append(taken, e)
		}
	}
	if a := c.Login.AdminPath; a != "-" && a != "" {
		for _, p := range AdminCollections {
			if within(path.Join(a, p), fa) {
				taken = append(taken, endpoint{"the admin API (login.admin_path " + a + ")", path.Join(a, p)})
				break
			}
		}
	}
	for i, r := range c.Routes {
		if r.Prefix != "" {
			taken = append(taken, endpoint{fmt.Sprintf("routes[%d] (prefix %s)", i, r.Prefix), normPrefix(r.Prefix)})
		}
	}
	for _, e := range taken {
		if within(e.path, fa) {
			v.add(key, "%q would take the requests of %s; choose a path that no route or endpoint uses, such as /auth/verify", fa, e.what)
		}
	}
	if k := c.Login.APIKeyPath; k != "" && fa != k && within(fa, k) {
		v.add(key, "%q lies below login.api_key_path (%s), whose endpoints it would take; choose another path", fa, k)
	}
}

// ui checks the pages' section. The gateway answers every path at or below
// ui.prefix itself, on the listeners that serve the pages, before the
// routes; so no route or endpoint of latchkey's may lie there, and the
// prefix may not lie below an endpoint that takes every path under it (the
// API key endpoints, forward-auth, the admin API's collections).
func (v *validator) ui(c *Config) {
	u := c.UI
	for i, name := range u.Listeners {
		if !slices.ContainsFunc(c.Listeners, func(l Listener) bool { return l.Name == name }) {
			v.add(fmt.Sprintf("ui.listeners[%d]", i), "%q is not the name of a listener", name)
		}
	}
	const key = "ui.prefix"
	p := u.Prefix
	clean := path.Clean(p)
	plain := strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") == ""
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || p == "/" || clean+"/" != p || !plain {
		v.add(key, "%q must be a clean absolute path with a slash at both ends, other than /, of letters, digits and -._~, such as /ui/", p)
		return
	}
	if !u.Enabled {
		return
	}
	within := func(p, base string) bool { return p == base || strings.HasPrefix(p, base+"/") }
	type endpoint struct {
		what, path string
		below      bool // the endpoint takes every path below it too
	}
	var taken []endpoint
	for _, f := range FixedPaths {
		taken = append(taken, endpoint{"latchkey's own " + f, f, false})
	}
	for _, e := range []endpoint{
		{"login.path", c.Login.Path, false}, {"login.logout_path", c.Login.LogoutPath, false},
		{"login.api_key_path", c.Login.APIKeyPath, true},
		{"jwt.login.path", c.JWT.Login.Path, false}, {"jwt.session.path", c.JWT.Session.Path, false},
	} {
		if e.path != "" {
			taken = append(taken, e)
		}
	}
	if fa := c.Server.ForwardAuthPath; fa != "-" && fa != "" {
		taken = append(taken, endpoint{"server.forward_auth_path", fa, true})
	}
	if a := c.Login.AdminPath; a != "-" && a != "" {
		for _, col := range AdminCollections {
			taken = append(taken, endpoint{"the admin API (login.admin_path " + a + ")", path.Join(a, col), true})
		}
	}
	for i, r := range c.Routes {
		if r.Prefix != "" {
			taken = append(taken, endpoint{fmt.Sprintf("routes[%d] (prefix %s)", i, r.Prefix), normPrefix(r.Prefix), false})
		}
	}
	reported := map[string]bool{} // the admin API once, not per collection
	for _, e := range taken {
		if reported[e.what] {
			continue
		}
		if within(e.path, clean) || e.below && within(clean, e.path) {
			reported[e.what] = true
		}
		switch {
		case within(e.path, clean):
			v.add(key, "%q would take the requests of %s; choose a prefix that no route or endpoint uses, such as /ui/", p, e.what)
		case e.below && within(clean, e.path):
			v.add(key, "%q lies below %s (%s), which answers every path there; choose another prefix", p, e.what, e.path)
		}
	}
}

type validator struct {
	s    *source
	errs []error
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, v.s.errorAt(path, format, args...))
}

func (v *validator) oneOf(path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		last := len(allowed) - 1
		v.add(path, "%q is not allowed; use %s or %s", value, strings.Join(allowed[:last], ", "), allowed[last])
	}
}

func (v *validator) name(path, what, value string) {
	if err := latchkey.ValidateName(what, value); err != nil {
		msg := err.Error()
		if e := (*latchkey.Error)(nil); errors.As(err, &e) {
			msg = e.Message
		}
		v.add(path, "%s", strings.TrimSuffix(strings.ToLower(msg[:1])+msg[1:], "."))
	}
}

// store never prints the DSN: it may hold a password.
func (v *validator) store(s Store) {
	switch s.Driver {
	case "sqlite":
		if s.DSN != "" {
			v.add("store.dsn", "is only for driver postgres (SQLite keeps its data in data_dir); "+
				"remove it, or set store.driver: postgres")
		}
	case "postgres":
		if s.DSN == "" {
			v.add("store.dsn", "is required for driver postgres; set it here or in the environment variable %s",
				EnvStoreDSN)
		}
	default:
		v.add("store.driver", "%q is not a store driver; use sqlite or postgres", s.Driver)
	}
	if d := s.Timeout.D(); d < MinStoreTimeout || d > MaxStoreTimeout {
		v.add("store.timeout", "%s is out of range; use 10ms to 1m (the default is 2s)", d)
	}
}

// The range of store.timeout: long enough for a query across a network,
// short enough that a request never waits on a sick database for long.
const (
	MinStoreTimeout = 10 * time.Millisecond
	MaxStoreTimeout = time.Minute
)

// MinTLSReloadInterval is the shortest listeners[].tls.reload_interval:
// looking at the files costs a stat each, which every second is plenty.
const MinTLSReloadInterval = time.Second

func (v *validator) server(s Server) {
	for _, t := range []struct {
		key string
		d   Duration
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout},
		{"server.idle_timeout", s.IdleTimeout},
		{"server.shutdown_timeout", s.ShutdownTimeout},
	} {
		if t.d <= 0 {
			v.add(t.key, "must be more than 0, such as 10s")
		}
	}
	if s.MaxHeaderBytes < 4096 || s.MaxHeaderBytes > 1<<20 {
		v.add("server.max_header_bytes", "%d is out of range; use 4096 to 1048576 (the default is 65536)",
			s.MaxHeaderBytes)
	}
	for i, tp := range s.TrustedProxies {
		if _, err := ParseTrustedProxy(tp); err != nil {
			v.add(fmt.Sprintf("server.trusted_proxies[%d]", i), "%s", err.Error())
		}
	}
}

func (v *validator) sessions(s Sessions) {
	v.token("sessions.cookie", s.Cookie)
	if s.IdleTimeout <= 0 {
		v.add("sessions.idle_timeout", "must be more than 0, such as 1h")
	}
	if s.Lifetime <= 0 {
		v.add("sessions.lifetime", "must be more than 0, such as 24h")
	}
}

func (v *validator) apiKeys(k APIKeys) {
	v.token("api_keys.header", k.Header)
	if k.MaxDays < 1 || k.MaxDays > 3650 {
		v.add("api_keys.max_days", "%d is out of range; use 1 to 3650", k.MaxDays)
	}
	if k.DefaultDays < 1 || k.DefaultDays > k.MaxDays {
		v.add("api_keys.default_days", "%d is out of range; use 1 to max_days (%d)", k.DefaultDays, k.MaxDays)
	}
	if time.Duration(k.UsageFlush) < time.Second {
		v.add("api_keys.usage_flush", "%s is too short; use at least 1s", time.Duration(k.UsageFlush))
	}
}

func (v *validator) login(l Login) {
	for _, p := range []struct{ key, path string }{
		{"login.path", l.Path}, {"login.logout_path", l.LogoutPath}, {"login.api_key_path", l.APIKeyPath},
	} {
		if !strings.HasPrefix(p.path, "/") || path.Clean(p.path) != p.path {
			v.add(p.key, "%q must be a clean absolute path such as /api/v1/login", p.path)
		}
	}
	if l.AdminPath != "-" && (!strings.HasPrefix(l.AdminPath, "/") || path.Clean(l.AdminPath) != l.AdminPath) {
		v.add("login.admin_path", "%q must be a clean absolute path such as /api/v1, or - for no admin API", l.AdminPath)
	}
	for i, o := range l.AllowedOrigins {
		if o == "" || strings.ContainsAny(o, " /?#") && !strings.Contains(o, "://") {
			v.add(fmt.Sprintf("login.allowed_origins[%d]", i), "%q is not an origin; write host[:port] or scheme://host[:port]", o)
		}
	}
	if l.MaxFailures < 1 {
		v.add("login.max_failures", "must be at least 1")
	}
	if l.MaxAddressFailures < 1 {
		v.add("login.max_address_failures", "must be at least 1")
	}
	if l.FailureWindow <= 0 {
		v.add("login.failure_window", "must be more than 0, such as 15m")
	}
}

// token checks an HTTP header or cookie name: letters, digits and -_.
func (v *validator) token(path, s string) {
	ok := s != ""
	for _, r := range s {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}
	if !ok {
		v.add(path, "%q must be a non-empty name of letters, digits, '-', '_' and '.'", s)
	}
}

func (v *validator) listener(p string, i int, l Listener, names, addrs map[string]int) {
	if l.Name == "" {
		v.add(p+".name", "must not be empty; leave it out for a default name")
	} else if j, dup := names[l.Name]; dup {
		v.add(p+".name", "%q is also the name of listeners[%d]; give each listener its own name", l.Name, j)
	} else {
		names[l.Name] = i
	}
	if msg := checkAddress(l.Address); msg != "" {
		v.add(p+".address", "%s", msg)
	} else if j, dup := addrs[l.Address]; dup {
		v.add(p+".address", "%q is also the address of listeners[%d]; two listeners cannot share one", l.Address, j)
	} else if !strings.HasSuffix(l.Address, ":0") {
		addrs[l.Address] = i
	}
	t := l.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.add(p+".tls.cert_file", "is set but key_file is not; give both, or neither for a self-signed certificate")
	case t.KeyFile != "" && t.CertFile == "":
		v.add(p+".tls.key_file", "is set but cert_file is not; give both, or neither for a self-signed certificate")
	}
	if t.InsecurePlainHTTP && (t.CertFile != "" || t.KeyFile != "") {
		v.add(p+".tls.insecure_plain_http", "serves plain HTTP, so cert_file and key_file would be unused; "+
			"remove either them or insecure_plain_http")
	}
	v.oneOf(p+".tls.min_version", t.MinVersion, "1.2", "1.3")
	v.oneOf(p+".tls.client_auth", t.ClientAuth, "none", "optional", "require")
	if d := t.ReloadInterval.D(); d < 0 || (d > 0 && d < MinTLSReloadInterval) {
		v.add(p+".tls.reload_interval", "%s is out of range; use %s or more, or 0 to reload only on SIGHUP (the default is 10s)",
			d, MinTLSReloadInterval)
	} else if v.s.has(p+".tls.reload_interval") && (t.InsecurePlainHTTP || t.CertFile == "" && t.ClientAuth == "none") {
		v.add(p+".tls.reload_interval", "would be unused: this listener reads no cert_file or client_ca_file to reload; remove it")
	}
	switch {
	case t.ClientAuth != "none" && t.ClientCAFile == "" && t.ClientAuth != "":
		v.add(p+".tls.client_ca_file", "is required with client_auth %s: give the PEM file of the CA that signs client certificates", t.ClientAuth)
	case t.ClientAuth == "none" && t.ClientCAFile != "":
		v.add(p+".tls.client_auth", "is none, so client_ca_file would be unused; set optional or require")
	case t.InsecurePlainHTTP && t.ClientAuth != "none":
		v.add(p+".tls.client_auth", "needs TLS; remove insecure_plain_http")
	}
}

// checkAddress returns what is wrong with a host:port, or "".
func checkAddress(addr string) string {
	if addr == "" {
		return "is missing; give host:port, such as 127.0.0.1:8443"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		reason := err.Error()
		if ae := (*net.AddrError)(nil); errors.As(err, &ae) {
			reason = ae.Err
		}
		return fmt.Sprintf("%q is not host:port (%s); write it like 127.0.0.1:8443, :8443 or [::1]:8443", addr, reason)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has port %q; the port must be a number from 1 to 65535 (0 picks a free one)", addr, port)
	}
	return ""
}

func (v *validator) route(p string, i int, r Route, names, prefixes map[string]int, methods []string) {
	if msg := checkPrefix(r.Prefix); msg != "" {
		v.add(p+".prefix", "%s", msg)
	} else if j, dup := prefixes[routeKey(r)]; dup {
		v.add(p+".prefix", "%q is the same prefix as routes[%d] (a trailing slash makes no difference) "+
			"for the same host, methods and listeners; give each once", r.Prefix, j)
	} else {
		prefixes[routeKey(r)] = i
	}
	if r.Name == "" && r.Prefix != "" {
		v.add(p+".name", "must not be empty; leave it out to use the prefix")
	} else if j, dup := names[r.Name]; dup && r.Name != "" {
		v.add(p+".name", "%q is also the name of routes[%d]; give each route its own name", r.Name, j)
	} else {
		names[r.Name] = i
	}
	if msg := checkUpstream(r.Upstream); msg != "" {
		v.add(p+".upstream", "%s", msg)
	}
	seen := map[string]int{}
	for j, m := range r.Auth {
		q := fmt.Sprintf("%s.auth[%d]", p, j)
		switch k, dup := seen[m]; {
		case !slices.Contains(methods, m):
			v.add(q, "unknown auth method %q; %s", m, known(methods))
		case dup:
			v.add(q, "%q is listed twice (also at auth[%d]); list each method once", m, k)
		default:
			seen[m] = j
		}
	}
	if r.AllowAnonymous && len(r.Auth) == 0 {
		v.add(p+".allow_anonymous", "allow_anonymous has no effect on a route with no auth methods; remove it")
	}
	for j, a := range r.Abilities {
		if err := latchkey.ValidateAbilityName(a); err != nil {
			v.add(fmt.Sprintf("%s.abilities[%d]", p, j), "%q is not an ability name: lowercase letters, digits, '.', '_' and '-'", a)
		}
	}
	if len(r.Abilities) > 0 && len(r.Auth) == 0 {
		v.add(p+".abilities", "a public route cannot require abilities; list auth methods too")
	}
}

func known(methods []string) string {
	if len(methods) == 0 {
		return "this version implements no auth methods yet, so auth must be []"
	}
	s := slices.Sorted(slices.Values(methods))
	return "this version knows " + strings.Join(s, ", ")
}

func checkPrefix(p string) string {
	switch {
	case p == "":
		return "is missing; give a path such as /api"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must start with \"/\"", p)
	case strings.ContainsAny(p, "?#"):
		return fmt.Sprintf("%q must be a path alone, without \"?\" or \"#\"", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Sprintf("%q must not contain a \"..\" segment", p)
	case path.Clean(p) != normPrefix(p) || strings.Contains(p, "//"):
		return fmt.Sprintf("%q is not a clean path; write %q", p, path.Clean(p))
	}
	return ""
}

// normPrefix drops a trailing slash: routes match with and without one.
func normPrefix(p string) string {
	if len(p) > 1 {
		return strings.TrimSuffix(p, "/")
	}
	return p
}

// checkUpstream returns what is wrong with an upstream, or "". A URL with
// a password is never printed.
func checkUpstream(s string) string {
	const want = "give echo or an absolute http:// or https:// URL"
	if s == "" {
		return "is missing; " + want
	}
	if s == Echo {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "is not a valid URL; " + want
	case u.User != nil:
		return "must not hold a user name or password: latchkey does not send them; " +
			"pass the caller's identity in headers instead"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is neither echo nor an http:// or https:// URL; %s", s, want)
	case u.Host == "":
		return fmt.Sprintf("%q has no host; write it like http://127.0.0.1:8080", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Sprintf("%q must not have a query or fragment (\"?…\" or \"#…\")", s)
	}
	return ""
}
