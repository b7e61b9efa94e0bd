package sqlite

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storetest"
)

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// openFile opens the store in path and closes it when the test ends.
func openFile(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{Logger: testLogger(t), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) latchkey.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"), Options{Logger: testLogger(t), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return db
	})
}

// TestChangeFromAnotherProcess opens the file twice, as the server and the
// command line would, and checks that each hears the other's changes once.
func TestChangeFromAnotherProcess(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	server, cli := openFile(t, path), openFile(t, path)
	heard, own := storetest.Record(t, server), storetest.Record(t, cli)

	u := &latchkey.User{Directory: "LAB", Username: "goran"}
	if err := cli.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	k := &latchkey.APIKey{ID: "lk_a", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour), Hash: []byte("h")}
	if err := cli.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := cli.RevokeAPIKey(ctx, "lk_a", time.Now()); err != nil {
		t.Fatal(err)
	}
	revoked := latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: "lk_a", UserID: u.ID}
	if got := own.Take(); len(got) != 1 || got[0] != revoked {
		t.Fatalf("the writer's own subscriber got %+v, want %+v at once", got, revoked)
	}
	heard.Wait(t, revoked, 5*time.Second)

	// The server's own change reaches it once: once the server hears cli's
	// later change, its poller has read past its own row, in seq order.
	if err := server.GrantRole(ctx, u.ID, latchkey.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	granted := latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: u.ID}
	if _, err := cli.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	ended := latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: u.ID}
	heard.Wait(t, ended, 5*time.Second)
	own.Wait(t, granted, 5*time.Second)
	want := []latchkey.Change{revoked, granted, ended}
	if got := heard.Changes(); !equalChanges(got, want) {
		t.Fatalf("server heard %+v, want %+v", got, want)
	}
}

func equalChanges(a, b []latchkey.Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWALAndForeignKeys checks the file's journal mode and each pool's
// settings (foreign keys, busy timeout, memory map).
func TestWALAndForeignKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db := openFile(t, path)
	for name, pool := range map[string]*sql.DB{"read": db.read, "write": db.write} {
		var mode string
		var fk, busy, mmap int
		if err := pool.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow("PRAGMA mmap_size").Scan(&mmap); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 || busy != 10000 || mmap != 1<<30 {
			t.Fatalf("%s pool: journal_mode %q, foreign_keys %d, busy_timeout %d, mmap_size %d", name, mode, fk, busy, mmap)
		}
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Fatalf("write pool holds up to %d connections, want 1", got)
	}
	if _, err := db.read.Exec("DELETE FROM audit"); err == nil {
		t.Fatal("the read pool can write")
	}
	// Bytes 18 and 19 of the header are 2 in a WAL database.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := make([]byte, 20)
	if _, err := io.ReadFull(f, header); err != nil {
		t.Fatal(err)
	}
	if header[18] != 2 || header[19] != 2 {
		t.Fatalf("file format versions %d, %d; want 2, 2 (WAL)", header[18], header[19])
	}
}

// TestPersistsAcrossReopen closes the store and opens the file again.
func TestPersistsAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db, err := Open(ctx, path, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Directory: "LAB", Username: "goran", Roles: []string{latchkey.RoleAdmin}}
	if err := db.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = db.User(ctx, u.ID)
	if code := latchkey.ErrorCode(err); code != latchkey.EUNAVAILABLE {
		t.Fatalf("User after Close: %v (code %q), want %q", err, code, latchkey.EUNAVAILABLE)
	}
	db = openFile(t, path)
	got, err := db.UserByName(ctx, "lab", "goran")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || len(got.Roles) != 1 || got.Roles[0] != latchkey.RoleAdmin {
		t.Fatalf("user after reopen = %+v", got)
	}
}

