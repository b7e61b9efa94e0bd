package jwtverify

import (
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
)

// DefaultCacheBytes is the memory a Cache is given unless told otherwise.
const DefaultCacheBytes = 32 << 20

// cacheEntryOverhead is what a remembered token costs beside its own bytes:
// the Result and the cache's bookkeeping, roughly.
const cacheEntryOverhead = 512

// Cache remembers verified tokens, keyed by the token itself, until a time
// the verifier gives (the token's expiry, plus leeway). A client that
// repeats its token then costs one map lookup: no hash of the token, no
// signature check, no allocation. The cache holds at most its budget of
// bytes, counting each token's length; the least used tokens go first. It
// is safe for concurrent use.
//
// A user of the cache whose keys can change (latchkey's own issuer) passes
// a generation: a count of the key changes it has heard, read before it
// read the keys a token was checked with. A result is returned only to a
// Get with the generation it was set with, so a result checked with keys
// that changed meanwhile is never returned, even if it was set after the
// change was heard. Verifiers whose keys do not change pass 0.
type Cache struct {
	c   *otter.Cache[string, cachedResult]
	now func() time.Time
}

type cachedResult struct {
	res   *Result
	until time.Time
	gen   uint64
}

// NewCache returns a cache of at most budget bytes (≤ 0: DefaultCacheBytes)
// that reads the time from now (nil: time.Now).
func NewCache(budget int64, now func() time.Time) *Cache {
	if budget <= 0 {
		budget = DefaultCacheBytes
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{now: now, c: otter.Must(&otter.Options[string, cachedResult]{
		MaximumWeight: uint64(budget),
		Weigher: func(raw string, _ cachedResult) uint32 {
			return uint32(len(raw) + cacheEntryOverhead)
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, cachedResult]) time.Duration {
			return max(time.Until(e.Value.until), time.Second)
		}),
	})}
}

// Get returns the result remembered for raw at generation gen, or nil when
// there is none, it was set at another generation, or its time is up (and
// then forgets it).
func (c *Cache) Get(raw string, gen uint64) *Result {
	e, ok := c.c.GetIfPresent(raw)
	if !ok || e.gen != gen {
		return nil
	}
	if !c.now().Before(e.until) {
		c.c.Invalidate(raw)
		return nil
	}
	return e.res
}

// Set remembers that raw verified as res with the keys of generation gen,
// until the given time.
func (c *Cache) Set(raw string, res *Result, until time.Time, gen uint64) {
	// A copy: raw is usually part of a request header, which the cache
	// should not keep alive.
	c.c.Set(strings.Clone(raw), cachedResult{res: res, until: until, gen: gen})
}

// Clear forgets every token, as when the keys they were checked with
// change.
func (c *Cache) Clear() { c.c.InvalidateAll() }

// Close stops the cache's background work.
func (c *Cache) Close() { c.c.StopAllGoroutines() }
