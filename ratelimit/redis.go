package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// shared is the cluster's limiter: the GCRA state in Redis, a batch of
// requests taken at once per key and node (a share), and the local
// limiter to fall back to.
type shared struct {
	client  *redis.Client
	gcra    *redis_rate.Limiter
	o       RedisOptions
	local   *local
	shares  *otter.Cache[Key, *share]
	log     *slog.Logger
	onLocal func()

	away    atomic.Bool  // Redis did not answer the last call
	retryAt atomic.Int64 // while away: when one request tries Redis again
}

// share is what a node holds of one key's budget: requests taken from
// Redis and not yet spent, or the refusal Redis gave.
type share struct {
	mu        sync.Mutex
	left      int   // requests taken, not yet spent
	until     int64 // they lapse then; a refusal holds until then
	refused   bool
	remaining int   // Redis's remaining when they were taken
	resetAt   int64 // when Redis said the key is at rest
}

func newShared(o RedisOptions, l *local, log *slog.Logger, onLocal func()) (*shared, error) {
	if o.Address == "" || o.Timeout <= 0 || o.Batch < 1 || o.Retry <= 0 {
		return nil, errors.New("ratelimit: Redis needs an address, a timeout, a batch of at least 1 and a retry interval")
	}
	client := redis.NewClient(&redis.Options{
		Addr: o.Address, Password: o.Password, DB: o.DB,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, PoolTimeout: o.Timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // a failed call falls back at once; Retry tries again
		DisableIdentity:       true,
	})
	s := &shared{client: client, gcra: redis_rate.NewLimiter(client), o: o, local: l, log: log, onLocal: onLocal}
	s.shares = otter.Must(&otter.Options[Key, *share]{
		MaximumSize:      int(l.states.GetMaximum()),
		ExpiryCalculator: otter.ExpiryAccessing[Key, *share](time.Minute),
	})
	return s, nil
}

func (s *shared) close() error { return s.client.Close() }

// redisKey is the key of k in Redis (redis_rate adds "rate:" before it).
func (s *shared) redisKey(k Key) string {
	var b strings.Builder
	b.WriteString(s.o.Prefix)
	b.WriteString(k.Policy)
	for _, p := range k.Subject {
		b.WriteByte(0)
		b.WriteString(p)
	}
	return b.String()
}

// batch is how many requests a node takes at once under lim: at most
// o.Batch and a tenth of the capacity, at least 1.
func (s *shared) batch(lim Limit) int { return max(1, min(s.o.Batch, lim.Capacity()/10)) }

func (s *shared) allow(ctx context.Context, k Key, lim Limit) Decision {
	now := s.local.now()
	retrying := s.away.Load()
	if retrying && !s.claimRetry(now) {
		return s.fallback(k, lim, now)
	}
	sh, ok := s.shares.GetIfPresent(k)
	if !ok {
		sh, _ = s.shares.SetIfAbsent(k, &share{})
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case sh.refused && now < sh.until:
		return Decision{RetryAfter: time.Duration(sh.until - now), Reset: time.Duration(max(sh.resetAt-now, 0))}
	case !sh.refused && sh.left > 0 && now < sh.until:
		sh.left--
		return Decision{Allowed: true, Remaining: sh.remaining + sh.left, Reset: time.Duration(max(sh.resetAt-now, 0))}
	}
	if !retrying && s.away.Load() { // Redis went away while this request waited for the share
		return s.fallback(k, lim, now)
	}
	// A client that gives up does not make Redis look away: the call has
	// its own deadline.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
	res, err := s.gcra.AllowAtMost(cctx, s.redisKey(k),
		redis_rate.Limit{Rate: lim.Requests, Burst: lim.Capacity(), Period: lim.Window}, s.batch(lim))
	cancel()
	if err != nil {
		s.wentAway(err, now)
		return s.fallback(k, lim, now)
	}
	s.cameBack()
	sh.remaining, sh.resetAt = res.Remaining, now+int64(res.ResetAfter)
	if res.Allowed == 0 {
		sh.refused, sh.left, sh.until = true, 0, now+int64(max(res.RetryAfter, 0))
		return Decision{RetryAfter: res.RetryAfter, Reset: res.ResetAfter}
	}
	sh.refused, sh.left = false, res.Allowed-1
	sh.until = now + int64(lapse(lim, res.Allowed))
	return Decision{Allowed: true, Remaining: res.Remaining + sh.left, Reset: res.ResetAfter}
}

// lapse is how long a share of n requests may be spent: n intervals, or a
// hundredth of the window if that is longer. A request spent late may pass
// beyond the limit, so a node can let through at most one share or 1% of
// the limit more than it says in any span.
func lapse(lim Limit, n int) time.Duration {
	return max(time.Duration(n)*lim.Interval(), lim.Window/100)
}

// claimRetry reports whether a request at now, while Redis is away, is the
// one of its o.Retry interval that tries Redis again.
func (s *shared) claimRetry(now int64) bool {
	at := s.retryAt.Load()
	return now >= at && s.retryAt.CompareAndSwap(at, now+int64(s.o.Retry))
}

func (s *shared) wentAway(err error, now int64) {
	s.retryAt.Store(now + int64(s.o.Retry))
	if s.away.CompareAndSwap(false, true) {
		s.log.Warn("rate limits: Redis does not answer; each node enforces the limits alone until it does",
			"address", s.o.Address, "err", err)
	}
}

func (s *shared) cameBack() {
	if s.away.Load() && s.away.CompareAndSwap(true, false) {
		s.log.Info("rate limits: Redis answers again; the limits hold for the cluster", "address", s.o.Address)
	}
}

func (s *shared) fallback(k Key, lim Limit, now int64) Decision {
	if s.onLocal != nil {
		s.onLocal()
	}
	d := s.local.allow(k, lim, now)
	d.Fallback = true
	return d
}