// TestPurgeKeepsRecentChanges checks that PurgeExpired deletes old change
// rows but keeps those that pollers may not have read yet.
func TestPurgeKeepsRecentChanges(t *testing.T) {
	ctx := t.Context()
	db := openFile(t, filepath.Join(t.TempDir(), "latchkey.db"))
	old := time.Now().Add(-time.Hour).UnixMicro()
	for _, created := range []int64{old, old, time.Now().UnixMicro()} {
		if _, err := db.write.Exec(`INSERT INTO changes (node, payload, created) VALUES ('x', '{}', $1)`, created); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.PurgeExpired(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.read.QueryRow(`SELECT COUNT(*) FROM changes`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if n != 2 || left != 1 {
		t.Fatalf("purged %d, left %d; want 2 and 1", n, left)
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct{ path, code string }{
		{"", latchkey.EINVALID},
		{":memory:", latchkey.EINVALID},
		{"file:x.db?mode=memory", latchkey.EINVALID},
		{filepath.Join(t.TempDir(), "missing", "dir", "latchkey.db"), latchkey.EUNAVAILABLE},
	} {
		db, err := Open(ctx, tc.path, Options{Logger: testLogger(t)})
		if err == nil {
			db.Close()
		}
		if code := latchkey.ErrorCode(err); code != tc.code {
			t.Errorf("Open(%q): %v (code %q), want code %q", tc.path, err, code, tc.code)
		}
	}
}

// TestLockedWriteTimesOut holds the write lock from another connection, as
// another process in a long transaction would, and checks that writes
// answer EUNAVAILABLE within the store's timeout (and a fifth), whether
// they wait in SQLite's busy handler or for the store's one write
// connection, that reads go on, and that busy_timeout follows the timeout.
func TestLockedWriteTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const bound = timeout + timeout/5
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db, err := Open(ctx, path, Options{Logger: testLogger(t), Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var busy int
	if err := db.write.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 300 {
		t.Fatalf("busy_timeout = %d (%v), want 300", busy, err)
	}
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	writes := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return db.CreateUser(ctx, &latchkey.User{Directory: "LAB", Username: "ivo"}, nil) }},
		{"RevokeAPIKey", func() error { return db.RevokeAPIKey(ctx, "k", time.Now()) }},
		{"TouchAPIKeys", func() error { return db.TouchAPIKeys(ctx, map[string]time.Time{"k": time.Now()}) }},
	}
	errs := make([]error, len(writes))
	took := make([]time.Duration, len(writes))
	done := make(chan struct{})
	for i, w := range writes { // at once: all but one wait for the write connection
		go func() {
			start := time.Now()
			errs[i] = w.call()
			took[i] = time.Since(start)
			done <- struct{}{}
		}()
	}
	for range writes {
		<-done
	}
	for i, w := range writes {
		t.Logf("%s with the write lock held elsewhere: %v after %d ms", w.name, latchkey.ErrorCode(errs[i]), took[i].Milliseconds())
		if code := latchkey.ErrorCode(errs[i]); code != latchkey.EUNAVAILABLE {
			t.Errorf("%s: %v (code %q), want %q", w.name, errs[i], code, latchkey.EUNAVAILABLE)
		}
		if took[i] > bound {
			t.Errorf("%s took %s, want at most %s", w.name, took[i], bound)
		}
	}
	if _, err := db.Users(ctx, latchkey.UserFilter{}); err != nil {
		t.Errorf("a read while the write lock is held: %v", err)
	}
}

func TestBusyTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{
		{0, "_pragma=busy_timeout(10000)"},
		{2 * time.Second, "_pragma=busy_timeout(2000)"},
		{time.Minute, "_pragma=busy_timeout(10000)"},
		{10 * time.Millisecond, "_pragma=busy_timeout(10)"},
		{time.Microsecond, "_pragma=busy_timeout(1)"},
	} {
		if got := busyTimeout(tc.timeout); got != tc.want {
			t.Errorf("busyTimeout(%s) = %q, want %q", tc.timeout, got, tc.want)
		}
	}
}

// TestFeedResyncsAfterAGap: when the change table cannot be read for a
// while, the poller delivers a resync once it reads again, since the rows
// of the gap may have been purged.
func TestFeedResyncsAfterAGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	logged := make(chan string, 16)
	log := slog.New(messages{slog.NewTextHandler(t.Output(), nil), logged})
	db, err := Open(context.Background(), path, Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	heard := storetest.Record(t, db)
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`ALTER TABLE changes RENAME TO changes_away`); err != nil {
		t.Fatal(err)
	}
	waitLogged(t, logged, "cannot read the change feed")
	if got := heard.Changes(); len(got) != 0 {
		t.Fatalf("heard %+v while the feed could not be read", got)
	}
	if _, err := other.Exec(`ALTER TABLE changes_away RENAME TO changes`); err != nil {
		t.Fatal(err)
	}
	heard.Wait(t, latchkey.Change{Kind: latchkey.ChangeResync}, 5*time.Second)
}

// messages is a log handler that also sends each record's message to a
// channel (dropping it when the channel is full).
type messages struct {
	slog.Handler
	c chan string
}

func (m messages) Handle(ctx context.Context, r slog.Record) error {
	select {
	case m.c <- r.Message:
	default:
	}
	return m.Handler.Handle(ctx, r)
}

func waitLogged(t *testing.T, c chan string, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-c:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("%q was not logged within 10s", msg)
		}
	}
}
