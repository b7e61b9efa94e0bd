package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/faultproxy"
	"github.com/latchkey/latchkey/testenv"
)

func newRedisLimiter(t testing.TB, addr, prefix string, c *fakeClock, logs *testenv.LogLines, fallbacks *atomic.Int64) *Limiter {
	t.Helper()
	o := Options{MaxKeys: 1000, Now: c.Now,
		Redis: &RedisOptions{Address: addr, Timeout: 100 * time.Millisecond, Prefix: prefix, Batch: 16, Retry: time.Second}}
	if logs != nil {
		o.Log = slog.New(logs)
	}
	if fallbacks != nil {
		o.OnFallback = func() { fallbacks.Add(1) }
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestRedisCluster: two nodes on one Redis share one budget, taken in
// batches, to the request.
func TestRedisCluster(t *testing.T) {
	addr, prefix := testenv.RedisPrefix(t)
	for _, tc := range []struct {
		name  string
		limit Limit
	}{
		{"20 an hour (batches of 1)", Limit{Requests: 20, Window: time.Hour}},
		{"5 an hour, burst 2 (batches of 1)", Limit{Requests: 5, Window: time.Hour, Burst: 2}},
		{"300 an hour (batches of 3)", Limit{Requests: 300, Window: time.Hour}},
		{"10000 an hour (batches of 16, taken ahead)", Limit{Requests: 10000, Window: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			nodes := []*Limiter{newRedisLimiter(t, addr, prefix, c, nil, nil), newRedisLimiter(t, addr, prefix, c, nil, nil)}
			k := Key{Policy: tc.name, Subject: [2]string{"LAB", "goran"}}
			allowed := 0
			start := time.Now()
			for i := range 2*tc.limit.Capacity() + 10 {
				d := nodes[i%2].Allow(context.Background(), k, tc.limit)
				if d.Fallback {
					t.Fatalf("request %d fell back: %+v", i+1, d)
				}
				if d.Allowed {
					allowed++
				} else if d.RetryAfter <= 0 {
					t.Fatalf("request %d refused without a retry time: %+v", i+1, d)
				}
			}
			// Redis counts on its own clock, which the test does not stop:
			// one more request is due every interval that passes meanwhile
			// (10000 an hour: one every 0.36 s, which a loaded machine reaches).
			due := int(time.Since(start) / tc.limit.Interval())
			if allowed < tc.limit.Capacity() || allowed > tc.limit.Capacity()+due {
				t.Fatalf("%d allowed across both nodes, want %d (and up to %d more that Redis's clock made due)", allowed, tc.limit.Capacity(), due)
			}
		})
	}
}

// TestRedisFallback: Redis frozen, cut, refusing and back, through a
// faultproxy: a frozen Redis costs one deadline, then the node decides
// alone (metric and one log line) until a retry finds Redis again.
func TestRedisFallback(t *testing.T) {
	addr, prefix := testenv.RedisPrefix(t)
	p, err := faultproxy.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := newFakeClock()
	var logs testenv.LogLines
	var fallbacks atomic.Int64
	l := newRedisLimiter(t, p.Addr(), prefix, c, &logs, &fallbacks)
	lim := Limit{Requests: 5, Window: time.Hour} // batches of 1: every decision asks Redis
	k := Key{Policy: "fallback", Subject: [2]string{"203.0.113.9"}}
	ctx := context.Background()
	allow := func(what string, wantFallback bool) Decision {
		t.Helper()
		start := time.Now()
		d := l.Allow(ctx, k, lim)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: took %v", what, took)
		}
		if d.Fallback != wantFallback {
			t.Fatalf("%s: %+v, want fallback %v", what, d, wantFallback)
		}
		return d
	}
	allow("before", false)
	if n := len(logs.All()); n != 0 {
		t.Fatalf("logged %v", logs.All())
	}

	p.Freeze()
	start := time.Now()
	allow("frozen", true)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the fallback came after %v, before the deadline", took)
	}
	start = time.Now()
	for i := range 3 {
		allow("frozen, again "+string(rune('1'+i)), true)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("later decisions waited for Redis: %v", took)
	}
	if got := fallbacks.Load(); got != 4 {
		t.Errorf("%d fallbacks counted, want 4", got)
	}
	if got := logs.All(); len(got) != 1 || got[0][:4] != "WARN" {
		t.Fatalf("log: %q, want one warning", got)
	}
	// The local budget is the full limit: 4 spent, one left, then refused.
	if d := allow("frozen, the fifth", true); !d.Allowed {
		t.Fatalf("the fifth: %+v", d)
	}
	if d := allow("frozen, the sixth", true); d.Allowed {
		t.Fatalf("the sixth: %+v", d)
	}

	p.Thaw()
	c.Advance(time.Second) // the retry interval
	allow("thawed", false)
	if got := logs.All(); len(got) != 2 || got[1][:4] != "INFO" {
		t.Fatalf("log: %q, want a line that Redis is back", got)
	}

	// Cut and refusing: connecting fails at once.
	p.Refuse(true)
	p.Cut()
	allow("cut and refusing", true)
	allow("still refusing", true)
	if got := logs.All(); len(got) != 3 || got[2][:4] != "WARN" {
		t.Fatalf("log: %q, want a third line, a warning", got)
	}
	c.Advance(time.Second)
	allow("refusing, the retry", true) // tried and failed: no new line
	if got := logs.All(); len(got) != 3 {
		t.Fatalf("log: %q, want no new line", got)
	}
	p.Refuse(false)
	c.Advance(time.Second)
	allow("back", false)
	if got := logs.All(); len(got) != 4 || got[3][:4] != "INFO" {
		t.Fatalf("log: %q, want a fourth line, Redis back", got)
	}

	// Cut alone: the pooled connection is gone, and a new one is made. The
	// decision is Redis's or the node's, in time either way; a retry later
	// finds Redis.
	p.Cut()
	start = time.Now()
	d := l.Allow(ctx, k, lim)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("after a cut: took %v", took)
	}
	lines := 4 // Redis answered on a new connection
	if d.Fallback {
		lines = 5 // the node decided alone, and said so once
	}
	if got := logs.All(); len(got) != lines {
		t.Fatalf("after a cut (fallback %v): log %q, want %d lines", d.Fallback, got, lines)
	}
	c.Advance(time.Second)
	allow("after the cut", false)
}

// TestRedisConcurrent: two nodes, many goroutines each, on one key with
// prefetched shares: never more than the capacity passes, and at most a
// share per node is left unspent (run it with -race).
func TestRedisConcurrent(t *testing.T) {
	addr, prefix := testenv.RedisPrefix(t)
	c := newFakeClock()
	nodes := []*Limiter{newRedisLimiter(t, addr, prefix, c, nil, nil), newRedisLimiter(t, addr, prefix, c, nil, nil)}
	lim := Limit{Requests: 6400, Window: time.Hour} // shares of 16
	k := Key{Policy: "concurrent", Subject: [2]string{"k"}}
	var allowed, fallbacks atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 16 {
		wg.Go(func() {
			for range 900 {
				d := nodes[i%2].Allow(context.Background(), k, lim)
				if d.Allowed {
					allowed.Add(1)
				}
				if d.Fallback {
					fallbacks.Add(1)
				}
			}
		})
	}
	wg.Wait()
	due := int64(time.Since(start) / lim.Interval()) // made due by Redis's clock, as in TestRedisCluster
	if got := allowed.Load(); got > 6400+due || got < 6400-2*20 || fallbacks.Load() != 0 {
		t.Fatalf("%d allowed (%d fallbacks), want 6360 to %d and none", got, fallbacks.Load(), 6400+due)
	}
}
