package gateway

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// adminEndpoints serves the JSON admin API under cfg.Login.AdminPath (P,
// /api/v1 by default): the collections of config.AdminCollections and what
// lies below them, and nothing else under P.
//
//	GET    P/users                      ?directory=&search=&role=&disabled=&limit=&cursor= → a page of users
//	POST   P/users                      credential.NewUser → 201 the user
//	GET    P/users/me                   the caller
//	POST   P/users/me/password          {"current_password","password"}: one's own password
//	GET    P/users/{id}                 one user
//	PATCH  P/users/{id}                 {"name"?,"email"?,"groups"?} → the user
//	DELETE P/users/{id}                 delete the user
//	POST   P/users/{id}/disable|enable  → the user
//	PUT    P/users/{id}/password        {"password"}: set it; DELETE removes it
//	GET    P/users/{id}/roles           {"items":[role names]}
//	PUT    P/users/{id}/roles/{role}    grant; DELETE revokes
//	DELETE P/users/{id}/sessions        end them all → {"success":true,"ended":n}
//	GET    P/roles                      ?search=&limit=&cursor= → a page of roles
//	POST   P/roles                      {"name","description","abilities"} → 201 the role
//	GET    P/roles/{name}               one role; PATCH {"description"?,"abilities"?}; DELETE
//	GET    P/abilities                  ?search=&limit=&cursor= → a page of abilities
//	POST   P/abilities                  {"name","description"} → 201 the ability
//	DELETE P/abilities/{name}           delete the ability
//	GET    P/sessions                   ?user_id=&include_ended=&limit=&cursor= → a page of sessions
//	GET    P/sessions/{id}              one session; DELETE ends it, as does POST P/sessions/{id}/end
//	GET    P/audit                      ?actor_id=&actor=&subject_id=&action=&since=&until=&limit=&cursor=
//
// Every GET answers HEAD as well. Changes answer {"success":true} unless
// they return what they changed. Callers authenticate as at the API key
// endpoints (apikeys.go): a session, Basic or an API key; unsafe requests
// need the required headers; read-only credentials may only read. Who may
// do what, and the audit record of each change, are the credential
// service's: every endpoint is one call of its administration (manage*.go).
// This file routes, authenticates and reads queries; the handlers are in
// adminusers.go, adminroles.go and adminsessions.go.
type adminEndpoints struct {
	s       *Server
	base    string   // the prefix without a trailing slash ("" for "/")
	prefix  []string // its path segments
	routes  []*adminRoute
	auth    *route // the methods that may call, and the rules of authorize
	handler http.Handler
}

