package postgres

import (
	"context"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// boundConnections makes every network wait of pgx end within limit when the
// server stops answering, beyond what contexts reach:
//
//   - the connection attempt (ConnectTimeout, which also bounds the
//     connections that pgxpool makes in the background, whatever the
//     context of the Acquire that asked for them);
//   - the cleanup of a connection whose query was cancelled. pgx returns
//     from the cancelled call at once, but then, in the background, sends a
//     cancel request over a new connection and drains the old one, for up to
//     15 seconds each. Meanwhile the pool counts the connection as open (it
//     cannot make another in its place) and Close waits for it. Here a new
//     connection gets a deadline of limit until it is set up (the
//     AfterConnect hook clears it, so a cancel request's connection keeps
//     it), and no deadline that pgx sets may lie further ahead than limit.
//
// Deadlines that pgx sets for contexts (now) and clears (zero) pass
// unchanged.
func boundConnections(c *pgconn.Config, limit time.Duration) {
	if limit <= 0 {
		return
	}
	if c.ConnectTimeout == 0 || c.ConnectTimeout > limit {
		c.ConnectTimeout = limit
	}
	dial := c.DialFunc
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	c.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := conn.SetDeadline(time.Now().Add(limit)); err != nil {
			conn.Close()
			return nil, err
		}
		return &boundedConn{Conn: conn, limit: limit}, nil
	}
	after := c.AfterConnect
	c.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
		if err := pc.Conn().SetDeadline(time.Time{}); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, pc)
		}
		return nil
	}
}

// boundedConn is a connection on which no deadline lies further ahead than
// limit from when it is set.
type boundedConn struct {
	net.Conn
	limit time.Duration
}

func (c *boundedConn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.bound(t)) }
func (c *boundedConn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.bound(t)) }
func (c *boundedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.bound(t)) }

func (c *boundedConn) bound(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	if limit := time.Now().Add(c.limit); t.After(limit) {
		return limit
	}
	return t
}
