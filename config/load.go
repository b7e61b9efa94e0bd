package config

import (
	"bytes"
	_ "embed"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// defaultName names the embedded default in messages.
const defaultName = "default.yaml (built in)"

// Environment variables that latchkey reads.
const (
	// EnvStoreDSN overrides store.dsn, so that a password need not be
	// written in the file.
	EnvStoreDSN = "LATCHKEY_STORE_DSN"
	// EnvAdminPassword is the first administrator's password; see Admin.
	EnvAdminPassword = "LATCHKEY_ADMIN_PASSWORD"
)

// Echo is the Route.Upstream of the built-in upstream that describes the
// caller.
const Echo = "echo"

// Options are what Load takes from outside the file.
type Options struct {
	// DataDir (the --data-dir flag) overrides data_dir. It is used as
	// given: a relative path is relative to the working directory.
	DataDir string
	// Listen (the --listen flag) overrides the address of the first
	// listener.
	Listen string
	// StoreDSN (the --store-dsn flag) selects PostgreSQL with this DSN,
	// like LATCHKEY_STORE_DSN, over which it wins.
	StoreDSN string
	// AuthMethods names the authentication methods this build implements;
	// a route may list only these.
	AuthMethods []string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Load reads the configuration at path, or the embedded default when path
// is "". It applies defaults, then the environment (LATCHKEY_STORE_DSN),
// then opts, and validates the result. Every problem found is returned at
// once, each an *Error, joined with errors.Join.
func Load(path string, opts Options) (*Config, error) {
	name, data := defaultName, defaultYAML
	if path != "" {
		name = path
		var err error
		if data, err = os.ReadFile(path); err != nil {
			msg := "cannot read the configuration file"
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				msg += ": " + pe.Err.Error()
			}
			return nil, &Error{File: path, Message: msg, Err: err}
		}
	}
	c, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	c.File = path
	c.setDefaults()
	if path != "" {
		c.resolvePaths(filepath.Dir(path))
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	dsn, origin := opts.StoreDSN, originStoreDSN
	if dsn == "" {
		dsn, origin = getenv(EnvStoreDSN), EnvStoreDSN
	}
	if dsn != "" {
		// A DSN given outside the file selects PostgreSQL, unless a file
		// given with --config says driver: sqlite (then Validate objects).
		c.Store.DSN = dsn
		c.src.origin["store.dsn"] = origin
		if path == "" || !c.src.has("store.driver") {
			c.Store.Driver = "postgres"
			c.src.origin["store.driver"] = origin
		}
	}
	if opts.DataDir != "" {
		c.DataDir = opts.DataDir
		c.src.origin["data_dir"] = originDataDir
	}
	if opts.Listen != "" {
		c.Listeners[0].Address = opts.Listen // setDefaults made at least one
		c.src.origin["listeners[0].address"] = originListen
	}
	if err := c.Validate(opts.AuthMethods); err != nil {
		return nil, err
	}
	return c, nil
}

// decode parses one YAML document into a Config, with every key known.
func decode(name string, data []byte) (*Config, error) {
	src := newSource(name, nil)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, &Error{File: name, Message: "the file is empty; give at least one key " +
			"(see docs/configuration.md), or leave out --config to run on the built-in default"}
	} else if err != nil {
		return nil, src.syntaxError(err)
	}
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
	case err != nil:
		return nil, src.syntaxError(err)
	default:
		return nil, &Error{File: name, Line: extra.Line, Message: "a second YAML document starts here; " +
			"a configuration file holds exactly one, so remove this \"---\" and what follows"}
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, &Error{File: name, Line: root.Line, Message: "the file holds no keys; give at least one " +
			"(see docs/configuration.md), or leave out --config to run on the built-in default"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: name, Line: root.Line, Message: "the top level must be a mapping with the keys " +
			strings.Join(knownKeys(reflect.TypeFor[Config]()), ", ") + ", not " + kindName(root)}
	}
	src.index(root, "", 0)
	c := &Config{src: src}
	kd := yaml.NewDecoder(bytes.NewReader(data))
	kd.KnownFields(true)
	if err := kd.Decode(c); err != nil {
		if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
			return nil, errors.Join(src.typeErrors(te)...)
		}
		return nil, src.syntaxError(err)
	}
	return c, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "the single value " + strconv.Quote(n.Value)
}

