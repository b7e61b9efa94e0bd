// Package config reads, defaults and validates latchkey's YAML configuration.
//
// Load decodes with known-fields checking and validates every value before
// anything listens; each problem is reported as FILE:LINE: key: what to fix.
// The file's shape is documented in docs/configuration.md; with no file,
// latchkey runs on the embedded default (default.yaml).
package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Config is the whole configuration of one latchkey node.
type Config struct {
	// DataDir holds the SQLite database and the generated TLS certificate.
	DataDir  string   `yaml:"data_dir"`
	Store    Store    `yaml:"store"`
	Log      Log      `yaml:"log"`
	Admin    Admin    `yaml:"admin"`
	Server   Server   `yaml:"server"`
	Sessions Sessions `yaml:"sessions"`
	APIKeys  APIKeys  `yaml:"api_keys"`
	Login    Login    `yaml:"login"`
	// Passwords is the policy for passwords that users are given.
	Passwords Passwords `yaml:"passwords"`
	// Caches bounds the memory of what latchkey remembers of credentials
	// checked without the store.
	Caches Caches `yaml:"caches"`
	JWT    JWT    `yaml:"jwt"`
	// Certificates says how client certificates map to principals.
	Certificates Certificates `yaml:"certificates"`
	// UI is the pages for people: sign in, My settings, administration.
	UI UI `yaml:"ui"`
	// RateLimits say where the routes' rate limits are kept
	// (docs/rate-limits.md); each route gives its own limits.
	RateLimits RateLimits `yaml:"rate_limits"`
	Listeners  []Listener `yaml:"listeners"`
	Routes     []Route    `yaml:"routes"`

	// File is the path the configuration was read from; "" for the
	// embedded default.
	File string `yaml:"-"`

	// src records where each value came from, for messages with lines.
	src *source
}

// Store says where latchkey keeps its state.
type Store struct {
	// Driver is "sqlite" (the default: a file in the data directory) or
	// "postgres" (shared by any number of nodes).
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string. It may instead come from the
	// environment variable LATCHKEY_STORE_DSN, which wins over the file.
	DSN string `yaml:"dsn"`
	// Timeout bounds every call to the store (waiting for a connection,
	// connecting, and the statements); a request whose store call runs out
	// of it gets 503. Default 2s.
	Timeout Duration `yaml:"timeout"`
	// LastUseFlush is how often each node writes the last-use times of the
	// sessions and API keys it saw (one write for all); default 15s, 1s
	// to 1h.
	LastUseFlush Duration `yaml:"last_use_flush"`
}

// Log configures the structured log.
type Log struct {
	Format string `yaml:"format"` // "text" (default) or "json"
	Level  string `yaml:"level"`  // "debug", "info" (default), "warn" or "error"
}

// Admin names the first administrator, created on first start when the store
// has no user. Its password comes from LATCHKEY_ADMIN_PASSWORD or is random
// and printed once.
type Admin struct {
	Directory string `yaml:"directory"` // default "LOCAL"
	Username  string `yaml:"username"`  // default "admin"
}

// Server holds timeouts and limits shared by every listener.
type Server struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 10s
	IdleTimeout       Duration `yaml:"idle_timeout"`        // default 2m
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`    // default 15s: how long in-flight requests may drain
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`    // default 65536
	// ForwardAuthPath answers forward-auth requests of a proxy in front
	// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy
	// ext_authz); default /auth/verify; "-" serves none.
	ForwardAuthPath string `yaml:"forward_auth_path"`
	// TrustedProxies are the networks (CIDRs, or single IPs) of the proxies
	// in front whose X-Forwarded-For or Forwarded header names the client;
	// default none: the client is always the TCP peer.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// ParseTrustedProxy reads one entry of server.trusted_proxies: a CIDR such
