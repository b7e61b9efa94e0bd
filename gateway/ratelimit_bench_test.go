package gateway

// Rate-limit benchmarks: the cached API key decision with a limit per
// credential (next to BenchmarkDecisionAPIKeyCached, the same without),
// and whole requests through a route with limits, local and through Redis,
// next to the same route without (BenchmarkServeAPIKey).
//
// Run: go test ./gateway -run '^$' -bench 'DecisionAPIKeyCached|ServeAPIKey' -benchmem

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/testenv"
)

// A limit that the benchmarks never reach, so that each request finds its
// budget at rest (the usual case: a client well within its limit).
var benchLimit = []config.RateLimit{{Name: "credential", Per: config.PerCredential, Requests: 1_000_000_000, Window: config.Duration(time.Second)}}

// discardWriter is a ResponseWriter that keeps only its headers.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkDecisionAPIKeyCachedLimited is BenchmarkDecisionAPIKeyCached
// with the route's limit per credential checked after authorization, as
// admit does, the RateLimit headers included.
func BenchmarkDecisionAPIKeyCachedLimited(b *testing.B) {
	f := newFixtureWith(b, func(c *config.Config) {
		c.RateLimits = config.RateLimits{Store: "local", MaxKeys: 100_000}
		for i := range c.Routes {
			if c.Routes[i].Name == "keyonly" {
				c.Routes[i].RateLimits = benchLimit
			}
		}
	})
	key := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false).Key
	r := request("GET", "/keyonly/x", "", "X-Api-Key", key)
	rte, _, _ := f.s.routes.match(targetOf(r))
	w := &discardWriter{h: http.Header{}}
	at := time.Now() // the request's time, which logRequests reads anyway
	limit := func() {
		p, err := rte.authenticate(r, f.s.metrics)
		if err == nil {
			err = rte.authorize(p, r)
		}
		if err != nil || p.Username != "goran" {
			b.Fatal(p, err)
		}
		at = at.Add(time.Microsecond)
		st := rateState{at: at}
		if !f.s.checkLimits(w, r, rte, rte.limits.after, p, &st) {
			b.Fatal("limited")
		}
	}
	limit()
	b.ReportAllocs()
	for b.Loop() {
		limit()
	}
}

// BenchmarkRateLimitCheck is the limit alone, on a cached key: the
// gateway's part (key, counters, headers) and the local limiter's, given
// the request's time as admit gives it.
func BenchmarkRateLimitCheck(b *testing.B) {
	s, _ := limitServer(b, nil, config.Route{Name: "limited", Prefix: "/limited", Upstream: "echo", Auth: []string{"limit"},
		RateLimits: benchLimit})
	rl, err := s.newRateLimiting(s.cfg, nil) // the real clock
	if err != nil {
		b.Fatal(err)
	}
	s.rate = rl
	r := request("GET", "/limited", "")
	rte, _, _ := s.routes.match(targetOf(r))
	p := &latchkey.Principal{Directory: "LAB", Username: "goran", Method: "apikey", CredentialID: "k_0123456789"}
	w := &discardWriter{h: http.Header{}}
	at := time.Now() // the request's time, which logRequests reads anyway
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(time.Microsecond)
		st := rateState{at: at}
		if !s.checkLimits(w, r, rte, rte.limits.after, p, &st) {
			b.Fatal("limited")
		}
	}
}

// benchServeLimited is benchServe's API key route with limits, in
// parallel: store is "" (no limits), "local" or "redis".
func benchServeLimited(b *testing.B, store string) {
	up := benchUpstream(b)
	f := newFixture(b)
	cfg := *f.s.cfg
	route := config.Route{Name: "key", Prefix: "/key/", Upstream: up.URL, Auth: []string{"apikey"}}
	cfg.RateLimits = config.RateLimits{Store: "local", MaxKeys: 100_000}
	switch store {
	case "redis":
		addr, prefix := testenv.RedisPrefix(b)
		cfg.RateLimits = config.RateLimits{Store: "redis", MaxKeys: 100_000, Redis: config.RateLimitRedis{Address: addr,
			Timeout: config.Duration(50 * time.Millisecond), KeyPrefix: prefix, Batch: 64, Retry: config.Duration(time.Second)}}
		fallthrough
	case "local":
		route.RateLimits = []config.RateLimit{
			{Name: "route", Per: config.PerRoute, Requests: 1_000_000_000, Window: config.Duration(time.Second)},
			benchLimit[0],
		}
	}
	cfg.Routes = []config.Route{route}
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.rate.close)
	key := f.key(f.addUser("bench", latchkey.RoleAPIKeyUser), false).Key
	serve := func() {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, request("GET", "/key/x", "", "X-Api-Key", key))
		if w.Code != 200 {
			b.Errorf("%d %s", w.Code, w.Body)
		}
	}
	serve()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			serve()
		}
	})
}

func BenchmarkServeAPIKeyParallel(b *testing.B)             { benchServeLimited(b, "") }
func BenchmarkServeAPIKeyParallelLimitedLocal(b *testing.B) { benchServeLimited(b, "local") }
func BenchmarkServeAPIKeyParallelLimitedRedis(b *testing.B) { benchServeLimited(b, "redis") }
