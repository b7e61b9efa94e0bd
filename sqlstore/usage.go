package sqlstore

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// AddAPIKeyUsage adds the counts to the keys' buckets of hour, in key order,
// and deletes the buckets that begin before deleteBefore, in one transaction.
func (s *Store) AddAPIKeyUsage(ctx context.Context, hour time.Time, counts map[string]latchkey.APIKeyCount, deleteBefore time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	h := micros(hour.Truncate(time.Hour))
	return s.tx(ctx, "add API key usage", nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		if len(counts) > 0 {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_key_usage (key_id, hour, requests, refused)
				VALUES ($1, $2, $3, $4)
				ON CONFLICT (key_id, hour) DO UPDATE SET
					requests = api_key_usage.requests + excluded.requests,
					refused = api_key_usage.refused + excluded.refused`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, id := range slices.Sorted(maps.Keys(counts)) {
				c := counts[id]
				if c.Requests == 0 && c.Refused == 0 {
					continue
				}
				if _, err := stmt.ExecContext(ctx, id, h, c.Requests, c.Refused); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM api_key_usage WHERE hour < $1`, micros(deleteBefore))
		return err
	})
}

// APIKeyUsage sums the keys' buckets of hour and of the 24 hours up to it.
func (s *Store) APIKeyUsage(ctx context.Context, ids []string, hour time.Time) (map[string]latchkey.APIKeyUsage, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	out := map[string]latchkey.APIKeyUsage{}
	if len(ids) == 0 {
		return out, nil
	}
	h := hour.Truncate(time.Hour)
	args := []any{micros(h), micros(h.Add(-23 * time.Hour))}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = "$" + strconv.Itoa(len(args))
	}
	rows, err := s.read.QueryContext(ctx, `SELECT key_id,
			CAST(SUM(CASE WHEN hour = $1 THEN requests ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN hour = $1 THEN refused ELSE 0 END) AS BIGINT),
			CAST(SUM(requests) AS BIGINT), CAST(SUM(refused) AS BIGINT)
		FROM api_key_usage
		WHERE hour >= $2 AND hour <= $1 AND key_id IN (`+strings.Join(marks, ", ")+`)
		GROUP BY key_id`, args...)
	if err != nil {
		return nil, s.fail("read API key usage", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			u  latchkey.APIKeyUsage
		)
		if err := rows.Scan(&id, &u.RequestsHour, &u.RefusedHour, &u.RequestsDay, &u.RefusedDay); err != nil {
			return nil, s.fail("read API key usage", err)
		}
		out[id] = u
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read API key usage", err)
	}
	return out, nil
}
