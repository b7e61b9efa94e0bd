package gateway

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/testenv"
)

// These tests put a real nginx (auth_request) and a real Caddy
// (forward_auth) in front of an upstream, with latchkey, in process over
// TLS, as their forward-auth service. They skip when the proxy is not
// installed (.ci/run installs both). The configurations are the ones
// docs/deployment.md shows.

// nginxConf is the tested nginx configuration: %[1]s is the directory
// for nginx's files, %[2]s its address, %[3]s latchkey's, %[4]s the
// upstream's.
const nginxConf = `
worker_processes 1;
master_process off;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

    server {
        listen %[2]s;

        location / {
            auth_request /_auth;
            # What latchkey says about the caller replaces whatever the
            # client sent under these names (an empty value sends none).
            auth_request_set $lk_user      $upstream_http_x_latchkey_user;
            auth_request_set $lk_directory $upstream_http_x_latchkey_directory;
            auth_request_set $lk_name      $upstream_http_x_latchkey_name;
            auth_request_set $lk_email     $upstream_http_x_latchkey_email;
            auth_request_set $lk_groups    $upstream_http_x_latchkey_groups;
            auth_request_set $lk_roles     $upstream_http_x_latchkey_roles;
            auth_request_set $lk_method    $upstream_http_x_latchkey_method;
            auth_request_set $lk_key_id    $upstream_http_x_latchkey_key_id;
            auth_request_set $lk_jwt       $upstream_http_x_latchkey_jwt;
            proxy_set_header X-Latchkey-User      $lk_user;
            proxy_set_header X-Latchkey-Directory $lk_directory;
            proxy_set_header X-Latchkey-Name      $lk_name;
            proxy_set_header X-Latchkey-Email     $lk_email;
            proxy_set_header X-Latchkey-Groups    $lk_groups;
            proxy_set_header X-Latchkey-Roles     $lk_roles;
            proxy_set_header X-Latchkey-Method    $lk_method;
            proxy_set_header X-Latchkey-Key-Id    $lk_key_id;
            proxy_set_header X-Latchkey-Jwt       $lk_jwt;
            proxy_pass http://%[4]s;
        }

        location = /_auth {
            internal;
            proxy_pass https://%[3]s/auth/verify;
            proxy_ssl_verify off;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Uri $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
            proxy_set_header X-Forwarded-Host $host;
        }
    }
}
`

// caddyfile is the tested Caddy configuration, with the same arguments
// (the first unused).
const caddyfile = `{
	admin off
	auto_https off
}

http://%[2]s {
	route {
		# Caddy copies only the headers latchkey sends: drop the client's first.
		request_header -X-Latchkey-*
		forward_auth https://%[3]s {
			uri /auth/verify
			header_up -X-Original-URI
			copy_headers X-Latchkey-User X-Latchkey-Directory X-Latchkey-Name X-Latchkey-Email X-Latchkey-Groups X-Latchkey-Roles X-Latchkey-Method X-Latchkey-Key-Id X-Latchkey-Jwt
			transport http {
				tls_insecure_skip_verify
			}
		}
		reverse_proxy %[4]s
	}
}
`

// syncBuf collects a process's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProxy runs a front proxy until the test ends, and waits until it
// accepts connections on addr.
func startProxy(t *testing.T, addr string, cmd *exec.Cmd) {
	t.Helper()
	out := &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out)
		}
	})
	// The proxy tells nothing when it is ready but by accepting
	// connections.
	testenv.Eventually(t, 10*time.Second, filepath.Base(cmd.Path)+" does not listen on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", filepath.Base(cmd.Path), out)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// frontProxyCase is latchkey (over TLS) behind a front proxy, an upstream
// that records what reaches it, and the user goran's API keys.
type frontProxyCase struct {
	latchkey, upstream *httptest.Server
	seen               chan http.Header
	rw, ro             string // goran's read-write and read-only keys
}

func newFrontProxyCase(t *testing.T) *frontProxyCase {
	f, _ := issuerFixture(t, config.Route{Name: "api", Prefix: "/", Upstream: "echo",
		Auth: []string{"session", "basic", "apikey"}, UpstreamJWT: true},
		config.Route{Name: "public", Prefix: "/public/", Upstream: "echo", Auth: []string{"apikey"}, AllowAnonymous: true})
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	c := &frontProxyCase{seen: make(chan http.Header, 10), rw: f.key(goran, false).Key, ro: f.key(goran, true).Key}
	c.latchkey = httptest.NewTLSServer(f.s.Handler())
	t.Cleanup(c.latchkey.Close)
	c.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.seen <- r.Header.Clone()
		fmt.Fprint(w, "upstream: ", r.Method, " ", r.URL.RequestURI())
	}))
	t.Cleanup(c.upstream.Close)
	return c
}

