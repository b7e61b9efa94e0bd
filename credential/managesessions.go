package credential

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
)

// SessionView is a session as the administration lists it, with its user's
// name; never its token or the token's hash.
type SessionView struct {
	*latchkey.Session
	User   string `json:"user"`   // DIR\user
	Active bool   `json:"active"` // may still be used
}

// SessionQuery selects sessions to list, newest first.
type SessionQuery struct {
	UserID       int64 // 0: every user's (needs sessions.manage)
	IncludeEnded bool  // also sessions that ended, expired or idled out
	Limit        int   // page size; 0 is DefaultPageSize
	Cursor       string
}

type sessionCursor struct {
	C  int64  `json:"c"` // created, unix microseconds
	ID string `json:"i"`
}

// ListSessions lists sessions newest first, a page at a time: one's own (a
// UserID of 0 means one's own without sessions.manage), or anyone's with
// sessions.manage. Without IncludeEnded only sessions that can
// still be used are listed (so a page may hold fewer than Limit): not ended,
// within their lifetime and idle timeout, and, when opened with an API key,
// while the key is valid.
func (s *Service) ListSessions(ctx context.Context, a Actor, q SessionQuery) (*Page[*SessionView], error) {
	if q.UserID == 0 && !isOperator(a) && !a.Can(latchkey.AbilitySessionsManage) {
		q.UserID = a.UserID // one's own
	}
	if !maySeeSessions(a, q.UserID) {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Listing other users' sessions needs the ability %s.", latchkey.AbilitySessionsManage)
	}
	limit, err := pageSize(q.Limit)
	if err != nil {
		return nil, err
	}
	f := latchkey.SessionFilter{UserID: q.UserID, IncludeEnded: q.IncludeEnded, Limit: limit + 1}
	var c sessionCursor
	if ok, err := decodeCursor(q.Cursor, &c); err != nil {
		return nil, err
	} else if ok {
		f.Before = &latchkey.Session{ID: c.ID, CreatedAt: time.UnixMicro(c.C)}
	}
	all, err := s.store.Sessions(ctx, f)
	if err != nil {
		return nil, err
	}
	now := s.now()
	names := map[int64]string{}
	page := &Page[*SessionView]{Items: []*SessionView{}}
	for i, sess := range all {
		if i == limit {
			last := all[i-1]
			page.Next = encodeCursor(sessionCursor{C: last.CreatedAt.UnixMicro(), ID: last.ID})
			break
		}
		active := sess.Active(now) && (sess.Method != ByAPIKey || sess.CredentialID == "" || s.keyStillUsable(ctx, sess.CredentialID, now))
		if !active && !q.IncludeEnded {
			continue
		}
		name, ok := names[sess.UserID]
		if !ok {
			u, err := s.store.User(ctx, sess.UserID)
			if err != nil {
				return nil, err
			}
			name = u.QualifiedName()
			names[sess.UserID] = name
		}
		page.Items = append(page.Items, &SessionView{Session: sess, User: name, Active: active})
	}
	return page, nil
}

// SessionByID returns one session the actor may see (their own, or any with
// sessions.manage); others are not found.
func (s *Service) SessionByID(ctx context.Context, a Actor, id string) (*SessionView, error) {
	sess, err := s.store.Session(ctx, id)
	if err == nil && !maySeeSessions(a, sess.UserID) || latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No session %q.", id)
	}
	if err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	active := sess.Active(now) && (sess.Method != ByAPIKey || sess.CredentialID == "" || s.keyStillUsable(ctx, sess.CredentialID, now))
	return &SessionView{Session: sess, User: u.QualifiedName(), Active: active}, nil
}

// EndUserSessions ends every session of a user — one's own, or anyone's
// with sessions.manage — and returns how many it ended. They stop working
// at once on every node.
func (s *Service) EndUserSessions(ctx context.Context, a Actor, userID int64, remote string) (int, error) {
	if a != nil && a.ReadOnly {
		return 0, latchkey.Errorf(latchkey.EFORBIDDEN, "These credentials are read-only: ending sessions is a change.")
	}
	if !maySeeSessions(a, userID) || userID == 0 {
		if isOperator(a) || a.Can(latchkey.AbilityUsersManage) {
			return 0, latchkey.Errorf(latchkey.EFORBIDDEN, "Ending other users' sessions needs the ability %s.", latchkey.AbilitySessionsManage)
		}
		return 0, errNoUser(userID)
	}
	u, err := s.store.User(ctx, userID)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return 0, errNoUser(userID)
	}
	if err != nil {
		return 0, err
	}
	return s.store.EndUserSessions(ctx, userID, s.now(),
		s.record(a, latchkey.AuditSessionEndAll, u.QualifiedName(), userID, remote, ""))
}
