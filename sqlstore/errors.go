package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
)

// fail turns err into a *latchkey.Error. An *latchkey.Error passes
// unchanged; any other error becomes ENOTFOUND, ECONFLICT, EUNAVAILABLE or
// EINTERNAL with a generic client message, keeping err, prefixed by op, as
// the cause for the log.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*latchkey.Error](err); ok {
		return err
	}
	cause := fmt.Errorf("%s: %w", op, err)
	switch code := s.code(err); code {
	case latchkey.ENOTFOUND:
		return latchkey.Wrap(cause, code, "It does not exist.")
	case latchkey.ECONFLICT:
		return latchkey.Wrap(cause, code, "It exists already.")
	case latchkey.EUNAVAILABLE:
		if TimedOut(err) {
			return latchkey.Wrap(cause, code, "The database did not answer in time; try again later.")
		}
		return latchkey.Wrap(cause, code, "The database is unavailable; try again later.")
	default:
		return latchkey.Wrap(cause, latchkey.EINTERNAL, "An internal error occurred.")
	}
}

// TimedOut reports whether err comes from a deadline that ran out: a
// context's (such as the store's timeout) or the network's.
func TimedOut(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	t, ok := errors.AsType[interface {
		error
		Timeout() bool
	}](err)
	return ok && t.Timeout()
}

// code returns the latchkey error code that err stands for.
func (s *Store) code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, sql.ErrNoRows):
		return latchkey.ENOTFOUND
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		strings.Contains(err.Error(), "sql: database is closed"):
		return latchkey.EUNAVAILABLE
	}
	if s.classify != nil {
		if c := s.classify(err); c != "" {
			return c
		}
	}
	return latchkey.EINTERNAL
}

// conflict returns err as ECONFLICT with msg when it is a unique violation,
// and as fail would otherwise.
func (s *Store) conflict(op string, err error, msg string) error {
	if err != nil && s.code(err) == latchkey.ECONFLICT {
		if _, ok := errors.AsType[*latchkey.Error](err); !ok {
			return latchkey.Wrap(fmt.Errorf("%s: %w", op, err), latchkey.ECONFLICT, msg)
		}
	}
	return s.fail(op, err)
}

// notFound returns ENOTFOUND with msg when err is sql.ErrNoRows, and as fail
// would otherwise.
func (s *Store) notFound(op string, err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "%s", msg)
	}
	return s.fail(op, err)
}

// quote writes s as a Go string literal, for messages.
func quote(s string) string { return strconv.Quote(s) }
