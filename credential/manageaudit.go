package credential

import (
	"context"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
)

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	ActorID   int64     // only what this user did
	Actor     string    // only events of this actor, exactly as recorded ("cli:root", "LAB\\goran")
	SubjectID int64     // only events about this user: their account, keys or sessions
	Action    string    // this action, or with a trailing "." every action it begins ("login.")
	Since     time.Time // only events at or after it
	Until     time.Time // only events before it
	Limit     int       // page size; 0 is DefaultPageSize
	Cursor    string    // the Next of the page before
}

// Audit reads the audit log, newest first, a page at a time. It needs
// audit.read.
func (s *Service) Audit(ctx context.Context, a Actor, q AuditQuery) (*Page[*latchkey.AuditEvent], error) {
	if err := need(a, latchkey.AbilityAuditRead, "Reading the audit log"); err != nil {
		return nil, err
	}
	limit, err := pageSize(q.Limit)
	if err != nil {
		return nil, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The time range is empty: since must be before until.")
	}
	f := latchkey.AuditFilter{ActorID: q.ActorID, Actor: q.Actor, SubjectID: q.SubjectID, Action: q.Action,
		Since: q.Since, Until: q.Until, Limit: limit + 1}
	if q.Cursor != "" {
		id, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || id < 1 {
			return nil, latchkey.Errorf(latchkey.EINVALID, "The cursor is not one this list gave; start again without it.")
		}
		f.BeforeID = id
	}
	events, err := s.store.AuditEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &Page[*latchkey.AuditEvent]{Items: events}
	if len(events) > limit {
		page.Items = events[:limit]
		page.Next = strconv.FormatInt(events[limit-1].ID, 10)
	}
	return page, nil
}
