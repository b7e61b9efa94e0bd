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
// a request costs no write. Counting takes no lock once a key has its
// counter: a sync.Map read and an atomic add. A write is attributed to the
// clock hour in which it is made, so a count may land in the next hour by
// up to one flush interval.
type usage struct {
	store latchkey.Store
	log   *slog.Logger
	now   func() time.Time

	counts sync.Map   // key id → *keyCount
	mu     sync.Mutex // one flush at a time

	flushes, rows atomic.Uint64 // writes made, and key rows in them
}

type keyCount struct{ requests, refused atomic.Int64 }

// usageKeep is how long the store keeps a bucket.
const usageKeep = 48 * time.Hour

func newUsage(st latchkey.Store, log *slog.Logger, now func() time.Time) *usage {
	return &usage{store: st, log: log, now: now}
}

func (u *usage) count(id string, refused bool) {
	v, ok := u.counts.Load(id)
	if !ok {
		v, _ = u.counts.LoadOrStore(id, new(keyCount))
	}
	c := v.(*keyCount)
	if refused {
		c.refused.Add(1)
	} else {
		c.requests.Add(1)
	}
}

// pending is what this node counted of the key and has not written yet.
func (u *usage) pending(id string) latchkey.APIKeyCount {
	v, ok := u.counts.Load(id)
	if !ok {
		return latchkey.APIKeyCount{}
	}
	c := v.(*keyCount)
	return latchkey.APIKeyCount{Requests: c.requests.Load(), Refused: c.refused.Load()}
}

// flush writes the counts taken since the last flush in one store write,
// which also deletes the buckets older than two days. Nothing counted: no
// write. When the write fails the counts are put back for the next one.
func (u *usage) flush(ctx context.Context) {
	u.mu.Lock()
	defer u.mu.Unlock()
	batch := map[string]latchkey.APIKeyCount{}
	u.counts.Range(func(k, v any) bool {
		c := v.(*keyCount)
		n := latchkey.APIKeyCount{Requests: c.requests.Swap(0), Refused: c.refused.Swap(0)}
		if n.Requests != 0 || n.Refused != 0 {
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
			v, _ := u.counts.LoadOrStore(id, new(keyCount))
			c := v.(*keyCount)
			c.requests.Add(n.Requests)
			c.refused.Add(n.Refused)
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

func (s *Service) usageLoop() {
	t := time.NewTicker(s.cfg.UsageFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.usage.flush(ctx)
			cancel()
		}
	}
}

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
