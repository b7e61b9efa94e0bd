package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
)

// rateLimitedBehind starts latchkey over TLS with a route limited to 2
// requests a minute, and an upstream, and returns the addresses a front
// proxy's configuration takes.
func rateLimitedBehind(t *testing.T) (latchkeyAddr, upstreamAddr string) {
	s, _ := limitServer(t, nil, config.Route{Name: "api", Prefix: "/", Upstream: "echo", Auth: []string{"limit"},
		RateLimits: []config.RateLimit{limited("credential", config.PerCredential, 2, time.Minute, 0)}})
	lk := httptest.NewTLSServer(s.Handler())
	t.Cleanup(lk.Close)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "upstream") }))
	t.Cleanup(up.Close)
	return lk.Listener.Addr().String(), up.Listener.Addr().String()
}

// sendThrough sends three requests with one credential through the proxy
// at addr and returns the last answer.
func sendThrough(t *testing.T, addr string) *http.Response {
	t.Helper()
	var resp *http.Response
	for i := range 3 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/projects", nil)
		req.Header.Set("Authorization", "Limit goran/k1")
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i < 2 && resp.StatusCode != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	return resp
}

// TestCaddyForwardAuthRateLimit: Caddy's forward_auth passes latchkey's
// 429 on to the client, with Retry-After and the RateLimit fields.
func TestCaddyForwardAuthRateLimit(t *testing.T) {
	bin := lookProxy(t, "caddy", "caddy")
	lk, up := rateLimitedBehind(t)
	dir, addr := t.TempDir(), freeAddr(t)
	file := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(caddyfile, dir, addr, lk, up)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	startProxy(t, addr, cmd)
	resp := sendThrough(t, addr)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("the third: %d, Retry-After %q; want 429 and 30", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	rateHeaders(t, resp.Header)
}

// TestNginxAuthRequestRateLimit: nginx's auth_request turns latchkey's
// 429 into 500, as docs/rate-limits.md says.
func TestNginxAuthRequestRateLimit(t *testing.T) {
	bin := lookProxy(t, "nginx", "nginx-light")
	lk, up := rateLimitedBehind(t)
	dir, addr := t.TempDir(), freeAddr(t)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(fmt.Sprintf(nginxConf, dir, addr, lk, up)), 0o600); err != nil {
		t.Fatal(err)
	}
	startProxy(t, addr, exec.Command(bin, "-p", dir, "-c", "nginx.conf", "-e", "stderr",
		"-g", "daemon off; pid "+dir+"/nginx.pid; error_log stderr;"))
	if resp := sendThrough(t, addr); resp.StatusCode != 500 {
		t.Fatalf("the third: %d, want nginx's 500", resp.StatusCode)
	}
}