// as 10.0.0.0/8 or a single IP address (a network of that one address).
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has a zone; write the address without %%%s", s, a.Zone())
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR such as 10.0.0.0/8", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has bits set beyond its prefix length; write %s", s, m)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// Sessions configures the sessions that a login opens (seed 004's
// wtsession cookie).
type Sessions struct {
	Cookie      string   `yaml:"cookie"`       // cookie name; default "wtsession"
	IdleTimeout Duration `yaml:"idle_timeout"` // ends a session unused this long; default 1h
	Lifetime    Duration `yaml:"lifetime"`     // absolute lifetime from login; default 24h
}

// APIKeys configures API keys.
type APIKeys struct {
	Header      string `yaml:"header"`       // header that carries a key; default "X-Api-Key" (any case on the wire)
	MaxDays     int    `yaml:"max_days"`     // the longest expiry a key may be given; default 365
	DefaultDays int    `yaml:"default_days"` // expiry when a request gives none; default 30
	// UsageFlush is how often each node writes the use of keys it counted
	// (one write for all keys); default 10s, at least 1s.
	UsageFlush Duration `yaml:"usage_flush"`
}

// Login configures the JSON login endpoints and the checks on unsafe
// requests that latchkey's own endpoints and cookie-authenticated requests get.
type Login struct {
	Path       string `yaml:"path"`         // default "/api/v1/login"
	LogoutPath string `yaml:"logout_path"`  // default "/api/v1/logout"
	APIKeyPath string `yaml:"api_key_path"` // prefix of the API key endpoints; default "/api/v1/api_keys"
	// AdminPath is the prefix of the admin API ({admin_path}/users, /roles,
	// /abilities, /sessions, /audit); default "/api/v1"; "-" serves none.
	AdminPath string `yaml:"admin_path"`
	// AllowedOrigins lists the Origin values accepted on POST, PUT, PATCH
	// and DELETE, as clients send them ("example.apps.journyx.com" or
	// "https://example.apps.journyx.com"). The request's own origin is
	// always accepted.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxFailures is how many failed sign-ins an account, or a client
	// address, may make per FailureWindow before further attempts get 429.
	MaxFailures        int      `yaml:"max_failures"`         // per account; default 10
	MaxAddressFailures int      `yaml:"max_address_failures"` // per client address; default 100
	FailureWindow      Duration `yaml:"failure_window"`       // default 15m
}

// UI configures the pages for people (package web): signing in, My
// settings with the API keys of seed 004, and the administration.
type UI struct {
	// Enabled serves the pages; default true.
	Enabled bool `yaml:"enabled"`
	// Prefix is where they live, with a slash at both ends; default "/ui/".
	Prefix string `yaml:"prefix"`
	// Listeners, when given, limits the pages to those listeners (by
	// name); default every listener.
	Listeners []string `yaml:"listeners"`
}

