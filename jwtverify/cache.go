package jwtverify

import (
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey/doorkeeper"
)

// entryBytes is what one remembered token costs on the heap beside its own
// bytes and its Result's: the cache's node with the key and value inline
// (112 bytes), its slot in the cache's table with the table's spare room,
// and the cache's policy structures per entry. TestCacheMemoryWithinBudget
// holds the weights to the heap they really take.
const entryBytes = 192

// Cache remembers verified tokens, keyed by the token itself, until a time
// the verifier gives (the token's expiry, plus leeway). A client that
// repeats its token then costs one map lookup: no hash of the token, no
// signature check, no allocation. Its users — each verifier, latchkey's
// issuer — share it, each through a Part of its own, so that one budget
// bounds them all. It is safe for concurrent use.
//
// Its invariants:
//
//   - Memory: the entries' weights — each the heap bytes the entry
//     really holds (the token's copy, the Result with its strings and
//     slices, the cache's bookkeeping) — stay within the budget, and the
//     doorkeeper's fixed array comes out of the budget too. The least
//     valuable entries go first (otter's W-TinyLFU: a token used once
//     does not push out one used often).
//   - Admission: a token is remembered the second time it is Set (see
//     doorkeeper.Filter), so a crowd of tokens each presented once —
//     a flood of one-time tokens — keeps no entry, holds no memory and
//     evicts nothing; a repeated token is checked twice, then answered
//     from memory.
//   - Parts: a result is returned only to the Part that set it; a token
//     that two verifiers accept is remembered for the last that checked
//     it.
//   - Keys: a user of the cache whose keys can change (latchkey's own
//     issuer) passes a generation: a count of the key changes it has
//     heard, read before it read the keys a token was checked with. A
//     result is returned only to a Get with the generation it was set
//     with, so a result checked with keys that changed meanwhile is never
//     returned, even if it was set after the change was heard. Verifiers
//     whose keys do not change pass 0.
type Cache struct {
	c     *otter.Cache[string, cachedResult]
	door  *doorkeeper.Filter
	now   func() time.Time
	parts atomic.Uint64 // Parts handed out
}

// A Part is one user's share of a Cache. Its zero value, and the Part of a
// nil Cache, remember nothing.
type Part struct {
	c     *Cache
	owner uint64 // the part's number, in the generation's top 16 bits
}

// ownerShift places a Part's number above the generations its user counts
// (2⁴⁸ key changes are never reached).
const ownerShift = 48

// Part returns a new share of c (nil: a Part that remembers nothing).
func (c *Cache) Part() Part {
	if c == nil {
		return Part{}
	}
	return Part{c: c, owner: c.parts.Add(1) << ownerShift}
}

// Get returns the result this part remembers for raw at generation gen, or
// nil (see Cache).
func (p Part) Get(raw string, gen uint64) *Result {
	if p.c == nil {
		return nil
	}
	return p.c.get(raw, p.owner|gen)
}

// Set remembers that raw verified as res with the keys of generation gen,
// until the given time — from the second time raw is Set; the first time
// it is only noted. res must not be shared yet: Set marks it Remembered.
func (p Part) Set(raw string, res *Result, until time.Time, gen uint64) {
	if p.c != nil {
		p.c.set(raw, res, until, p.owner|gen)
	}
}

type cachedResult struct {
	res   *Result
	until time.Time
	gen   uint64
}

// NewCache returns a cache of at most budget bytes (latchkey's
// caches.tokens_mib) that reads the time from now (nil: time.Now). A
// budget ≤ 0 is no cache: nil, whose Parts remember nothing.
func NewCache(budget int64, now func() time.Time) *Cache {
	if budget <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	// One doorkeeper slot per 512 bytes of budget: room to remember more
	// offered tokens than the cache can hold, for 1/64 of the budget.
	door := doorkeeper.New(int(budget / 512))
	return &Cache{now: now, door: door, c: otter.Must(&otter.Options[string, cachedResult]{
		MaximumWeight: uint64(max(budget-door.Bytes(), 1)),
		Weigher: func(raw string, v cachedResult) uint32 {
			return uint32(heapBytes(len(raw)) + v.res.HeapBytes() + entryBytes)
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, cachedResult]) time.Duration {
			// On the cache's clock, as Get judges it; the second's floor
			// lets Get be the one that forgets an entry whose time is up.
			return max(e.Value.until.Sub(now()), time.Second)
		}),
	})}
}

// get returns the result remembered for raw at generation gen (the part's
// number and its user's), or nil when there is none, it was set at another
// generation, or its time is up (and then forgets it).
func (c *Cache) get(raw string, gen uint64) *Result {
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

func (c *Cache) set(raw string, res *Result, until time.Time, gen uint64) {
	if !c.door.OfferString(raw) {
		return
	}
	res.remembered = true // before the cache shares it: Get happens after
	// A copy: raw is usually part of a request header, which the cache
	// should not keep alive.
	c.c.Set(strings.Clone(raw), cachedResult{res: res, until: until, gen: gen})
}

// Close stops the cache's background work (nil: nothing to stop).
func (c *Cache) Close() {
	if c != nil {
		c.c.StopAllGoroutines()
	}
}

// heapBytes is what an allocation of n bytes takes from the heap, rounded
// up as the allocator's size classes do (within 12.5%, plus the smallest
// class for small ones): an estimate that errs on the side of more.
func heapBytes(n int) int {
	if n == 0 {
		return 0
	}
	return n + n/8 + 16
}

// HeapBytes is what r holds on the heap: itself, its strings and slices,
// and its map of claims (an estimate that errs on the side of more), for
// caches that weigh what they keep.
func (r *Result) HeapBytes() int {
	n := heapBytes(int(unsafe.Sizeof(*r)))
	for _, s := range [...]string{r.Directory, r.Username, r.DisplayName, r.Email, r.Subject, r.Issuer,
		r.JTI, r.KeyID, r.CredentialMethod, r.CredentialID} {
		n += heapBytes(len(s))
	}
	for _, ss := range [...][]string{r.Groups, r.Audience} {
		n += heapBytes(cap(ss) * int(unsafe.Sizeof("")))
		for _, s := range ss {
			n += heapBytes(len(s))
		}
	}
	if r.Claims != nil {
		// A map's header, and per claim its slot (key and value: two
		// strings) with the table's spare room.
		n += 48 + len(r.Claims)*64
		for k, v := range r.Claims {
			n += heapBytes(len(k)) + heapBytes(len(v))
		}
	}
	return n
}
