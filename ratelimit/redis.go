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
	fetches sync.WaitGroup // the shares taken ahead, under way
	o       RedisOptions
	local   *local
	shares  *otter.Cache[Key, *share]
	log     *slog.Logger
	onLocal func()

	away    atomic.Bool  // Redis did not answer the last call
	retryAt atomic.Int64 // while away: when one request tries Redis again
}

// share is what a node holds of one key's budget: requests taken from
// Redis and not yet spent, or the refusal Redis gave, and the call to
// Redis under way, if any (one at a time per key and node).
type share struct {
	mu        sync.Mutex
	left      int   // requests taken, not yet spent
	until     int64 // they lapse then; a refusal holds until then
	refused   bool
	remaining int           // Redis's remaining when they were taken
	resetAt   int64         // when Redis said the key is at rest
	fetching  bool          // a call to Redis is under way
	done      chan struct{} // closed when it ends
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

// close waits for the shares taken ahead, then closes the connections.
func (s *shared) close() error {
	s.fetches.Wait()
	return s.client.Close()
}

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
// o.Batch and a hundredth of the capacity, at least 1.
func (s *shared) batch(lim Limit) int { return max(1, min(s.o.Batch, lim.Capacity()/100)) }

func (s *shared) allow(ctx context.Context, k Key, lim Limit, now int64) Decision {
	retrying := s.away.Load()
	if retrying && !s.claimRetry(now) {
		return s.fallback(k, lim, now)
	}
	sh, ok := s.shares.GetIfPresent(k)
	if !ok {
		sh, _ = s.shares.SetIfAbsent(k, &share{})
	}
	n := s.batch(lim)
	sh.mu.Lock()
	for {
		switch {
		case sh.refused && now < sh.until:
			sh.mu.Unlock()
			return Decision{RetryAfter: time.Duration(sh.until - now), Reset: time.Duration(max(sh.resetAt-now, 0))}
		case !sh.refused && sh.left > 0 && now < sh.until:
			sh.left--
			d := Decision{Allowed: true, Remaining: sh.remaining + sh.left, Reset: time.Duration(max(sh.resetAt-now, 0))}
			// Take the next share before this one runs out, so that
			// requests seldom wait for Redis (never for a share under 4).
			prefetch := !sh.fetching && sh.left < n/4
			if prefetch {
				sh.fetching, sh.done = true, make(chan struct{})
			}
			sh.mu.Unlock()
			if prefetch {
				s.fetches.Go(func() { s.fetch(ctx, k, lim, n, sh) })
			}
			return d
		case sh.fetching: // wait for the call under way; it has its deadline
			done := sh.done
			sh.mu.Unlock()
			<-done
			if s.away.Load() {
				return s.fallback(k, lim, now)
			}
		case !retrying && s.away.Load(): // Redis went away while this request waited
			sh.mu.Unlock()
			return s.fallback(k, lim, now)
		default:
			sh.fetching, sh.done = true, make(chan struct{})
			sh.mu.Unlock()
			if !s.fetch(ctx, k, lim, n, sh) {
				return s.fallback(k, lim, now)
			}
		}
		now = s.local.now()
		sh.mu.Lock()
	}
}

// fetch takes up to n requests of k's budget from Redis into sh, or the
// refusal, and ends sh's call; it reports whether Redis answered.
func (s *shared) fetch(ctx context.Context, k Key, lim Limit, n int, sh *share) bool {
	// A client that gives up does not make Redis look away: the call has
	// its own deadline.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
	res, err := s.gcra.AllowAtMost(cctx, s.redisKey(k),
		redis_rate.Limit{Rate: lim.Requests, Burst: lim.Capacity(), Period: lim.Window}, n)
	cancel()
	now := s.local.now()
	sh.mu.Lock()
	defer func() {
		sh.fetching = false
		close(sh.done)
		sh.mu.Unlock()
	}()
	if err != nil {
		s.wentAway(err, now)
		return false
	}
	s.cameBack()
	sh.remaining, sh.resetAt = res.Remaining, now+int64(res.ResetAfter)
	if sh.refused || now >= sh.until {
		sh.left = 0 // what was left has lapsed
	}
	if res.Allowed == 0 {
		if sh.left == 0 {
			sh.refused, sh.until = true, now+int64(max(res.RetryAfter, 1))
		}
		return true
	}
	sh.refused = false
	sh.left += res.Allowed
	sh.until = now + int64(lapse(lim, sh.left))
	return true
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
