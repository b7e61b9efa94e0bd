package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
)

// apiKeyCols are the columns scanAPIKey reads.
const apiKeyCols = `id, user_id, name, read_only, created_by, created, expires, last_used, revoked, hash,
	rate_requests, rate_window, rate_burst`

// CreateAPIKey stores a key. A zero CreatedAt becomes now; times are kept to
// the microsecond, and k's are rounded so.
func (s *Store) CreateAPIKey(ctx context.Context, k *latchkey.APIKey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	switch {
	case k.ID == "" || len(k.ID) > 128:
		return latchkey.Errorf(latchkey.EINVALID, "The API key id must be 1 to 128 characters.")
	case len(k.Hash) == 0:
		return latchkey.Errorf(latchkey.EINVALID, "The API key has no hash.")
	case k.ExpiresAt.IsZero():
		return latchkey.Errorf(latchkey.EINVALID, "The API key must expire.")
	case len(k.Name) > 256:
		return latchkey.Errorf(latchkey.EINVALID, "The API key name must be at most 256 characters.")
	}
	if err := checkLimit(k.RateLimit); err != nil {
		return err
	}
	req, win, burst := limitArgs(k.RateLimit)
	created := k.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	var reveal any // NULL, not an empty blob, when there is none
	if len(k.Reveal) > 0 {
		reveal = k.Reveal
	}
	err := s.tx(ctx, "create API key", nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		if err := userExists(ctx, tx, k.UserID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, user_id, name, read_only, created_by, created,
			expires, last_used, revoked, hash, reveal, rate_requests, rate_window, rate_burst)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			k.ID, k.UserID, k.Name, k.ReadOnly, k.CreatedBy, micros(created), micros(k.ExpiresAt),
			nullMicros(k.LastUsedAt), nullMicros(k.RevokedAt), k.Hash, reveal, req, win, burst)
		return s.conflict("insert API key", err, "An API key with the id "+quote(k.ID)+" exists already.")
	})
	if err != nil {
		return err
	}
	k.CreatedAt, k.ExpiresAt = norm(created), norm(k.ExpiresAt)
	k.LastUsedAt, k.RevokedAt = normPtr(k.LastUsedAt), normPtr(k.RevokedAt)
	return nil
}

// APIKey returns the key with the id, with its sealed Reveal if one waits.
func (s *Store) APIKey(ctx context.Context, id string) (*latchkey.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, `SELECT `+apiKeyCols+`, reveal FROM api_keys WHERE id = $1`, id), true)
	if err != nil {
		return nil, s.notFound("read API key", err, "No API key "+quote(id)+".")
	}
	return k, nil
}

// APIKeyByHash returns the key with the hash, without its Reveal: the
// authentication path that calls it has no use for it.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*latchkey.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	k, err := scanAPIKey(s.read.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1`, hash), false)
	if err != nil {
		return nil, s.notFound("read API key by hash", err, "No such API key.")
	}
	return k, nil
}

// APIKeys lists keys, newest first, with their Reveal if one waits. Without
// IncludeRevoked revoked keys are left out; without IncludeExpired, keys
// that expired by now.
func (s *Store) APIKeys(ctx context.Context, f latchkey.APIKeyFilter) ([]*latchkey.APIKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c conds
	if f.UserID != 0 {
		c.add("user_id = " + c.arg(f.UserID))
	}
	if !f.IncludeRevoked {
		c.add("revoked IS NULL")
	}
	if !f.IncludeExpired {
		c.add("expires > " + c.arg(micros(s.now())))
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+apiKeyCols+`, reveal FROM api_keys`+c.clause()+
		` ORDER BY created DESC, id DESC`, c.args...)
	if err != nil {
		return nil, s.fail("list API keys", err)
	}
	defer rows.Close()
	out := []*latchkey.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows, true)
		if err != nil {
			return nil, s.fail("list API keys", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list API keys", err)
	}
	return out, nil
}

// RevokeAPIKey marks the key revoked, drops any reveal that still waits, and
// emits ChangeAPIKey.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "revoke API key", nil, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		var userID int64
		err := tx.QueryRowContext(ctx, `UPDATE api_keys SET revoked = $2, reveal = NULL
			WHERE id = $1 AND revoked IS NULL RETURNING user_id`, id, micros(at)).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			var revoked sql.NullInt64
			err = tx.QueryRowContext(ctx, `SELECT revoked FROM api_keys WHERE id = $1`, id).Scan(&revoked)
			if errors.Is(err, sql.ErrNoRows) {
				return latchkey.Errorf(latchkey.ENOTFOUND, "No API key %q.", id)
			}
			if err == nil {
				return latchkey.Errorf(latchkey.ECONFLICT, "The API key %q is revoked already.", id)
			}
		}
		if err != nil {
			return err
		}
		emit(latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: id, UserID: userID})
		return nil
	})
}

