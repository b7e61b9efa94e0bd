package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/latchkey/latchkey"
)

// migrate applies the migrations that the file at path lacks, each in a
// transaction. There are no down migrations. goose has no SQLite locker:
// Open holds lockOpen's lock around it, so that processes that open a new
// file together do not both apply a migration.
//
// The migrations run on a pool of their own, of two connections, which is
// closed when they are done: goose holds one connection for the whole run,
// and a Go migration that runs outside goose's transaction (version 3) pins
// the other. No connection whose settings a migration changed reaches the
// store's pools.
func migrate(ctx context.Context, path string, timeout time.Duration, logger *slog.Logger) error {
	pool, err := openPool(ctx, path, timeout, "&_txlock=immediate", 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	p, err := newProvider(pool)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		code := latchkey.EINTERNAL
		if c := classify(err); c == latchkey.EUNAVAILABLE {
			code = c
		}
		return latchkey.Wrap(err, code, "Cannot migrate the SQLite database.")
	}
	for _, r := range results {
		logger.InfoContext(ctx, "applied migration", "store", "sqlite", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// newProvider returns the goose provider of latchkey's SQLite migrations on
// db: the embedded SQL files and the Go migrations. It is not to be closed:
// Close would close db.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "An internal error occurred.")
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(
			goose.NewGoMigration(3, &goose.GoFunc{RunDB: usersAutoincrement, Mode: goose.TransactionDisabled}, nil),
		))
	if err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "Cannot read the SQLite migrations.")
	}
	return p, nil
}

// Migration 3: user ids are never reused.
//
// Migration 1 made users.id an INTEGER PRIMARY KEY without AUTOINCREMENT, so
// SQLite gave a new user the highest id in the table plus one: after the
// user with the highest id was deleted, the next user got that id again, and
// the audit log, which keeps the subject_id and actor_id of deleted users,
// mixed the two. PostgreSQL's identity column never reuses an id. Adding
// AUTOINCREMENT takes rebuilding the table, by SQLite's procedure for other
// kinds of schema changes (https://sqlite.org/lang_altertable.html#otheralter):
// foreign keys off, then in one transaction create the new table, copy the
// rows, drop the old table, rename the new one, recreate its index, check the
// foreign keys and commit, then foreign keys on. The rows keep their ids, so
// the user_roles, api_keys and sessions rows that refer to them stay valid.
//
// Foreign keys must be off on the connection that drops the old table: with
// them on, DROP TABLE deletes every row first, and ON DELETE CASCADE would
// delete every user's roles, API keys and sessions. PRAGMA foreign_keys has
// no effect inside a transaction, so this migration runs outside goose's
// transaction, on one connection that it pins for the whole rebuild, checks
// that foreign keys are off there and runs its own transaction.
//
// AUTOINCREMENT gives a new row an id above the largest ever used, which
// SQLite keeps in sqlite_sequence. Ids deleted before this migration are not
// known, so the sequence starts at the largest user id the database still
// names anywhere: in users, in the audit log (subject_id, actor_id), in API
// keys (created_by) and in the change feed. A user deleted before the
// migration whose id appears nowhere any more may still have it reused once;
// from then on no id is.
//
// Other tables need no change: the ids of API keys, sessions and signing
// keys are random text, roles and abilities are keyed by name, and audit and
// changes have used AUTOINCREMENT from the start.
func usersAutoincrement(ctx context.Context, db *sql.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Foreign keys on again before the connection goes back to the
		// pool; if that fails, the pool drops the connection.
		if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, ferr)
		}
		err = errors.Join(err, conn.Close())
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	var fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return err
	}
	if fk != 0 {
		return errors.New("foreign keys are still on; not rebuilding the users table")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	// A process that stopped after this migration committed but before goose
	// recorded it finds the table rebuilt already.
	var schema string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'users'`).Scan(&schema); err != nil {
		return err
	}
	if strings.Contains(strings.ToUpper(schema), "AUTOINCREMENT") {
		return tx.Commit()
	}
	var before int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&before); err != nil {
		return err
	}
	for _, stmt := range usersRebuild {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(strings.Fields(stmt)[:3], " "), err)
		}
	}
	var after int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&after); err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the rebuilt users table has %d rows, not %d", after, before)
	}
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	bad := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	if bad {
		return errors.New("foreign_key_check found rows that refer to missing rows after rebuilding the users table")
	}
	return tx.Commit()
}

// usersRebuild rebuilds users with AUTOINCREMENT: the table of migration 1
// (which migration 2 left alone) but for the keyword, and its index.
var usersRebuild = []string{
	`CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    directory     TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    dir_key       TEXT    NOT NULL,
    user_key      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    email_key     TEXT    NOT NULL DEFAULT '',
    groups_json   TEXT    NOT NULL DEFAULT '[]',
    disabled      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT    NOT NULL DEFAULT '',
    created       BIGINT  NOT NULL,
    updated       BIGINT  NOT NULL,
    UNIQUE (dir_key, user_key)
)`,
	`INSERT INTO users_new (id, directory, username, dir_key, user_key, display_name, email, email_key,
    groups_json, disabled, password_hash, created, updated)
SELECT id, directory, username, dir_key, user_key, display_name, email, email_key,
    groups_json, disabled, password_hash, created, updated FROM users`,
	`DROP TABLE users`,
	`ALTER TABLE users_new RENAME TO users`,
	`CREATE INDEX users_email_key ON users (email_key)`,
	`DELETE FROM sqlite_sequence WHERE name = 'users'`,
	`INSERT INTO sqlite_sequence (name, seq)
SELECT 'users', COALESCE(MAX(id), 0) FROM (
    SELECT MAX(id) AS id FROM users
    UNION ALL SELECT MAX(subject_id) FROM audit
    UNION ALL SELECT MAX(actor_id) FROM audit
    UNION ALL SELECT MAX(created_by) FROM api_keys
    UNION ALL SELECT MAX(CASE WHEN json_valid(payload) THEN CAST(json_extract(payload, '$.user_id') AS INTEGER) END) FROM changes
)`,
}
