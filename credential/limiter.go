package credential

import (
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// limiter counts failed sign-ins per key (an account name or a client
// address): at most max failures per window, refilled evenly. Keys are
// counted whether or not an account exists, so that the answer reveals
// nothing.
type limiter struct {
	every   rate.Limit
	burst   int
	buckets *otter.Cache[string, *rate.Limiter]
}

func newLimiter(max int, window time.Duration, size int) *limiter {
	if max <= 0 {
		max = 10
	}
	if window <= 0 {
		window = 15 * time.Minute
	}
	return &limiter{
		every:   rate.Every(window / time.Duration(max)),
		burst:   max,
		buckets: newCache[string, *rate.Limiter](size, window),
	}
}

// blocked reports whether key has used up its failures.
func (l *limiter) blocked(key string, now time.Time) bool {
	b, ok := l.buckets.GetIfPresent(key)
	return ok && b.TokensAt(now) < 1
}

// fail counts one failure for key.
func (l *limiter) fail(key string, now time.Time) {
	b, _ := l.buckets.ComputeIfAbsent(key, func() (*rate.Limiter, bool) {
		return rate.NewLimiter(l.every, l.burst), false
	})
	b.AllowN(now, 1)
}

func (l *limiter) close() { l.buckets.StopAllGoroutines() }
