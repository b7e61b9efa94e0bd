package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey"
)

// How the listener reconnects. While its connection is down the node hears
// no change, yet its pool writes and reads again as soon as the database
// accepts connections; every moment the feed stays down after that, the node
// may answer from a cache that a change has made stale. So the listener
// retries at a short interval that stops growing at retryMax (with jitter, so
// that nodes do not knock in step) instead of backing off to seconds: it is
// back within about retryMax of the database accepting connections, and
// delivers ChangeResync then. While the database is down this costs each
// node one failed connection attempt per interval, which a database that
// refuses or is starting up answers at once. An attempt that gets no answer
// gives up after connectTimeout and the next one starts.
const (
	retryMin       = 50 * time.Millisecond
	retryMax       = 250 * time.Millisecond
	connectTimeout = 3 * time.Second
)

// A connection that dies without a word (a host or network that goes silent
// rather than closing it) delivers nothing, and nothing tells the listener.
// So the listener pings its connection after healthInterval without a
// notification and drops the connection when the answer takes longer than
// pingTimeout: such a connection is noticed within their sum, and the
// reconnect's ChangeResync then covers the changes it missed. A connection
// that is closed, as when the database restarts or its connections are cut
// (frozen first or not), fails at once. Variables for tests.
var (
	healthInterval = 2 * time.Second
	pingTimeout    = 2 * time.Second
)

// healthChecked, when tests set it, is called with each health ping's
// result, after the ping, on the listener's goroutine.
var healthChecked atomic.Pointer[func(db *DB, err error)]

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
// connection fails it reconnects and then delivers ChangeResync, after every
// reconnect, since notifications sent meanwhile are lost: subscribers drop
// everything they cached before the gap.
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
			pingCtx, cancel := context.WithTimeout(ctx, pingLimit(db.timeout))
			err = conn.Ping(pingCtx)
			cancel()
			if hook := healthChecked.Load(); hook != nil {
				(*hook)(db, err)
			}
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

// reconnect connects the listener again, retrying as the constants above
// say; nil when ctx ends first.
func (db *DB) reconnect(ctx context.Context) *pgx.Conn {
	wait := retryMin
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		connCtx, cancel := context.WithTimeout(ctx, connectTimeout)
		conn, err := db.connectListener(connCtx)
		cancel()
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
		wait = min(2*wait, retryMax)
	}
}

// pingLimit is how long the listener's health ping may take: pingTimeout,
// or the store's timeout when that is shorter.
func pingLimit(timeout time.Duration) time.Duration {
	if timeout > 0 && timeout < pingTimeout {
		return timeout
	}
	return pingTimeout
}

// closeConn closes a listener connection without waiting long.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// listenerPID returns the backend process id of the listening connection.
func (db *DB) listenerPID() uint32 { return db.listenPID.Load() }
