package credential

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// usage counts the requests made with each API key, and those a rate limit
// refused, in memory, and writes them to the store's hourly buckets in one
// write every few seconds (Config.UsageFlushEvery) and at Shutdown, so that
// a request costs no write. Counting takes no lock: a sync.Map read and an
// atomic add. A write is attributed to the clock hour in which it is made,
// so a count may land in the next hour by up to one flush interval.
//
// Invariant: every add is either taken by exactly one flush (or put back
// when the write fails) or, when it lands on a counter the flush retired,
// seen as such by its adder, who removes that counter and adds again to a
// new one. So no count is lost or counted twice, and the map holds only
// the keys used since the flush before last: a flush that takes nothing
// from a counter retires it, by swapping each of its words for the
// retired mark and keeping what the swaps return.
type usage struct {
	store latchkey.Store
	log   *slog.Logger
	now   func() time.Time

	counts sync.Map   // key id → *keyCount
	mu     sync.Mutex // one flush at a time; only a flush retires

	flushes, rows atomic.Uint64 // writes made, and key rows in them
}

type keyCount struct{ requests, refused atomic.Int64 }

// retired marks a word of a counter that a flush has taken out of the map:
// an add that returns at least this value landed where no flush reads.
const retired = 1 << 62

// usageKeep is how long the store keeps a bucket.
const usageKeep = 48 * time.Hour

func newUsage(st latchkey.Store, log *slog.Logger, now func() time.Time) *usage {
	return &usage{store: st, log: log, now: now}
}

func (u *usage) count(id string, refused bool) {
	if refused {
		u.add(id, 0, 1)
	} else {
		u.add(id, 1, 0)
	}
}

// add adds to the key's counter, moving to a new counter when it finds the
// one it holds retired.
func (u *usage) add(id string, requests, refused int64) {
	for requests != 0 || refused != 0 {
		v, ok := u.counts.Load(id)
		if !ok {
			v, _ = u.counts.LoadOrStore(id, new(keyCount))
		}
		c := v.(*keyCount)
		if requests != 0 {
			if c.requests.Add(requests) >= retired {
				u.counts.CompareAndDelete(id, c)
				continue
			}
			requests = 0
		}
		if refused != 0 {
			if c.refused.Add(refused) >= retired {
				u.counts.CompareAndDelete(id, c)
				continue
			}
			refused = 0
		}
	}
}

// pending is what this node counted of the key and has not written yet.
func (u *usage) pending(id string) latchkey.APIKeyCount {
	v, ok := u.counts.Load(id)
	if !ok {
		return latchkey.APIKeyCount{}
	}
	c := v.(*keyCount)
	live := func(n int64) int64 {
		if n >= retired { // taken by the flush that retired it
			return 0
		}
		return n
	}
	return latchkey.APIKeyCount{Requests: live(c.requests.Load()), Refused: live(c.refused.Load())}
}

// flush writes the counts taken since the last flush in one store write,
// which also deletes the buckets older than two days, and retires the
// counters of keys not used since the last flush. Nothing counted: no
// write. When the write fails the counts are put back for the next one.
func (u *usage) flush(ctx context.Context) {
	u.mu.Lock()
	defer u.mu.Unlock()
	batch := map[string]latchkey.APIKeyCount{}
	u.counts.Range(func(k, v any) bool {
		c := v.(*keyCount)
		n := latchkey.APIKeyCount{Requests: c.requests.Swap(0), Refused: c.refused.Swap(0)}
		if n == (latchkey.APIKeyCount{}) {
			// Idle for a whole interval. What was added since the swaps
			// above is taken here; an add after sees the mark.
			n = latchkey.APIKeyCount{Requests: c.requests.Swap(retired), Refused: c.refused.Swap(retired)}
			u.counts.CompareAndDelete(k, c)
		}
		if n != (latchkey.APIKeyCount{}) {
			batch[k.(string)] = n
		}
		return true
	})
	if len(batch) == 0 {
		return
	}
	hour := u.now().UTC().Truncate(time.Hour)
	if err := u.store.AddAPIKeyUsage(ctx, hour, batch, hour.Add(-usageKeep)); err != nil {
		u.log.Warn("could not record the use of API keys; kept for the next write", "keys", len(batch), "err", err)
		for id, n := range batch {
			u.add(id, n.Requests, n.Refused)
		}
		return
	}
	u.flushes.Add(1)
	u.rows.Add(uint64(len(batch)))
}

// CountAPIKeyUse counts a request made with the API key id: let through, or
// refused by a rate limit. It writes nothing: the counts reach the store
// in the next flush.
func (s *Service) CountAPIKeyUse(id string, refused bool) { s.usage.count(id, refused) }

// UsageWrites returns how many usage writes this service made, and how
// many key rows they carried.
func (s *Service) UsageWrites() (flushes, rows uint64) {
	return s.usage.flushes.Load(), s.usage.rows.Load()
}

// FlushUsage writes the counted use of keys now.
func (s *Service) FlushUsage(ctx context.Context) { s.usage.flush(ctx) }

// addUsage sets the views' usage: the store's, plus what this node counted
// and has not written yet (counted in the current hour). When the store
// does not answer, the views carry this node's unwritten counts only: the
// list of keys matters more than their use.
func (s *Service) addUsage(ctx context.Context, views ...*KeyView) error {
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	stored, err := s.store.APIKeyUsage(ctx, ids, s.now().UTC())
	if err != nil {
		s.log.WarnContext(ctx, "could not read the use of API keys", "keys", len(ids), "err", err)
	}
	for _, v := range views {
		u := stored[v.ID]
		p := s.usage.pending(v.ID)
		u.RequestsHour += p.Requests
		u.RequestsDay += p.Requests
		u.RefusedHour += p.Refused
		u.RefusedDay += p.Refused
		v.Usage = &u
	}
	return nil
}
