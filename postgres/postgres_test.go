package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storetest"
	"github.com/latchkey/latchkey/testenv"
)

// logs is a slog handler that writes to the test's output and remembers the
// records at warning level and above.
type logs struct {
	slog.Handler
	mu     sync.Mutex
	warned []string
	notify chan<- string // if set, also gets each warning's message, when it has room
}

func (l *logs) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		l.mu.Lock()
		l.warned = append(l.warned, r.Message)
		if l.notify != nil {
			select {
			case l.notify <- r.Message:
			default:
			}
		}
		l.mu.Unlock()
	}
	return l.Handler.Handle(ctx, r)
}

func (l *logs) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.warned)
}

// newLogs returns a logger for the test and what it remembers.
func newLogs(t *testing.T) (*slog.Logger, *logs) {
	l := &logs{Handler: slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})}
	return slog.New(l), l
}

// openDSN opens the store and closes it when the test ends.
func openDSN(t *testing.T, dsn string) *DB {
	t.Helper()
	log, _ := newLogs(t)
	db, err := Open(context.Background(), dsn, Options{Logger: log, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// adminExec runs a statement on a connection of its own.
func adminExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) latchkey.Store {
		dsn := storetest.PostgresDSN(t)
		log, _ := newLogs(t)
		db, err := Open(context.Background(), dsn, Options{Logger: log, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	})
}

// newUser stores a user through db.
func newUser(t *testing.T, db *DB, name string) *latchkey.User {
	t.Helper()
	u := &latchkey.User{Directory: "LAB", Username: name}
	if err := db.CreateUser(t.Context(), u, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestChangeReachesOtherNode opens the schema twice, as two nodes would, and
// checks that each hears the other's changes, and its own only once.
func TestChangeReachesOtherNode(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	heardA, heardB := storetest.Record(t, a), storetest.Record(t, b)
	u := newUser(t, b, "goran")

	if err := b.GrantRole(ctx, u.ID, latchkey.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	granted := latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: u.ID}
	if got := heardB.Take(); len(got) != 1 || got[0] != granted {
		t.Fatalf("the writer's own subscriber got %+v, want %+v at once", got, granted)
	}
	heardA.Wait(t, granted, 5*time.Second)

	// a's own change reaches a once: notifications arrive in commit order,
	// so when a hears b's later change, its own has come and gone.
	if err := a.CreateSigningKey(ctx, &latchkey.SigningKey{ID: "kid", Algorithm: "EdDSA",
		PrivateKey: []byte("p"), PublicKey: []byte("q")}); err != nil {
		t.Fatal(err)
	}
	added := latchkey.Change{Kind: latchkey.ChangeSigningKey, Name: "kid"}
	if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	ended := latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: u.ID}
	heardA.Wait(t, ended, 5*time.Second)
	heardB.Wait(t, added, 5*time.Second)
	want := []latchkey.Change{granted, added, ended}
	if got := heardA.Changes(); !slices.Equal(got, want) {
		t.Fatalf("a heard %+v, want %+v", got, want)
	}
}

// TestSchemasDoNotHearEachOther writes in one schema and checks that a store
// in another schema of the same database hears nothing of it.
func TestSchemasDoNotHearEachOther(t *testing.T) {
	ctx := t.Context()
	dsnX, dsnY := storetest.PostgresDSN(t), storetest.PostgresDSN(t)
	x, y1, y2 := openDSN(t, dsnX), openDSN(t, dsnY), openDSN(t, dsnY)
	if x.channel == y1.channel {
		t.Fatalf("both schemas notify on %q", x.channel)
	}
	heard := storetest.Record(t, y1)
	if err := x.DeleteSigningKey(ctx, "none"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Fatalf("DeleteSigningKey: %v", err)
	}
	u := newUser(t, x, "goran")
	if _, err := x.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	// y2's change commits after x's: once y1 hears it, x's would have come.
	v := newUser(t, y2, "anna")
	if _, err := y2.EndUserSessions(ctx, v.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	want := latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: v.ID}
	heard.Wait(t, want, 5*time.Second)
	if got := heard.Changes(); len(got) != 1 {
		t.Fatalf("y1 heard %+v, want only %+v", got, want)
	}
}

// TestResyncAfterLostConnection kills the listening backend and checks that
// the store reconnects, delivers ChangeResync, and hears changes again.
func TestResyncAfterLostConnection(t *testing.T) {
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	heard := storetest.Record(t, a)
	pid := a.listenerPID()
	if pid == 0 {
		t.Fatal("no listener pid")
	}
	adminExec(t, "SELECT pg_terminate_backend($1)", int64(pid))
	heard.Wait(t, latchkey.Change{Kind: latchkey.ChangeResync}, 10*time.Second)
	if got := a.listenerPID(); got == pid {
		t.Fatalf("the listener still uses backend %d", pid)
	}
	u := newUser(t, b, "goran")
	if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	heard.Wait(t, latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: u.ID}, 5*time.Second)
	// The store itself still works; its pool lost nothing.
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// healthCheck is a health ping of a listener, and its result.
type healthCheck struct {
	db  *DB
	err error
}

// watchHealth reports the listeners' health pings until the test ends.
func watchHealth(t *testing.T) <-chan healthCheck {
	ch := make(chan healthCheck, 1024)
	hook := func(db *DB, err error) {
		select {
		case ch <- healthCheck{db, err}:
		default:
			t.Errorf("the test's health watch fell behind")
		}
	}
	healthChecked.Store(&hook)
	t.Cleanup(func() { healthChecked.Store(nil) })
	return ch
}

// TestQuietListenerStaysConnected shortens the health interval and checks
// that the listener's pings succeed and leave it connected and hearing.
func TestQuietListenerStaysConnected(t *testing.T) {
	old := healthInterval
	healthInterval = 50 * time.Millisecond
	t.Cleanup(func() { healthInterval = old })
	checks := watchHealth(t) // before Open: its cleanup runs after Close
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	log, l := newLogs(t)
	a, err := Open(context.Background(), dsn, Options{Logger: log, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := openDSN(t, dsn)
	heard := storetest.Record(t, a)
	pid := a.listenerPID()
	u := newUser(t, b, "goran")
	for i := range 3 {
		for n := 0; n < 3; {
			select {
			case c := <-checks:
				if c.db != a {
					continue
				}
				if c.err != nil {
					t.Fatalf("a health ping failed: %v", c.err)
				}
				n++
			case <-time.After(10 * time.Second):
				t.Fatal("no health ping within 10s")
			}
		}
		if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		want := slices.Repeat([]latchkey.Change{{Kind: latchkey.ChangeUserSession, UserID: u.ID}}, i+1)
		heard.WaitUntil(t, 5*time.Second, fmt.Sprintf("not %+v", want), func(got []latchkey.Change) bool { return slices.Equal(got, want) })
	}
	if a.listenerPID() != pid || len(l.warnings()) != 0 {
		t.Fatalf("the listener reconnected (pid %d, then %d; warnings %v)", pid, a.listenerPID(), l.warnings())
	}
}

// TestMigrationsInSchema checks that the tables, goose's too, are in the
// schema of search_path, and that opening again applies nothing twice.
func TestMigrationsInSchema(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	db := openDSN(t, dsn)
	var tables []string
	rows, err := db.sqldb.QueryContext(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 ORDER BY table_name`, db.schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, want := range []string{"abilities", "api_keys", "audit", "goose_db_version", "role_abilities",
		"roles", "sessions", "signing_keys", "used_jtis", "user_roles", "users"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("schema %s has tables %v, no %s", db.schema, tables, want)
		}
	}
	again := openDSN(t, dsn)
	if _, err := again.Role(t.Context(), latchkey.RoleAdmin); err != nil {
		t.Fatal(err)
	}
}

// TestCloseIsQuiet checks that Close stops the listener without a warning,
// and that a closed store answers EUNAVAILABLE.
func TestCloseIsQuiet(t *testing.T) {
	log, l := newLogs(t)
	db, err := Open(context.Background(), storetest.PostgresDSN(t), Options{Logger: log, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if w := l.warnings(); len(w) != 0 {
		t.Fatalf("warnings: %v", w)
	}
	_, err = db.User(t.Context(), 1)
	if code := latchkey.ErrorCode(err); code != latchkey.EUNAVAILABLE {
		t.Fatalf("User after Close: %v (code %q), want %q", err, code, latchkey.EUNAVAILABLE)
	}
}

func TestOpenRejects(t *testing.T) {
	base := os.Getenv(storetest.PostgresEnv)
	if base == "" {
		testenv.Missing(t, "LATCHKEY_TEST_POSTGRES is not set; skipping PostgreSQL tests")
	}
	for _, tc := range []struct{ dsn, code string }{
		{"postgres://%zz", latchkey.EINVALID},
		{storetest.WithSearchPath(t, base, "lk_no_such_schema"), latchkey.EINVALID},
		{"postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", latchkey.EUNAVAILABLE},
	} {
		db, err := Open(t.Context(), tc.dsn, Options{})
		if err == nil {
			db.Close()
		}
		if code := latchkey.ErrorCode(err); code != tc.code {
			t.Errorf("Open(%q): %v (code %q), want code %q", tc.dsn, err, code, tc.code)
		}
	}
}

func TestChannelName(t *testing.T) {
	if got := channelName("lk_ab"); got != "latchkey_changes_lk_ab" {
		t.Fatalf("channelName = %q", got)
	}
	long := strings.Repeat("s", 63)
	a, b := channelName(long), channelName(long+"x")
	if len(a) > 63 || len(b) > 63 || a == b {
		t.Fatalf("channels of long schemas: %q, %q", a, b)
	}
}
