package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/latchkey/latchkey"
)

// openLockWait is how long Open waits for the open lock, in milliseconds:
// as long as goose waits for PostgreSQL's migration lock.
const openLockWait = 5 * 60 * 1000

// lockOpen takes the open lock of the database file at path, which Open
// holds from before it first connects (the first connection turns a new
// file to WAL) until the migrations and the built-in roles are done, so that
// processes opening one file together take turns. The lock is an exclusive
// transaction on a small SQLite file of its own next to the database,
// path+"-lock": SQLite's file locking works on every platform latchkey
// builds for, and a process that dies releases it. The database itself
// cannot hold it, since the migrations write there on connections of their
// own.
func lockOpen(ctx context.Context, path string) (unlock func(), err error) {
	lock, err := sql.Open("sqlite", fmt.Sprintf("%s-lock?_pragma=busy_timeout(%d)&_txlock=exclusive", path, openLockWait))
	if err == nil {
		lock.SetMaxOpenConns(1)
		var tx *sql.Tx
		if tx, err = lock.BeginTx(ctx, nil); err == nil {
			return func() { _ = tx.Rollback(); _ = lock.Close() }, nil
		}
		lock.Close()
	}
	return nil, latchkey.Wrap(err, latchkey.EUNAVAILABLE,
		fmt.Sprintf("Cannot lock the SQLite database %s for opening (another process may be migrating it).", path))
}
