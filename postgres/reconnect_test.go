package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storetest"
)

// heard is what a store's subscriber heard, with when.
type heard struct {
	change latchkey.Change
	at     time.Time
}

// listenTo subscribes to db and returns a channel of what it hears.
func listenTo(t *testing.T, db *DB) <-chan heard {
	ch := make(chan heard, 1024)
	unsubscribe := db.Subscribe(func(c latchkey.Change) {
		select {
		case ch <- heard{c, time.Now()}:
		default:
			t.Errorf("the test's subscriber fell behind; dropped %+v", c)
		}
	})
	t.Cleanup(unsubscribe)
	return ch
}

// TestFeedBackSoonAfterRestart reaches PostgreSQL through a proxy that
// plays a restart: every connection cut, new ones refused until the
// listener has tried sixteen times (long enough for a growing backoff to have
// grown), then accepted again.
// Right then another node makes a change; the node behind the proxy must
// hear of it, as the change itself or as the reconnect's resync, within a
// second of the database accepting connections again.
func TestFeedBackSoonAfterRestart(t *testing.T) {
	const tries, refusals, within = 4, 16, time.Second
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	proxy, proxied := storetest.PostgresThroughProxy(t, dsn)
	a, b := openDSN(t, proxied), openDSN(t, dsn)
	got := listenTo(t, a)
	u := newUser(t, b, "goran")
	var latencies []time.Duration
	for try := range tries {
		for len(proxy.Refused()) > 0 { // refusals of the last try
			<-proxy.Refused()
		}
		proxy.Refuse(true)
		proxy.Cut()
		// The scenario: the database stays down while the listener tries
		// again and again — some seconds, long enough for a growing backoff
		// to have grown past a second (100 ms doubling: 3.1 s by the 5th
		// attempt), and for the pool to check its idle connections before
		// it hands them out again (pgxpool pings those idle over a second).
		for range refusals {
			select {
			case <-proxy.Refused():
			case <-time.After(20 * time.Second):
				t.Fatalf("try %d: the listener did not try to reconnect %d times within 20s", try, refusals)
			}
		}
		for len(got) > 0 { // what came before the restart
			<-got
		}
		proxy.Refuse(false)
		back := time.Now()
		if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		ended := latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: u.ID}
		deadline := time.After(10 * time.Second)
		var first time.Duration
		for first == 0 {
			select {
			case h := <-got:
				if h.change.Kind == latchkey.ChangeResync || h.change == ended {
					first = h.at.Sub(back)
				}
			case <-deadline:
				t.Fatalf("try %d: a heard nothing within 10s of the database coming back", try)
			}
		}
		latencies = append(latencies, first)
		// The feed works again: a's own pool and b's next change both reach it.
		if err := a.Ping(ctx); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, got, ended, 5*time.Second)
	}
	t.Logf("heard within %v of the database coming back (%d tries, each after %d refused reconnects)", latencies, tries, refusals)
	if worst := slices.Max(latencies); worst > within {
		t.Fatalf("the slowest try heard after %v, want at most %v", worst, within)
	}
}

// TestFeedNoticesLostConnection freezes the proxy (nothing forwarded,
// nothing closed, as a network gone silent), and in one case then cuts
// every connection while still frozen (as a database killed while its
// processes were stopped). The listener must notice on its own, while the
// proxy is frozen: a silent connection by its ping (a failed health ping
// comes before the warning), a cut one at once (no health ping comes before
// it). Once the proxy forwards again the listener must be back, with a
// resync, soon.
func TestFeedNoticesLostConnection(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		healthInterval, pingTimeout time.Duration
		cut                         bool
	}{
		{"silent", 100 * time.Millisecond, 200 * time.Millisecond, false},
		{"frozen then cut", healthInterval, pingTimeout, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldHealth, oldPing := healthInterval, pingTimeout
			healthInterval, pingTimeout = tc.healthInterval, tc.pingTimeout
			t.Cleanup(func() { healthInterval, pingTimeout = oldHealth, oldPing })
			checks := watchHealth(t) // before Open: its cleanup runs after Close
			dsn := storetest.PostgresDSN(t)
			proxy, proxied := storetest.PostgresThroughProxy(t, dsn)
			log, l := newLogs(t)
			warned := make(chan string, 16)
			l.notify = warned
			a, err := Open(t.Context(), proxied, Options{Logger: log, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			got := listenTo(t, a)
			pid := a.listenerPID()

			proxy.Freeze()
			if tc.cut {
				proxy.Cut()
			}
			frozen := time.Now()
			failedPings := 0
		notice:
			for {
				select {
				case c := <-checks:
					if c.db != a {
						continue
					}
					if tc.cut {
						t.Fatalf("a health ping (err %v) came before the listener noticed the cut", c.err)
					}
					if c.err != nil { // one just before the freeze may succeed
						failedPings++
					}
				case msg := <-warned:
					if msg != "lost the change feed connection; reconnecting" {
						t.Fatalf("warned %q, want the lost connection", msg)
					}
					t.Logf("noticed after %v", time.Since(frozen))
					break notice
				case <-time.After(20 * time.Second):
					t.Fatal("the listener did not notice within 20s")
				}
			}
			if !tc.cut && failedPings != 1 {
				t.Fatalf("%d failed health pings before the warning, want 1", failedPings)
			}
			proxy.Thaw()
			thawed := time.Now()
			waitFor(t, got, latchkey.Change{Kind: latchkey.ChangeResync}, 5*time.Second)
			// The listener retries every retryMax at most, so it is back
			// within that and one connection setup of the thaw, which takes
			// a few milliseconds. The bound is generous (a loaded machine
			// once took 1.006s), yet well below what a backoff grown past
			// retryMax or a wait for the connect timeout would take.
			if d, bound := time.Since(thawed), 2*time.Second; d > bound {
				t.Errorf("resync %v after the thaw, want at most %v", d, bound)
			} else {
				t.Logf("resync %v after the thaw", d)
			}
			if a.listenerPID() == pid {
				t.Fatalf("the listener still uses backend %d", pid)
			}
		})
	}
}

// waitFor reads ch until want comes, for at most d.
func waitFor(t *testing.T, ch <-chan heard, want latchkey.Change, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case h := <-ch:
			if h.change == want {
				return
			}
		case <-deadline:
			t.Fatalf("did not hear %+v within %v", want, d)
		}
	}
}
