package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/faultproxy"
	"github.com/latchkey/latchkey/testenv"
)

// testClock is a clock that moves only when a test says.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// withClock makes s's rate limits read c.
func withClock(t testing.TB, s *Server, c *testClock) {
	t.Helper()
	rl, err := s.newRateLimiting(s.cfg, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	s.rate = rl
	t.Cleanup(rl.close)
}

// limitAuth authenticates "Authorization: Limit USER/CREDENTIAL".
type limitAuth struct{}

func (limitAuth) Method() string { return "limit" }

func (limitAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Limit ")
	if !ok {
		return nil, ErrNoCredentials
	}
	user, cred, _ := strings.Cut(v, "/")
	return &latchkey.Principal{Directory: "LAB", Username: user, Method: "limit", CredentialID: cred}, nil
}

func limitServer(t testing.TB, edit func(*config.Config), routes ...config.Route) (*Server, *testClock) {
	t.Helper()
	cfg := testConfig(routes...)
	cfg.RateLimits = config.RateLimits{Store: "local", MaxKeys: 1000}
	cfg.Server.ForwardAuthPath = "/auth/verify"
	for i := range cfg.Routes {
		cfg.Routes[i].Timeout = config.Duration(time.Minute)
	}
	if edit != nil {
		edit(cfg)
	}
	s, err := New(cfg, Deps{Log: quietLog()}, limitAuth{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClock()
	withClock(t, s, c)
	return s, c
}

func limited(name, per string, requests int, window time.Duration, burst int) config.RateLimit {
	return config.RateLimit{Name: name, Per: per, Requests: requests, Window: config.Duration(window), Burst: burst}
}

// sfItem is one item of a Structured Fields list: a string and its
// integer parameters.
type sfItem struct {
	name   string
	params map[string]int64
}

// sfItemRE is an item whose value is a String and whose parameters are
// Integers (RFC 9651 §3.1.2, §3.3.1, §3.3.3), as latchkey writes them.
var sfItemRE = regexp.MustCompile(`^"([\x20-\x21\x23-\x5b\x5d-\x7e]*)"((?:;[a-z*][a-z0-9_.*-]*=-?[0-9]{1,15})*)$`)

// parseSFList parses a List of such items, failing t on anything else.
func parseSFList(t testing.TB, field, v string) []sfItem {
	t.Helper()
	var out []sfItem
	for _, m := range strings.Split(v, ",") {
		m = strings.Trim(m, " \t")
		g := sfItemRE.FindStringSubmatch(m)
		if g == nil {
			t.Fatalf("%s: %q is not a String item with Integer parameters", field, m)
		}
		it := sfItem{name: g[1], params: map[string]int64{}}
		for _, p := range strings.Split(g[2], ";")[1:] {
			k, val, _ := strings.Cut(p, "=")
			if _, dup := it.params[k]; dup {
				t.Fatalf("%s: parameter %s twice in %q", field, k, m)
			}
			it.params[k], _ = strconv.ParseInt(val, 10, 64)
		}
		out = append(out, it)
	}
	return out
}

// rateHeaders checks the RateLimit-Policy and RateLimit fields of an
// answer (draft-ietf-httpapi-ratelimit-headers-10): the policies, each with
// q and w, and one current item with r and t naming one of them.
func rateHeaders(t testing.TB, h http.Header) (policies []sfItem, current sfItem) {
	t.Helper()
	if len(h.Values("RateLimit-Policy")) != 1 || len(h.Values("RateLimit")) != 1 {
		t.Fatalf("RateLimit-Policy %q, RateLimit %q: want one of each", h.Values("RateLimit-Policy"), h.Values("RateLimit"))
	}
	policies = parseSFList(t, "RateLimit-Policy", h.Get("RateLimit-Policy"))
	for _, p := range policies {
		if len(p.params) != 2 || p.params["q"] < 1 || p.params["w"] < 1 {
			t.Fatalf("RateLimit-Policy item %+v: want q ≥ 1 and w ≥ 1 only", p)
		}
	}
	cur := parseSFList(t, "RateLimit", h.Get("RateLimit"))
	if len(cur) != 1 {
		t.Fatalf("RateLimit %q: want one item", h.Get("RateLimit"))
	}
	current = cur[0]
	if len(current.params) != 2 || current.params["r"] < 0 || current.params["t"] < 0 {
		t.Fatalf("RateLimit item %+v: want r ≥ 0 and t ≥ 0 only", current)
	}
	named := false
	for _, p := range policies {
		named = named || p.name == current.name
	}
	if !named {
		t.Fatalf("RateLimit names %q, which RateLimit-Policy %q does not list", current.name, h.Get("RateLimit-Policy"))
	}
	return policies, current
}

func get(s *Server, path string, header ...string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, request("GET", path, "", header...))
	return w
}

// TestRateLimitWindow: N + burst pass, then 429 with Retry-After and the
// headers, at once (no hold), and after the interval one passes again.
func TestRateLimitWindow(t *testing.T) {
	s, c := limitServer(t, nil, config.Route{Name: "limited", Prefix: "/limited", Upstream: "echo",
		RateLimits: []config.RateLimit{limited("route", config.PerRoute, 3, time.Minute, 1)}})
	s.refusalDelay = time.Hour // a rate limit's 429 must not wait for it
	for i := range 4 {
		w := get(s, "/limited")
		if w.Code != 200 {
			t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
		}
		pol, cur := rateHeaders(t, w.Header())
		if len(pol) != 1 || pol[0].name != "route" || pol[0].params["q"] != 4 || pol[0].params["w"] != 60 {
			t.Fatalf("RateLimit-Policy %+v", pol)
		}
		if cur.params["r"] != int64(3-i) {
			t.Fatalf("request %d: RateLimit %+v, want r=%d", i+1, cur, 3-i)
		}
	}
	start := time.Now()
	w := get(s, "/limited")
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the 429 took %v", took)
	}
	if w.Code != 429 || w.Header().Get("Retry-After") != "20" {
		t.Fatalf("request 5: %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if _, cur := rateHeaders(t, w.Header()); cur.params["r"] != 0 || cur.params["t"] != 80 {
		t.Fatalf("RateLimit %+v, want r=0, t=80", cur)
	}
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "rate_limited" ||
		!strings.Contains(body.Error.Message, `"route"`) {
		t.Fatalf("body %s", w.Body)
	}
	c.Advance(20 * time.Second)
	if w := get(s, "/limited"); w.Code != 200 {
		t.Fatalf("after Retry-After: %d", w.Code)
	}
	if w := get(s, "/limited"); w.Code != 429 {
		t.Fatalf("the next: %d", w.Code)
	}
	c.Advance(80 * time.Second) // the whole window and burst
	for i := range 4 {
		if w := get(s, "/limited"); w.Code != 200 {
			t.Fatalf("after the window, request %d: %d", i+1, w.Code)
		}
	}
	m := s.rate.decisions
	if a, l := testutil.ToFloat64(m.WithLabelValues("limited", "route", "allowed")),
		testutil.ToFloat64(m.WithLabelValues("limited", "route", "limited")); a != 9 || l != 2 {
		t.Errorf("decisions: %v allowed, %v limited; want 9 and 2", a, l)
	}
}

// TestRateLimitSubjects: per credential, per user and per client each
// count their own budgets; anonymous requests count by client address.
func TestRateLimitSubjects(t *testing.T) {
	s, _ := limitServer(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"192.0.2.0/24"} },
		config.Route{Name: "cred", Prefix: "/cred", Upstream: "echo", Auth: []string{"limit"}, AllowAnonymous: true,
			RateLimits: []config.RateLimit{limited("credential", config.PerCredential, 2, time.Minute, 0)}},
		config.Route{Name: "user", Prefix: "/user", Upstream: "echo", Auth: []string{"limit"},
			RateLimits: []config.RateLimit{limited("user", config.PerUser, 2, time.Minute, 0)}},
		config.Route{Name: "client", Prefix: "/client", Upstream: "echo",
			RateLimits: []config.RateLimit{limited("client", config.PerClient, 2, time.Minute, 0)}},
	)
	type req struct {
		path   string
		header []string
		want   int
	}
	auth := func(v string) []string { return []string{"Authorization", "Limit " + v} }
	xff := func(v string) []string { return []string{"X-Forwarded-For", v} }
	for _, tc := range []struct {
		name string
		reqs []req
	}{
		{"two keys of one user", []req{
			{"/cred", auth("goran/k1"), 200}, {"/cred", auth("goran/k1"), 200}, {"/cred", auth("goran/k1"), 429},
			{"/cred", auth("goran/k2"), 200}, {"/cred", auth("goran/k2"), 200}, {"/cred", auth("goran/k2"), 429},
		}},
		{"anonymous by address", []req{
			{"/cred", nil, 200}, {"/cred", nil, 200}, {"/cred", nil, 429},
			{"/cred", xff("203.0.113.7"), 200}, {"/cred", auth("goran/k3"), 200},
		}},
		{"one user, two keys", []req{
			{"/user", auth("anna/k1"), 200}, {"/user", auth("anna/k2"), 200}, {"/user", auth("anna/k3"), 429},
			{"/user", auth("bert/k1"), 200},
		}},
		{"clients after trusted proxies", []req{
			{"/client", xff("203.0.113.1"), 200}, {"/client", xff("203.0.113.1, 192.0.2.9"), 200},
			{"/client", xff("203.0.113.1"), 429}, {"/client", xff("203.0.113.2"), 200},
			{"/client", nil, 200}, {"/client", nil, 200}, {"/client", nil, 429}, // the peer, 192.0.2.1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range tc.reqs {
				if w := get(s, r.path, r.header...); w.Code != r.want {
					t.Fatalf("request %d (%s %q): %d, want %d: %s", i+1, r.path, r.header, w.Code, r.want, w.Body)
				}
			}
		})
	}
}

