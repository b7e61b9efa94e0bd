package gateway

import (
	"net/http"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// The admin API's sessions and audit log (admin.go routes to these).

func (a *adminEndpoints) listSessions(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	q := parseQuery(r, "user_id", "include_ended", "limit", "cursor")
	sq := credential.SessionQuery{UserID: q.id("user_id"), Limit: q.limit(), Cursor: q.str("cursor")}
	if ended := q.boolean("include_ended"); ended != nil {
		sq.IncludeEnded = *ended
	}
	if q.err != nil {
		return q.err
	}
	page, err := a.s.creds.ListSessions(r.Context(), p, sq)
	return reply(w, http.StatusOK, page, err)
}

func (a *adminEndpoints) session(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	v, err := a.s.creds.SessionByID(r.Context(), p, args[0])
	return reply(w, http.StatusOK, v, err)
}

func (a *adminEndpoints) endSession(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	return done(w, a.s.creds.EndSessionByID(r.Context(), p, args[0], remote(r)))
}

// The audit log.

func (a *adminEndpoints) audit(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	q := parseQuery(r, "actor_id", "actor", "subject_id", "action", "since", "until", "limit", "cursor")
	aq := credential.AuditQuery{ActorID: q.id("actor_id"), Actor: q.str("actor"), SubjectID: q.id("subject_id"),
		Action: q.str("action"), Since: q.time("since"), Until: q.time("until"), Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		return q.err
	}
	page, err := a.s.creds.Audit(r.Context(), p, aq)
	return reply(w, http.StatusOK, page, err)
}
