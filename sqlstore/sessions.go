package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
)

// sessionCols are the columns scanSession reads.
const sessionCols = `id, user_id, method, credential_id, read_only, remote_addr, user_agent,
	created, last_seen, expires, idle_timeout_ns, ended, hash`

// CreateSession stores a session. A zero CreatedAt becomes now and a zero
// LastSeenAt becomes CreatedAt; times are kept to the microsecond, and s's
// are rounded so.
func (s *Store) CreateSession(ctx context.Context, ses *latchkey.Session) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	switch {
	case ses.ID == "" || len(ses.ID) > 128:
		return latchkey.Errorf(latchkey.EINVALID, "The session id must be 1 to 128 characters.")
	case len(ses.Hash) == 0:
		return latchkey.Errorf(latchkey.EINVALID, "The session has no hash.")
	case ses.ExpiresAt.IsZero():
		return latchkey.Errorf(latchkey.EINVALID, "The session must expire.")
	}
	created, seen := ses.CreatedAt, ses.LastSeenAt
	if created.IsZero() {
		created = s.now()
	}
	if seen.IsZero() {
		seen = created
	}
	err := s.tx(ctx, "create session", nil, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		if err := userExists(ctx, tx, ses.UserID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			ses.ID, ses.UserID, ses.Method, ses.CredentialID, ses.ReadOnly, ses.RemoteAddr, ses.UserAgent,
			micros(created), micros(seen), micros(ses.ExpiresAt), int64(ses.IdleTimeout),
			nullMicros(ses.EndedAt), ses.Hash)
		return s.conflict("insert session", err, "A session with the id "+quote(ses.ID)+" exists already.")
	})
	if err != nil {
		return err
	}
	ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = norm(created), norm(seen), norm(ses.ExpiresAt)
	ses.EndedAt = normPtr(ses.EndedAt)
	return nil
}

// Session returns the session with the id.
func (s *Store) Session(ctx context.Context, id string) (*latchkey.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ses, err := scanSession(s.read.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	if err != nil {
		return nil, s.notFound("read session", err, "No session "+quote(id)+".")
	}
	return ses, nil
}

// SessionByHash returns the session whose token has the hash.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (*latchkey.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ses, err := scanSession(s.read.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = $1`, hash))
	if err != nil {
		return nil, s.notFound("read session by hash", err, "No such session.")
	}
	return ses, nil
}

// Sessions lists sessions, newest first. Without IncludeEnded, sessions that
// ended or passed their absolute expiry are left out. The idle timeout is not
// applied here: last-seen times reach the store in batches, later than
// callers see them.
func (s *Store) Sessions(ctx context.Context, f latchkey.SessionFilter) ([]*latchkey.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c conds
	if f.UserID != 0 {
		c.add("user_id = " + c.arg(f.UserID))
	}
	if !f.IncludeEnded {
		c.add("ended IS NULL AND expires > " + c.arg(micros(s.now())))
	}
	if b := f.Before; b != nil {
		t, id := c.arg(micros(b.CreatedAt)), c.arg(b.ID)
		c.add("(created < " + t + " OR created = " + t + " AND id < " + id + ")")
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions`+c.clause()+
		` ORDER BY created DESC, id DESC`+c.page(f.Limit), c.args...)
	if err != nil {
		return nil, s.fail("list sessions", err)
	}
	defer rows.Close()
	out := []*latchkey.Session{}
	for rows.Next() {
		ses, err := scanSession(rows)
		if err != nil {
			return nil, s.fail("list sessions", err)
		}
		out = append(out, ses)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list sessions", err)
	}
	return out, nil
}

// TouchSessions sets each session's last activity to the later of the stored
// time and the given one, in one transaction. Unknown sessions are skipped.
func (s *Store) TouchSessions(ctx context.Context, lastSeen map[string]time.Time) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.touch(ctx, "touch sessions", `UPDATE sessions SET last_seen = $2
		WHERE id = $1 AND last_seen < $2`, lastSeen)
}

// EndSession ends one session and emits ChangeSession.
func (s *Store) EndSession(ctx context.Context, id string, at time.Time, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "end session", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		var userID int64
		err := tx.QueryRowContext(ctx, `UPDATE sessions SET ended = $2 WHERE id = $1 AND ended IS NULL
			RETURNING user_id`, id, micros(at)).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE id = $1`, id).Scan(&userID)
			if errors.Is(err, sql.ErrNoRows) {
				return latchkey.Errorf(latchkey.ENOTFOUND, "No session %q.", id)
			}
			if err == nil {
				return latchkey.Errorf(latchkey.ECONFLICT, "The session %q has ended already.", id)
			}
		}
		if err != nil {
			return err
		}
		emit(latchkey.Change{Kind: latchkey.ChangeSession, Name: id, UserID: userID})
		if rec != nil && rec.SubjectID == 0 {
			rec.SubjectID = userID
		}
		return nil
	})
}

// EndUserSessions ends every session of the user that has neither ended nor
// passed its absolute expiry at at, and emits ChangeUserSession (also when
// none ended: a cache may know better than the store how recently a session
// was seen).
func (s *Store) EndUserSessions(ctx context.Context, userID int64, at time.Time, rec *latchkey.AuditEvent) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var n int64
	err := s.tx(ctx, "end user sessions", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		var err error
		n, err = execCount(ctx, tx, `UPDATE sessions SET ended = $2
			WHERE user_id = $1 AND ended IS NULL AND expires > $2`, userID, micros(at))
		if err != nil {
			return err
		}
		emit(latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: userID})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// scanSession reads sessionCols.
func scanSession(row interface{ Scan(...any) error }) (*latchkey.Session, error) {
	var (
		ses                    latchkey.Session
		created, seen, expires int64
		idle                   int64
		ended                  sql.NullInt64
	)
	if err := row.Scan(&ses.ID, &ses.UserID, &ses.Method, &ses.CredentialID, &ses.ReadOnly, &ses.RemoteAddr,
		&ses.UserAgent, &created, &seen, &expires, &idle, &ended, &ses.Hash); err != nil {
		return nil, err
	}
	ses.CreatedAt, ses.LastSeenAt, ses.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	ses.IdleTimeout, ses.EndedAt = latchkey.Duration(idle), fromNullMicros(ended)
	return &ses, nil
}
