// Package sqlstore implements latchkey.Store once, over database/sql, for
// every SQL backend. The sqlite and postgres packages open their database,
// apply their migrations and hand the pools to New together with a few hooks:
// how to record a change for other store instances inside the transaction
// that made it (Notify), how to read their driver's errors (Classify) and what
// else PurgeExpired must delete (Purge).
//
// Every statement is the same text on both backends: parameters are written
// $1, $2…, times are BIGINT unix microseconds in UTC, booleans are bound as Go
// bools, group lists are JSON text, and secrets and hashes are opaque bytes
// that never reach a log line or an error message. Directories, usernames and
// emails are compared through key columns computed with latchkey.NameKey.
//
// Writes that can make a cache stale emit a latchkey.Change: Notify records it
// in the writing transaction and, once the commit has returned, the change is
// delivered synchronously to this instance's subscribers (see Feed).
//
// Every method runs under a deadline of Config.Timeout (store.timeout), added
// by bound as the method begins; one that runs out of it is EUNAVAILABLE with
// "The database did not answer in time".
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey"
)

// Config is what a backend gives New.
type Config struct {
	// Read serves queries outside transactions. Nil means Write.
	Read *sql.DB
	// Write serves every transaction that writes. SQLite gives a pool of one
	// connection that begins transactions with BEGIN IMMEDIATE.
	Write *sql.DB
	// Notify records a change inside the transaction that makes it, so that
	// other store instances learn of it once it commits. Nil records nothing.
	Notify func(ctx context.Context, tx *sql.Tx, c latchkey.Change) error
	// Classify returns the latchkey error code of a driver error: ECONFLICT
	// for a unique violation, ENOTFOUND for a foreign key violation,
	// EUNAVAILABLE when the database cannot be reached, "" when unknown.
	Classify func(err error) string
	// Purge deletes what else PurgeExpired must delete (such as SQLite's
	// change-feed rows), in PurgeExpired's transaction, and returns how many
	// rows went. Nil deletes nothing more.
	Purge func(ctx context.Context, tx *sql.Tx, cutoff time.Time) (int64, error)
	// Feed holds the subscribers; the backend publishes the changes of other
	// instances to it. Nil makes a new one.
	Feed *Feed
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// Timeout bounds every call of the store: each method runs under a
	// deadline this long after it starts (or the caller's, when sooner),
	// which covers waiting for a connection as well as the statements.
	// Zero adds no deadline.
	Timeout time.Duration
}

// Store implements every method of latchkey.Store except Close, which the
// backend that owns the pools provides.
type Store struct {
	read, write *sql.DB
	notify      func(context.Context, *sql.Tx, latchkey.Change) error
	classify    func(error) string
	purge       func(context.Context, *sql.Tx, time.Time) (int64, error)
	feed        *Feed
	log         *slog.Logger
	now         func() time.Time
	timeout     time.Duration
}

// New returns a store over the migrated database of cfg and makes sure the
// built-in abilities and roles are present, as latchkey defines them.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Write == nil {
		return nil, latchkey.Errorf(latchkey.EINTERNAL, "sqlstore: Config.Write is nil.")
	}
	s := &Store{read: cfg.Read, write: cfg.Write, notify: cfg.Notify, classify: cfg.Classify,
		purge: cfg.Purge, feed: cfg.Feed, log: cfg.Logger, now: cfg.Now, timeout: cfg.Timeout}
	if s.read == nil {
		s.read = s.write
	}
	if s.feed == nil {
		s.feed = new(Feed)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.ensureBuiltIns(bctx); err != nil {
		return nil, err
	}
	return s, nil
}

// bound returns ctx with the store's deadline (Config.Timeout from now)
// added; a caller's sooner deadline stays. Every method of Store begins
// with it, so that a database that stops answering costs a caller at most
// the timeout.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// Subscribe calls fn for every change committed from now on; see
// latchkey.ChangeFeed.
func (s *Store) Subscribe(fn func(latchkey.Change)) (unsubscribe func()) {
	return s.feed.Subscribe(fn)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.fail("ping", s.read.PingContext(ctx))
}

// PurgeExpired deletes sessions and API keys that ended, were revoked or
// expired before cutoff, used JWT ids that expired before cutoff, and what
// Config.Purge deletes. It returns how many rows went.
func (s *Store) PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := micros(cutoff)
	stmts := []struct {
		query string
		args  []any
	}{
		{`DELETE FROM sessions WHERE ended < $1 OR expires < $1`, []any{c}},
		{`DELETE FROM api_keys WHERE revoked < $1 OR expires < $1`, []any{c}},
		{`DELETE FROM used_jtis WHERE expires < $1`, []any{c}},
	}
	var total int64
	err := s.tx(ctx, "purge expired rows", nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		for _, st := range stmts {
			n, err := execCount(ctx, tx, st.query, st.args...)
			if err != nil {
				return err
			}
			total += n
		}
		if s.purge != nil {
			n, err := s.purge(ctx, tx, cutoff)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// tx runs fn in a write transaction and, when fn succeeds and rec is not
// nil, appends the audit record rec in the same transaction. The changes fn
// emits are recorded with Notify before the commit and delivered to
// subscribers after it. Errors are turned into *latchkey.Error values naming
// op for the log.
func (s *Store) tx(ctx context.Context, op string, rec *latchkey.AuditEvent, fn func(tx *sql.Tx, emit func(latchkey.Change)) error) error {
	if rec != nil && rec.Action == "" {
		return latchkey.Errorf(latchkey.EINVALID, "The audit event has no action.")
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(op, err)
	}
	var changes []latchkey.Change
	err = fn(tx, func(c latchkey.Change) { changes = append(changes, c) })
	if err == nil && rec != nil {
		err = s.insertAudit(ctx, tx, rec)
	}
	if err == nil && s.notify != nil {
		for _, c := range changes {
			if err = s.notify(ctx, tx, c); err != nil {
				break
			}
		}
	}
	if err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			s.log.DebugContext(ctx, "rollback failed", "op", op, "err", rerr)
		}
		return s.fail(op, err)
	}
	if err := tx.Commit(); err != nil {
		return s.fail(op, err)
	}
	if rec != nil {
		rec.Time = norm(rec.Time)
	}
	s.feed.Publish(changes...)
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execCount runs a statement and returns how many rows it changed.
func execCount(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
