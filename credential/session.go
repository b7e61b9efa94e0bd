package credential

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// Session tokens are 32 random bytes, base64url: 43 characters. The store
// keeps their SHA-256; the id that lists and ends sessions is separate and
// not secret.
const sessionTokenLen = 43

// sessionEntry is a session as cached, with its user. Its stamp covers the
// session, all sessions of the user, and the user.
type sessionEntry struct {
	session   *latchkey.Session
	user      *userEntry
	principal *latchkey.Principal
	stamp     stamp
	lastSeen  atomic.Int64 // unix nanoseconds of the last use seen by this node
	dirty     atomic.Bool
}

var errBadSession = latchkey.Errorf(latchkey.EUNAUTHORIZED, "The session is not valid or has ended; sign in again.")

// OpenSession starts a session for a principal that has just signed in. how
// says with what: "password", "apikey" or "jwt"; credentialID names the key
// or token used, if any. It returns the token, which only the client keeps.
func (s *Service) OpenSession(ctx context.Context, p *latchkey.Principal, how, credentialID, remote, userAgent string) (string, *latchkey.Session, error) {
	token := randomToken(32)
	h := sum256(token)
	now := s.now()
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	sess := &latchkey.Session{
		ID: keyIDEncoding.EncodeToString(randomBytes(10)), UserID: p.UserID, Method: how,
		CredentialID: credentialID, ReadOnly: p.ReadOnly, RemoteAddr: remote, UserAgent: userAgent,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionLifetime),
		IdleTimeout: latchkey.Duration(s.cfg.SessionIdle), Hash: h[:],
	}
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(sess.ExpiresAt) {
		sess.ExpiresAt = p.ExpiresAt // a session outlives neither its key nor its token
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditSessionCreate, Actor: p.QualifiedName(), ActorID: p.UserID,
		Target: sess.ID, SubjectID: p.UserID, Method: how, CredentialID: credentialID, RemoteAddr: remote})
	return token, sess, nil
}

// VerifySession returns the principal of a session token, with method
// "session", and the session.
func (s *Service) VerifySession(ctx context.Context, token string) (*latchkey.Principal, *latchkey.Session, error) {
	if len(token) != sessionTokenLen {
		return nil, nil, errBadSession
	}
	h := sum256(token)
	e, err := s.cachedSession(ctx, h)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, nil, errBadSession
		}
		return nil, nil, err
	}
	now := s.now()
	sess := e.session
	lastSeen := sess.LastSeenAt
	if seen := time.Unix(0, e.lastSeen.Load()); seen.After(lastSeen) {
		lastSeen = seen // used on this node since the store last heard
	}
	if sess.EndedAt != nil || !now.Before(sess.ExpiresAt) || e.user.user.Disabled ||
		sess.IdleTimeout > 0 && now.Sub(lastSeen) >= time.Duration(sess.IdleTimeout) {
		return nil, nil, errBadSession
	}
	if sess.Method == latchkey.MethodAPIKey && !s.keyStillUsable(ctx, sess.CredentialID, now) {
		return nil, nil, errBadSession
	}
	return s.seen(e, now)
}

func (s *Service) seen(e *sessionEntry, now time.Time) (*latchkey.Principal, *latchkey.Session, error) {
	e.lastSeen.Store(now.UnixNano())
	if !e.dirty.Swap(true) {
		s.touch.session(e)
	}
	return e.principal, e.session, nil
}

// keyStillUsable reports whether the API key a session was opened with is
// still neither revoked nor expired: revoking a key ends its sessions too.
func (s *Service) keyStillUsable(ctx context.Context, id string, now time.Time) bool {
	e, err := s.cachedKey(ctx, id)
	return err == nil && e.key.Usable(now)
}

// errKeyGone refuses a credential obtained with an API key that has been
// revoked or has expired since.
var errKeyGone = latchkey.Errorf(latchkey.EUNAUTHORIZED,
	"The API key this token was obtained with has expired or was revoked; sign in again.")