// setDefaults fills what the file leaves out. A key the file gives, even
// as "" or 0, keeps its value, and Validate judges it.
func (c *Config) setDefaults() {
	if c.src == nil {
		c.src = newSource("", nil)
	}
	s := c.src
	str := func(v *string, path, def string) {
		if *v == "" && !s.has(path) {
			*v = def
			s.origin[path] = originDefault
		}
	}
	dur := func(v *Duration, path string, def Duration) {
		if *v == 0 && !s.has(path) {
			*v = def
			s.origin[path] = originDefault
		}
	}
	str(&c.DataDir, "data_dir", "./latchkey-data")
	str(&c.Store.Driver, "store.driver", "sqlite")
	str(&c.Log.Format, "log.format", "text")
	str(&c.Log.Level, "log.level", "info")
	str(&c.Admin.Directory, "admin.directory", "LOCAL")
	str(&c.Admin.Username, "admin.username", "admin")
	dur(&c.Store.Timeout, "store.timeout", Duration(2*time.Second))
	dur(&c.Store.LastUseFlush, "store.last_use_flush", Duration(15*time.Second))
	dur(&c.Server.ReadHeaderTimeout, "server.read_header_timeout", Duration(10e9))
	dur(&c.Server.IdleTimeout, "server.idle_timeout", Duration(120e9))
	dur(&c.Server.ShutdownTimeout, "server.shutdown_timeout", Duration(15e9))
	num := func(v *int, path string, def int) {
		if *v == 0 && !s.has(path) {
			*v = def
			s.origin[path] = originDefault
		}
	}
	num(&c.Server.MaxHeaderBytes, "server.max_header_bytes", 65536)
	str(&c.Sessions.Cookie, "sessions.cookie", "wtsession")
	dur(&c.Sessions.IdleTimeout, "sessions.idle_timeout", Duration(time.Hour))
	dur(&c.Sessions.Lifetime, "sessions.lifetime", Duration(24*time.Hour))
	str(&c.APIKeys.Header, "api_keys.header", "X-Api-Key")
	num(&c.APIKeys.MaxDays, "api_keys.max_days", 365)
	num(&c.APIKeys.DefaultDays, "api_keys.default_days", 30)
	dur(&c.APIKeys.UsageFlush, "api_keys.usage_flush", Duration(10*time.Second))
	str(&c.Login.Path, "login.path", "/api/v1/login")
	str(&c.Login.LogoutPath, "login.logout_path", "/api/v1/logout")
	str(&c.Login.APIKeyPath, "login.api_key_path", "/api/v1/api_keys")
	str(&c.Login.AdminPath, "login.admin_path", "/api/v1")
	num(&c.Passwords.MinLength, "passwords.min_length", 8)
	dur(&c.Passwords.CacheTTL, "passwords.cache_ttl", Duration(5*time.Minute))
	num(&c.Caches.TokensMiB, "caches.tokens_mib", 32)
	num(&c.Caches.PrincipalsMiB, "caches.principals_mib", 8)
	num(&c.Caches.CredentialEntries, "caches.credential_entries", 100_000)
	num(&c.Login.MaxFailures, "login.max_failures", 10)
	num(&c.Login.MaxAddressFailures, "login.max_address_failures", 100)
	dur(&c.Login.FailureWindow, "login.failure_window", Duration(15*time.Minute))
	if !s.has("ui.enabled") {
		c.UI.Enabled = true
		s.origin["ui.enabled"] = originDefault
	}
	str(&c.UI.Prefix, "ui.prefix", "/ui/")
	c.jwtDefaults(str, dur)
	str(&c.Server.ForwardAuthPath, "server.forward_auth_path", "/auth/verify")
	str(&c.Certificates.Identity, "certificates.identity", "cn")
	str(&c.Certificates.Directory, "certificates.directory", "INTERNAL")
	str(&c.Certificates.ImpersonationHeader, "certificates.impersonation_header", "X-Qlik-User")
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{}}
		str(&c.Listeners[0].Address, "listeners[0].address", "127.0.0.1:8443")
	}
	for i := range c.Listeners {
		l, p := &c.Listeners[i], "listeners["+strconv.Itoa(i)+"]"
		name := "main"
		if i > 0 {
			name = "listener-" + strconv.Itoa(i+1)
		}
		str(&l.Name, p+".name", name)
		str(&l.TLS.MinVersion, p+".tls.min_version", "1.2")
		str(&l.TLS.ClientAuth, p+".tls.client_auth", "none")
		dur(&l.TLS.ReloadInterval, p+".tls.reload_interval", Duration(10*time.Second))
	}
	for i := range c.Routes {
		r, p := &c.Routes[i], "routes["+strconv.Itoa(i)+"]"
		str(&r.Name, p+".name", r.Prefix)
		dur(&r.Timeout, p+".timeout", Duration(time.Minute))
		str(&r.Errors, p+".errors", "latchkey")
		for j := range r.RateLimits {
			l, q := &r.RateLimits[j], p+".rate_limits["+strconv.Itoa(j)+"]"
			str(&l.Name, q+".name", l.Per)
			dur(&l.Window, q+".window", Duration(time.Minute))
		}
	}
	rl := &c.RateLimits
	str(&rl.Store, "rate_limits.store", "local")
	num(&rl.MaxKeys, "rate_limits.max_keys", 100_000)
	dur(&rl.Redis.Timeout, "rate_limits.redis.timeout", Duration(50*time.Millisecond))
	str(&rl.Redis.KeyPrefix, "rate_limits.redis.key_prefix", "latchkey:")
	num(&rl.Redis.Batch, "rate_limits.redis.batch", 64)
	dur(&rl.Redis.Retry, "rate_limits.redis.retry", Duration(time.Second))
	dur(&rl.KeyMaximum.Window, "rate_limits.key_maximum.window", Duration(time.Minute))
}

