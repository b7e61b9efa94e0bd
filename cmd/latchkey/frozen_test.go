package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/faultproxy"
	"github.com/latchkey/latchkey/storetest"
)

// frozenTimeout is store.timeout in the frozen-database tests; a request on
// a frozen store must be answered within it and a fifth more.
const frozenTimeout = 500 * time.Millisecond

// frozenBound is how long such a request may take at most.
const frozenBound = frozenTimeout + frozenTimeout/5

// frozenCluster is two nodes over one PostgreSQL schema: B reaches it
// directly, A through a proxy that the test can freeze.
type frozenCluster struct {
	t         *testing.T
	proxy     *faultproxy.Proxy
	config    string // the configuration file of both nodes
	dsn, dsnA string
	env       map[string]string
	a, b      string // base URLs
	stopA     func() int
	logsA     *syncBuffer // the log of node A
	origin    string
	passwords map[string]string
	keys      map[string]struct{ ID, Key string }
}

// newFrozenCluster starts node B, then node A through the proxy, with
// store.timeout frozenTimeout and the given shutdown timeout.
func newFrozenCluster(t *testing.T, shutdown time.Duration) *frozenCluster {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	proxy, dsnA := storetest.PostgresThroughProxy(t, dsn)
	c := &frozenCluster{t: t, proxy: proxy, dsn: dsn, dsnA: dsnA, origin: "test.example",
		passwords: map[string]string{}, keys: map[string]struct{ ID, Key string }{}}
	c.config = filepath.Join(t.TempDir(), "latchkey.yaml")
	yaml := "store:\n  timeout: " + frozenTimeout.String() + "\n" +
		"server:\n  shutdown_timeout: " + shutdown.String() + "\n" +
		"login:\n  allowed_origins: [" + c.origin + "]\n" +
		"routes:\n  - name: api\n    prefix: /api/v1/\n    upstream: echo\n    auth: [session, basic, apikey]\n"
	if err := os.WriteFile(c.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = map[string]string{"LATCHKEY_ADMIN_PASSWORD": "admin password 1",
		"LATCHKEY_SEAL_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	c.b, _, _ = startServe(t, c.env, "--config", c.config, "--data-dir", t.TempDir(), "--store-dsn", c.dsn)
	var logsA *syncBuffer
	c.a, logsA, c.stopA = startServe(t, c.env, "--config", c.config, "--data-dir", t.TempDir(), "--store-dsn", c.dsnA)
	c.logsA = logsA
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the log of node A:\n%s", logsA)
		}
	})
	return c
}