// TestRateLimitTightest: of several limits the one with the least
// remaining is in RateLimit, and the first to refuse answers.
func TestRateLimitTightest(t *testing.T) {
	s, _ := limitServer(t, nil, config.Route{Name: "multi", Prefix: "/multi", Upstream: "echo", Auth: []string{"limit"},
		RateLimits: []config.RateLimit{
			limited("all", config.PerRoute, 100, time.Minute, 0),
			limited("client", config.PerClient, 6, time.Minute, 0),
			limited("credential", config.PerCredential, 3, time.Hour, 0),
		}})
	for i := range 3 {
		w := get(s, "/multi", "Authorization", "Limit goran/k1")
		pol, cur := rateHeaders(t, w.Header())
		if w.Code != 200 || len(pol) != 3 || cur.name != "credential" || cur.params["r"] != int64(2-i) {
			t.Fatalf("request %d: %d, RateLimit %+v", i+1, w.Code, cur)
		}
	}
	w := get(s, "/multi", "Authorization", "Limit goran/k1")
	if _, cur := rateHeaders(t, w.Header()); w.Code != 429 || cur.name != "credential" || w.Header().Get("Retry-After") != "1200" {
		t.Fatalf("request 4: %d Retry-After %s, RateLimit %+v", w.Code, w.Header().Get("Retry-After"), cur)
	}
	// Another key from the same address: the client's limit is now the
	// tightest (6, 5 spent: the refused request counted before
	// authentication), not the new key's (3, 1 spent).
	w = get(s, "/multi", "Authorization", "Limit goran/k2")
	if _, cur := rateHeaders(t, w.Header()); w.Code != 200 || cur.name != "client" || cur.params["r"] != 1 {
		t.Fatalf("another key: %d, RateLimit %+v", w.Code, cur)
	}
}

