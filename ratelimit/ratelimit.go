// Package ratelimit decides whether a request may pass a rate limit: on one
// node in process, or for a whole cluster through Redis.
//
// # The algorithm
//
// Every limit is a GCRA (generic cell rate algorithm), which is a token
// bucket kept as one number per key: the theoretical arrival time (TAT).
// For a Limit of Requests per Window with Burst:
//
//   - the emission interval is T = Window / Requests: on average one request
//     per T passes;
//   - the capacity is C = Requests + Burst: from rest, C requests pass at
//     once, then one more every T;
//   - a request at time now passes when max(TAT, now) + T ≤ now + C×T, and
//     then moves TAT there; a refused request changes nothing.
//
// So over any span of time s, at most C + s/T requests pass (with Burst 0:
// Requests at once, then Requests per Window). A refused request is told
// when the next one passes (Decision.RetryAfter: at least T after the last
// that passed), and every decision says how many more would pass at once
// (Remaining) and when the key is back at rest, all C available (Reset).
//
// # Keys and state
//
// A Key is a policy name and a subject (an API key's id, a user, a client
// address). The local limiter keeps one TAT per key, an atomic integer
// updated by compare-and-swap, in a bounded cache: no lock is shared
// between keys, and a decision on a key already in the cache allocates
// nothing. A key at rest is the same as a key never seen, so entries need
// not expire; when there are more keys than Options.MaxKeys, the least
// used are dropped, and one dropped before it was at rest starts again at
// rest (a key in use is not dropped).
//
// # Redis
//
// With Options.Redis, the TAT of each key lives in Redis and the same limit
// holds for the whole cluster (go-redis/redis_rate's GCRA script, run with
// EVALSHA and Redis's own clock). So that a busy key does not cost a round
// trip per request, a node takes up to a batch of requests at once (at most
// RedisOptions.Batch, and at most a hundredth of the capacity, at least
// one) and spends them locally, taking the next batch while a quarter of
// the last is left; what it has not spent after as many intervals as it
// holds, or a hundredth of the window if that is longer, lapses. The
// tolerance: a node's unspent share is lost to the others (the cluster may
// let fewer through, by about one batch per node, at most 1.25% of the
// capacity), and a share spent late may let through, per node, one batch
// or 1% of the limit (whichever is more) beyond what the limit says for a
// span. A limit under 200 (requests + burst) asks Redis for every request. A key that Redis refuses is refused on the node until Redis said
// the next request would pass, without asking again.
//
// Every Redis call has a deadline (RedisOptions.Timeout). When a call fails
// or passes its deadline, the node falls back to its local limiter with
// the same limits: each node then enforces the full limit by itself, so a
// cluster of N nodes may let up to N times the limit through while Redis
// is away. The fallback is logged once when it begins and once when Redis
// answers again, and Options.OnFallback is called for every decision made
// locally because of it. While Redis is away, one request per
// RedisOptions.Retry tries it again; the others do not wait for it.
package ratelimit

import (
	"context"
	"log/slog"
	"time"
)

// Limit is Requests per Window on average, with Burst more allowed at once:
// from rest, Requests+Burst requests pass at once. See the package
// documentation for exactly what passes.
type Limit struct {
	Requests int
	Window   time.Duration
	Burst    int
}

// Valid reports whether the limit can be enforced: at least one request,
// an interval (Window / Requests) of at least a nanosecond and a burst of
// at least zero.
func (l Limit) Valid() bool {
	return l.Requests >= 1 && l.Burst >= 0 && l.Window/time.Duration(l.Requests) >= 1
}

// Capacity is how many requests pass at once from rest: Requests + Burst.
func (l Limit) Capacity() int { return l.Requests + l.Burst }

// Interval is the emission interval T, Window / Requests: on average one
// request passes per Interval.
func (l Limit) Interval() time.Duration { return l.Window / time.Duration(l.Requests) }

// Key names one budget: the policy it belongs to and its subject. The
// subject has up to two parts (a user is a directory and a name), so that
// callers build a key without joining strings.
type Key struct {
	Policy  string
	Subject [2]string
}

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// Remaining is how many more requests would pass at once now.
	Remaining int
	// RetryAfter is, for a refused request, how long until one passes.
	RetryAfter time.Duration
	// Reset is how long until the key is back at rest, its whole capacity
	// available.
	Reset time.Duration
	// Fallback is set when Redis did not answer and the node decided alone.
	Fallback bool
}

// Options configure a Limiter. The configuration (package config) gives
// every value; the package has no defaults of its own.
type Options struct {
	// MaxKeys bounds the keys the local limiter keeps (at least 1).
	MaxKeys int
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
	// Redis, when set, makes the limits hold for the cluster.
	Redis *RedisOptions
	// Log receives the lines of the Redis fallback; nil logs nothing.
	Log *slog.Logger
	// OnFallback is called for each decision made locally because Redis did
	// not answer (nil: nothing is called).
	OnFallback func()
}

// RedisOptions say where the cluster's limits are kept.
type RedisOptions struct {
	Address  string // host:port
	Password string
	DB       int
	// Timeout is the deadline of each call (connecting included).
	Timeout time.Duration
	// Prefix starts every key latchkey writes, so that several clusters
	// (or tests) can share one Redis.
	Prefix string
	// Batch is the most requests a node takes from Redis at once (at least 1).
	Batch int
	// Retry is how often, while Redis is away, one request tries it again.
	Retry time.Duration
}

// Limiter decides requests against limits. It is safe for concurrent use.
type Limiter struct {
	local  *local
	shared *shared // nil: local only
}

// New returns a limiter for o.
func New(o Options) (*Limiter, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{local: newLocal(max(o.MaxKeys, 1), o.Now)}
	if o.Redis != nil {
		var err error
		if l.shared, err = newShared(*o.Redis, l.local, log, o.OnFallback); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Allow decides one request on key under limit, which must be Valid. The
// same key must always come with the same limit; a key's limit that
// changes (a new configuration) takes effect from its state as it is.
func (l *Limiter) Allow(ctx context.Context, key Key, limit Limit) Decision {
	return l.AllowAt(ctx, key, limit, time.Time{})
}

// AllowAt is Allow for a request that came at a time the caller has read
// already (the start of its request), which saves a read of the clock on
// the hot path. at must come from the limiter's clock: time.Now, or
// Options.Now when a test gave one. The zero time reads the clock.
func (l *Limiter) AllowAt(ctx context.Context, key Key, limit Limit, at time.Time) Decision {
	now := l.local.at(at)
	if l.shared != nil {
		return l.shared.allow(ctx, key, limit, now)
	}
	return l.local.allow(key, limit, now)
}

// Shared reports whether the limits hold for the cluster (Redis).
func (l *Limiter) Shared() bool { return l.shared != nil }

// Close releases the connections to Redis, if any.
func (l *Limiter) Close() error {
	if l.shared != nil {
		return l.shared.close()
	}
	return nil
}