// SetAPIKeyLimit sets the key's own rate limit, or clears it (nil), and
// emits ChangeAPIKey so that every node's cached key is read again.
func (s *Store) SetAPIKeyLimit(ctx context.Context, id string, limit *latchkey.RateLimit, rec *latchkey.AuditEvent) (*latchkey.APIKey, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	req, win, burst := limitArgs(limit)
	var k *latchkey.APIKey
	err := s.tx(ctx, "set API key limit", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		n, err := execCount(ctx, tx, `UPDATE api_keys SET rate_requests = $2, rate_window = $3, rate_burst = $4
			WHERE id = $1`, id, req, win, burst)
		if err != nil {
			return err
		}
		if n == 0 {
			return latchkey.Errorf(latchkey.ENOTFOUND, "No API key %q.", id)
		}
		if k, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyCols+`, reveal FROM api_keys WHERE id = $1`, id), true); err != nil {
			return err
		}
		emit(latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: id, UserID: k.UserID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// checkLimit refuses a limit that cannot be enforced. The credential
// service checks more (the operator's maximum, a window of at most a day).
func checkLimit(l *latchkey.RateLimit) error {
	if l != nil && (l.Requests < 1 || l.Window < 1 || l.Burst < 0) {
		return latchkey.Errorf(latchkey.EINVALID, "A rate limit needs at least 1 request, a window of at least 1 s and a burst of at least 0.")
	}
	return nil
}

// limitArgs are the rate_* columns of l: NULL for no limit.
func limitArgs(l *latchkey.RateLimit) (requests, window, burst any) {
	if l == nil {
		return nil, nil, nil
	}
	return l.Requests, l.Window, l.Burst
}

// TouchAPIKeys sets each key's last use to the later of the stored time and
// the given one, in one transaction. Unknown keys are skipped.
func (s *Store) TouchAPIKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.touch(ctx, "touch API keys", `UPDATE api_keys SET last_used = $2
		WHERE id = $1 AND (last_used IS NULL OR last_used < $2)`, lastUsed)
}

// TakeAPIKeyReveal returns the key's sealed secret and deletes it in the same
// transaction, so that only one caller ever gets it.
func (s *Store) TakeAPIKeyReveal(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var reveal []byte
	err := s.tx(ctx, "take API key reveal", nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		none := latchkey.Errorf(latchkey.ENOTFOUND, "The API key %q has no secret to show.", id)
		err := tx.QueryRowContext(ctx, `SELECT reveal FROM api_keys WHERE id = $1 AND reveal IS NOT NULL`, id).Scan(&reveal)
		if errors.Is(err, sql.ErrNoRows) {
			return none
		}
		if err != nil {
			return err
		}
		// The condition makes a concurrent taker that read the same value
		// find nothing to clear once this transaction commits.
		n, err := execCount(ctx, tx, `UPDATE api_keys SET reveal = NULL WHERE id = $1 AND reveal IS NOT NULL`, id)
		if err != nil {
			return err
		}
		if n == 0 || len(reveal) == 0 {
			return none
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return reveal, nil
}

// touch runs update (id $1, time $2) for each entry, in id order, in one
// transaction.
func (s *Store) touch(ctx context.Context, op, update string, times map[string]time.Time) error {
	if len(times) == 0 {
		return nil
	}
	return s.tx(ctx, op, nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		stmt, err := tx.PrepareContext(ctx, update)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range slices.Sorted(maps.Keys(times)) {
			if _, err := stmt.ExecContext(ctx, id, micros(times[id])); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanAPIKey reads apiKeyCols, and reveal when withReveal.
func scanAPIKey(row interface{ Scan(...any) error }, withReveal bool) (*latchkey.APIKey, error) {
	var (
		k                latchkey.APIKey
		created, expires int64
		lastUsed, revoke sql.NullInt64
		req, win, burst  sql.NullInt64
	)
	dest := []any{&k.ID, &k.UserID, &k.Name, &k.ReadOnly, &k.CreatedBy, &created, &expires, &lastUsed, &revoke, &k.Hash,
		&req, &win, &burst}
	if withReveal {
		dest = append(dest, &k.Reveal)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	k.CreatedAt, k.ExpiresAt = fromMicros(created), fromMicros(expires)
	k.LastUsedAt, k.RevokedAt = fromNullMicros(lastUsed), fromNullMicros(revoke)
	if len(k.Reveal) == 0 {
		k.Reveal = nil
	}
	if req.Valid {
		k.RateLimit = &latchkey.RateLimit{Requests: int(req.Int64), Window: int(win.Int64), Burst: int(burst.Int64)}
	}
	return &k, nil
}
