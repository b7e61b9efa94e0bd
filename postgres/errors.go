package postgres

import (
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey"
)

// classify returns the latchkey error code of a PostgreSQL or connection
// error, or "".
func classify(err error) string {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "23505": // unique_violation
			return latchkey.ECONFLICT
		case "23503": // foreign_key_violation
			return latchkey.ENOTFOUND
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return latchkey.ECONFLICT
		}
		switch pe.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return latchkey.EUNAVAILABLE
		}
		return ""
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return latchkey.EUNAVAILABLE
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return latchkey.EUNAVAILABLE
	}
	if pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed") {
		return latchkey.EUNAVAILABLE
	}
	return ""
}