// TestRateLimitShapes: a route's 429 in latchkey's, Qlik Cloud's and
// Journyx's shape, also through forward-auth.
func TestRateLimitShapes(t *testing.T) {
	one := []config.RateLimit{limited("client", config.PerClient, 1, time.Minute, 0)}
	s, _ := limitServer(t, nil,
		config.Route{Name: "latchkey", Prefix: "/latchkey", Upstream: "echo", RateLimits: one},
		config.Route{Name: "qlik", Prefix: "/qlik", Upstream: "echo", RateLimits: one, Errors: "qlik-cloud"},
		config.Route{Name: "journyx", Prefix: "/journyx", Upstream: "echo", RateLimits: one, Errors: "journyx"},
		config.Route{Name: "fa", Prefix: "/fa", Upstream: "echo", RateLimits: one, Auth: []string{"limit"}},
	)
	check := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != 429 || w.Header().Get("Retry-After") != "60" || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%d Retry-After %q: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		rateHeaders(t, w.Header())
	}
	t.Run("latchkey", func(t *testing.T) {
		get(s, "/latchkey")
		w := get(s, "/latchkey")
		check(t, w)
		var b map[string]map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b["error"]["code"] != "rate_limited" || b["error"]["message"] == "" || len(b) != 1 {
			t.Fatalf("body %s", w.Body)
		}
	})
	t.Run("qlik-cloud", func(t *testing.T) {
		get(s, "/qlik")
		w := get(s, "/qlik")
		check(t, w)
		var b qlikErrors
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || len(b.Errors) != 1 || b.Errors[0] != (qlikError{Code: "rate_limited",
			Title: "Too Many Requests", Detail: b.Errors[0].Detail, Status: "429"}) || b.Errors[0].Detail == "" {
			t.Fatalf("body %s (%v)", w.Body, err)
		}
	})
	t.Run("journyx", func(t *testing.T) {
		get(s, "/journyx")
		w := get(s, "/journyx")
		check(t, w)
		var b journyxError
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || b.Success || b.Error.Code != "rate_limited" || b.Error.Message == "" ||
			!strings.Contains(w.Body.String(), `"success": false`) {
			t.Fatalf("body %s (%v)", w.Body, err)
		}
	})
	t.Run("forward-auth", func(t *testing.T) {
		fa := func() *httptest.ResponseRecorder {
			return verify(s, "GET", "/auth/verify", "X-Forwarded-Uri", "/fa/x", "X-Forwarded-Method", "GET",
				"Authorization", "Limit goran/k1")
		}
		w := fa()
		if w.Code != 200 || w.Header().Get(HeaderUser) != "goran" {
			t.Fatalf("first: %d %q", w.Code, w.Header())
		}
		if _, cur := rateHeaders(t, w.Header()); cur.params["r"] != 0 {
			t.Fatalf("first: RateLimit %+v", cur)
		}
		w = fa()
		check(t, w)
		if w.Header().Get(HeaderUser) != "" || errorMessage(t, w) == "" {
			t.Fatalf("second: %q %s", w.Header(), w.Body)
		}
	})
}

