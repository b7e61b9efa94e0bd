package ratelimit

import (
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// local is the in-process limiter: one GCRA state per key.
type local struct {
	states *otter.Cache[Key, *state]
	clock  func() time.Time // nil: the monotonic clock
	base   time.Time        // times are kept as nanoseconds since base
}

// state is one key's theoretical arrival time, in nanoseconds since
// local.base.
type state struct{ tat atomic.Int64 }

func newLocal(maxKeys int, clock func() time.Time) *local {
	l := &local{clock: clock, base: time.Now()}
	if clock != nil {
		l.base = clock()
	}
	// No expiry: a state at rest is the same as none, so an old one does
	// no harm, and the size bound drops the least used first.
	l.states = otter.Must(&otter.Options[Key, *state]{MaximumSize: maxKeys})
	return l
}

// now is the clock as nanoseconds since base, plus 1 so that a new
// state, at 0, is at rest. Without an injected clock it reads only the
// monotonic clock (time.Since on a base that has one), which costs about
// half of time.Now, which reads the wall clock too.
func (l *local) now() int64 {
	if l.clock == nil {
		return int64(time.Since(l.base)) + 1
	}
	return int64(l.clock().Sub(l.base)) + 1
}

// at is t on now's scale; the zero time reads the clock.
func (l *local) at(t time.Time) int64 {
	if t.IsZero() {
		return l.now()
	}
	return int64(t.Sub(l.base)) + 1
}

// allow decides one request at now (local.now's scale).
func (l *local) allow(k Key, lim Limit, now int64) Decision {
	st, ok := l.states.GetIfPresent(k)
	if !ok {
		st, _ = l.states.SetIfAbsent(k, &state{})
	}
	return st.allow(lim, now)
}

// allow is the GCRA step, lock-free: see the package documentation.
func (st *state) allow(lim Limit, now int64) Decision {
	t := int64(lim.Interval())
	span := t * int64(lim.Capacity()) // now + span is the latest TAT allowed
	for {
		tat := st.tat.Load()
		next := max(tat, now) + t
		if next-now > span {
			return Decision{RetryAfter: time.Duration(next - now - span), Reset: time.Duration(max(tat-now, 0))}
		}
		if st.tat.CompareAndSwap(tat, next) {
			return Decision{Allowed: true, Remaining: int((span - (next - now)) / t), Reset: time.Duration(next - now)}
		}
	}
}
