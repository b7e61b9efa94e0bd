// Package postgres is latchkey's store for several nodes: a latchkey.Store in
// a PostgreSQL schema (pgx/v5), shared by every node behind a load balancer.
// Changes travel between nodes by LISTEN/NOTIFY on a channel named after the
// schema, so stores in different schemas of one database do not hear each
// other.
//
// The DSN chooses the schema with search_path (for example
// "postgres://host/db?search_path=latchkey"); the schema must exist. The
// statements live in package sqlstore; this package opens the pool, migrates
// the schema and runs the change feed.
package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is a latchkey.Store in a PostgreSQL schema.
type DB struct {
	*sqlstore.Store
	pool    *pgxpool.Pool
	sqldb   *sql.DB
	feed    *sqlstore.Feed
	node    string
	schema  string
	channel string
	log     *slog.Logger
	timeout time.Duration

	listenPID atomic.Uint32 // backend of the listening connection, for tests
	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ latchkey.Store = (*DB)(nil)

// Options are the optional settings of Open.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Timeout bounds every store call, including waiting for a pooled
	// connection (see sqlstore.Config.Timeout), every connection attempt,
	// and pgx's cleanup of a connection that stopped answering. Zero adds
	// no deadline; the configuration's store.timeout is what latchkey
	// gives. Migrations are not bounded by it: one may take long.
	Timeout time.Duration
}

// Open connects to the database of dsn, applies the migrations that its
// current schema lacks, makes sure the built-in roles are present and starts
// listening for the changes of other nodes.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINVALID, "The PostgreSQL connection string is not valid.")
	}
	boundConnections(&cfg.ConnConfig.Config, opts.Timeout)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINVALID, "The PostgreSQL connection string is not valid.")
	}
	db := &DB{pool: pool, sqldb: stdlib.OpenDBFromPool(pool), feed: new(sqlstore.Feed), node: newNodeID(),
		log: logger, timeout: opts.Timeout, done: make(chan struct{})}
	if err := db.open(ctx); err != nil {
		db.sqldb.Close()
		pool.Close()
		return nil, err
	}
	return db, nil
}

// open does the work of Open once the pool exists.
func (db *DB) open(ctx context.Context) error {
	if err := db.ping(ctx); err != nil {
		msg := "Cannot connect to PostgreSQL."
		if sqlstore.TimedOut(err) {
			msg = "PostgreSQL did not answer in time (store.timeout)."
		}
		return latchkey.Wrap(err, latchkey.EUNAVAILABLE, msg)
	}
	var schema sql.NullString
	qctx, cancel := db.bound(ctx)
	err := db.sqldb.QueryRowContext(qctx, `SELECT current_schema()`).Scan(&schema)
	cancel()
	if err != nil {
		return latchkey.Wrap(err, unavailableOr(err, latchkey.EINTERNAL), "Cannot read the current PostgreSQL schema.")
	}
	if !schema.Valid {
		return latchkey.Errorf(latchkey.EINVALID, "No schema in the PostgreSQL search_path exists; create it first.")
	}
	db.schema, db.channel = schema.String, channelName(schema.String)
	if err := migrate(ctx, db.sqldb, db.schema, db.log); err != nil {
		return err
	}
	conn, err := db.connectListener(ctx)
	if err != nil {
		return latchkey.Wrap(err, unavailableOr(err, latchkey.EINTERNAL), "Cannot listen for PostgreSQL notifications.")
	}
	db.Store, err = sqlstore.New(ctx, sqlstore.Config{
		Read: db.sqldb, Write: db.sqldb, Notify: db.notify, Classify: classify, Feed: db.feed, Logger: db.log,
		Timeout: db.timeout,
	})
	if err != nil {
		closeConn(conn)
		return err
	}
	listenCtx, stop := context.WithCancel(context.Background())
	db.stop = stop
	go db.listen(listenCtx, conn)
	return nil
}

// ping checks that a connection works, within the timeout.
func (db *DB) ping(ctx context.Context) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.pool.Ping(ctx)
}

// bound is context.WithTimeout with the store's timeout; zero adds no
// deadline.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.timeout)
}

// Close stops listening and closes the pool. Calling it again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.stop()
		<-db.done
		db.sqldb.Close()
		db.pool.Close()
	})
	return nil
}

// migrate applies the embedded migrations that the schema lacks, each in a
// transaction, holding an advisory lock of the schema so that nodes starting
// together take turns: goose takes the lock on one connection before it
// looks at its version table (which it keeps in the schema too) and runs
// every migration on that connection.
func migrate(ctx context.Context, db *sql.DB, schema string, logger *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "An internal error occurred.")
	}
	h := fnv.New64a()
	h.Write([]byte("latchkey migrations " + schema))
	// The provider is not closed: Close would close db.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(advisoryLocker{id: int64(h.Sum64())}), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "Cannot read the PostgreSQL migrations.")
	}
	results, err := p.Up(ctx)
	if err != nil {
		return latchkey.Wrap(err, unavailableOr(err, latchkey.EINTERNAL), "Cannot migrate the PostgreSQL schema.")
	}
	for _, r := range results {
		logger.InfoContext(ctx, "applied migration", "store", "postgres", "schema", schema,
			"version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// migrationLockWait bounds the wait for another node's migration.
const migrationLockWait = 5 * time.Minute

// advisoryLocker is a goose session locker that waits in pg_advisory_lock,
// so that a node gets the lock as soon as the node migrating lets it go;
// goose's own PostgreSQL locker polls pg_try_advisory_lock once a second,
// which made nodes started together wait one to two seconds each for
// nothing. The lock is the session's: it goes with the connection, also when
// a node dies while migrating.
type advisoryLocker struct{ id int64 }

var _ lock.SessionLocker = advisoryLocker{}

func (l advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, migrationLockWait)
	defer cancel()
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, l.id)
	return err
}

func (l advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.id)
	return err
}

// channelName is the notification channel of a schema; PostgreSQL
// identifiers have at most 63 bytes.
func channelName(schema string) string {
	const prefix = "latchkey_changes_"
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema
	}
	sum := sha256.Sum256([]byte(schema))
	return prefix + hex.EncodeToString(sum[:16])
}

// newNodeID returns a random id that tells this Open's notifications from
// those of other nodes.
func newNodeID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// unavailableOr returns EUNAVAILABLE when err means the database cannot be
// reached, and code otherwise.
func unavailableOr(err error, code string) string {
	if classify(err) == latchkey.EUNAVAILABLE || errors.Is(err, context.DeadlineExceeded) {
		return latchkey.EUNAVAILABLE
	}
	return code
}
