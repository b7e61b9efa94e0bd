package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRateLimits(t *testing.T) {
	const route = "routes:\n  - prefix: /api\n    upstream: echo\n    auth: [apikey]\n"
	tests := []struct {
		name  string
		yaml  string
		errs  []string // "LINE: key: message" parts; none: valid
		check func(t *testing.T, c *Config)
	}{
		{"defaults", route + "    rate_limits:\n      - per: credential\n        requests: 100\n", nil, func(t *testing.T, c *Config) {
			l := c.Routes[0].RateLimits[0]
			if l.Name != "credential" || l.Window.D() != time.Minute || l.Burst != 0 || c.Routes[0].Errors != "latchkey" {
				t.Errorf("limit %+v, errors %q", l, c.Routes[0].Errors)
			}
			if c.RateLimits.Store != "local" || c.RateLimits.Redis.Timeout.D() != 50*time.Millisecond {
				t.Errorf("rate_limits %+v", c.RateLimits)
			}
		}},
		{"full", route + "    errors: qlik-cloud\n    rate_limits:\n      - {per: route, requests: 1000, window: 1s, burst: 100, name: all}\n" +
			"      - {per: client, requests: 10, window: 1h}\n      - {per: user, requests: 5}\n" +
			"rate_limits:\n  store: redis\n  redis: {address: 127.0.0.1:6379, password_env: REDIS_PASSWORD, db: 2, timeout: 20ms, batch: 1}\n" +
			"  key_maximum: {requests: 10000, window: 1h}\n", nil, func(t *testing.T, c *Config) {
			r := c.Routes[0]
			if len(r.RateLimits) != 3 || r.RateLimits[0].Name != "all" || r.RateLimits[1].Window.D() != time.Hour || r.Errors != "qlik-cloud" {
				t.Errorf("route %+v", r)
			}
			if rl := c.RateLimits; rl.Redis.DB != 2 || rl.Redis.Batch != 1 || rl.Redis.KeyPrefix != "latchkey:" || rl.KeyMaximum.Requests != 10000 {
				t.Errorf("rate_limits %+v", rl)
			}
		}},
		{"bad limits", route + "    errors: soap\n    rate_limits:\n      - per: session\n        requests: 0\n        window: 500ms\n        burst: -1\n" +
			"      - {per: client, requests: 1, name: Client!}\n      - {per: route, requests: 1}\n      - {per: client, requests: 2, name: route}\n", []string{
			`5: routes[0].errors: "soap" is not allowed`,
			`7: routes[0].rate_limits[0].per: "session" is not allowed; use route, credential, user or client`,
			`8: routes[0].rate_limits[0].requests: 0 is out of range`,
			`9: routes[0].rate_limits[0].window: 500ms is out of range; use 1s to 24h`,
			`10: routes[0].rate_limits[0].burst: -1 is out of range`,
			`11: routes[0].rate_limits[1].name: "Client!" must be`,
			`13: routes[0].rate_limits[3].name: "route" is also the name of rate_limits[2]`,
		}, nil},
		{"redis without address", "rate_limits:\n  store: redis\n  redis:\n    timeout: 0s\n", []string{
			`3: rate_limits.redis.address: is missing`,
			`4: rate_limits.redis.timeout: 0s is out of range`,
		}, nil},
		{"address without redis", "rate_limits:\n  store: memcached\n  redis: {address: 127.0.0.1:6379, batch: 0, password_env: redis-pw}\n", []string{
			`2: rate_limits.store: "memcached" is not allowed`,
			`3: rate_limits.redis.address: is only for store: redis`,
			`3: rate_limits.redis.batch: 0 is out of range`,
			`3: rate_limits.redis.password_env: "redis-pw" must be`,
		}, nil},
		{"unknown key", route + "    rate_limits:\n      - {per: route, requests: 1, rate: 5}\n", []string{
			`6: routes[0].rate_limits[0].rate: unknown key (known keys here: burst, name, per, requests, window)`,
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "latchkey.yaml")
			if err := os.WriteFile(file, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file, opts())
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			got := problems(t, err)
			if len(got) != len(tt.errs) {
				t.Errorf("%d problems, want %d:\n%v", len(got), len(tt.errs), err)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), file+":"+want) {
					t.Errorf("no problem %q in\n%v", want, err)
				}
			}
		})
	}
}

// TestRateLimitDocs: the configurations of docs/rate-limits.md load.
func TestRateLimitDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/rate-limits.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) != 3 {
		t.Fatalf("found %d yaml examples, want 3", len(blocks))
	}
	for i, b := range blocks {
		file := filepath.Join(t.TempDir(), "latchkey.yaml")
		if err := os.WriteFile(file, []byte(b[:strings.Index(b, "```")]), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(file, opts())
		if err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		if i == 2 { // the maximum of the limits of API keys
			if m := c.RateLimits.KeyMaximum; m.Requests != 1000 || m.Window.D() != time.Minute {
				t.Fatalf("example %d: key_maximum %+v", i+1, m)
			}
			continue
		}
		if len(c.Routes) != 1 || len(c.Routes[0].RateLimits) == 0 {
			t.Fatalf("example %d: routes %+v", i+1, c.Routes)
		}
	}
}
