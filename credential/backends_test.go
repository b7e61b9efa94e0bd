package credential

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/sqlite"
	"github.com/latchkey/latchkey/sqlstore"
	"github.com/latchkey/latchkey/storetest"
)

// testStore is a store of one backend, opened for a test and closed when
// it ends.
type testStore struct {
	latchkey.Store
	// exec runs a statement straight on the database, past the store, as an
	// operator's SQL would: it publishes no change.
	exec func(t testing.TB, stmt string)
}

// testBackend opens stores of one backend; timeout is the store's
// (sqlite.Options.Timeout, postgres.Options.Timeout), 0 for none.
type testBackend struct {
	name string
	open func(t testing.TB, timeout time.Duration) *testStore
}

// testBackends are the backends that the tests which need the store to
// behave as in production run on. PostgreSQL's skip without
// LATCHKEY_TEST_POSTGRES, and fail under CI (storetest.PostgresDSN).
var testBackends = []testBackend{{"sqlite", openSQLite}, {"postgres", openPostgres}}

func openSQLite(t testing.TB, timeout time.Duration) *testStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Logger: slog.New(slog.DiscardHandler), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testStore{Store: st, exec: func(t testing.TB, stmt string) {
		t.Helper()
		db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}}
}

func openPostgres(t testing.TB, timeout time.Duration) *testStore {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{Logger: slog.New(slog.DiscardHandler), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &testStore{Store: st, exec: func(t testing.TB, stmt string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}}
}

// onBackends runs test once on each backend, as a subtest named after it;
// test makes its fixtures (as many as it likes) with newf.
func onBackends(t *testing.T, test func(t *testing.T, newf func(t *testing.T) *fixture)) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			test(t, func(t *testing.T) *fixture { return newFixtureOn(t, b.open(t, 0), newTestHasher(), 50) })
		})
	}
}

// feedStore is a store whose subscribers also hear what a test publishes on
// feed, as they hear what the backend publishes: a resync after a gap, a
// change that another node committed.
type feedStore struct {
	latchkey.Store
	feed sqlstore.Feed
}

// Subscribe adds fn to the store's feed and to the test's.
func (s *feedStore) Subscribe(fn func(latchkey.Change)) (unsubscribe func()) {
	fromStore, fromTest := s.Store.Subscribe(fn), s.feed.Subscribe(fn)
	return func() { fromStore(); fromTest() }
}

// testClock is a clock that a test moves by hand.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// useClock makes the service tell time by a clock of the test's, which
// starts at the real time, and returns it. Call it before the service is
// used.
func (f *fixture) useClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	f.svc.now = c.now
	return c
}