// resolvePaths makes the relative paths the file gives relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(v *string, path string) {
		if c.src.has(path) && *v != "" && !filepath.IsAbs(*v) {
			*v = filepath.Join(dir, *v)
		}
	}
	abs(&c.DataDir, "data_dir")
	for i := range c.JWT.Verifiers {
		for j := range c.JWT.Verifiers[i].Keys {
			abs(&c.JWT.Verifiers[i].Keys[j].File, "jwt.verifiers["+strconv.Itoa(i)+"].keys["+strconv.Itoa(j)+"].file")
		}
	}
	for i := range c.Listeners {
		p := "listeners[" + strconv.Itoa(i) + "].tls."
		abs(&c.Listeners[i].TLS.CertFile, p+"cert_file")
		abs(&c.Listeners[i].TLS.KeyFile, p+"key_file")
		abs(&c.Listeners[i].TLS.ClientCAFile, p+"client_ca_file")
	}
}

// jwtDefaults fills what the jwt section leaves out.
func (c *Config) jwtDefaults(str func(*string, string, string), dur func(*Duration, string, Duration)) {
	j := &c.JWT
	for i := range j.Verifiers {
		v, p := &j.Verifiers[i], "jwt.verifiers["+strconv.Itoa(i)+"]"
		cloud := v.Profile == ProfileQlikCloud
		dur(&v.Leeway, p+".leeway", Duration(30*time.Second))
		if cloud {
			dur(&v.MaxLifetime, p+".max_lifetime", Duration(time.Hour))
			if v.Audience == nil && !c.src.has(p+".audience") {
				v.Audience = []string{QlikCloudAudience}
			}
		}
		str(&v.Claims.User, p+".claims.user", "sub")
		str(&v.Claims.DefaultDirectory, p+".claims.default_directory", "LOCAL")
		str(&v.Claims.Name, p+".claims.name", "name")
		str(&v.Claims.Email, p+".claims.email", "email")
		if v.Claims.Groups == nil && !c.src.has(p+".claims.groups") {
			v.Claims.Groups = []string{"group", "groups"}
		}
	}
	str(&j.Issuer.Algorithm, "jwt.issuer.algorithm", "ES256")
	str(&j.Issuer.Issuer, "jwt.issuer.issuer", "latchkey")
	str(&j.Issuer.Audience, "jwt.issuer.audience", "latchkey")
	dur(&j.Issuer.Lifetime, "jwt.issuer.lifetime", Duration(24*time.Hour))
	dur(&j.Issuer.RotateEvery, "jwt.issuer.rotate_every", Duration(720*time.Hour))
	str(&j.Session.CSRFCookie, "jwt.session.csrf_cookie", "_csrfToken")
	str(&j.Session.CSRFHeader, "jwt.session.csrf_header", "qlik-csrf-token")
	for _, v := range j.Verifiers {
		if v.Name == j.Session.Verifier {
			str(&j.Session.Directory, "jwt.session.directory", v.Claims.DefaultDirectory)
		}
	}
}

// The Qlik Cloud profile of a JWT verifier.
const (
	ProfileQlikCloud  = "qlik-cloud"
	QlikCloudAudience = "qlik.api/login/jwt-session"
)
