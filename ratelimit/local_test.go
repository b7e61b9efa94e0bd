package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a test says.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func newLocalLimiter(t testing.TB, c *fakeClock) *Limiter {
	t.Helper()
	l, err := New(Options{MaxKeys: 1000, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit Limit
		retry time.Duration // after the capacity is spent
	}{
		{"10 a minute", Limit{Requests: 10, Window: time.Minute}, 6 * time.Second},
		{"10 a minute, burst 5", Limit{Requests: 10, Window: time.Minute, Burst: 5}, 6 * time.Second},
		{"1 a second", Limit{Requests: 1, Window: time.Second}, time.Second},
		{"100 an hour, burst 20", Limit{Requests: 100, Window: time.Hour, Burst: 20}, 36 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeClock()
			l := newLocalLimiter(t, c)
			k := Key{Policy: "p", Subject: [2]string{"s"}}
			ctx := context.Background()
			n := tc.limit.Capacity()
			for i := range n {
				d := l.Allow(ctx, k, tc.limit)
				if !d.Allowed || d.Remaining != n-1-i {
					t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, d, n-1-i)
				}
			}
			d := l.Allow(ctx, k, tc.limit)
			if d.Allowed || d.Remaining != 0 || d.RetryAfter != tc.retry {
				t.Fatalf("request %d: %+v, want refused, retry after %v", n+1, d, tc.retry)
			}
			if want := time.Duration(n) * tc.limit.Interval(); d.Reset != want {
				t.Errorf("reset %v, want %v", d.Reset, want)
			}
			c.Advance(tc.retry - time.Nanosecond)
			if d := l.Allow(ctx, k, tc.limit); d.Allowed {
				t.Fatalf("allowed before the retry time: %+v", d)
			}
			c.Advance(time.Nanosecond)
			if d := l.Allow(ctx, k, tc.limit); !d.Allowed || d.Remaining != 0 {
				t.Fatalf("at the retry time: %+v, want allowed with 0 remaining", d)
			}
			c.Advance(tc.limit.Window + time.Duration(tc.limit.Burst)*tc.limit.Interval())
			for i := range n {
				if d := l.Allow(ctx, k, tc.limit); !d.Allowed {
					t.Fatalf("after the window, request %d: %+v", i+1, d)
				}
			}
			if d := l.Allow(ctx, k, tc.limit); d.Allowed {
				t.Fatalf("after the window, request %d: %+v", n+1, d)
			}
			// Another subject has its own budget.
			if d := l.Allow(ctx, Key{Policy: "p", Subject: [2]string{"t"}}, tc.limit); !d.Allowed {
				t.Fatalf("another subject: %+v", d)
			}
		})
	}
}

// TestAllowAt: a decision given the request's time counts at that time,
// not at the clock's, on the real clock and on an injected one.
func TestAllowAt(t *testing.T) {
	lim := Limit{Requests: 10, Window: time.Minute} // one every 6s
	k := Key{Policy: "p", Subject: [2]string{"s"}}
	ctx := context.Background()
	real, err := New(Options{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeClock()
	for name, tc := range map[string]struct {
		l   *Limiter
		now func() time.Time
	}{"real clock": {real, time.Now}, "injected clock": {newLocalLimiter(t, c), c.Now}} {
		t.Run(name, func(t *testing.T) {
			at := tc.now()
			for i := range lim.Capacity() {
				if d := tc.l.AllowAt(ctx, k, lim, at); !d.Allowed {
					t.Fatalf("request %d refused: %+v", i+1, d)
				}
			}
			if d := tc.l.AllowAt(ctx, k, lim, at); d.Allowed || d.RetryAfter != 6*time.Second {
				t.Fatalf("over the capacity: %+v, want refused for 6s", d)
			}
			if d := tc.l.Allow(ctx, k, lim); d.Allowed {
				t.Fatalf("Allow on the clock, which has not moved 6s: %+v", d)
			}
			if d := tc.l.AllowAt(ctx, k, lim, at.Add(6*time.Second)); !d.Allowed {
				t.Fatalf("6s after the time given: %+v, want allowed", d)
			}
		})
	}
}

// TestLocalConcurrent: many goroutines on one key never let more than the
// capacity through while the clock stands still (run it with -race).
func TestLocalConcurrent(t *testing.T) {
	c := newFakeClock()
	l := newLocalLimiter(t, c)
	lim := Limit{Requests: 100, Window: time.Hour, Burst: 50}
	k := Key{Policy: "p", Subject: [2]string{"hot"}}
	for round := range 3 {
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 200 {
					if l.Allow(context.Background(), k, lim).Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		want := int64(lim.Capacity())
		if round > 0 {
			want = 10 // the 10 intervals the clock moved
		}
		if got := allowed.Load(); got != want {
			t.Fatalf("round %d: %d allowed, want %d", round, got, want)
		}
		c.Advance(10 * lim.Interval())
	}
}

// benchLimiter is the limiter of the benchmarks, with a key whose budget
// they never reach, seen once already.
func benchLimiter(b *testing.B) (*Limiter, Key, Limit) {
	l, err := New(Options{MaxKeys: 1000})
	if err != nil {
		b.Fatal(err)
	}
	lim := Limit{Requests: 1_000_000_000, Window: time.Hour}
	k := Key{Policy: "route\x00credential", Subject: [2]string{"apikey", "k_123456789"}}
	l.Allow(context.Background(), k, lim)
	b.ReportAllocs()
	return l, k, lim
}

// BenchmarkLocalAllow is a decision on every core at once.
func BenchmarkLocalAllow(b *testing.B) {
	l, k, lim := benchLimiter(b)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(ctx, k, lim)
		}
	})
}

// BenchmarkLocalAllowSerial is one decision at a time, reading the clock:
// the limiter's cost as one request sees it.
func BenchmarkLocalAllowSerial(b *testing.B) {
	l, k, lim := benchLimiter(b)
	ctx := context.Background()
	for b.Loop() {
		l.Allow(ctx, k, lim)
	}
}

// BenchmarkLocalAllowAt is BenchmarkLocalAllowSerial given the request's
// time, as the gateway calls it: no read of the clock.
func BenchmarkLocalAllowAt(b *testing.B) {
	l, k, lim := benchLimiter(b)
	ctx := context.Background()
	at := time.Now()
	for b.Loop() {
		at = at.Add(time.Microsecond)
		if !l.AllowAt(ctx, k, lim, at).Allowed {
			b.Fatal("refused")
		}
	}
}
