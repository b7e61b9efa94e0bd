package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
)

// pollInterval is how often the feed looks for changes made by other
// processes.
const pollInterval = 500 * time.Millisecond

// changeRetention is how long change rows stay at least, whatever cutoff
// PurgeExpired is given, so that every poller reads them first.
const changeRetention = time.Minute

// notify records a change in the transaction that makes it.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, c latchkey.Change) error {
	payload, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO changes (node, payload, created) VALUES ($1, $2, $3)`,
		db.node, string(payload), time.Now().UnixMicro())
	return err
}

// purgeChanges deletes change rows older than cutoff, and than the retention.
func purgeChanges(ctx context.Context, tx *sql.Tx, cutoff time.Time) (int64, error) {
	if limit := time.Now().Add(-changeRetention); cutoff.After(limit) {
		cutoff = limit
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM changes WHERE created < $1`, cutoff.UnixMicro())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// startFeed starts the poller from the newest change row.
func (db *DB) startFeed(ctx context.Context) error {
	var last int64
	qctx, cancel := withTimeout(ctx, db.timeout)
	defer cancel()
	if err := db.read.QueryRowContext(qctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&last); err != nil {
		return latchkey.Wrap(err, latchkey.EUNAVAILABLE, "Cannot read the SQLite change feed.")
	}
	pollCtx, stop := context.WithCancel(context.Background())
	db.stop = stop
	go db.poll(pollCtx, last)
	return nil
}

// poll delivers the changes of other processes until ctx ends. When the
// table could not be read for a while, the rows it missed may have been
// purged meanwhile: once it reads again it delivers ChangeResync first, so
// that subscribers drop what they cached before the gap.
func (db *DB) poll(ctx context.Context, last int64) {
	defer close(db.done)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		dctx, cancel := withTimeout(ctx, db.timeout)
		next, err := db.deliver(dctx, last)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			db.log.WarnContext(ctx, "cannot read the change feed", "store", "sqlite", "err", err)
			failing = true
		case err == nil && failing:
			db.log.InfoContext(ctx, "reading the change feed again", "store", "sqlite")
			db.feed.Publish(latchkey.Change{Kind: latchkey.ChangeResync})
			failing = false
		}
		last = next
	}
}

// deliver publishes the changes after seq last that other processes made and
// returns the last seq it read.
func (db *DB) deliver(ctx context.Context, last int64) (int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, node, payload FROM changes WHERE seq > $1 ORDER BY seq LIMIT 1000`, last)
	if err != nil {
		return last, err
	}
	var changes []latchkey.Change
	for rows.Next() {
		var (
			seq           int64
			node, payload string
		)
		if err = rows.Scan(&seq, &node, &payload); err != nil {
			break
		}
		last = seq
		if node == db.node {
			continue // delivered when it committed
		}
		var c latchkey.Change
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			db.log.WarnContext(ctx, "skipping an unreadable change", "store", "sqlite", "seq", seq, "err", err)
			continue
		}
		changes = append(changes, c)
	}
	if err == nil {
		err = rows.Err()
	}
	rows.Close()
	db.feed.Publish(changes...)
	return last, err
}