// Passwords is the policy for the passwords users are given, by an
// administrator or by themselves.
type Passwords struct {
	MinLength int `yaml:"min_length"` // default 8; 8 to 256
	// CacheTTL is how long a successful password check (HTTP Basic, a
	// sign-in) is remembered, so that the same password again costs no
	// argon2id; default 5m, 1s to 1h.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// Caches bounds, in MiB of heap, the memory of verified credentials: the
// tokens verified (every verifier's and latchkey's issuer's together) and
// the principals made for verified tokens and for client certificates
// (each of the two methods its own). What an entry weighs is the heap it
// really takes.
type Caches struct {
	TokensMiB     int `yaml:"tokens_mib"`     // default 32; 0 (remember none) to 4096
	PrincipalsMiB int `yaml:"principals_mib"` // default 8; 0 (remember none) to 4096
	// CredentialEntries bounds, in entries, each of the credential
	// service's caches (users, names, API keys, sessions, password checks)
	// and its counters of failed sign-ins; default 100000, 1000 to 10000000.
	CredentialEntries int `yaml:"credential_entries"`
}

// JWT configures JSON Web Tokens: the verifiers of tokens that others sign,
// the tokens latchkey signs itself, and the endpoints that hand out or take
// tokens.
type JWT struct {
	Verifiers []JWTVerifier `yaml:"verifiers"`
	Issuer    JWTIssuer     `yaml:"issuer"`
	Login     JWTLogin      `yaml:"login"`
	Session   JWTSession    `yaml:"session"`
}

// OwnVerifier is the name routes use for the tokens latchkey signs itself.
const OwnVerifier = "latchkey"

// JWTVerifier checks tokens signed by one party, such as an identity
// provider or the qs-jwt tool.
type JWTVerifier struct {
	Name string   `yaml:"name"`
	Keys []JWTKey `yaml:"keys"`
	// Algorithms lists the accepted "alg" values (RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512).
	// Each key is used only with the algorithms of its own family.
	Algorithms []string `yaml:"algorithms"`
	// Audience, when given, must contain the token's "aud" (one of them).
	Audience []string `yaml:"audience"`
	// Issuer, when given, must equal the token's "iss".
	Issuer string `yaml:"issuer"`
	// Leeway allows for clock skew on exp, nbf and iat; default 30s.
	Leeway Duration `yaml:"leeway"`
	// MaxLifetime, when given, refuses tokens whose exp lies further than
	// this after nbf (or iat).
	MaxLifetime Duration `yaml:"max_lifetime"`
	// Profile "qlik-cloud" requires Qlik Cloud's claims: a kid header, iss,
	// aud, sub, subType, name, email, email_verified, jti, iat, nbf and exp;
	// its audience defaults to qlik.api/login/jwt-session and its
	// max_lifetime to 1h.
	Profile string    `yaml:"profile"`
	Claims  JWTClaims `yaml:"claims"`
}

// JWTKey is one source of verification keys: exactly one field is set.
type JWTKey struct {
	File    string `yaml:"file"`     // PEM file: certificate or public key
	PEM     string `yaml:"pem"`      // the same, inline
	JWKSURL string `yaml:"jwks_url"` // a JWK Set, fetched and refreshed in the background
	// SecretEnv names the environment variable that holds an HMAC secret
	// (for HS256/384/512), so that the secret stays out of the file.
	SecretEnv string `yaml:"secret_env"`
	// KeyID, for a file, pem or secret, is the "kid" the key answers to;
	// empty means any token (with or without a kid) may use it.
	KeyID string `yaml:"kid"`
}

// JWTClaims names the claims that make the principal.
type JWTClaims struct {
	User             string   `yaml:"user"`              // default "sub"
	Directory        string   `yaml:"directory"`         // claim of the user directory; default none
	DefaultDirectory string   `yaml:"default_directory"` // when the token has no directory; default LOCAL
	Name             string   `yaml:"name"`              // default "name"
	Email            string   `yaml:"email"`             // default "email"
	Groups           []string `yaml:"groups"`            // default [group, groups]
	// Extra names other claims to copy onto the principal (string values,
	// or numbers and booleans as text).
	Extra []string `yaml:"extra"`
}

// JWTIssuer configures the tokens latchkey signs (JWT login). Keys live in
// the store, so every node signs and verifies with the same set.
type JWTIssuer struct {
	Algorithm   string   `yaml:"algorithm"`    // ES256 (default), EdDSA or RS256
	Issuer      string   `yaml:"issuer"`       // "iss"; default "latchkey"
	Audience    string   `yaml:"audience"`     // "aud"; default "latchkey"
	Lifetime    Duration `yaml:"lifetime"`     // default 24h
	RotateEvery Duration `yaml:"rotate_every"` // a new signing key this often; default 720h
}

// JWTLogin is the credential login that returns a JWT (seed 002).
type JWTLogin struct {
	// Path of POST {"email","password"} → {"token","user"}; "" (the
	// default) serves no such endpoint. Seed 002 uses /api/Account/login.
	Path string `yaml:"path"`
}

// JWTSession is the exchange of a JWT for a session (seed 000, Qlik Cloud).
type JWTSession struct {
	// Path of POST with "Authorization: Bearer <JWT>"; "" (the default)
	// serves no such endpoint. Qlik Cloud uses /login/jwt-session.
	Path string `yaml:"path"`
	// Verifier names the verifier that checks the tokens.
	Verifier string `yaml:"verifier"`
	// Directory holds the users that the exchange creates on first sign-in
	// (their username is the token's user claim); default the verifier's
	// default_directory.
	Directory  string `yaml:"directory"`
	CSRFCookie string `yaml:"csrf_cookie"` // default "_csrfToken"
	CSRFHeader string `yaml:"csrf_header"` // default "qlik-csrf-token"
}

// Listener is one address latchkey serves.
type Listener struct {
	Name    string `yaml:"name"`    // default "main" for the first, "listener-N" after
	Address string `yaml:"address"` // host:port
	TLS     TLS    `yaml:"tls"`
}

// TLS configures a listener's transport security.
type TLS struct {
	// CertFile and KeyFile are PEM files; both or neither. Neither means a
	// self-signed certificate that latchkey generates once in the data
	// directory (for development).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
	// InsecurePlainHTTP serves plain HTTP instead of TLS. Credentials then
	// cross the network in the clear: only for a trusted network, such as
	// behind a TLS-terminating proxy on the same host.
	InsecurePlainHTTP bool `yaml:"insecure_plain_http"`
	// ClientCAFile holds the PEM certificate(s) of the CA that signs
	// client certificates.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is "none" (default), "optional" (a certificate, if sent,
	// must verify against client_ca_file) or "require" (no connection
	// without one).
	ClientAuth string `yaml:"client_auth"`
	// ReloadInterval is how often the gateway looks at cert_file, key_file
	// and client_ca_file and reloads them when they changed (default 10s);
	// 0 leaves reloading to SIGHUP.
	ReloadInterval Duration `yaml:"reload_interval"`
}

// Certificates maps verified client certificates to principals (the cert
// method), as Qlik's QRS does on port 4242 (seed 003).
type Certificates struct {
	// Identity is what names the user: "cn" (default, the subject's common
	// name), "san-email", "san-dns", "san-uri" (the first of those SANs)
	// or "fingerprint" (hex SHA-256 of the certificate).
	Identity string `yaml:"identity"`
	// Directory is the user directory of certificate principals; default
	// INTERNAL.
	Directory string `yaml:"directory"`
	// Trusted lists the certificates that may act as the user named in
	// the impersonation header: "cn:NAME" or "sha256:HEX". Every other
	// request has the header stripped and ignored.
	Trusted []string `yaml:"trusted"`
	// ImpersonationHeader is the header a trusted certificate names its
	// user in; default X-Qlik-User ("UserDirectory=X; UserId=Y").
	ImpersonationHeader string `yaml:"impersonation_header"`
}

// Route sends requests whose path starts with Prefix to Upstream.
type Route struct {
	Name   string `yaml:"name"`   // default: the prefix
	Prefix string `yaml:"prefix"` // starts with "/"; matched with and without a trailing slash
	// Upstream is "echo" (the built-in upstream that describes the caller) or
	// an http:// or https:// URL.
	Upstream    string `yaml:"upstream"`
	StripPrefix bool   `yaml:"strip_prefix"` // remove Prefix before forwarding
	// Auth lists the authentication methods the route accepts. An empty
	// list makes the route public: every request is anonymous.
	Auth []string `yaml:"auth"`
	// AllowAnonymous lets requests without any credentials through, as
	// anonymous, on a route that lists methods. Bad credentials are refused
	// all the same.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// Abilities lists abilities the principal must all hold (else 403).
	Abilities []string `yaml:"abilities"`
	// JWTVerifiers names the verifiers the jwt method uses on this route,
	// tried in order; "latchkey" is latchkey's own tokens. Default: every
	// configured verifier, then latchkey.
	JWTVerifiers []string `yaml:"jwt_verifiers"`
	// Xrfkey requires the Xrfkey query parameter and an equal X-Qlik-Xrfkey
	// header (16 of [0-9A-Za-z]) on every request, else 403.
	Xrfkey bool `yaml:"xrfkey"`
	// StripXrfkey removes the Xrfkey parameter before the upstream.
	StripXrfkey bool `yaml:"strip_xrfkey"`
	// Host, when given, limits the route to requests for that host (the
	// port is ignored; compared case-insensitively).
	Host string `yaml:"host"`
	// Methods, when given, limits the route to those HTTP methods.
	Methods []string `yaml:"methods"`
	// Listeners, when given, limits the route to those listeners (by name).
	Listeners []string `yaml:"listeners"`
	// Timeout bounds the wait for the upstream's response headers;
	// default 60s. Bodies stream without a limit.
	Timeout Duration `yaml:"timeout"`
	// UpstreamJWT passes the principal to the upstream also as a
	// short-lived JWT signed by latchkey, in X-Latchkey-Jwt.
	UpstreamJWT bool `yaml:"upstream_jwt"`
	// RateLimits are the route's limits; every one that applies to a
	// request is checked, and the tightest answers.
	RateLimits []RateLimit `yaml:"rate_limits"`
	// Errors is the shape of the route's rate-limit refusals: latchkey
	// (default), qlik-cloud or journyx (see ErrorShapes).
	Errors string `yaml:"errors"`
}

// RateLimit is one limit of a route: Requests per Window, with Burst more
// at once, for each subject that Per names.
type RateLimit struct {
	// Name names the limit in the RateLimit headers; default: Per. The
	// names of one route's limits differ.
	Name string `yaml:"name"`
	// Per is what has its own budget: route (the whole route), credential
	// (an API key, session, token or certificate), user, or client (the
	// address after server.trusted_proxies). Anonymous requests count by
	// client address for credential and user.
	Per      string   `yaml:"per"`
	Requests int      `yaml:"requests"`
	Window   Duration `yaml:"window"` // default 1m
	Burst    int      `yaml:"burst"`  // default 0
}

// The values of RateLimit.Per.
const (
	PerRoute      = "route"
	PerCredential = "credential"
	PerUser       = "user"
	PerClient     = "client"
)

// ErrorShapes are the values of Route.Errors: latchkey's
// {"error":{code,message}}, Qlik Cloud's {"errors":[{code,title,detail,
// status}]} and Journyx's {"success":false,"error":{code,message}}.
var ErrorShapes = []string{"latchkey", "qlik-cloud", "journyx"}

// RateLimits are where rate limits are kept, for every route.
type RateLimits struct {
	// Store is local (default: each node counts alone) or redis (the
	// limits hold for the cluster).
	Store string         `yaml:"store"`
	Redis RateLimitRedis `yaml:"redis"`
	// MaxKeys bounds the budgets a node keeps in memory; default 100000.
	MaxKeys int `yaml:"max_keys"`
	// KeyMaximum is the most that a limit given to an API key may allow,
	// on average and at once (docs/rate-limits.md).
	KeyMaximum KeyMaximum `yaml:"key_maximum"`
}

// RateLimitRedis is the Redis of store: redis.
type RateLimitRedis struct {
	Address     string   `yaml:"address"`      // host:port
	PasswordEnv string   `yaml:"password_env"` // the environment variable that holds the password; default none
	DB          int      `yaml:"db"`           // default 0
	Timeout     Duration `yaml:"timeout"`      // the deadline of each call; default 50ms
	KeyPrefix   string   `yaml:"key_prefix"`   // default "latchkey:"
	Batch       int      `yaml:"batch"`        // the most requests a node takes at once; default 64
	Retry       Duration `yaml:"retry"`        // while Redis is away, how often it is tried; default 1s
}

// KeyMaximum is Requests per Window; Requests 0 means no maximum.
type KeyMaximum struct {
	Requests int      `yaml:"requests"`
	Window   Duration `yaml:"window"` // default 1m
}

// Duration is a time.Duration written in YAML as "90s", "15m" or "2h".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