// cli runs a command line against the store directly, as node B does.
func (c *frozenCluster) cli(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := cli(c.t, c.env, stdin, append(args, "--config", c.config, "--store-dsn", c.dsn)...)
	if code != 0 {
		c.t.Fatalf("latchkey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// user adds a user with the apikey-user role and a password.
func (c *frozenCluster) user(name string) {
	c.t.Helper()
	c.passwords[name] = "the password of " + name
	c.cli(c.passwords[name]+"\n", "user", "add", "--user", name, "--role", "apikey-user", "--password-stdin")
}

// key makes an API key of user, remembered under label.
func (c *frozenCluster) key(label, user string) {
	c.t.Helper()
	var k struct{ ID, Key string }
	if err := json.Unmarshal([]byte(c.cli("", "apikey", "create", "--user", user, "--days", "30", "-o", "json")), &k); err != nil {
		c.t.Fatal(err)
	}
	c.keys[label] = k
}

// request is one HTTP request to a node.
type request struct {
	method, path, body string
	header             http.Header
}

// unsafeHeaders are what a POST to latchkey's own endpoints needs.
func (c *frozenCluster) unsafeHeaders(h http.Header) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Origin", c.origin)
	h.Set("Accept", "application/json")
	h.Set("X-Requested-With", "XMLHttpRequest")
	return h
}

// do sends r to the node at base and returns the status, the body and how
// long the answer took.
func (c *frozenCluster) do(base string, r request) (int, string, time.Duration) {
	c.t.Helper()
	req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := insecureClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// login opens a session on the node at base and returns its token.
func (c *frozenCluster) login(base, user string) string {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": c.passwords[user]})
	req, _ := http.NewRequest("POST", base+"/api/v1/login", strings.NewReader(string(body)))
	req.Header = c.unsafeHeaders(http.Header{"Content-Type": {"application/json"}})
	resp, err := insecureClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	token := resp.Header.Get("X-Session-Id")
	if resp.StatusCode != 200 || token == "" {
		c.t.Fatalf("login of %s: %d, session %q", user, resp.StatusCode, token)
	}
	return token
}

func apiKeyHeader(key string) http.Header { return http.Header{"X-Api-Key": {key}} }

func basicHeader(user, password string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header
}

// TestFrozenStore freezes the network between node A and PostgreSQL, as a
// database whose processes are stopped: whatever A must ask the store
// answers 503 within store.timeout (and a fifth), on the API and on the
// command line, while a credential A cached before keeps answering 200. Once
// the network thaws, a revocation made on node B reaches A within a second.
func TestFrozenStore(t *testing.T) {
	c := newFrozenCluster(t, 5*time.Second)
	for _, u := range []string{"ann", "bob", "cid"} {
		c.user(u)
	}
	c.key("cached", "ann")   // used on A before the freeze
	c.key("uncached", "ann") // never shown to A
	c.key("revoke", "ann")   // revoked through A's endpoint while frozen
	if code, body, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["cached"].Key)}); code != 200 {
		t.Fatalf("the cached key on A before the freeze: %d %s", code, body)
	}
	session := c.login(c.b, "bob") // opened on B, never seen by A

	c.proxy.Freeze()
	tests := []struct {
		name string
		req  request
		want int
	}{
		{"uncached API key", request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["uncached"].Key)}, 503},
		{"uncached session", request{method: "GET", path: "/api/v1/x", header: http.Header{"Cookie": {"wtsession=" + session}}}, 503},
		{"Basic with a password", request{method: "GET", path: "/api/v1/x", header: basicHeader("cid", c.passwords["cid"])}, 503},
		{"Basic with an uncached API key", request{method: "GET", path: "/api/v1/x", header: basicHeader("ann", c.keys["uncached"].Key)}, 503},
		{"login", request{method: "POST", path: "/api/v1/login", body: `{"username":"cid","password":"` + c.passwords["cid"] + `"}`,
			header: c.unsafeHeaders(http.Header{"Content-Type": {"application/json"}})}, 503},
		{"revoke endpoint", request{method: "POST", path: "/api/v1/api_keys/" + c.keys["revoke"].ID + "/revoke",
			header: c.unsafeHeaders(apiKeyHeader(c.keys["cached"].Key))}, 503},
		{"cached API key", request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["cached"].Key)}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, took := c.do(c.a, tt.req)
			t.Logf("%s on a frozen store: %d after %d ms (store.timeout %d ms)", tt.name, code, took.Milliseconds(), frozenTimeout.Milliseconds())
			if code != tt.want {
				t.Errorf("%d %s, want %d", code, body, tt.want)
			}
			if took > frozenBound {
				t.Errorf("answered after %s, want at most %s", took, frozenBound)
			}
			if tt.want == 503 && !strings.Contains(body, "did not answer in time") {
				t.Errorf("503 without saying why: %s", body)
			}
		})
	}

	t.Run("apikey revoke on the command line", func(t *testing.T) {
		start := time.Now()
		_, errOut, code := cli(t, c.env, "", "apikey", "revoke", c.keys["revoke"].ID, "--config", c.config, "--store-dsn", c.dsnA)
		took := time.Since(start)
		t.Logf("apikey revoke on a frozen store: exit %d after %d ms (store.timeout %d ms): %s",
			code, took.Milliseconds(), frozenTimeout.Milliseconds(), strings.TrimSpace(errOut))
		if code == 0 || !strings.Contains(errOut, "did not answer in time") {
			t.Errorf("exit %d, stderr %q; want a failure saying the database did not answer in time", code, errOut)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("the message takes more than one line: %q", errOut)
		}
		if took > frozenBound {
			t.Errorf("failed after %s, want at most %s", took, frozenBound)
		}
	})

	c.proxy.Thaw()
	if code, body, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["uncached"].Key)}); code != 200 {
		t.Fatalf("an uncached key on A once thawed: %d %s", code, body)
	}
	if code, body, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["cached"].Key)}); code != 200 {
		t.Fatalf("the cached key on A once thawed, before its revocation: %d %s", code, body)
	}
	code, body, _ := c.do(c.b, request{method: "POST", path: "/api/v1/api_keys/" + c.keys["cached"].ID + "/revoke",
		header: c.unsafeHeaders(basicHeader("ann", c.passwords["ann"]))})
	if code != 200 {
		t.Fatalf("revoking on B: %d %s", code, body)
	}
	revoked := time.Now()
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		code, _, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["cached"].Key)})
		if code == 401 {
			t.Logf("after the thaw, the revocation on B reached A within %d ms", time.Since(revoked).Milliseconds())
			break
		}
		if code != 200 {
			t.Fatalf("the revoked key on A: %d, want 200 until the change is heard and then 401", code)
		}
		select {
		case <-deadline.C:
			t.Fatal("after the thaw, A still accepts a key revoked on B a second ago")
		case <-tick.C:
		}
	}
}

// TestFrozenStoreShutdown stops node A while its store is frozen, with last
// use times pending and a connection that stopped answering: serve returns
// within server.shutdown_timeout in total.
func TestFrozenStoreShutdown(t *testing.T) {
	const shutdown = time.Second
	c := newFrozenCluster(t, shutdown)
	c.user("ann")
	c.key("cached", "ann")
	c.key("uncached", "ann")
	if code, body, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["cached"].Key)}); code != 200 {
		t.Fatalf("a key on A: %d %s", code, body) // its last use is now pending
	}
	c.proxy.Freeze()
	if code, _, _ := c.do(c.a, request{method: "GET", path: "/api/v1/x", header: apiKeyHeader(c.keys["uncached"].Key)}); code != 503 {
		t.Fatalf("an uncached key on the frozen store: %d, want 503", code)
	}
	start := time.Now()
	exit := c.stopA()
	took := time.Since(start)
	t.Logf("serve stopped on a frozen store after %d ms (shutdown_timeout %d ms, store.timeout %d ms), exit %d",
		took.Milliseconds(), shutdown.Milliseconds(), frozenTimeout.Milliseconds(), exit)
	if limit := shutdown + 200*time.Millisecond; took > limit {
		t.Errorf("serve took %s to stop, want at most %s", took, limit)
	}
	if exit != 0 {
		t.Errorf("serve exited %d", exit)
	}
	for _, line := range strings.Split(c.logsA.String(), "\n") {
		if strings.Contains(line, "not waiting for") || strings.Contains(line, "could not record") || strings.Contains(line, "shutting down") || strings.Contains(line, "\"stopped\"") {
			t.Logf("node A: %s", line)
		}
	}
}
