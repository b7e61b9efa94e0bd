package sqlstore

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// defaultAuditLimit is how many events AuditEvents returns when the filter
// names no limit; maxAuditLimit is the most it ever returns.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 10000
)

// AppendAudit stores an event and sets its ID; a zero Time becomes now.
func (s *Store) AppendAudit(ctx context.Context, e *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if e.Action == "" {
		return latchkey.Errorf(latchkey.EINVALID, "The audit event has no action.")
	}
	if err := s.insertAudit(ctx, s.write, e); err != nil {
		return s.fail("append audit event", err)
	}
	e.Time = norm(e.Time)
	return nil
}

// insertAudit writes e with q and sets its ID and, when zero, its Time.
func (s *Store) insertAudit(ctx context.Context, q querier, e *latchkey.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return q.QueryRowContext(ctx, `INSERT INTO audit (occurred, action, actor, actor_id, target, subject_id,
		method, credential_id, remote_addr, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		micros(e.Time), e.Action, e.Actor, e.ActorID, e.Target, e.SubjectID, e.Method, e.CredentialID,
		e.RemoteAddr, e.Detail).Scan(&e.ID)
}

// AuditEvents lists events newest first (by id). An Action that ends in "."
// selects the actions it prefixes; the comparison is exact, as actions are.
func (s *Store) AuditEvents(ctx context.Context, f latchkey.AuditFilter) ([]*latchkey.AuditEvent, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c conds
	if f.ActorID != 0 {
		c.add("actor_id = " + c.arg(f.ActorID))
	}
	if f.Actor != "" {
		c.add("actor = " + c.arg(f.Actor))
	}
	if f.SubjectID != 0 {
		c.add("subject_id = " + c.arg(f.SubjectID))
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		n := int64(utf8.RuneCountInString(f.Action))
		c.add("substr(action, 1, " + c.arg(n) + ") = " + c.arg(f.Action))
	case f.Action != "":
		c.add("action = " + c.arg(f.Action))
	}
	if !f.Since.IsZero() {
		c.add("occurred >= " + c.arg(micros(f.Since)))
	}
	if !f.Until.IsZero() {
		c.add("occurred < " + c.arg(micros(f.Until)))
	}
	if f.BeforeID > 0 {
		c.add("id < " + c.arg(f.BeforeID))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	rows, err := s.read.QueryContext(ctx, `SELECT id, occurred, action, actor, actor_id, target, subject_id, method,
		credential_id, remote_addr, detail FROM audit`+c.clause()+` ORDER BY id DESC`+c.page(limit), c.args...)
	if err != nil {
		return nil, s.fail("list audit events", err)
	}
	defer rows.Close()
	out := []*latchkey.AuditEvent{}
	for rows.Next() {
		var (
			e  latchkey.AuditEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.Actor, &e.ActorID, &e.Target, &e.SubjectID, &e.Method,
			&e.CredentialID, &e.RemoteAddr, &e.Detail); err != nil {
			return nil, s.fail("list audit events", err)
		}
		e.Time = fromMicros(at)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list audit events", err)
	}
	return out, nil
}
