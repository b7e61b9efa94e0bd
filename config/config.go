// Package config reads, defaults and validates latchkey's YAML configuration.
//
// Load decodes with known-fields checking and validates every value before
// anything listens; each problem is reported as FILE:LINE: key: what to fix.
// The file's shape is documented in docs/configuration.md; with no file,
// latchkey runs on the embedded default (default.yaml).
package config

import "time"

// Config is the whole configuration of one latchkey node.
type Config struct {
	// DataDir holds the SQLite database and the generated TLS certificate.
	DataDir   string     `yaml:"data_dir"`
	Store     Store      `yaml:"store"`
	Log       Log        `yaml:"log"`
	Admin     Admin      `yaml:"admin"`
	Server    Server     `yaml:"server"`
	Sessions  Sessions   `yaml:"sessions"`
	APIKeys   APIKeys    `yaml:"api_keys"`
	Login     Login      `yaml:"login"`
	Listeners []Listener `yaml:"listeners"`
	Routes    []Route    `yaml:"routes"`

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
}

// Login configures the JSON login endpoints and the checks on unsafe
// requests that latchkey's own endpoints and cookie-authenticated requests get.
type Login struct {
	Path       string `yaml:"path"`         // default "/api/v1/login"
	LogoutPath string `yaml:"logout_path"`  // default "/api/v1/logout"
	APIKeyPath string `yaml:"api_key_path"` // prefix of the API key endpoints; default "/api/v1/api_keys"
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
}

// Duration is a time.Duration written in YAML as "90s", "15m" or "2h".
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
