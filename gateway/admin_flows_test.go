package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// TestAdminCreateConflict: a new user, role or ability is 201 (with its
// Location, for users and roles), the same name again 409: users compared
// case-insensitively, as Qlik does.
func TestAdminCreateConflict(t *testing.T) {
	f := newFixture(t)
	asBoss := basicOf(f.addUser("boss", latchkey.RoleAdmin))

	var v credential.UserView
	w := f.adminOK(201, "POST", "/users", `{"directory":"LAB","username":"Anna","name":"Anna A","email":"anna@example.com",
		"groups":["ops"],"roles":["apikey-user"],"password":"anna-password"}`, &v, asBoss...)
	if v.ID == 0 || v.QualifiedName() != `LAB\Anna` || v.DisplayName != "Anna A" || !v.HasPassword ||
		!slices.Equal(v.Roles, []string{latchkey.RoleAPIKeyUser}) || !slices.Contains(v.Abilities, latchkey.AbilityAPIKeySignIn) ||
		!slices.Equal(v.Groups, []string{"ops"}) {
		t.Fatalf("created %+v", v)
	}
	if loc := w.Header().Get("Location"); loc != fmt.Sprintf("%s/users/%d", adminPrefix, v.ID) {
		t.Errorf("Location %q", loc)
	}
	if strings.Contains(w.Body.String(), "anna-password") || strings.Contains(w.Body.String(), "argon2") {
		t.Errorf("the answer shows the password: %s", w.Body)
	}
	// The new user signs in with the password given.
	if w := f.serve(request("GET", "/api/v1/projects", "", "Authorization", basic(`lab\anna`, "anna-password"))); w.Code != 200 {
		t.Errorf("the new user's password: %d", w.Code)
	}
	for _, again := range []string{`{"directory":"LAB","username":"Anna"}`, `{"directory":"lab","username":"ANNA"}`} {
		if w := f.adminDo("POST", "/users", again, asBoss...); w.Code != 409 || !strings.Contains(errorMessage(t, w), "exists already") {
			t.Errorf("%s again: %d %s", again, w.Code, w.Body)
		}
	}

	var r latchkey.Role
	w = f.adminOK(201, "POST", "/roles", `{"name":"report readers","description":"Read reports","abilities":["audit.read"]}`, &r, asBoss...)
	if r.Name != "report readers" || !slices.Equal(r.Abilities, []string{latchkey.AbilityAuditRead}) || r.BuiltIn || r.CreatedAt.IsZero() {
		t.Errorf("created %+v", r)
	}
	if loc := w.Header().Get("Location"); loc != adminPrefix+"/roles/report%20readers" {
		t.Errorf("Location %q", loc)
	}
	f.adminOK(200, "GET", "/roles/report%20readers", "", &r, asBoss...)
	if w := f.adminDo("POST", "/roles", `{"name":"report readers"}`, asBoss...); w.Code != 409 {
		t.Errorf("the role again: %d %s", w.Code, w.Body)
	}
	var ab latchkey.Ability
	f.adminOK(201, "POST", "/abilities", `{"name":"reports.view","description":"View reports"}`, &ab, asBoss...)
	if ab.Name != "reports.view" || ab.Description != "View reports" || ab.BuiltIn {
		t.Errorf("created %+v", ab)
	}
	if w := f.adminDo("POST", "/abilities", `{"name":"reports.view"}`, asBoss...); w.Code != 409 {
		t.Errorf("the ability again: %d %s", w.Code, w.Body)
	}
}

