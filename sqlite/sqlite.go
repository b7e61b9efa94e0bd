// Package sqlite is latchkey's embedded store: a latchkey.Store in one SQLite
// file (modernc.org/sqlite, pure Go, WAL mode), for a single node. Other
// processes may open the same file, such as the command line while the server
// runs: their changes reach this process's subscribers through a changes
// table that a poller reads twice a second.
//
// The statements themselves live in package sqlstore; this package opens the
// file, migrates it and runs the change feed.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// pragmas are set on every connection, after busy_timeout (see
// busyTimeout). cache=shared is never used: it defeats WAL's concurrent
// readers and brings table-level locking. Reads go through a memory map of
// up to 1 GiB of the file, shared by every connection through the OS page
// cache, so that a large store (a million API keys is some 200 MB) is read
// without a system call and a copy per page, and each connection's own page
// cache does not have to hold it.
const pragmas = "&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=mmap_size(1073741824)"

// maxBusyTimeout is how long a statement waits for another process's write
// lock when Options.Timeout is zero.
const maxBusyTimeout = 10 * time.Second

// busyTimeout is the busy_timeout pragma: how long SQLite waits for a lock
// that another connection holds. SQLite's wait does not see the context, so
// it must not outlast the store's timeout.
func busyTimeout(timeout time.Duration) string {
	d := maxBusyTimeout
	if timeout > 0 && timeout < d {
		d = timeout
	}
	return "_pragma=busy_timeout(" + strconv.FormatInt(max(d.Milliseconds(), 1), 10) + ")"
}

// Options are the optional settings of Open.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Timeout bounds every store call (see sqlstore.Config.Timeout) and
	// SQLite's wait for a lock. Zero adds no deadline; the configuration's
	// store.timeout is what latchkey gives.
	Timeout time.Duration
}

// DB is a latchkey.Store in a SQLite file.
type DB struct {
	*sqlstore.Store
	read, write *sql.DB
	feed        *sqlstore.Feed
	node        string
	log         *slog.Logger
	timeout     time.Duration

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ latchkey.Store = (*DB)(nil)

// Open opens or creates the SQLite file at path, applies the migrations that
// it lacks, makes sure the built-in roles are present and starts the change
// feed.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The SQLite database must be a file path without '?' or '#'.")
	}
	unlock, err := lockOpen(ctx, path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	db := &DB{feed: new(sqlstore.Feed), node: newNodeID(), log: logger,
		timeout: opts.Timeout, done: make(chan struct{})}
	if err := migrate(ctx, path, opts.Timeout, logger); err != nil {
		return nil, err
	}
	if db.write, err = openPool(ctx, path, opts.Timeout, "&_txlock=immediate", 1); err != nil {
		return nil, err
	}
	if db.read, err = openPool(ctx, path, opts.Timeout, "&_pragma=query_only(1)", max(4, runtime.NumCPU())); err != nil {
		db.write.Close()
		return nil, err
	}
	db.Store, err = sqlstore.New(ctx, sqlstore.Config{
		Read: db.read, Write: db.write, Notify: db.notify, Classify: classify,
		Purge: purgeChanges, Feed: db.feed, Logger: logger, Timeout: opts.Timeout,
	})
	if err == nil {
		err = db.startFeed(ctx)
	}
	if err != nil {
		db.read.Close()
		db.write.Close()
		return nil, err
	}
	return db, nil
}

// Close stops the change feed and closes the database; SQLite checkpoints
// the WAL as the last connection closes. Calling it again returns the first
// result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stop()
		<-db.done
		db.closeErr = errors.Join(db.read.Close(), db.write.Close())
	})
	return db.closeErr
}

// openPool opens a pool of at most n connections to the file and checks that
// the first one works, within timeout (when not zero).
func openPool(ctx context.Context, path string, timeout time.Duration, extra string, n int) (*sql.DB, error) {
	pool, err := sql.Open("sqlite", path+"?"+busyTimeout(timeout)+pragmas+extra)
	if err == nil {
		pool.SetMaxOpenConns(n)
		pool.SetMaxIdleConns(n)
		pool.SetConnMaxLifetime(0)
		pool.SetConnMaxIdleTime(0)
		pctx, cancel := withTimeout(ctx, timeout)
		err = pool.PingContext(pctx)
		cancel()
		if err != nil {
			pool.Close()
		}
	}
	if err != nil {
		return nil, latchkey.Wrap(err, latchkey.EUNAVAILABLE, fmt.Sprintf("Cannot open the SQLite database %s.", path))
	}
	return pool, nil
}

// withTimeout is context.WithTimeout, where a zero timeout adds no deadline.
func withTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// newNodeID returns a random id that tells this Open's changes from those of
// other processes.
func newNodeID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
