package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

// usageCountingStore counts the usage writes that reach the store.
type usageCountingStore struct {
	latchkey.Store
	writes atomic.Int64
}

func (s *usageCountingStore) AddAPIKeyUsage(ctx context.Context, hour time.Time, counts map[string]latchkey.APIKeyCount, before time.Time) error {
	s.writes.Add(1)
	return s.Store.AddAPIKeyUsage(ctx, hour, counts, before)
}

func newUsageService(t *testing.T, st latchkey.Store, every time.Duration) *Service {
	t.Helper()
	svc, err := New(context.Background(), st, password.NewHasher(testParams, 4), slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 50, MaxAddressFailures: 500, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		PasswordMinLength: 10, UsageFlushEvery: every,
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, FlushEvery: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func usageKey(t *testing.T, svc *Service, name string) *KeyView {
	t.Helper()
	ctx := t.Context()
	u, err := svc.CreateUser(ctx, Operator("tester"), NewUser{Directory: "LAB", Username: name, Roles: []string{latchkey.RoleAPIKeyUser}}, "local")
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.GenerateAPIKey(ctx, Operator("tester"), KeyRequest{OwnerID: u.ID}, "local")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyUsage: counts from many goroutines at once are exact after a
// flush, which is one store write for all keys; unwritten counts show in
// the views; Shutdown writes what is left.
func TestKeyUsage(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := &usageCountingStore{Store: b.open(t)}
			svc := newUsageService(t, st, time.Hour) // flushed by hand only
			ctx := t.Context()
			a, other := usageKey(t, svc, "goran"), usageKey(t, svc, "other")

			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 125 {
						svc.CountAPIKeyUse(a.ID, i%5 == 0) // 25 of 125 refused
						if g == 0 {
							svc.CountAPIKeyUse(other.ID, false)
						}
					}
				})
			}
			wg.Wait()
			if n := st.writes.Load(); n != 0 {
				t.Fatalf("counting made %d store writes, want none", n)
			}
			want := latchkey.APIKeyUsage{RequestsHour: 800, RefusedHour: 200, RequestsDay: 800, RefusedDay: 200}
			v, err := svc.APIKeyDetails(ctx, nil, a.ID, "local")
			if err != nil {
				t.Fatal(err)
			}
			if *v.Usage != want {
				t.Fatalf("before the flush: usage %+v, want %+v (this node's unwritten counts)", v.Usage, want)
			}

			svc.FlushUsage(ctx)
			if n := st.writes.Load(); n != 1 {
				t.Fatalf("a flush made %d store writes, want 1", n)
			}
			if f, rows := svc.UsageWrites(); f != 1 || rows != 2 {
				t.Fatalf("UsageWrites = %d, %d; want 1 write of 2 rows", f, rows)
			}
			stored, err := st.APIKeyUsage(ctx, []string{a.ID, other.ID}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if stored[a.ID] != want || stored[other.ID] != (latchkey.APIKeyUsage{RequestsHour: 125, RequestsDay: 125}) {
				t.Fatalf("the store has %+v", stored)
			}
			views, err := svc.APIKeys(ctx, nil, a.OwnerID)
			if err != nil {
				t.Fatal(err)
			}
			if len(views) != 1 || *views[0].Usage != want {
				t.Fatalf("the list: %+v", views)
			}
			svc.FlushUsage(ctx)
			if n := st.writes.Load(); n != 1 {
				t.Fatalf("a flush with nothing counted wrote (%d writes)", n)
			}

			svc.CountAPIKeyUse(a.ID, true)
			if err := svc.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			stored, err = st.APIKeyUsage(ctx, []string{a.ID}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := stored[a.ID].RefusedHour; got != 201 {
				t.Fatalf("after Shutdown the store has %d refused, want 201", got)
			}
		})
	}
}