// adminOp is one endpoint, called for an authenticated, authorized
// principal with the values of the path's placeholders, in order (as the
// path's segments, unescaped).
type adminOp func(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error

// adminRoute is one path of the admin API and the endpoints at it.
type adminRoute struct {
	pattern []string           // segments; "{…}" takes any one segment
	ops     map[string]adminOp // by method; GET answers HEAD as well
	allow   string             // the Allow header of a 405
}

// adminMethods is the order in which Allow lists methods.
var adminMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func newAdminEndpoints(s *Server) (*adminEndpoints, error) {
	a := &adminEndpoints{s: s, base: strings.TrimSuffix(s.cfg.Login.AdminPath, "/"), auth: &route{name: "admin_api"}}
	if a.base != "" {
		a.prefix = strings.Split(a.base[1:], "/")
	}
	if err := a.auth.useMethods([]string{latchkey.MethodSession, latchkey.MethodBasic, latchkey.MethodAPIKey}, s.methods); err != nil {
		return nil, err
	}
	type ops = map[string]adminOp
	// The first pattern that matches a path takes it: the literal "me"
	// comes before {id}.
	for _, rt := range []struct {
		path string
		ops  ops
	}{
		{"users", ops{"GET": a.listUsers, "POST": a.createUser}},
		{"users/me", ops{"GET": a.me}},
		{"users/me/password", ops{"POST": a.changePassword}},
		{"users/{id}", ops{"GET": a.user, "PATCH": a.updateUser, "DELETE": a.deleteUser}},
		{"users/{id}/disable", ops{"POST": a.disable}},
		{"users/{id}/enable", ops{"POST": a.enable}},
		{"users/{id}/password", ops{"PUT": a.setPassword, "DELETE": a.removePassword}},
		{"users/{id}/roles", ops{"GET": a.userRoles}},
		{"users/{id}/roles/{role}", ops{"PUT": a.grantRole, "DELETE": a.revokeRole}},
		{"users/{id}/sessions", ops{"DELETE": a.endUserSessions}},
		{"roles", ops{"GET": a.listRoles, "POST": a.createRole}},
		{"roles/{name}", ops{"GET": a.role, "PATCH": a.updateRole, "DELETE": a.deleteRole}},
		{"abilities", ops{"GET": a.listAbilities, "POST": a.createAbility}},
		{"abilities/{name}", ops{"DELETE": a.deleteAbility}},
		{"sessions", ops{"GET": a.listSessions}},
		{"sessions/{id}", ops{"GET": a.session, "DELETE": a.endSession}},
		{"sessions/{id}/end", ops{"POST": a.endSession}},
		{"audit", ops{"GET": a.audit}},
	} {
		var allow []string
		for _, m := range adminMethods {
			if rt.ops[m] != nil || m == http.MethodHead && rt.ops[http.MethodGet] != nil {
				allow = append(allow, m)
			}
		}
		a.routes = append(a.routes, &adminRoute{pattern: strings.Split(rt.path, "/"), ops: rt.ops, allow: strings.Join(allow, ", ")})
	}
	a.handler = s.handle(a.serve)
	return a, nil
}

// owns reports whether p is a clean path at or below one of the admin
// collections.
func (a *adminEndpoints) owns(p string) bool {
	rest, ok := strings.CutPrefix(p, a.base)
	if !ok || rest == "" || rest[0] != '/' {
		return false
	}
	collection, _, _ := strings.Cut(rest[1:], "/")
	return slices.Contains(config.AdminCollections, collection) && cleanPath(p)
}

func (a *adminEndpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handler.ServeHTTP(w, r)
}

func (a *adminEndpoints) serve(w http.ResponseWriter, r *http.Request) error {
	op, args, allow := a.match(r)
	if op == nil {
		if allow != "" {
			methodNotAllowed(w, r, allow)
			return nil
		}
		return latchkey.Errorf(latchkey.ENOTFOUND, "There is no admin endpoint at %s.", r.URL.Path)
	}
	if err := a.s.required.check(r); err != nil {
		return err
	}
	p, err := a.auth.authenticate(r, a.s.metrics)
	if err == nil {
		setPrincipal(r, p)
		err = a.auth.authorize(p, r)
	}
	if err != nil {
		a.auth.challenge(w, err)
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return op(w, r, p, args)
}

// match picks the endpoint for the request. It returns no op when none
// matches: with the methods the path does take, or with none when no
// endpoint has that path.
func (a *adminEndpoints) match(r *http.Request) (op adminOp, args []string, allow string) {
	segs, ok := a.segments(r)
	if !ok {
		return nil, nil, ""
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	for _, rt := range a.routes {
		if args, ok := rt.match(segs); ok {
			if op := rt.ops[method]; op != nil {
				return op, args, ""
			}
			return nil, nil, rt.allow
		}
	}
	return nil, nil, ""
}

// segments returns the request's path segments after the prefix, each
// unescaped on its own: a role name may hold any character, "/" (%2F)
// included. A trailing slash is ignored.
func (a *adminEndpoints) segments(r *http.Request) ([]string, bool) {
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if n := len(raw); n > 0 && raw[n-1] == "" {
		raw = raw[:n-1]
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	// The prefix as sent must be the prefix, segment by segment (not, say,
	// "/api%2Fv1").
	if len(segs) < len(a.prefix) || !slices.Equal(segs[:len(a.prefix)], a.prefix) {
		return nil, false
	}
	return segs[len(a.prefix):], true
}

func (rt *adminRoute) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var args []string
	for i, p := range rt.pattern {
		switch {
		case strings.HasPrefix(p, "{"):
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
		case segs[i] != p:
			return nil, false
		}
	}
	return args, true
}

// userID reads the user id of a path.
func userID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != s {
		return 0, latchkey.Errorf(latchkey.EINVALID, "The user id %s in the path is not a positive whole number.", quoteValue(s))
	}
	return id, nil
}

// quoteValue quotes a value a client sent, for a message, cut at 100 bytes.
func quoteValue(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strconv.Quote(s)
}

// adminQuery reads the query parameters of a list. The first problem it
// meets is kept in err, as an EINVALID error naming the parameter.
type adminQuery struct {
	v   url.Values
	err error
}

// parseQuery reads the request's query, which may hold only the names
// given, each at most once: a misspelt filter must not list everything.
func parseQuery(r *http.Request, names ...string) *adminQuery {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &adminQuery{err: latchkey.Wrap(err, latchkey.EINVALID, "The query string is not well-formed.")}
	}
	q := &adminQuery{v: v}
	for _, k := range slices.Sorted(maps.Keys(v)) {
		switch {
		case !slices.Contains(names, k):
			q.fail("The query parameter %s is not one this endpoint takes; use %s.", quoteValue(k), strings.Join(names, ", "))
		case len(v[k]) > 1:
			q.fail("The query parameter %s must be given at most once.", k)
		}
	}
	return q
}

func (q *adminQuery) fail(format string, args ...any) {
	if q.err == nil {
		q.err = latchkey.Errorf(latchkey.EINVALID, format, args...)
	}
}

// str returns the parameter's value, "" when not given.
func (q *adminQuery) str(name string) string { return q.v.Get(name) }

// boolean returns nil when the parameter is not given.
func (q *adminQuery) boolean(name string) *bool {
	if !q.v.Has(name) {
		return nil
	}
	switch q.v.Get(name) {
	case "true":
		return new(true)
	case "false":
		return new(false)
	}
	q.fail("The query parameter %s must be true or false.", name)
	return nil
}

// id returns a user id, 0 when not given.
func (q *adminQuery) id(name string) int64 {
	if !q.v.Has(name) {
		return 0
	}
	s := q.v.Get(name)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != s {
		q.fail("The query parameter %s must be a user id: a positive whole number.", name)
		return 0
	}
	return id
}

// limit returns the page size asked for, 0 when not given.
func (q *adminQuery) limit() int {
	if !q.v.Has("limit") {
		return 0
	}
	n, err := strconv.Atoi(q.v.Get("limit"))
	if err != nil || n < 1 || n > credential.MaxPageSize {
		q.fail("The query parameter limit must be a whole number from 1 to %d.", credential.MaxPageSize)
		return 0
	}
	return n
}

// time returns an RFC 3339 time, zero when not given.
func (q *adminQuery) time(name string) time.Time {
	if !q.v.Has(name) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, q.v.Get(name))
	if err != nil {
		q.fail("The query parameter %s must be an RFC 3339 time, such as 2024-10-25T19:43:56Z.", name)
	}
	return t
}

// remote is the client's address for the audit log: the trusted-proxy
// client address, which logRequests has put in RemoteAddr.
func remote(r *http.Request) string { return r.RemoteAddr }

// reply writes v as the answer with status, or returns err.
func reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

// done answers {"success": true}, or returns err.
func done(w http.ResponseWriter, err error) error {
	return reply(w, http.StatusOK, successBody{true}, err)
}