// TestAdminBadRequests: bad query values, ids and bodies are 400 with a
// message that names what to fix.
func TestAdminBadRequests(t *testing.T) {
	f := newFixture(t)
	boss := f.addUser("boss", latchkey.RoleAdmin)
	asBoss := basicOf(boss)
	u := id(f.addUser("goran"))
	tests := []struct {
		name, method, path, body string
		want                     string
	}{
		{"disabled", "GET", "/users?disabled=yes", "", "The query parameter disabled must be true or false."},
		{"an empty disabled", "GET", "/users?disabled=", "", "disabled must be true or false"},
		{"limit 0", "GET", "/users?limit=0", "", "The query parameter limit must be a whole number from 1 to 500."},
		{"limit too big", "GET", "/users?limit=501", "", "limit"},
		{"limit not a number", "GET", "/roles?limit=ten", "", "limit"},
		{"a cursor no list gave", "GET", "/users?cursor=garbage", "", "cursor"},
		{"a cursor of roles", "GET", "/abilities?cursor=%25%25", "", "cursor"},
		{"an unknown parameter", "GET", "/users?disable=true", "", `"disable"`},
		{"a parameter twice", "GET", "/users?limit=1&limit=2", "", "limit must be given at most once"},
		{"a malformed query", "GET", "/users?search=%zz", "", "query string"},
		{"a user id that is a name", "GET", "/users/goran", "", `The user id "goran" in the path`},
		{"user id 0", "GET", "/users/0", "", `"0"`},
		{"a negative user id", "DELETE", "/users/-1", "", `"-1"`},
		{"a signed user id", "GET", "/users/+" + u, "", `"+` + u + `"`},
		{"a padded user id", "GET", "/users/0" + u, "", `"0` + u + `"`},
		{"a huge user id", "GET", "/users/99999999999999999999", "", "user id"},
		{"me where an id must be", "GET", "/users/me/roles", "", `"me"`},
		{"not JSON", "POST", "/users", `{"username":`, "well-formed JSON"},
		{"an unknown field", "POST", "/users", `{"usrname":"x"}`, `unknown field "usrname"`},
		{"a number for a name", "POST", "/users", `{"username":5}`, `"username"`},
		{"no username", "POST", "/users", `{}`, "username"},
		{"a bad email", "POST", "/users", `{"username":"x","email":"nope"}`, "email"},
		{"a short password", "POST", "/users", `{"username":"x","password":"short"}`, "password"},
		{"a role that does not exist", "POST", "/users", `{"username":"x","roles":["nope"]}`, `"nope"`},
		{"an ability that does not exist", "POST", "/roles", `{"name":"r","abilities":["no.such"]}`, `"no.such"`},
		{"an ability badly named", "POST", "/roles", `{"name":"r","abilities":["Bad Name"]}`, `"Bad Name"`},
		{"two objects", "POST", "/users", `{"username":"x"}{}`, "one well-formed JSON object"},
		{"groups not a list", "PATCH", "/users/" + u, `{"groups":"ops"}`, `"groups"`},
		{"an empty body", "PATCH", "/users/" + u, ``, "empty"},
		{"no password", "PUT", "/users/" + u + "/password", `{}`, `"password"`},
		{"an empty password", "PUT", "/users/" + u + "/password", `{"password":""}`, `"password"`},
		{"a short new password", "PUT", "/users/" + u + "/password", `{"password":"short"}`, "password"},
		{"no current password", "POST", "/users/me/password", `{"password":"long-enough-password"}`, `"current_password"`},
		{"no new password", "POST", "/users/me/password", `{"current_password":"password-boss"}`, `"password"`},
		{"user_id", "GET", "/sessions?user_id=goran", "", "The query parameter user_id must be a user id"},
		{"include_ended", "GET", "/sessions?include_ended=1", "", "include_ended must be true or false"},
		{"since", "GET", "/audit?since=yesterday", "", "The query parameter since must be an RFC 3339 time"},
		{"until", "GET", "/audit?until=2024-13-01T00:00:00Z", "", "until"},
		{"an empty range", "GET", "/audit?since=2025-01-01T00:00:00Z&until=2024-01-01T00:00:00Z", "", "since must be before until"},
		{"actor_id", "GET", "/audit?actor_id=-3", "", "actor_id"},
		{"subject_id", "GET", "/audit?subject_id=x", "", "subject_id"},
		{"an audit cursor", "GET", "/audit?cursor=x", "", "cursor"},
		{"no role name", "POST", "/roles", `{"name":""}`, "role"},
		{"a role name with a backslash", "POST", "/roles", `{"name":"a\\b"}`, "role"},
		{"abilities not a list", "PATCH", "/roles/admin", `{"abilities":"x"}`, `"abilities"`},
		{"a built-in role keeps its abilities", "PATCH", "/roles/admin", `{"abilities":[]}`, "always keeps"},
		{"an upper-case ability", "POST", "/abilities", `{"name":"Bad"}`, "ability"},
		{"a built-in ability", "DELETE", "/abilities/audit.read", "", "built-in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.adminDo(tt.method, tt.path, tt.body, asBoss...)
			if w.Code != 400 {
				t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
			}
			if m := errorMessage(t, w); !strings.Contains(m, tt.want) {
				t.Errorf("message %q does not say %q", m, tt.want)
			}
		})
	}
	// A JSON body needs its Content-Type.
	w := f.serve(request("POST", adminPrefix+"/users", `{"username":"x"}`, append([]string{"Origin", testOrigin,
		"Accept", "application/json", "X-Requested-With", "XMLHttpRequest"}, asBoss...)...))
	if w.Code != 400 || !strings.Contains(errorMessage(t, w), "Content-Type") {
		t.Errorf("no Content-Type: %d %s", w.Code, w.Body)
	}
}

