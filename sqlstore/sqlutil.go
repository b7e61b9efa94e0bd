package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// micros is how times are stored: unix microseconds, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reads a stored time.
func fromMicros(x int64) time.Time { return time.UnixMicro(x).UTC() }

// norm returns t as it reads back once stored.
func norm(t time.Time) time.Time { return fromMicros(micros(t)) }

// normPtr is norm for an optional time.
func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

// nullMicros stores an optional time.
func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

// fromNullMicros reads an optional time.
func fromNullMicros(x sql.NullInt64) *time.Time {
	if !x.Valid {
		return nil
	}
	t := fromMicros(x.Int64)
	return &t
}

// encodeList stores a list of strings as JSON text.
func encodeList(l []string) (string, error) {
	if l == nil {
		l = []string{}
	}
	b, err := json.Marshal(l)
	return string(b), err
}

// decodeList reads a list stored by encodeList; never nil.
func decodeList(s string) ([]string, error) {
	l := []string{}
	if s == "" {
		return l, nil
	}
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

// conds builds a WHERE clause with numbered parameters.
type conds struct {
	where []string
	args  []any
}

// arg adds a parameter and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return fmt.Sprintf("$%d", len(c.args))
}

// add adds a condition.
func (c *conds) add(cond string) { c.where = append(c.where, cond) }

// clause returns " WHERE a AND b", or "" without conditions.
func (c *conds) clause() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// page returns " LIMIT $n"; a limit of 0 or less means no limit.
func (c *conds) page(limit int) string {
	l := int64(limit)
	if l <= 0 {
		l = math.MaxInt64
	}
	return " LIMIT " + c.arg(l)
}