// TestKeyUsageWriteRate: however many requests are counted, the store sees
// one write per flush, not one per request.
func TestKeyUsageWriteRate(t *testing.T) {
	st := &usageCountingStore{Store: openSQLite(t, 0).Store}
	// The loop's ticker never fires in the test: each round ends with the
	// flush a tick would make, so the write count follows the rounds, not
	// the requests.
	svc := newUsageService(t, st, time.Hour)
	k := usageKey(t, svc, "goran")
	const rounds, goroutines, perRound = 7, 4, 500
	for range rounds {
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range perRound {
					svc.CountAPIKeyUse(k.ID, false)
				}
			})
		}
		wg.Wait()
		svc.FlushUsage(t.Context())
	}
	if err := svc.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	counted := int64(rounds * goroutines * perRound)
	writes, max := st.writes.Load(), int64(rounds)+1 // a write per flush, and Shutdown's
	t.Logf("%d requests counted, %d store writes in %d flushes", counted, writes, rounds)
	if writes > max {
		t.Fatalf("%d store writes for %d requests, want at most %d", writes, counted, max)
	}
	stored, err := st.APIKeyUsage(t.Context(), []string{k.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := stored[k.ID].RequestsDay; got != counted {
		t.Fatalf("the store has %d requests, want %d", got, counted)
	}
}

// summingStore adds up the usage writes it is given, and refuses every
// third while failing is set. The counters, not the store, are under test.
type summingStore struct {
	latchkey.Store
	mu      sync.Mutex
	sums    map[string]latchkey.APIKeyCount
	writes  int
	failing bool
}

func (s *summingStore) AddAPIKeyUsage(_ context.Context, _ time.Time, counts map[string]latchkey.APIKeyCount, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.failing && s.writes%3 == 0 {
		return errors.New("the store is away")
	}
	for id, n := range counts {
		sum := s.sums[id]
		sum.Requests += n.Requests
		sum.Refused += n.Refused
		s.sums[id] = sum
	}
	return nil
}

// TestUsageRetireLosesNothing counts from goroutines that each move from
// key to key while flushes run back to back, so counters go idle and are
// retired while other goroutines still hold them, and some writes fail and
// are put back. Every count must reach the store exactly once, and once
// the keys stop being used their counters must be gone. Deleting an idle
// counter without the retired mark loses the adds that land on it after
// the flush took it: this test then fails under -race within a few runs.
func TestUsageRetireLosesNothing(t *testing.T) {
	st := &summingStore{sums: map[string]latchkey.APIKeyCount{}, failing: true}
	u := newUsage(st, slog.New(slog.DiscardHandler), time.Now)
	const keys, goroutines, per = 16, 8, 30_000
	ids := make([]string, keys)
	for i := range ids {
		ids[i] = fmt.Sprintf("key%02d", i)
	}
	want := make([][keys]latchkey.APIKeyCount, goroutines)
	done := make(chan struct{})
	var flusher sync.WaitGroup
	flusher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				u.flush(context.Background())
			}
		}
	})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				k := (i/300 + g*3) % keys // a while on one key, then the next
				refused := i%5 == 0
				u.count(ids[k], refused)
				if refused {
					want[g][k].Refused++
				} else {
					want[g][k].Requests++
				}
			}
		})
	}
	wg.Wait()
	close(done)
	flusher.Wait()
	st.failing = false
	u.flush(context.Background()) // what is left
	u.flush(context.Background()) // nothing left: every counter retires

	for k, id := range ids {
		var sum latchkey.APIKeyCount
		for g := range goroutines {
			sum.Requests += want[g][k].Requests
			sum.Refused += want[g][k].Refused
		}
		if got := st.sums[id]; got != sum {
			t.Errorf("%s: the store has %+v, counted %+v", id, got, sum)
		}
	}
	left := 0
	u.counts.Range(func(any, any) bool { left++; return true })
	if left != 0 {
		t.Errorf("%d counters kept for keys no longer used, want none", left)
	}
	t.Logf("%d writes", st.writes)
}
