package sqlstore

import (
	"slices"
	"sync"

	"github.com/latchkey/latchkey"
)

// Feed is a set of subscribers to the change feed. Stores publish their own
// changes to it after each commit; backends publish the changes of other
// instances as they hear of them. The zero Feed is ready to use, and a Feed is
// safe for concurrent use.
type Feed struct {
	mu   sync.Mutex
	next uint64
	subs map[uint64]func(latchkey.Change)
}

// Subscribe adds fn to the feed. The returned function removes it; it may be
// called more than once. A delivery that has begun before unsubscribe
// returns may still reach fn.
func (f *Feed) Subscribe(fn func(latchkey.Change)) (unsubscribe func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = make(map[uint64]func(latchkey.Change))
	}
	f.next++
	id := f.next
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

// Publish calls every subscriber with each change, in order, on the calling
// goroutine. No lock is held while subscribers run, so a subscriber may
// subscribe or unsubscribe.
func (f *Feed) Publish(changes ...latchkey.Change) {
	if len(changes) == 0 {
		return
	}
	f.mu.Lock()
	ids := make([]uint64, 0, len(f.subs))
	for id := range f.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	fns := make([]func(latchkey.Change), len(ids))
	for i, id := range ids {
		fns[i] = f.subs[id]
	}
	f.mu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}
