package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey"
)

// Reconnection backoff of the listener.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// healthInterval is how long the listener waits quietly before it pings its
// connection, so that a connection that died without a word is noticed. A
// variable for tests.
var healthInterval = 30 * time.Second

// notification is the payload of a change notification.
type notification struct {
	Node   string          `json:"node"`
	Change latchkey.Change `json:"change"`
}

// notify sends a change on the schema's channel; PostgreSQL delivers it when
// (and only if) tx commits.
func (db *DB) notify(ctx context.Context, tx *sql.Tx, c latchkey.Change) error {
	payload, err := json.Marshal(notification{Node: db.node, Change: c})
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, db.channel, string(payload))
	return err
}

// connectListener opens a connection of its own, outside the pool, that
// listens on the schema's channel.
func (db *DB) connectListener(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	db.listenPID.Store(conn.PgConn().PID())
	return conn, nil
}

// listen delivers the notifications of other nodes until ctx ends. When the
// connection fails it reconnects with backoff and then delivers ChangeResync,
// since notifications sent meanwhile are lost.
func (db *DB) listen(ctx context.Context, conn *pgx.Conn) {
	defer close(db.done)
	for {
		err := db.receive(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		db.log.WarnContext(ctx, "lost the change feed connection; reconnecting", "store", "postgres", "err", err)
		if conn = db.reconnect(ctx); conn == nil {
			return
		}
		db.log.InfoContext(ctx, "change feed connected again", "store", "postgres")
		db.feed.Publish(latchkey.Change{Kind: latchkey.ChangeResync})
	}
}

// receive delivers notifications until the connection fails or ctx ends.
func (db *DB) receive(ctx context.Context, conn *pgx.Conn) error {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, healthInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && pgconn.Timeout(err) {
			// Quiet for a while: a timeout leaves the connection usable.
			pingCtx, cancel := context.WithTimeout(ctx, pingTimeout(db.timeout))
			err = conn.Ping(pingCtx)
			cancel()
			if err == nil {
				continue
			}
		}
		if err != nil {
			return err
		}
		var msg notification
		if err := json.Unmarshal([]byte(n.Payload), &msg); err != nil {
			db.log.WarnContext(ctx, "skipping an unreadable change notification", "store", "postgres", "err", err)
			continue
		}
		if msg.Node == db.node {
			continue // delivered when it committed
		}
		db.feed.Publish(msg.Change)
	}
}

// reconnect connects the listener again, waiting longer after each failure;
// nil when ctx ends first.
func (db *DB) reconnect(ctx context.Context) *pgx.Conn {
	wait := minBackoff
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		conn, err := db.connectListener(ctx)
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		level := slog.LevelDebug // the first failure was logged at warning level
		if attempt == 1 {
			level = slog.LevelWarn
		}
		db.log.Log(ctx, level, "cannot connect the change feed", "store", "postgres", "attempt", attempt, "err", err)
		wait = min(2*wait, maxBackoff)
	}
}

// pingTimeout is how long the listener's health ping may take: the store's
// timeout, or 5 seconds without one.
func pingTimeout(timeout time.Duration) time.Duration {
	if timeout > 0 {
		return timeout
	}
	return 5 * time.Second
}

// closeConn closes a listener connection without waiting long.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// listenerPID returns the backend process id of the listening connection.
func (db *DB) listenerPID() uint32 { return db.listenPID.Load() }