// walk follows a list's next cursors from path (which has a query) to the
// end and returns every item's JSON.
func (f *fixture) walk(path string, cred []string) (items []json.RawMessage, pages int) {
	f.t.Helper()
	cursor := ""
	for {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page credential.Page[json.RawMessage]
		f.adminOK(200, "GET", p, "", &page, cred...)
		items = append(items, page.Items...)
		pages++
		if page.Next == "" {
			return items, pages
		}
		if pages > 100 {
			f.t.Fatalf("%s: no end", path)
		}
		cursor = page.Next
	}
}

// names decodes the field of each item.
func names(t *testing.T, items []json.RawMessage, field string) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		var m map[string]any
		if err := json.Unmarshal(it, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(m[field]))
	}
	return out
}

// TestAdminPaging walks every list a page of two at a time: each item
// once, in order, and the filters.
func TestAdminPaging(t *testing.T) { forEachStore(t, testAdminPaging) }

func testAdminPaging(t *testing.T, f *fixture) {
	boss := f.addUser("boss", latchkey.RoleAdmin)
	asBoss := basicOf(boss)
	ctx := context.Background()
	f.role("pager")
	var want []string
	for i := range 7 {
		u := f.addUser(fmt.Sprintf(`PAGE\user%d`, i))
		want = append(want, u.Username)
		if i%2 == 0 {
			if err := f.st.GrantRole(ctx, u.ID, "pager", nil); err != nil {
				t.Fatal(err)
			}
		}
		if i == 3 {
			if _, err := f.creds.SetDisabled(ctx, nil, u.ID, true, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	items, pages := f.walk("/users?directory=page&limit=2", asBoss)
	if got := names(t, items, "username"); !slices.Equal(got, want) || pages != 4 {
		t.Errorf("users: %v in %d pages, want %v in 4", got, pages, want)
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"directory=PAGE&role=pager&limit=1", []string{"user0", "user2", "user4", "user6"}},
		{"directory=PAGE&disabled=true", []string{"user3"}},
		{"directory=PAGE&disabled=false&limit=3", []string{"user0", "user1", "user2", "user4", "user5", "user6"}},
		{"search=SER5", []string{"user5"}},
		{"search=nobody", nil},
	} {
		items, _ := f.walk("/users?"+tt.query, asBoss)
		if got := names(t, items, "username"); !slices.Equal(got, tt.want) {
			t.Errorf("users?%s: %v, want %v", tt.query, got, tt.want)
		}
	}

	// Roles and abilities by name, byte order.
	for _, n := range []string{"zeta", "Alpha", "beta", "a role with spaces", "a/slash"} {
		f.role(n)
	}
	var all []string
	for _, r := range append(slices.Clone(latchkey.BuiltInRoles), latchkey.Role{Name: "pager"}) {
		all = append(all, r.Name)
	}
	all = append(all, "zeta", "Alpha", "beta", "a role with spaces", "a/slash")
	slices.Sort(all)
	items, pages = f.walk("/roles?limit=2", asBoss)
	if got := names(t, items, "name"); !slices.Equal(got, all) || pages != (len(all)+1)/2 {
		t.Errorf("roles: %v in %d pages, want %v", got, pages, all)
	}
	items, _ = f.walk("/roles?search=A&limit=1", asBoss)
	if got := names(t, items, "name"); !slices.Equal(got, []string{"Alpha", "a role with spaces", "a/slash", "admin", "apikey-admin", "apikey-user", "beta", "pager", "zeta"}) {
		t.Errorf("roles?search=A: %v", got)
	}
	items, _ = f.walk("/abilities?limit=3", asBoss)
	if got := names(t, items, "name"); !slices.Equal(got, slices.Sorted(slices.Values(builtInAbilities()))) {
		t.Errorf("abilities: %v", got)
	}
	items, _ = f.walk("/abilities?search=apikey.&limit=2", asBoss)
	if got := names(t, items, "name"); !slices.Equal(got, []string{"apikey.generate", "apikey.manage", "apikey.signin"}) {
		t.Errorf("abilities?search=apikey.: %v", got)
	}
	// A name with a slash is one path segment, escaped.
	var r latchkey.Role
	f.adminOK(200, "GET", "/roles/a%2Fslash", "", &r, asBoss...)
	if r.Name != "a/slash" || r.Abilities == nil {
		t.Errorf("a/slash: %+v", r)
	}

	// Sessions newest first, ended ones on request.
	sessUser := f.addUser("sessions")
	var ids []string
	for range 5 {
		_, sid := f.sessionOf(sessUser)
		ids = append([]string{sid}, ids...)
	}
	if err := f.creds.EndSessionByID(ctx, nil, ids[1], ""); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("/sessions?user_id=%d&include_ended=true&limit=2", sessUser.ID)
	items, pages = f.walk(q, asBoss)
	if got := names(t, items, "id"); !slices.Equal(got, ids) || pages != 3 {
		t.Errorf("sessions: %v in %d pages, want %v", got, pages, ids)
	}
	items, _ = f.walk(fmt.Sprintf("/sessions?user_id=%d&limit=2", sessUser.ID), asBoss)
	if got := names(t, items, "id"); !slices.Equal(got, slices.Delete(slices.Clone(ids), 1, 2)) {
		t.Errorf("active sessions: %v", got)
	}
	for _, it := range items {
		var v credential.SessionView
		if err := json.Unmarshal(it, &v); err != nil || v.User != `LAB\sessions` || !v.Active || v.UserID != sessUser.ID {
			t.Errorf("a session: %v %s", err, it)
		}
	}

	// The audit log, newest first, each event once.
	items, pages = f.walk("/audit?limit=3", asBoss)
	events, err := f.st.AuditEvents(ctx, latchkey.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []string
	for _, e := range events {
		wantIDs = append(wantIDs, fmt.Sprint(e.ID))
	}
	if got := names(t, items, "id"); !slices.Equal(got, wantIDs) || len(got) < 6 || pages != (len(got)+2)/3 {
		t.Errorf("audit: %v in %d pages, want %v", got, pages, wantIDs)
	}
}

// TestAdminDisableDelete: disabling a user stops their API key, session
// and password on the next request; enabling brings the key back (the
// session stays ended); deleting stops everything and the user is gone.
func TestAdminDisableDelete(t *testing.T) {
	f := newFixture(t)
	asBoss := basicOf(f.addUser("boss", latchkey.RoleAdmin))
	dora := f.addUser("dora", latchkey.RoleAPIKeyUser)
	key := f.key(dora, false).Key
	token, sid := f.sessionOf(dora)
	byKey := func() int { return f.serve(request("GET", "/keyonly", "", "X-Api-Key", key)).Code }
	bySession := func() int { return f.serve(request("GET", "/api/v1/projects", "", "Cookie", "wtsession="+token)).Code }
	byPassword := func() int { return f.serve(request("GET", "/api/v1/projects", "", basicOf(dora)...)).Code }
	if byKey() != 200 || bySession() != 200 || byPassword() != 200 {
		t.Fatalf("before: key %d, session %d, password %d", byKey(), bySession(), byPassword())
	}

	var v credential.UserView
	f.adminOK(200, "POST", "/users/"+id(dora)+"/disable", "", &v, asBoss...)
	if !v.Disabled || v.ID != dora.ID {
		t.Fatalf("disabled: %+v", v)
	}
	if byKey() != 401 || bySession() != 401 || byPassword() != 401 {
		t.Fatalf("disabled: key %d, session %d, password %d", byKey(), bySession(), byPassword())
	}
	var s credential.SessionView
	f.adminOK(200, "GET", "/sessions/"+sid, "", &s, asBoss...)
	if s.Active || s.EndedAt == nil {
		t.Errorf("the session of a disabled user: %+v", s)
	}
	// Disabling twice changes nothing; disabling oneself is refused.
	f.adminOK(200, "POST", "/users/"+id(dora)+"/disable", "", &v, asBoss...)
	if w := f.adminDo("POST", "/users/me/password", `{"current_password":"password-dora","password":"another-one"}`, basicOf(dora)...); w.Code != 401 {
		t.Errorf("a disabled user's own request: %d", w.Code)
	}

	f.adminOK(200, "POST", "/users/"+id(dora)+"/enable", "", &v, asBoss...)
	if v.Disabled {
		t.Fatalf("enabled: %+v", v)
	}
	if byKey() != 200 || bySession() != 401 || byPassword() != 200 {
		t.Fatalf("enabled: key %d, session %d (stays ended), password %d", byKey(), bySession(), byPassword())
	}

	// A new session, then delete: everything stops, and the user is gone.
	token, _ = f.sessionOf(dora)
	if bySession() != 200 {
		t.Fatal("the new session")
	}
	var ok successBody
	f.adminOK(200, "DELETE", "/users/"+id(dora), "", &ok, asBoss...)
	if !ok.Success {
		t.Errorf("delete: %+v", ok)
	}
	if byKey() != 401 || bySession() != 401 || byPassword() != 401 {
		t.Fatalf("deleted: key %d, session %d, password %d", byKey(), bySession(), byPassword())
	}
	f.adminOK(404, "GET", "/users/"+id(dora), "", nil, asBoss...)
	f.adminOK(404, "DELETE", "/users/"+id(dora), "", nil, asBoss...)
	var page credential.Page[credential.UserView]
	f.adminOK(200, "GET", "/users?search=dora", "", &page, asBoss...)
	if len(page.Items) != 0 {
		t.Errorf("the deleted user is listed: %+v", page.Items)
	}

	// Oneself: neither disabled nor deleted.
	boss, err := f.st.UserByName(context.Background(), "LAB", "boss")
	if err != nil {
		t.Fatal(err)
	}
	f.adminOK(409, "POST", "/users/"+id(boss)+"/disable", "", nil, asBoss...)
	f.adminOK(409, "DELETE", "/users/"+id(boss), "", nil, asBoss...)
}

// TestAdminRolesTakeEffect: a role granted, revoked or changed is seen by
// the user's very next request, with a key, a session and Basic alike.
func TestAdminRolesTakeEffect(t *testing.T) {
	f := newFixture(t)
	asBoss := basicOf(f.addUser("boss", latchkey.RoleAdmin))
	gil := f.addUser("gil", latchkey.RoleAPIKeyUser)
	key := f.key(gil, false).Key
	token, _ := f.sessionOf(gil)
	creds := map[string][]string{"key": {"X-Api-Key", key}, "session": {"Cookie", "wtsession=" + token}, "basic": basicOf(gil)}
	expect := func(path string, want int) {
		t.Helper()
		for name, c := range creds {
			if w := f.serve(request("GET", path, "", c...)); w.Code != want {
				t.Errorf("%s %s: %d, want %d", name, path, w.Code, want)
			}
		}
	}
	expect("/admin", 403) // the route needs users.manage
	expect("/reports", 403)

	f.adminOK(200, "PUT", "/users/"+id(gil)+"/roles/admin", "", nil, asBoss...)
	expect("/admin", 200)
	var roles credential.Page[string]
	f.adminOK(200, "GET", "/users/"+id(gil)+"/roles", "", &roles, asBoss...)
	if !slices.Equal(roles.Items, []string{latchkey.RoleAdmin, latchkey.RoleAPIKeyUser}) || roles.Next != "" {
		t.Errorf("roles: %+v", roles)
	}
	// gil, now an administrator, lists users through the admin API.
	for name, c := range creds {
		if w := f.adminDo("GET", "/users", "", c...); w.Code != 200 {
			t.Errorf("%s: GET users as a new administrator: %d", name, w.Code)
		}
	}
	f.adminOK(404, "DELETE", "/users/"+id(gil)+"/roles/reporter", "", nil, asBoss...)
	f.adminOK(200, "DELETE", "/users/"+id(gil)+"/roles/admin", "", nil, asBoss...)
	expect("/admin", 403)
	f.adminOK(404, "DELETE", "/users/"+id(gil)+"/roles/admin", "", nil, asBoss...) // not held now

	// A custom role, granted and then changed: /reports needs audit.read
	// and reports.view. Only the operator may give reports.view to a role
	// here, since no administrator holds it (holdsAll), and then nobody
	// else may change the role either.
	f.adminOK(201, "POST", "/abilities", `{"name":"reports.view"}`, nil, asBoss...)
	f.adminOK(201, "POST", "/roles", `{"name":"report reader","abilities":["audit.read"]}`, nil, asBoss...)
	f.adminOK(200, "PUT", "/users/"+id(gil)+"/roles/report%20reader", "", nil, asBoss...)
	expect("/reports", 403)
	operator := func(abilities ...string) {
		t.Helper()
		if _, err := f.creds.UpdateRole(context.Background(), credential.Operator("test"), "report reader",
			latchkey.RoleUpdate{Abilities: &abilities}, ""); err != nil {
			t.Fatal(err)
		}
	}
	operator(latchkey.AbilityAuditRead, "reports.view")
	expect("/reports", 200)
	f.adminOK(200, "PATCH", "/roles/report%20reader", `{"description":"x"}`, nil, asBoss...) // an administrator may give what operators defined
	operator(latchkey.AbilityAuditRead)
	expect("/reports", 403)
	var r latchkey.Role
	f.adminOK(200, "PATCH", "/roles/report%20reader", `{"description":"Reads reports","abilities":["audit.read","users.manage"]}`, &r, asBoss...)
	if r.Description != "Reads reports" || !slices.Equal(r.Abilities, []string{latchkey.AbilityAuditRead, latchkey.AbilityUsersManage}) {
		t.Errorf("changed: %+v", r)
	}
	expect("/admin", 200) // users.manage, through the changed role
	f.adminOK(200, "GET", "/roles/report%20reader", "", &r, asBoss...)
	if r.Description != "Reads reports" {
		t.Errorf("read back: %+v", r)
	}
	f.adminOK(200, "DELETE", "/roles/report%20reader", "", nil, asBoss...)
	f.adminOK(404, "GET", "/roles/report%20reader", "", nil, asBoss...)
	expect("/admin", 403)
	f.adminOK(200, "GET", "/users/"+id(gil)+"/roles", "", &roles, asBoss...)
	if !slices.Equal(roles.Items, []string{latchkey.RoleAPIKeyUser}) {
		t.Errorf("roles after the role was deleted: %+v", roles)
	}
	// A built-in role is not deleted.
	if w := f.adminDo("DELETE", "/roles/apikey-user", "", asBoss...); w.Code < 400 {
		t.Errorf("deleting a built-in role: %d", w.Code)
	}
}

// TestAdminSessionsAndPasswords: ending sessions one at a time and all at
// once, through the admin API; setting, removing and changing passwords.
func TestAdminSessionsAndPasswords(t *testing.T) {
	f := newFixture(t)
	asBoss := basicOf(f.addUser("boss", latchkey.RoleAdmin))
	eve := f.addUser("eve")
	works := func(token string) bool {
		return f.serve(request("GET", "/api/v1/projects", "", "Cookie", "wtsession="+token)).Code == 200
	}
	t1, s1 := f.sessionOf(eve)
	t2, s2 := f.sessionOf(eve)
	t3, _ := f.sessionOf(eve)

	// One's own sessions, and one's own session ended by oneself.
	var page credential.Page[credential.SessionView]
	f.adminOK(200, "GET", "/sessions", "", &page, "Cookie", "wtsession="+t3)
	if len(page.Items) != 3 {
		t.Errorf("own sessions: %+v", page)
	}
	f.adminOK(200, "POST", "/sessions/"+s1+"/end", "", nil, "Cookie", "wtsession="+t3)
	if works(t1) || !works(t2) {
		t.Errorf("after ending s1: %v %v", works(t1), works(t2))
	}
	f.adminOK(200, "DELETE", "/sessions/"+s2, "", nil, asBoss...)
	if works(t2) || !works(t3) {
		t.Errorf("after ending s2: %v %v", works(t2), works(t3))
	}
	f.adminOK(200, "DELETE", "/sessions/"+s2, "", nil, asBoss...) // ending an ended session is no error
	var ended endedBody
	f.adminOK(200, "DELETE", "/users/"+id(eve)+"/sessions", "", &ended, asBoss...)
	if !ended.Success || ended.Ended != 1 || works(t3) {
		t.Errorf("end all: %+v, t3 works: %v", ended, works(t3))
	}

	// The administrator sets a password, which ends the user's sessions.
	t4, _ := f.sessionOf(eve)
	f.adminOK(200, "PUT", "/users/"+id(eve)+"/password", `{"password":"set-by-boss"}`, nil, asBoss...)
	if works(t4) {
		t.Error("a session survived a new password")
	}
	asEve := []string{"Authorization", basic(`LAB\eve`, "set-by-boss")}
	if w := f.adminDo("GET", "/users/me", "", asEve...); w.Code != 200 {
		t.Fatalf("the new password: %d", w.Code)
	}
	// Eve changes it, knowing the current one.
	if w := f.adminDo("POST", "/users/me/password", `{"current_password":"wrong-one","password":"eves-own-password"}`, asEve...); w.Code != 403 {
		t.Errorf("a wrong current password: %d %s", w.Code, w.Body)
	}
	f.adminOK(200, "POST", "/users/me/password", `{"current_password":"set-by-boss","password":"eves-own-password"}`, nil, asEve...)
	asEve = []string{"Authorization", basic(`LAB\eve`, "eves-own-password")}
	var me credential.UserView
	f.adminOK(200, "GET", "/users/me", "", &me, asEve...)
	if !me.HasPassword || me.ID != eve.ID {
		t.Errorf("me: %+v", me)
	}
	// Eve may not set her password the administrator's way, nor see others.
	f.adminOK(403, "PUT", "/users/"+id(eve)+"/password", `{"password":"another-one"}`, nil, asEve...)
	f.adminOK(404, "GET", "/users/1", "", nil, asEve...)
	f.adminOK(403, "PATCH", "/users/"+id(eve), `{"name":"Eve"}`, nil, asEve...)
	// The administrator removes it: Basic with it stops.
	f.adminOK(200, "DELETE", "/users/"+id(eve)+"/password", "", nil, asBoss...)
	if w := f.adminDo("GET", "/users/me", "", asEve...); w.Code != 401 {
		t.Errorf("a removed password: %d", w.Code)
	}
	f.adminOK(200, "GET", "/users/"+id(eve), "", &me, asBoss...)
	if me.HasPassword {
		t.Errorf("after removing: %+v", me)
	}

	// PATCH changes only what it names.
	var v credential.UserView
	f.adminOK(200, "PATCH", "/users/"+id(eve), `{"email":"eve@example.com"}`, &v, asBoss...)
	f.adminOK(200, "PATCH", "/users/"+id(eve), `{"name":"Eve E","groups":["a","b"]}`, &v, asBoss...)
	if v.Email != "eve@example.com" || v.DisplayName != "Eve E" || !slices.Equal(v.Groups, []string{"a", "b"}) {
		t.Errorf("patched: %+v", v)
	}
	f.adminOK(200, "PATCH", "/users/"+id(eve), `{"groups":[]}`, &v, asBoss...)
	if len(v.Groups) != 0 || v.Email != "eve@example.com" {
		t.Errorf("patched groups away: %+v", v)
	}
}

// TestAdminAudit: each change leaves an audit event with its actor,
// subject and client address, and no event holds a secret.
func TestAdminAudit(t *testing.T) {
	f := newFixtureWith(t, func(c *config.Config) { c.Server.TrustedProxies = []string{"192.0.2.0/24"} })
	start := time.Now().Add(-time.Minute)
	boss := f.addUser("boss", latchkey.RoleAdmin)
	bossKey := f.key(boss, false).Key
	asBoss := []string{"X-Api-Key", bossKey, "X-Forwarded-For", "203.0.113.9"}
	secrets := []string{bossKey, "password-boss"}

	var anna credential.UserView
	f.adminOK(201, "POST", "/users", `{"directory":"LAB","username":"anna","password":"first-secret-1","roles":["apikey-user"]}`, &anna, asBoss...)
	secrets = append(secrets, "first-secret-1")
	annaID := fmt.Sprint(anna.ID)
	f.adminOK(200, "PATCH", "/users/"+annaID, `{"email":"anna@example.com"}`, nil, asBoss...)
	f.adminOK(200, "PUT", "/users/"+annaID+"/password", `{"password":"second-secret-2"}`, nil, asBoss...)
	secrets = append(secrets, "second-secret-2")
	asAnna := []string{"Authorization", basic(`LAB\anna`, "second-secret-2")}
	f.adminOK(200, "POST", "/users/me/password", `{"current_password":"second-secret-2","password":"third-secret-3"}`, nil, asAnna...)
	secrets = append(secrets, "third-secret-3")
	annaToken := f.login(`LAB\anna`, "third-secret-3")
	annaKey := f.key(&latchkey.User{ID: anna.ID}, false)
	secrets = append(secrets, annaToken, annaKey.Key)
	f.adminOK(200, "PUT", "/users/"+annaID+"/roles/apikey-admin", "", nil, asBoss...)
	f.adminOK(200, "POST", "/users/"+annaID+"/disable", "", nil, asBoss...)
	f.adminOK(200, "POST", "/users/"+annaID+"/enable", "", nil, asBoss...)
	f.adminOK(201, "POST", "/roles", `{"name":"audited","abilities":[]}`, nil, asBoss...)
	f.adminOK(201, "POST", "/abilities", `{"name":"audited.thing"}`, nil, asBoss...)
	f.adminOK(200, "DELETE", "/users/"+annaID, "", nil, asBoss...)

	var page credential.Page[latchkey.AuditEvent]
	f.adminOK(200, "GET", "/audit?subject_id="+annaID+"&action=user.", "", &page, asBoss...)
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
		if e.Target != `LAB\anna` || e.SubjectID != anna.ID {
			t.Errorf("an event about anna: %+v", e)
		}
		want := struct {
			actor string
			id    int64
			addr  string
		}{`LAB\boss`, boss.ID, "203.0.113.9"}
		if e.Action == latchkey.AuditUserPassword && strings.Contains(e.Detail, "by the user") {
			want.actor, want.id, want.addr = `LAB\anna`, anna.ID, "192.0.2.1:1234"
		}
		if e.Actor != want.actor || e.ActorID != want.id || e.RemoteAddr != want.addr {
			t.Errorf("%s: actor %q (%d) from %q, want %q (%d) from %q", e.Action, e.Actor, e.ActorID, e.RemoteAddr, want.actor, want.id, want.addr)
		}
	}
	wantActions := []string{latchkey.AuditUserDelete, latchkey.AuditUserEnable, latchkey.AuditUserDisable, latchkey.AuditUserPassword,
		latchkey.AuditUserPassword, latchkey.AuditUserUpdate, latchkey.AuditUserCreate}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("anna's user events: %v, want %v", actions, wantActions)
	}
	for _, e := range page.Items {
		if e.Action == latchkey.AuditUserCreate && (e.Method != latchkey.MethodAPIKey || e.CredentialID == "") {
			t.Errorf("the create event's credential: %+v", e)
		}
	}

	// Filters: by actor, by actor id, by time.
	for _, tt := range []struct {
		query string
		want  func(e latchkey.AuditEvent) bool
		some  bool
	}{
		{"actor=" + url.QueryEscape(`LAB\anna`), func(e latchkey.AuditEvent) bool { return e.Actor == `LAB\anna` }, true},
		{fmt.Sprintf("actor_id=%d&action=role.", boss.ID), func(e latchkey.AuditEvent) bool {
			return e.ActorID == boss.ID && strings.HasPrefix(e.Action, "role.")
		}, true},
		{"action=ability.create", func(e latchkey.AuditEvent) bool { return e.Target == "audited.thing" }, true},
		{"since=" + start.UTC().Format(time.RFC3339Nano) + "&until=" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
			func(e latchkey.AuditEvent) bool { return !e.Time.Before(start) }, true},
		{"until=" + start.UTC().Format(time.RFC3339), func(latchkey.AuditEvent) bool { return false }, false},
	} {
		f.adminOK(200, "GET", "/audit?"+tt.query, "", &page, asBoss...)
		if tt.some != (len(page.Items) > 0) {
			t.Errorf("audit?%s: %d events", tt.query, len(page.Items))
		}
		for _, e := range page.Items {
			if !tt.want(e) {
				t.Errorf("audit?%s: %+v", tt.query, e)
			}
		}
	}

	// No event, through the API or in the store, holds a secret.
	events, err := f.st.AuditEvents(context.Background(), latchkey.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 12 {
		t.Fatalf("only %d events", len(events))
	}
	items, _ := f.walk("/audit?limit=500", asBoss)
	if len(items) != len(events) {
		t.Errorf("the API shows %d events, the store holds %d", len(items), len(events))
	}
	stored, _ := json.Marshal(events)
	shown, _ := json.Marshal(items)
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret")
		}
		if strings.Contains(string(stored), s) || strings.Contains(string(shown), s) {
			t.Errorf("a secret is in the audit log: %.6s…", s)
		}
	}
}
