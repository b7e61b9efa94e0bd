package credential

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
)

// toucher collects the keys and sessions used since the last flush, so that
// "last used" reaches the store in one write every few seconds instead of
// one per request. An entry is queued once until it is flushed (its dirty
// flag), so a busy key costs one map insert per flush, not per request.
type toucher struct {
	store latchkey.Store
	log   *slog.Logger

	mu       sync.Mutex
	keys     []*keyEntry
	sessions []*sessionEntry
}

func newToucher(st latchkey.Store, log *slog.Logger) *toucher {
	return &toucher{store: st, log: log}
}

func (t *toucher) key(e *keyEntry) {
	t.mu.Lock()
	t.keys = append(t.keys, e)
	t.mu.Unlock()
}

func (t *toucher) session(e *sessionEntry) {
	t.mu.Lock()
	t.sessions = append(t.sessions, e)
	t.mu.Unlock()
}

// flush writes the queued last-use times: the keys' and the sessions' at
// once, so that a database that stops answering holds flush up for one store
// timeout (each write's deadline, or ctx's when sooner), not two.
func (t *toucher) flush(ctx context.Context) {
	t.mu.Lock()
	keys, sessions := t.keys, t.sessions
	t.keys, t.sessions = nil, nil
	t.mu.Unlock()
	var wg sync.WaitGroup
	if len(keys) > 0 {
		m := make(map[string]time.Time, len(keys))
		for _, e := range keys {
			e.dirty.Store(false)
			m[e.key.ID] = time.Unix(0, e.lastUsed.Load()).UTC()
		}
		wg.Go(func() {
			if err := t.store.TouchAPIKeys(ctx, m); err != nil {
				t.log.Warn("could not record when API keys were last used", "keys", len(m), "err", err)
			}
		})
	}
	if len(sessions) > 0 {
		m := make(map[string]time.Time, len(sessions))
		for _, e := range sessions {
			e.dirty.Store(false)
			m[e.session.ID] = time.Unix(0, e.lastSeen.Load()).UTC()
		}
		wg.Go(func() {
			if err := t.store.TouchSessions(ctx, m); err != nil {
				t.log.Warn("could not record when sessions were last used", "sessions", len(m), "err", err)
			}
		})
	}
	wg.Wait()
}
