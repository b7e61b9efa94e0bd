package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var methods = []string{"jwt", "basic", "session", "apikey"}

// env returns a Getenv that sees only vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func opts() Options { return Options{AuthMethods: methods, Getenv: env(nil)} }

// problems flattens a joined error into its *Errors; it fails the test on
// any error of another type.
func problems(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not a *config.Error", err, err)
		}
		out = append(out, e)
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestDefault(t *testing.T) {
	c, err := Load("", opts())
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	want := &Config{
		DataDir: "./latchkey-data",
		Store:   Store{Driver: "sqlite", Timeout: Duration(2 * time.Second), LastUseFlush: Duration(15 * time.Second)},
		Log:     Log{Format: "text", Level: "info"},
		Admin:   Admin{Directory: "LOCAL", Username: "admin"},
		Server: Server{ReadHeaderTimeout: Duration(10 * time.Second), IdleTimeout: Duration(2 * time.Minute),
			ShutdownTimeout: Duration(15 * time.Second), MaxHeaderBytes: 65536, ForwardAuthPath: "/auth/verify"},
		Certificates: Certificates{Identity: "cn", Directory: "INTERNAL", ImpersonationHeader: "X-Qlik-User"},
		Sessions:     Sessions{Cookie: "wtsession", IdleTimeout: Duration(time.Hour), Lifetime: Duration(24 * time.Hour)},
		APIKeys:      APIKeys{Header: "X-Api-Key", MaxDays: 365, DefaultDays: 30, UsageFlush: Duration(10 * time.Second)},
		Login: Login{Path: "/api/v1/login", LogoutPath: "/api/v1/logout", APIKeyPath: "/api/v1/api_keys", AdminPath: "/api/v1",
			MaxFailures: 10, MaxAddressFailures: 100, FailureWindow: Duration(15 * time.Minute)},
		Passwords: Passwords{MinLength: 8, CacheTTL: Duration(5 * time.Minute)},
		Caches:    Caches{TokensMiB: 32, PrincipalsMiB: 8, CredentialEntries: 100_000},
		JWT: JWT{Issuer: JWTIssuer{Algorithm: "ES256", Issuer: "latchkey", Audience: "latchkey",
			Lifetime: Duration(24 * time.Hour), RotateEvery: Duration(720 * time.Hour)},
			Session: JWTSession{CSRFCookie: "_csrfToken", CSRFHeader: "qlik-csrf-token"}},
		UI: UI{Enabled: true, Prefix: "/ui/"},
		RateLimits: RateLimits{Store: "local", MaxKeys: 100_000, KeyMaximum: KeyMaximum{Window: Duration(time.Minute)},
			Redis: RateLimitRedis{Timeout: Duration(50 * time.Millisecond), KeyPrefix: "latchkey:", Batch: 64, Retry: Duration(time.Second)}},
		Listeners: []Listener{{Name: "main", Address: "127.0.0.1:8443", TLS: TLS{MinVersion: "1.2", ClientAuth: "none", ReloadInterval: Duration(10 * time.Second)}}},
		Routes:    []Route{{Name: "/", Prefix: "/", Upstream: Echo, Auth: []string{"session", "basic", "apikey"}, AllowAnonymous: true, Timeout: Duration(time.Minute), Errors: "latchkey"}},
	}
	want.src = c.src
	if !reflect.DeepEqual(c, want) {
		t.Errorf("default config\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(methods); err != nil {
		t.Errorf("Validate on the default: %v", err)
	}
	// The built-in defaults and default.yaml must agree: a file that gives
	// almost nothing gets what default.yaml spells out.
	m, err := Load("testdata/minimal.yaml", opts())
	if err != nil {
		t.Fatal(err)
	}
	m.Log.Level, m.Routes, m.File, m.src = "info", c.Routes, "", c.src
	if !reflect.DeepEqual(m, c) {
		t.Errorf("defaults and default.yaml disagree\n got %+v\nwant %+v", m, c)
	}
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml", opts())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"File", c.File, "testdata/full.yaml"},
		{"data_dir (relative to the file)", c.DataDir, filepath.Join("testdata", "data")},
		{"cert_file (relative to the file)", c.Listeners[0].TLS.CertFile, filepath.Join("testdata", "certs", "server.pem")},
		{"key_file (absolute)", c.Listeners[0].TLS.KeyFile, "/etc/latchkey/server-key.pem"},
		{"store.driver", c.Store.Driver, "postgres"},
		{"listeners[1].name", c.Listeners[1].Name, "listener-2"},
		{"listeners[1].tls.min_version", c.Listeners[1].TLS.MinVersion, "1.2"},
		{"routes[0].name", c.Routes[0].Name, "qrs"},
		{"routes[1].name", c.Routes[1].Name, "/whoami"},
		{"idle_timeout", c.Server.IdleTimeout.String(), "1m30s"},
		{"shutdown_timeout", c.Server.ShutdownTimeout.String(), "1m30s"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	if !c.Listeners[1].TLS.InsecurePlainHTTP || !c.Routes[0].AllowAnonymous || !c.Routes[0].StripPrefix {
		t.Errorf("booleans not read: %+v %+v", c.Listeners[1], c.Routes[0])
	}
	if !reflect.DeepEqual(c.Routes[0].Auth, []string{"jwt", "basic"}) {
		t.Errorf("auth = %q", c.Routes[0].Auth)
	}
	// No listeners in the file: one "main" on the default address.
	c, err = Load("testdata/no_listeners.yaml", opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 1 || c.Listeners[0].Name != "main" || c.Listeners[0].Address != "127.0.0.1:8443" {
		t.Errorf("listeners = %+v", c.Listeners)
	}
	if c.DataDir != "./latchkey-data" {
		t.Errorf("default data_dir = %q, want ./latchkey-data as given (not resolved)", c.DataDir)
	}
}

type wantErr struct {
	file string // "" means the fixture itself
	line int
	key  string
	msg  string // a substring of the message
}

func TestErrors(t *testing.T) {
	const inv = "testdata/invalid.yaml"
	tests := []struct {
		file string
		opts Options
		want []wantErr
	}{
		{"testdata/empty.yaml", opts(), []wantErr{{"", 0, "", "the file is empty"}}},
		{"testdata/comments_only.yaml", opts(), []wantErr{{"", 0, "", "the file is empty"}}},
		{"testdata/null_document.yaml", opts(), []wantErr{{"", 1, "", "holds no keys"}}},
		{"testdata/two_documents.yaml", opts(), []wantErr{{"", 3, "", "second YAML document"}}},
		{"testdata/syntax_error.yaml", opts(), []wantErr{{"", 2, "", "YAML syntax"}}},
		{"testdata/top_level_list.yaml", opts(), []wantErr{{"", 1, "", "must be a mapping with the keys admin, api_keys, caches, certificates, data_dir, jwt"}}},
		{"testdata/unknown_top.yaml", opts(), []wantErr{{"", 2, "listner",
			"unknown key (known keys here: admin, api_keys, caches, certificates, data_dir, jwt, listeners, log, login, passwords, rate_limits, routes, server, sessions, store, ui)"}}},
		{"testdata/unknown_nested.yaml", opts(), []wantErr{
			{"", 6, "listeners[0].tls.foo", "unknown key (known keys here: cert_file, client_auth, client_ca_file, insecure_plain_http, key_file, min_version, reload_interval)"},
			{"", 11, "routes[0].stripprefix", "unknown key (known keys here: abilities, allow_anonymous, auth, errors, host, jwt_verifiers, listeners, methods, name, prefix, rate_limits, strip_prefix, strip_xrfkey, timeout, upstream, upstream_jwt, xrfkey)"},
		}},
		{"testdata/duplicate_key.yaml", opts(), []wantErr{{"", 3, "listeners[0].address", "given twice (first at line 2)"}}},
		{"testdata/type_errors.yaml", opts(), []wantErr{
			{"", 2, "server.shutdown_timeout", `"banana" is not a duration`},
			{"", 3, "server.idle_timeout", `"30" has no unit; write 30s`},
			{"", 4, "server.read_header_timeout", "must be a duration such as 90s, 15m or 2h, not a list"},
			{"", 5, "server.max_header_bytes", `must be a whole number, not "lots"`},
			{"", 7, "listeners[0].address", "must be a string, not a list"},
			{"", 9, "listeners[0].tls.insecure_plain_http", `must be true or false, not "maybe"`},
			{"", 13, "routes[0].auth[1]", "must be a string, not a list"},
		}},
		{"testdata/aliases.yaml", opts(), []wantErr{ // the type tells an alias's paths apart
			{"", 2, "admin.level", "unknown key (known keys here: directory, username)"},
			{"", 11, "routes[1].auth[1]", "must be a string, not a mapping"},
		}},
		{"testdata/store_bad_driver.yaml", opts(), []wantErr{{"", 2, "store.driver", `"mysql" is not a store driver`}}},
		{"testdata/store_timeout.yaml", opts(), []wantErr{{"", 3, "store.timeout", "5ms is out of range; use 10ms to 1m"}}},
		{"testdata/forward_auth_clash.yaml", opts(), []wantErr{
			{"", 2, "server.forward_auth_path", `"/api" would take the requests of latchkey's own /api/v1/openapi.json`},
			{"", 2, "server.forward_auth_path", `"/api" would take the requests of login.path`},
			{"", 2, "server.forward_auth_path", `would take the requests of login.logout_path`},
			{"", 2, "server.forward_auth_path", `would take the requests of login.api_key_path`},
			{"", 2, "server.forward_auth_path", `would take the requests of the admin API (login.admin_path /api/v1)`},
			{"", 2, "server.forward_auth_path", `would take the requests of routes[0] (prefix /api/v1/)`}}},
		{"testdata/forward_auth_fixed.yaml", opts(), []wantErr{
			{"", 2, "server.forward_auth_path", `"/metrics" would take the requests of latchkey's own /metrics`}}},
		{"testdata/forward_auth_under_keys.yaml", opts(), []wantErr{
			{"", 2, "server.forward_auth_path", `lies below login.api_key_path (/api/v1/api_keys)`}}},
		{"testdata/forward_auth_unclean.yaml", opts(), []wantErr{
			{"", 2, "server.forward_auth_path", `must be a clean absolute path`}}},
		{"testdata/ui_clash.yaml", opts(), []wantErr{
			{"", 3, "ui.listeners[1]", `"nope" is not the name of a listener`},
			{"", 2, "ui.prefix", `"/api/v1/" would take the requests of latchkey's own /api/v1/openapi.json`},
			{"", 2, "ui.prefix", `would take the requests of login.path`},
			{"", 2, "ui.prefix", `would take the requests of login.logout_path`},
			{"", 2, "ui.prefix", `would take the requests of login.api_key_path`},
			{"", 2, "ui.prefix", `would take the requests of the admin API (login.admin_path /api/v1)`},
			{"", 2, "ui.prefix", `would take the requests of routes[0] (prefix /api/v1/x)`}}},
		{"testdata/ui_below.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/api/v1/api_keys/ui/" lies below login.api_key_path (/api/v1/api_keys)`}}},
		{"testdata/ui_below_forward_auth.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/check/ui/" lies below server.forward_auth_path (/check)`}}},
		{"testdata/ui_forward_auth_inside.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/ui/" would take the requests of server.forward_auth_path`}}},
		{"testdata/ui_fixed.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/metrics/" would take the requests of latchkey's own /metrics`}}},
		{"testdata/ui_odd.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/{x}/" must be a clean absolute path with a slash at both ends, other than /, of letters, digits and -._~`}}},
		{"testdata/ui_unclean.yaml", opts(), []wantErr{
			{"", 2, "ui.prefix", `"/ui" must be a clean absolute path with a slash at both ends`}}},
		{"testdata/trusted_proxies.yaml", opts(), []wantErr{
			{"", 4, "server.trusted_proxies[1]", `"192.0.2.1/24" has bits set beyond its prefix length; write 192.0.2.0/24`},
			{"", 5, "server.trusted_proxies[2]", `"load-balancer" is neither an IP address nor a CIDR`},
			{"", 6, "server.trusted_proxies[3]", `"fe80::1%eth0" has a zone`}}},
		{"testdata/store_postgres_no_dsn.yaml", opts(), []wantErr{{"", 1, "store.dsn", "is required for driver postgres"}}},
		{"testdata/store_sqlite_dsn.yaml", opts(), []wantErr{{"", 3, "store.dsn", "is only for driver postgres"}}},
		{"testdata/store_secret_typo.yaml", opts(), []wantErr{
			{"", 3, "store.dns", "unknown key (known keys here: driver, dsn, last_use_flush, timeout)"},
			{"", 4, "store.dsn", "must be a string, not a mapping"},
		}},
		{inv, opts(), []wantErr{
			{"", 1, "data_dir", "must not be empty"},
			{"", 3, "log.format", `"xml" is not allowed; use text or json`},
			{"", 4, "log.level", `"verbose" is not allowed; use debug, info, warn or error`},
			{"", 6, "admin.directory", "must not contain"},
			{"", 7, "admin.username", "must not be empty"},
			{"", 9, "server.read_header_timeout", "must be more than 0"},
			{"", 10, "server.idle_timeout", "must be more than 0"},
			{"", 12, "server.max_header_bytes", "use 4096 to 1048576"},
			{"", 15, "listeners[0].address", "missing port"},
			{"", 17, "listeners[0].tls.cert_file", "key_file is not"},
			{"", 18, "listeners[0].tls.min_version", `"1.1" is not allowed; use 1.2 or 1.3`},
			{"", 19, "listeners[1].name", `"main" is also the name of listeners[0]`},
			{"", 20, "listeners[1].address", `port "99999"`},
			{"", 22, "listeners[1].tls.key_file", "cert_file is not"},
			{"", 23, "listeners[2].name", "must not be empty"},
			{"", 28, "listeners[2].tls.insecure_plain_http", "cert_file and key_file would be unused"},
			{"", 30, "routes[0].prefix", `must start with "/"`},
			{"", 31, "routes[0].upstream", "neither echo nor an http:// or https:// URL"},
			{"", 32, "routes[1].prefix", `without "?" or "#"`},
			{"", 33, "routes[1].upstream", "has no host"},
			{"", 34, "routes[2].prefix", `".." segment`},
			{"", 35, "routes[2].upstream", "must not have a query or fragment"},
			{"", 37, "routes[3].upstream", "must not hold a user name or password"},
			{"", 38, "routes[4].prefix", "same prefix as routes[3]"},
			{"", 40, "routes[4].auth[2]", `"jwt" is listed twice`},
			{"", 40, "routes[4].auth[3]", `unknown auth method "magic"; this version knows apikey, basic, jwt, session`},
			{"", 41, "routes[5].upstream", "is missing"},
			{"", 42, "routes[5].allow_anonymous", "allow_anonymous has no effect on a route with no auth methods; remove it"},
			{"", 43, "routes[6].prefix", `not a clean path; write "/b/c"`},
			{"", 44, "routes[6].name", `"/open" is also the name of routes[5]`},
		}},
		{"testdata/full.yaml", Options{Getenv: env(nil)}, []wantErr{
			{"", 31, "routes[0].auth[0]", "no auth methods yet, so auth must be []"},
			{"", 31, "routes[0].auth[1]", "no auth methods yet"},
		}},
		{"testdata/minimal.yaml", Options{AuthMethods: methods, Listen: "localhost", Getenv: env(nil)}, []wantErr{
			{"--listen", 0, "listeners[0].address", "missing port"},
		}},
		{"testdata/store_sqlite_explicit.yaml", Options{AuthMethods: methods, Getenv: env(map[string]string{EnvStoreDSN: "postgres://u:env-s3cret@db/x"})}, []wantErr{
			{EnvStoreDSN, 0, "store.dsn", "is only for driver postgres"},
		}},
		{"testdata/two_listeners.yaml", Options{AuthMethods: methods, Listen: "127.0.0.1:9443", Getenv: env(nil)}, []wantErr{
			{"", 3, "listeners[1].address", `"127.0.0.1:9443" is also the address of listeners[0]`},
		}},
		{"testdata/missing.yaml", opts(), []wantErr{{"", 0, "", "cannot read the configuration file: no such file"}}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			c, err := Load(tt.file, tt.opts)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if c != nil {
				t.Errorf("Load returned a config with an error")
			}
			got := problems(t, err)
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i := 0; i < len(got) && i < len(tt.want); i++ {
				g, w := got[i], tt.want[i]
				if w.file == "" {
					w.file = tt.file
				}
				if g.File != w.file || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Message, w.msg) {
					t.Errorf("problem %d = %q\n  (file %q line %d key %q)\nwant file %q line %d key %q message containing %q",
						i, g.Error(), g.File, g.Line, g.Key, w.file, w.line, w.key, w.msg)
				}
				if !strings.HasPrefix(err.Error(), got[0].Error()) || !strings.Contains(err.Error(), g.Error()) {
					t.Errorf("joined error %q does not show problem %q", err, g)
				}
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	const dsn = "postgres://latchkey:env-s3cret@db.internal/latchkey"
	tests := []struct {
		name string
		file string
		opts Options
		get  func(*Config) string
		want string
	}{
		{"--data-dir wins over the file, used as given", "testdata/full.yaml",
			Options{DataDir: "rel/dir", AuthMethods: methods, Getenv: env(nil)},
			func(c *Config) string { return c.DataDir }, "rel/dir"},
		{"--data-dir wins over the default", "", Options{AuthMethods: methods, DataDir: "/var/lib/lk", Getenv: env(nil)},
			func(c *Config) string { return c.DataDir }, "/var/lib/lk"},
		{"--listen replaces the first listener's address", "testdata/two_listeners.yaml",
			Options{AuthMethods: methods, Listen: "127.0.0.1:0", Getenv: env(nil)},
			func(c *Config) string { return c.Listeners[0].Address + " " + c.Listeners[1].Address },
			"127.0.0.1:0 127.0.0.1:9443"},
		{"--listen with no listeners in the file", "testdata/no_listeners.yaml",
			Options{AuthMethods: methods, Listen: ":9000", Getenv: env(nil)},
			func(c *Config) string { return c.Listeners[0].Name + " " + c.Listeners[0].Address }, "main :9000"},
		{"LATCHKEY_STORE_DSN wins over the file", "testdata/full.yaml",
			Options{AuthMethods: methods, Getenv: env(map[string]string{EnvStoreDSN: dsn})},
			func(c *Config) string { return c.Store.DSN }, dsn},
		{"LATCHKEY_STORE_DSN fills a missing dsn", "testdata/store_postgres_no_dsn.yaml",
			Options{AuthMethods: methods, Getenv: env(map[string]string{EnvStoreDSN: dsn})},
			func(c *Config) string { return c.Store.DSN }, dsn},
		{"the file's dsn stays without the variable", "testdata/full.yaml",
			Options{AuthMethods: methods, Getenv: env(nil)},
			func(c *Config) string { return c.Store.DSN }, "postgres://latchkey:file-s3cret@db.internal/latchkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.file, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "s3cret"
	envDSN := env(map[string]string{EnvStoreDSN: "postgres://u:env-s3cret@db/x"})
	tests := []struct {
		file string
		opts Options
	}{
		{"testdata/store_sqlite_dsn.yaml", opts()},
		{"testdata/store_secret_typo.yaml", opts()},
		{"testdata/store_sqlite_explicit.yaml", Options{AuthMethods: methods, Getenv: envDSN}},
		{"testdata/store_sqlite_dsn.yaml", Options{AuthMethods: methods, Getenv: envDSN}},
		{"testdata/invalid.yaml", Options{AuthMethods: methods, Getenv: envDSN}},
	}
	for _, tt := range tests {
		_, err := Load(tt.file, tt.opts)
		if err == nil {
			t.Fatalf("%s: no error", tt.file)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the DSN: %v", tt.file, err)
		}
	}
	_, err := Load("testdata/invalid.yaml", opts())
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an upstream's password is shown: %v", err)
	}
}

func TestValidateAfterLoad(t *testing.T) {
	c, err := Load("testdata/full.yaml", opts())
	if err != nil {
		t.Fatal(err)
	}
	c.Routes[0].Upstream = "nope"
	c.Server.ShutdownTimeout = 0
	got := problems(t, c.Validate(methods))
	if len(got) != 2 || got[0].Key != "server.shutdown_timeout" || got[0].Line != 14 ||
		got[1].Key != "routes[0].upstream" || got[1].Line != 29 {
		t.Errorf("got %v", errors.Join(errSlice(got)...))
	}
	// A Config built in code has no file: keys only.
	got = problems(t, (&Config{}).Validate(nil))
	if len(got) == 0 {
		t.Fatal("empty Config validated")
	}
	for _, e := range got {
		if e.File != "" || e.Line != 0 || e.Key == "" {
			t.Errorf("code-built config: %+v", e)
		}
	}
}

// loadOrRefuse loads the YAML y from a file. With wantErr it checks that
// loading fails with an error containing it, and returns nil; without, it
// returns the configuration.
func loadOrRefuse(t *testing.T, y, wantErr string) *Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte(y+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, opts())
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func errSlice(es []*Error) []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func TestReadErrorUnwraps(t *testing.T) {
	_, err := Load("testdata/missing.yaml", opts())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist in its chain", err)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90s", 90 * time.Second, ""},
		{"15m", 15 * time.Minute, ""},
		{"2h", 2 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"banana", 0, `line 1: "banana" is not a duration`},
		{"10", 0, `line 1: "10" has no unit`},
		{"[1s]", 0, "line 1: cannot unmarshal !!seq into config.Duration"},
	}
	for _, tt := range tests {
		var v struct {
			D Duration `yaml:"d"`
		}
		err := yaml.Unmarshal([]byte("d: "+tt.in), &v)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: err = %v, want %q", tt.in, err, tt.err)
		case v.D.D() != tt.want:
			t.Errorf("%s = %v, want %v", tt.in, v.D.D(), tt.want)
		}
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(90 * time.Second)})
	if err != nil || strings.TrimSpace(string(out)) != "d: 1m30s" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "latchkey.yaml", Line: 3, Key: "foo", Message: "unknown key"}, "latchkey.yaml:3: foo: unknown key"},
		{Error{File: "--listen", Key: "listeners[0].address", Message: "bad"}, "--listen: listeners[0].address: bad"},
		{Error{File: "latchkey.yaml", Message: "the file is empty"}, "latchkey.yaml: the file is empty"},
		{Error{Key: "store.driver", Message: "bad"}, "store.driver: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestDocs keeps docs/configuration.md true: its first example is
// default.yaml, and its second loads.
func TestDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(doc), "```yaml\n")[1:] {
		blocks = append(blocks, part[:strings.Index(part, "```")])
	}
	if len(blocks) != 2 {
		t.Fatalf("found %d yaml examples, want 2", len(blocks))
	}
	if blocks[0] != string(defaultYAML) {
		t.Error("the first example in docs/configuration.md is not config/default.yaml")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(file, []byte(blocks[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, Options{AuthMethods: methods, Getenv: env(map[string]string{EnvStoreDSN: "postgres://x@db/latchkey"})})
	if err != nil {
		t.Fatalf("second example: %v", err)
	}
	if want := filepath.Join(dir, "tls", "latchkey.example.com.pem"); c.Listeners[0].TLS.CertFile != want {
		t.Errorf("cert_file = %q, want %q", c.Listeners[0].TLS.CertFile, want)
	}
	if c.Store.Driver != "postgres" || c.DataDir != "/var/lib/latchkey" {
		t.Errorf("store %+v, data_dir %q", c.Store, c.DataDir)
	}
}

func TestMinVersionUnquoted(t *testing.T) {
	for in, ok := range map[string]bool{"1.2": true, "1.3": true, `"1.3"`: true, "1.20": false, "1": false} {
		file := filepath.Join(t.TempDir(), "l.yaml")
		data := "listeners:\n  - address: :0\n    tls:\n      min_version: " + in + "\n"
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file, opts())
		if (err == nil) != ok {
			t.Errorf("min_version: %s: err = %v, want ok=%v", in, err, ok)
		}
		if !ok {
			p := problems(t, err)
			if len(p) != 1 || p[0].Line != 4 || p[0].Key != "listeners[0].tls.min_version" {
				t.Errorf("min_version: %s: %v", in, err)
			}
		}
	}
}

// TestTLSReloadInterval checks the default and the range of
// listeners[].tls.reload_interval, and that an error names its line.
func TestTLSReloadInterval(t *testing.T) {
	tests := []struct {
		yaml string // the tls section's reload_interval line; "" for none
		want time.Duration
		err  string
	}{
		{"", 10 * time.Second, ""},
		{"reload_interval: 0s", 0, ""},
		{"reload_interval: 1s", time.Second, ""},
		{"reload_interval: 5m", 5 * time.Minute, ""},
		{"reload_interval: 500ms", 0, "listeners[0].tls.reload_interval: 500ms is out of range; use 1s or more, or 0"},
		{"reload_interval: -1s", 0, "listeners[0].tls.reload_interval: -1s is out of range"},
	}
	// A self-signed listener that asks for no client certificates reads no
	// file to reload.
	file := filepath.Join(t.TempDir(), "l.yaml")
	if err := os.WriteFile(file, []byte("listeners:\n  - address: :0\n    tls:\n      reload_interval: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file, opts()); err == nil || !strings.Contains(err.Error(), file+":4: listeners[0].tls.reload_interval: would be unused") {
		t.Errorf("reload_interval on a self-signed listener: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "l.yaml")
			data := "listeners:\n  - address: :0\n    tls:\n      cert_file: c.pem\n      key_file: k.pem\n      " + tt.yaml + "\n"
			if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file, opts())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), file+":6: "+tt.err) {
					t.Fatalf("Load = %v, want an error at line 6 containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Listeners[0].TLS.ReloadInterval.D(); got != tt.want {
				t.Errorf("reload_interval = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestDSNSelectsPostgres checks that a DSN from the environment or the
// --store-dsn flag selects PostgreSQL unless a file explicitly says sqlite,
// and that the flag wins over the environment.
func TestDSNSelectsPostgres(t *testing.T) {
	envDSN := env(map[string]string{EnvStoreDSN: "postgres://env@db/x"})
	tests := []struct {
		file string
		opts Options
		dsn  string
	}{
		{"", Options{AuthMethods: methods, Getenv: envDSN}, "postgres://env@db/x"},
		{"testdata/minimal.yaml", Options{AuthMethods: methods, Getenv: envDSN}, "postgres://env@db/x"},
		{"", Options{AuthMethods: methods, Getenv: envDSN, StoreDSN: "postgres://flag@db/x"}, "postgres://flag@db/x"},
		{"testdata/minimal.yaml", Options{AuthMethods: methods, Getenv: env(nil), StoreDSN: "postgres://flag@db/x"}, "postgres://flag@db/x"},
	}
	for _, tt := range tests {
		c, err := Load(tt.file, tt.opts)
		if err != nil {
			t.Fatalf("Load(%q): %v", tt.file, err)
		}
		if c.Store.Driver != "postgres" || c.Store.DSN != tt.dsn {
			t.Errorf("Load(%q) store = %s %s; want postgres %s", tt.file, c.Store.Driver, c.Store.DSN, tt.dsn)
		}
	}
	if _, err := Load("testdata/store_sqlite_explicit.yaml", Options{AuthMethods: methods, Getenv: env(nil), StoreDSN: "postgres://flag@db/x"}); err == nil ||
		!strings.Contains(err.Error(), "--store-dsn") {
		t.Errorf("explicit sqlite with --store-dsn: %v", err)
	}
}

// TestStoreTimeout checks the default and the range of store.timeout.
func TestStoreTimeout(t *testing.T) {
	tests := []struct {
		yaml string // the store section's timeout line; "" for none
		want time.Duration
		err  string
	}{
		{"", 2 * time.Second, ""},
		{"timeout: 10ms", 10 * time.Millisecond, ""},
		{"timeout: 500ms", 500 * time.Millisecond, ""},
		{"timeout: 1m", time.Minute, ""},
		{"timeout: 0s", 0, "store.timeout: 0s is out of range; use 10ms to 1m"},
		{"timeout: -1s", 0, "store.timeout: -1s is out of range"},
		{"timeout: 9ms", 0, "store.timeout: 9ms is out of range"},
		{"timeout: 61s", 0, "store.timeout: 1m1s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "store.yaml")
			if err := os.WriteFile(file, []byte("store:\n  driver: sqlite\n  "+tt.yaml+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file, Options{Getenv: func(string) string { return "" }})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), file+":3: "+tt.err) {
					t.Fatalf("Load = %v, want an error at line 3 containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Store.Timeout.D(); got != tt.want {
				t.Fatalf("store.timeout = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestUI checks the pages' defaults, that listeners naming real ones pass,
// and that a prefix is checked for clashes only while the pages are on.
func TestUI(t *testing.T) {
	tests := []struct {
		yaml string
		want UI
	}{
		{"log:\n  level: info\n", UI{Enabled: true, Prefix: "/ui/"}},
		{"ui:\n  prefix: /pages/\n  listeners: [main]\n", UI{Enabled: true, Prefix: "/pages/", Listeners: []string{"main"}}},
		{"ui:\n  enabled: false\n  prefix: /api/v1/\n", UI{Enabled: false, Prefix: "/api/v1/"}},
	}
	for _, tt := range tests {
		file := filepath.Join(t.TempDir(), "ui.yaml")
		if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(file, opts())
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if !reflect.DeepEqual(c.UI, tt.want) {
			t.Errorf("%q: ui = %+v, want %+v", tt.yaml, c.UI, tt.want)
		}
	}
}

func TestCaches(t *testing.T) {
	tests := []struct {
		yaml               string
		tokens, principals int
		err                string
	}{
		{"data_dir: d", 32, 8, ""},
		{"caches: {tokens_mib: 0, principals_mib: 0}", 0, 0, ""},
		{"caches: {tokens_mib: 256}", 256, 8, ""},
		{"caches: {tokens_mib: -1}", 0, 0, ":1: caches.tokens_mib: -1 is out of range; use 0 (remember nothing) to 4096 MiB"},
		{"caches: {principals_mib: 5000}", 0, 0, ":1: caches.principals_mib: 5000 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			c := loadOrRefuse(t, tt.yaml, tt.err)
			if c == nil {
				return
			}
			if c.Caches.TokensMiB != tt.tokens || c.Caches.PrincipalsMiB != tt.principals {
				t.Errorf("caches %+v, want %d and %d", c.Caches, tt.tokens, tt.principals)
			}
		})
	}
}

// TestCredentialTuning: the credential service's cache size, password
// cache and last-use writes, their defaults and their ranges.
func TestCredentialTuning(t *testing.T) {
	tests := []struct {
		yaml    string
		entries int
		ttl     time.Duration
		flush   time.Duration
		err     string
	}{
		{"data_dir: d", 100_000, 5 * time.Minute, 15 * time.Second, ""},
		{"caches: {credential_entries: 1000}\npasswords: {cache_ttl: 1s}\nstore: {last_use_flush: 1m}", 1000, time.Second, time.Minute, ""},
		{"caches: {credential_entries: 999}", 0, 0, 0, ":1: caches.credential_entries: 999 is out of range; use 1000 to 10000000"},
		{"passwords: {cache_ttl: 2h}", 0, 0, 0, ":1: passwords.cache_ttl: 2h0m0s is out of range; use 1s to 1h"},
		{"passwords: {cache_ttl: 0s}", 0, 0, 0, "passwords.cache_ttl: 0s is out of range"},
		{"store: {last_use_flush: 500ms}", 0, 0, 0, ":1: store.last_use_flush: 500ms is out of range; use 1s to 1h"},
		{"store: {last_use_flush: 2h}", 0, 0, 0, "store.last_use_flush: 2h0m0s is out of range"},
		{"sessions: {idle_timeout: 10m}\nstore: {last_use_flush: 5m}", 100_000, 5 * time.Minute, 5 * time.Minute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			c := loadOrRefuse(t, tt.yaml, tt.err)
			if c == nil {
				return
			}
			if c.Caches.CredentialEntries != tt.entries || c.Passwords.CacheTTL.D() != tt.ttl || c.Store.LastUseFlush.D() != tt.flush {
				t.Errorf("got %d entries, cache_ttl %v, last_use_flush %v; want %d, %v, %v",
					c.Caches.CredentialEntries, c.Passwords.CacheTTL.D(), c.Store.LastUseFlush.D(), tt.entries, tt.ttl, tt.flush)
			}
		})
	}
}