func redisServer(t testing.TB, addr, prefix string, log *slog.Logger, routes ...config.Route) (*Server, *testClock) {
	t.Helper()
	cfg := testConfig(routes...)
	cfg.RateLimits = config.RateLimits{Store: "redis", MaxKeys: 1000, Redis: config.RateLimitRedis{Address: addr,
		Timeout: config.Duration(100 * time.Millisecond), KeyPrefix: prefix, Batch: 16, Retry: config.Duration(time.Second)}}
	if log == nil {
		log = quietLog()
	}
	s, err := New(cfg, Deps{Log: log}, limitAuth{})
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClock()
	withClock(t, s, c)
	return s, c
}

// TestRateLimitRedisCluster: two gateways on one Redis let N through
// between them.
func TestRateLimitRedisCluster(t *testing.T) {
	addr, prefix := testenv.RedisPrefix(t)
	route := config.Route{Name: "shared", Prefix: "/shared", Upstream: "echo", Auth: []string{"limit"},
		RateLimits: []config.RateLimit{limited("credential", config.PerCredential, 30, time.Hour, 0)}}
	a, _ := redisServer(t, addr, prefix, nil, route)
	b, _ := redisServer(t, addr, prefix, nil, route)
	passed := 0
	for i := range 80 {
		s := a
		if i%3 == 0 {
			s = b
		}
		switch w := get(s, "/shared", "Authorization", "Limit goran/k1"); w.Code {
		case 200:
			passed++
			rateHeaders(t, w.Header())
		case 429:
			if w.Header().Get("Retry-After") == "" {
				t.Fatalf("request %d: 429 without Retry-After", i+1)
			}
		default:
			t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if passed != 30 {
		t.Fatalf("%d passed across both gateways, want 30", passed)
	}
	if f := testutil.ToFloat64(a.rate.fallbacks) + testutil.ToFloat64(b.rate.fallbacks); f != 0 {
		t.Fatalf("%v fallbacks", f)
	}
}

// TestRateLimitRedisFallback: Redis behind a faultproxy that freezes, then
// refuses: requests are decided locally within the deadline, counted in
// the metric, logged once; when Redis is back, the cluster's count again.
func TestRateLimitRedisFallback(t *testing.T) {
	addr, prefix := testenv.RedisPrefix(t)
	p, err := faultproxy.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var logs testenv.LogLines
	s, c := redisServer(t, p.Addr(), prefix, slog.New(&logs), config.Route{Name: "fb", Prefix: "/fb", Upstream: "echo",
		RateLimits: []config.RateLimit{limited("client", config.PerClient, 5, time.Hour, 0)}})
	timed := func(what string, want int) {
		t.Helper()
		start := time.Now()
		if w := get(s, "/fb"); w.Code != want {
			t.Fatalf("%s: %d, want %d", what, w.Code, want)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s took %v", what, took)
		}
	}
	timed("before", 200)
	p.Freeze()
	timed("frozen", 200)
	timed("frozen, again", 200)
	if f := testutil.ToFloat64(s.rate.fallbacks); f != 2 {
		t.Fatalf("%v fallbacks, want 2", f)
	}
	if n := logs.Matching("Redis does not answer"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	p.Thaw()
	c.Advance(time.Second)
	timed("thawed", 200)
	if n := logs.Matching("Redis answers again"); n != 1 {
		t.Fatalf("%d lines that Redis is back, want 1", n)
	}
	p.Refuse(true)
	p.Cut()
	// The node alone allows the whole limit, 5: it had counted 2.
	timed("refused, the third alone", 200)
	timed("refused, the fourth alone", 200)
	timed("refused, the fifth alone", 200)
	timed("refused, the sixth alone", 429)
	if n := logs.Matching("Redis does not answer"); n != 2 {
		t.Fatalf("%d warnings, want 2", n)
	}
	p.Refuse(false)
	c.Advance(time.Second)
	timed("back: Redis has counted 2 of 5", 200)
	if f := testutil.ToFloat64(s.rate.fallbacks); f != 6 {
		t.Fatalf("%v fallbacks, want 6", f)
	}
}

// FuzzClientHost: whatever RemoteAddr holds, the client's host is a part
// of it, without a port, and costs no panic.
func FuzzClientHost(f *testing.F) {
	for _, s := range []string{"192.0.2.1:1234", "[2001:db8::1]:443", "2001:db8::9", "203.0.113.9", "", "[", "[]:", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		h := clientHost(addr)
		if !strings.Contains(addr, h) {
			t.Fatalf("clientHost(%q) = %q, not a part of it", addr, h)
		}
		if ap, err := netip.ParseAddrPort(addr); err == nil && h != ap.Addr().String() && h != ap.Addr().WithZone("").String() {
			if a, err := netip.ParseAddr(h); err != nil || a != ap.Addr() {
				t.Fatalf("clientHost(%q) = %q, want %s", addr, h, ap.Addr())
			}
		}
	})
}

// TestRateLimitAPIKeys: real API keys through the credential service: two
// keys of one user each have their own budget per credential, and share
// one per user.
func TestRateLimitAPIKeys(t *testing.T) {
	f := newFixtureWith(t, func(c *config.Config) {
		c.RateLimits = config.RateLimits{Store: "local", MaxKeys: 1000}
		c.Routes = append(c.Routes,
			config.Route{Name: "per-key", Prefix: "/per-key", Upstream: "echo", Auth: []string{"apikey"}, Timeout: config.Duration(time.Minute),
				RateLimits: []config.RateLimit{limited("credential", config.PerCredential, 2, time.Minute, 0)}},
			config.Route{Name: "per-user", Prefix: "/per-user", Upstream: "echo", Auth: []string{"apikey"}, Timeout: config.Duration(time.Minute),
				RateLimits: []config.RateLimit{limited("user", config.PerUser, 3, time.Minute, 0)}})
	})
	withClock(t, f.s, newTestClock())
	u := f.addUser("goran", latchkey.RoleAPIKeyUser)
	k1, k2 := f.key(u, false).Key, f.key(u, false).Key
	for i, tc := range []struct {
		path, key string
		want      int
	}{
		{"/per-key", k1, 200}, {"/per-key", k1, 200}, {"/per-key", k1, 429},
		{"/per-key", k2, 200}, {"/per-key", k2, 200}, {"/per-key", k2, 429},
		{"/per-user", k1, 200}, {"/per-user", k2, 200}, {"/per-user", k1, 200}, {"/per-user", k2, 429},
	} {
		w := f.serve(request("GET", tc.path, "", "X-Api-Key", tc.key))
		if w.Code != tc.want {
			t.Fatalf("request %d (%s): %d, want %d: %s", i+1, tc.path, w.Code, tc.want, w.Body)
		}
		rateHeaders(t, w.Header())
	}
}

// TestRateLimitKeyOwn: a key's own limit is one more limit of every request
// made with it, on routes with limits of their own and on those without;
// the tightest answers, under the policy "key"; another key of the same
// user is not affected; a change of the limit applies at once.
func TestRateLimitKeyOwn(t *testing.T) {
	f := newFixtureWith(t, func(c *config.Config) {
		c.RateLimits = config.RateLimits{Store: "local", MaxKeys: 1000}
		c.Routes = append(c.Routes,
			config.Route{Name: "capped", Prefix: "/capped", Upstream: "echo", Auth: []string{"apikey"}, Timeout: config.Duration(time.Minute),
				RateLimits: []config.RateLimit{limited("upstream", config.PerRoute, 100, time.Minute, 0)}},
			config.Route{Name: "open", Prefix: "/open", Upstream: "echo", Auth: []string{"apikey"}, Timeout: config.Duration(time.Minute)},
			config.Route{Name: "basic", Prefix: "/basic", Upstream: "echo", Auth: []string{"basic"}, Timeout: config.Duration(time.Minute)})
	})
	withClock(t, f.s, newTestClock())
	u := f.addUser("goran", latchkey.RoleAPIKeyUser)
	ctx := t.Context()
	three := &latchkey.RateLimit{Requests: 3, Window: 60}
	limitedKey, err := f.creds.GenerateAPIKey(ctx, nil, credential.KeyRequest{OwnerID: u.ID, RateLimit: three}, "")
	if err != nil {
		t.Fatal(err)
	}
	other := f.key(u, false).Key
	for i := range 3 {
		w := f.serve(request("GET", "/capped/x", "", "X-Api-Key", limitedKey.Key))
		if w.Code != 200 {
			t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
		}
		policies, cur := rateHeaders(t, w.Header())
		if len(policies) != 2 || policies[0].name != "upstream" || policies[1].name != "key" || policies[1].params["q"] != 3 || policies[1].params["w"] != 60 {
			t.Fatalf("request %d: RateLimit-Policy %q", i+1, w.Header().Get("RateLimit-Policy"))
		}
		if cur.name != "key" || cur.params["r"] != int64(2-i) {
			t.Fatalf("request %d: RateLimit %q, want the key's with %d left", i+1, w.Header().Get("RateLimit"), 2-i)
		}
	}
	w := f.serve(request("GET", "/capped/x", "", "X-Api-Key", limitedKey.Key))
	if w.Code != 429 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("the 4th request: %d %s, Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if _, cur := rateHeaders(t, w.Header()); cur.name != "key" || cur.params["r"] != 0 {
		t.Fatalf("the 4th request: RateLimit %q", w.Header().Get("RateLimit"))
	}
	if !strings.Contains(w.Body.String(), "the limit of this API key allows 3 per 1m0s") {
		t.Fatalf("the 4th request's body: %s", w.Body)
	}
	// The key's budget is the same on a route without limits of its own.
	w = f.serve(request("GET", "/open/x", "", "X-Api-Key", limitedKey.Key))
	if w.Code != 429 {
		t.Fatalf("a route without limits: %d %s", w.Code, w.Body)
	}
	if policies, _ := rateHeaders(t, w.Header()); len(policies) != 1 || policies[0].name != "key" {
		t.Fatalf("a route without limits: RateLimit-Policy %q", w.Header().Get("RateLimit-Policy"))
	}
	// And the key as the password of HTTP Basic.
	if w := f.serve(request("GET", "/basic/x", "", "Authorization", basic(`LAB\goran`, limitedKey.Key))); w.Code != 429 {
		t.Fatalf("the key as a Basic password: %d %s", w.Code, w.Body)
	}
	if w := f.serve(request("GET", "/basic/x", "", "Authorization", basic(`LAB\goran`, other))); w.Code != 200 {
		t.Fatalf("the other key as a Basic password: %d %s", w.Code, w.Body)
	}
	// Another key of the same user has no limit of its own.
	for i := range 5 {
		w := f.serve(request("GET", "/capped/x", "", "X-Api-Key", other))
		if w.Code != 200 {
			t.Fatalf("the other key, request %d: %d %s", i+1, w.Code, w.Body)
		}
		if policies, cur := rateHeaders(t, w.Header()); len(policies) != 1 || cur.name != "upstream" {
			t.Fatalf("the other key: RateLimit-Policy %q, RateLimit %q", w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
		}
		if w := f.serve(request("GET", "/open/x", "", "X-Api-Key", other)); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Fatalf("the other key on a route without limits: %d, RateLimit %q", w.Code, w.Header().Get("RateLimit"))
		}
	}
	// Taking the limit away applies to the next request.
	if _, err := f.creds.SetAPIKeyLimit(ctx, nil, limitedKey.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	if w := f.serve(request("GET", "/capped/x", "", "X-Api-Key", limitedKey.Key)); w.Code != 200 {
		t.Fatalf("after the limit was taken away: %d %s", w.Code, w.Body)
	}
}

// TestRateLimitKeyFollowsLogins: what a client obtains with a limited API
// key — a session from the Journyx login, a token from the JSON login —
// spends the key's one budget under the key's limit, with the key's own
// requests; its use counts for the key; a session opened with the user's
// password does not; and a change of the limit applies to all of them.
func TestRateLimitKeyFollowsLogins(t *testing.T) {
	f := newJWTFixtureWith(t, func(c *config.Config) { c.RateLimits = config.RateLimits{Store: "local", MaxKeys: 1000} })
	withClock(t, f.s, newTestClock()) // the clock stands still: nothing comes back
	u := f.addEmailUser("quant", "quant@example.com", latchkey.RoleAPIKeyUser)
	ctx := t.Context()
	k, err := f.creds.GenerateAPIKey(ctx, nil, credential.KeyRequest{OwnerID: u.ID, RateLimit: &latchkey.RateLimit{Requests: 4, Window: 60}}, "")
	if err != nil {
		t.Fatal(err)
	}
	session := f.login(`LAB\quant`, k.Key)
	code, body := f.jwtLogin("quant@example.com", k.Key)
	if code != 200 {
		t.Fatalf("JSON login with the key: %d %s", code, body)
	}
	var resp jwtLoginResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	byKey := func() *http.Request { return request("GET", "/api/v1/x", "", "X-Api-Key", k.Key) }
	bySession := func() *http.Request { return request("GET", "/api/v1/x", "", "Cookie", "wtsession="+session) }
	byToken := func() *http.Request { return request("GET", "/api/data/x", "", "Authorization", "Bearer "+resp.Token) }
	for i, tc := range []struct {
		how  string
		r    func() *http.Request
		want int
	}{
		{"the key", byKey, 200}, {"the session", bySession, 200}, {"the token", byToken, 200}, {"the token", byToken, 200},
		{"the session", bySession, 429}, {"the token", byToken, 429}, {"the key", byKey, 429},
	} {
		w := f.serve(tc.r())
		if w.Code != tc.want {
			t.Fatalf("request %d, with %s: %d, want %d: %s", i+1, tc.how, w.Code, tc.want, w.Body)
		}
		_, cur := rateHeaders(t, w.Header())
		if left := int64(max(0, 3-i)); cur.name != "key" || cur.params["r"] != left {
			t.Fatalf("request %d, with %s: RateLimit %q, want the key's with %d left", i+1, tc.how, w.Header().Get("RateLimit"), left)
		}
	}
	if w := f.serve(request("GET", "/api/v1/x", "", "Cookie", "wtsession="+f.login(`LAB\quant`, "password-quant"))); w.Code != 200 || w.Header().Get("RateLimit") != "" {
		t.Fatalf("a session opened with the password: %d, RateLimit %q", w.Code, w.Header().Get("RateLimit"))
	}
	v, err := f.creds.APIKeyDetails(ctx, nil, k.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (latchkey.APIKeyUsage{RequestsHour: 4, RefusedHour: 3, RequestsDay: 4, RefusedDay: 3}); *v.Usage != want {
		t.Fatalf("the key's usage %+v, want %+v", *v.Usage, want)
	}
	if _, err := f.creds.SetAPIKeyLimit(ctx, nil, k.ID, nil, ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{byKey(), bySession(), byToken()} {
		if w := f.serve(r); w.Code != 200 || w.Header().Get("RateLimit") != "" {
			t.Fatalf("%s after the limit was taken away: %d, RateLimit %q: %s", r.URL.Path, w.Code, w.Header().Get("RateLimit"), w.Body)
		}
	}
}