// check sends requests through the proxy at addr: good credentials reach
// the upstream with latchkey's identity headers (and none of the client's);
// bad ones get 401, a read-only key's POST 403, and none reach the upstream.
func (c *frontProxyCase) check(t *testing.T, addr string) {
	send := func(method, path string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("body"))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	spoof := []string{"X-Latchkey-User", "evil", "X-Latchkey-Email", "evil@example.com", "X-Latchkey-Roles", "admin"}
	for _, good := range [][]string{
		{"X-Api-Key", c.rw},
		{"Authorization", basic(`LAB\goran`, "password-goran")},
		{"Authorization", basic(`LAB\goran`, c.ro)},
	} {
		if code := send("GET", "/projects?page=2", append(good, spoof...)...); code != 200 {
			t.Fatalf("GET with %s: %d, want 200", good[0], code)
		}
		h := within(t, c.seen, 5*time.Second, "the upstream's request")
		if h.Get(HeaderUser) != "goran" || h.Get(HeaderDirectory) != "LAB" || h.Get(HeaderEmail) != "" ||
			h.Get(HeaderRoles) != latchkey.RoleAPIKeyUser || h.Get(HeaderJWT) == "" {
			t.Errorf("GET with %s reached the upstream with %v", good[0], h)
		}
	}
	if code := send("POST", "/projects", "X-Api-Key", c.rw); code != 200 {
		t.Errorf("POST with a read-write key: %d, want 200", code)
	} else {
		within(t, c.seen, 5*time.Second, "the upstream's request")
	}
	for name, tt := range map[string]struct {
		method string
		header []string
		status int
	}{
		"no credentials":     {"GET", spoof, 401},
		"an unknown key":     {"GET", []string{"X-Api-Key", "lk_unknown"}, 401},
		"a wrong password":   {"GET", []string{"Authorization", basic(`LAB\goran`, "wrong")}, 401},
		"a read-only POST":   {"POST", []string{"X-Api-Key", c.ro}, 403},
		"a read-only DELETE": {"DELETE", []string{"Authorization", basic(`LAB\goran`, c.ro)}, 403},
	} {
		if code := send(tt.method, "/projects", tt.header...); code != tt.status {
			t.Errorf("%s: %d, want %d", name, code, tt.status)
		}
	}
	// A client that names another original request itself, in the headers
	// latchkey reads, is not judged on it: /projects is not public, and a
	// read-only key's POST is not a GET.
	for name, tt := range map[string]struct {
		method string
		header []string
	}{
		"its own X-Forwarded-Uri":    {"GET", []string{"X-Forwarded-Uri", "/public/x"}},
		"its own X-Original-URI":     {"GET", []string{"X-Original-URI", "/public/x"}},
		"its own X-Forwarded-Method": {"POST", []string{"X-Api-Key", c.ro, "X-Forwarded-Method", "GET"}},
		"its own X-Forwarded-Host":   {"GET", []string{"X-Forwarded-Host", "public.example", "X-Forwarded-Uri", "/public/x"}},
	} {
		if code := send(tt.method, "/projects", tt.header...); code == 200 {
			t.Errorf("a client with %s: 200, want a refusal", name)
		}
	}
	select {
	case h := <-c.seen:
		t.Errorf("a refused request reached the upstream: %v", h)
	default:
	}
}

// lookProxy finds a proxy's binary on PATH or in /usr/sbin, which a
// user's PATH may lack, or skips the test.
func lookProxy(t *testing.T, name, pkg string) string {
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	testenv.Missing(t, "%s is not installed (apt-get install %s)", name, pkg)
	return ""
}

// TestNginxAuthRequest runs nginx with auth_request against latchkey's
// forward-auth endpoint.
func TestNginxAuthRequest(t *testing.T) {
	bin := lookProxy(t, "nginx", "nginx-light")
	c := newFrontProxyCase(t)
	dir, addr := t.TempDir(), freeAddr(t)
	conf := fmt.Sprintf(nginxConf, dir, addr, c.latchkey.Listener.Addr(), c.upstream.Listener.Addr())
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// -e: the error log before the configuration is read, which would
	// otherwise be /var/log/nginx/error.log.
	startProxy(t, addr, exec.Command(bin, "-p", dir, "-c", "nginx.conf", "-e", "stderr",
		"-g", "daemon off; pid "+dir+"/nginx.pid; error_log stderr;"))
	c.check(t, addr)
}

// TestCaddyForwardAuth runs Caddy with forward_auth against latchkey's
// forward-auth endpoint.
func TestCaddyForwardAuth(t *testing.T) {
	bin := lookProxy(t, "caddy", "caddy")
	c := newFrontProxyCase(t)
	dir, addr := t.TempDir(), freeAddr(t)
	conf := fmt.Sprintf(caddyfile, dir, addr, c.latchkey.Listener.Addr(), c.upstream.Listener.Addr())
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	startProxy(t, addr, cmd)
	c.check(t, addr)
}