// KeyOrigin refuses (401) a credential that latchkey issued for an API
// key — one of its own tokens — once that key is revoked or expired, or its
// owner disabled, and otherwise returns the key's own rate limit as it is
// now (nil: none), which the token's requests are held to. The key is read
// from memory while fresh (versions.go), so a revocation or a new limit
// heard on any node applies to the token there at once, without a store
// read per request.
func (s *Service) KeyOrigin(ctx context.Context, id string) (*latchkey.RateLimit, error) {
	e, err := s.cachedKey(ctx, id)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		return nil, errKeyGone
	case err != nil:
		return nil, err
	case !e.key.Usable(s.now()) || e.user.user.Disabled:
		return nil, errKeyGone
	}
	return e.key.RateLimit, nil
}

// cachedSession returns the session of a token hash with its user, from
// memory while fresh.
func (s *Service) cachedSession(ctx context.Context, h [32]byte) (*sessionEntry, error) {
	if e, ok := s.sessions.GetIfPresent(h); ok && s.v.fresh(&e.stamp) {
		return e, nil
	}
	return s.loadSession(ctx, h)
}

// loadSession is cachedSession's store read, apart so that h stays on the
// stack of the cached path.
func (s *Service) loadSession(ctx context.Context, h [32]byte) (*sessionEntry, error) {
	st := s.v.begin() // the session's id is known once it is read
	sess, err := s.store.SessionByHash(ctx, h[:])
	if err != nil {
		return nil, err
	}
	u, err := s.user(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	e := &sessionEntry{session: sess, user: u,
		principal: u.principal(latchkey.MethodSession, sess.ID, sess.ReadOnly, sess.ExpiresAt),
		stamp:     st.with(sessionSlot(sess.ID), userSessionsSlot(sess.UserID)).join(u.stamp)}
	if sess.Method == ByAPIKey {
		// The session spends its key's budget, under the key's limit as it
		// is now: a change of the key makes this entry stale (its stamp has
		// the key's), and the next request reads the limit again. A key
		// that is gone leaves the limit out; VerifySession refuses the
		// session then.
		e.principal.RateLimitID = sess.CredentialID
		if ke, err := s.cachedKey(ctx, sess.CredentialID); err == nil {
			e.principal.RateLimit = ke.key.RateLimit
			e.stamp = e.stamp.join(ke.stamp)
		} else if latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			return nil, err
		}
	}
	s.sessions.Set(h, e)
	return e, nil
}

// EndSession ends the session of a token (logout). Ending a session that
// has ended already is not an error.
func (s *Service) EndSession(ctx context.Context, token, remote string) error {
	if len(token) != sessionTokenLen {
		return errBadSession
	}
	h := sum256(token)
	sess, err := s.store.SessionByHash(ctx, h[:])
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return errBadSession
		}
		return err
	}
	actor := ""
	if u, err := s.user(ctx, sess.UserID); err == nil {
		actor = u.user.QualifiedName()
	}
	return s.endSession(ctx, actor, sess.UserID, latchkey.MethodSession, sess, remote)
}

// EndSessionByID ends a session of the viewer's own, or anyone's with
// sessions.manage.
func (s *Service) EndSessionByID(ctx context.Context, viewer Actor, id, remote string) error {
	if viewer != nil && viewer.ReadOnly {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "These credentials are read-only: ending a session is a change.")
	}
	sess, err := s.store.Session(ctx, id)
	if err == nil && !maySeeSessions(viewer, sess.UserID) {
		err = latchkey.Errorf(latchkey.ENOTFOUND, "No session %q.", id)
	}
	if err != nil {
		return err
	}
	return s.endSession(ctx, actorName(viewer), actorID(viewer), actorMethod(viewer), sess, remote)
}

// endSession ends sess, with its audit record; ending an ended session
// records nothing and is not an error.
func (s *Service) endSession(ctx context.Context, actor string, actorID int64, method string, sess *latchkey.Session, remote string) error {
	err := s.store.EndSession(ctx, sess.ID, s.now(), &latchkey.AuditEvent{Time: s.now(), Action: latchkey.AuditSessionEnd,
		Actor: actor, ActorID: actorID, Target: sess.ID, SubjectID: sess.UserID, Method: method,
		CredentialID: sess.ID, RemoteAddr: remote})
	if err != nil && latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		return err
	}
	return nil
}

func maySeeSessions(a Actor, userID int64) bool {
	return a == nil || a.UserID == userID && userID != 0 || a.Can(latchkey.AbilitySessionsManage)
}
