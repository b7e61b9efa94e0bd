package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/storetest"
)

// adminPrefix is the fixtures' login.admin_path.
const adminPrefix = "/api/v1"

// adminDo sends a request to the admin API with the credential headers, and
// the required headers on unsafe methods.
func (f *fixture) adminDo(method, path, body string, cred ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.serve(adminRequest(method, path, body, cred...))
}

// adminRequest is the request adminDo sends.
func adminRequest(method, path, body string, cred ...string) *http.Request {
	h := cred
	if !latchkey.SafeMethod(method) {
		h = xhr(cred...)
	}
	return request(method, adminPrefix+path, body, h...)
}

// adminOK calls the admin API, fails unless the answer has the status, and
// decodes a successful answer into out (when not nil).
func (f *fixture) adminOK(status int, method, path, body string, out any, cred ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	w := f.adminDo(method, path, body, cred...)
	if w.Code != status {
		f.t.Fatalf("%s %s: %d, want %d: %s", method, path, w.Code, status, w.Body)
	}
	if w.Code < 300 && w.Header().Get("Cache-Control") != "no-store" {
		f.t.Errorf("%s %s: Cache-Control %q", method, path, w.Header().Get("Cache-Control"))
	}
	if out != nil && w.Code < 300 {
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, w.Body)
		}
	}
	return w
}

// role makes a role with the abilities, as the operator would.
func (f *fixture) role(name string, abilities ...string) {
	f.t.Helper()
	if err := f.st.CreateRole(context.Background(), &latchkey.Role{Name: name, Abilities: abilities}, nil); err != nil {
		f.t.Fatal(err)
	}
}

// sessionOf signs u in (password "password-<name>") and returns the
// session's token and id.
func (f *fixture) sessionOf(u *latchkey.User) (token, id string) {
	f.t.Helper()
	token = f.login(u.QualifiedName(), "password-"+u.Username)
	page, err := f.creds.ListSessions(context.Background(), nil, credential.SessionQuery{UserID: u.ID})
	if err != nil || len(page.Items) == 0 {
		f.t.Fatalf("the sessions of %s: %v %+v", u.QualifiedName(), err, page)
	}
	return token, page.Items[0].ID // newest first
}

func basicOf(u *latchkey.User) []string {
	return []string{"Authorization", basic(u.QualifiedName(), "password-"+u.Username)}
}

func id(u *latchkey.User) string { return strconv.FormatInt(u.ID, 10) }

// builtInAbilities are the names of latchkey's own abilities.
func builtInAbilities() []string {
	var names []string
	for _, a := range latchkey.BuiltInAbilities {
		names = append(names, a.Name)
	}
	return names
}

// adminMatrix makes the callers and targets of TestAdminAbilities.
type adminMatrix struct {
	f       *fixture
	callers map[string][]string // by the abilities they hold
	n       int
}

// holding returns the Basic credentials of a user who holds exactly the
// abilities, through a role of their own.
func (m *adminMatrix) holding(abilities ...string) []string {
	key := strings.Join(slices.Sorted(slices.Values(abilities)), ",")
	if c, ok := m.callers[key]; ok {
		return c
	}
	m.n++
	role := "holds " + key
	m.f.role(role, abilities...)
	c := basicOf(m.f.addUser(fmt.Sprintf("caller%d", m.n), role))
	m.callers[key] = c
	return c
}

// lacking returns a caller who holds every built-in ability but these.
func (m *adminMatrix) lacking(abilities ...string) []string {
	return m.holding(slices.DeleteFunc(builtInAbilities(), func(a string) bool { return slices.Contains(abilities, a) })...)
}

// target makes a user with the roles, and no abilities unless they grant
// some.
func (m *adminMatrix) target(roles ...string) *latchkey.User {
	m.n++
	return m.f.addUser(fmt.Sprintf("target%d", m.n), roles...)
}

type denial struct {
	lacks  []string // the caller holds every built-in ability but these
	status int
}

func lacks(status int, abilities ...string) denial { return denial{abilities, status} }

// emptyRole is a role that grants nothing, with a space in its name.
const emptyRole = "matrix empty"

// adminCases are the rows of TestAdminAbilities: one or more for every
// endpoint. setup makes what the row acts on and returns the path after
// the prefix and the body; self is the caller of a row that needs no
// ability (a user of its own), else nil.
var adminCases = []struct {
	name   string
	method string
	setup  func(m *adminMatrix, self *latchkey.User) (path, body string)
	needs  []string // the abilities that suffice; nil: any signed-in user
	denied []denial
	status int
}{
	{"list users", "GET", fixed("/users?limit=5"), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(403, latchkey.AbilityUsersManage)}, 200},
	{"create a user", "POST", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		m.n++
		return "/users", fmt.Sprintf(`{"username":"made%d","password":"a-long-password"}`, m.n)
	}, []string{latchkey.AbilityUsersManage}, []denial{lacks(403, latchkey.AbilityUsersManage)}, 201},
	{"create a user with a role", "POST", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		m.n++
		return "/users", fmt.Sprintf(`{"directory":"LAB","username":"made%d","roles":[%q]}`, m.n, emptyRole)
	}, []string{latchkey.AbilityUsersManage, latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityUsersManage), lacks(403, latchkey.AbilityRolesManage)}, 201},
	{"oneself", "GET", fixed("/users/me"), nil, nil, 200},
	{"a user", "GET", onTarget("/users/%s", ""), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"change a user", "PATCH", onTarget("/users/%s", `{"name":"Changed","groups":["g1"]}`), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"delete a user", "DELETE", onTarget("/users/%s", ""), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"disable a user", "POST", onTarget("/users/%s/disable", ""), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"enable a user", "POST", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		u := m.target()
		if _, err := m.f.creds.SetDisabled(context.Background(), nil, u.ID, true, ""); err != nil {
			m.f.t.Fatal(err)
		}
		return "/users/" + id(u) + "/enable", ""
	}, []string{latchkey.AbilityUsersManage}, []denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"set a password", "PUT", onTarget("/users/%s/password", `{"password":"another-password"}`), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"remove a password", "DELETE", onTarget("/users/%s/password", ""), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	{"change one's own password", "POST", func(m *adminMatrix, self *latchkey.User) (string, string) {
		return "/users/me/password", fmt.Sprintf(`{"current_password":"password-%s","password":"a-new-password"}`, self.Username)
	}, nil, nil, 200},
	{"a user's roles", "GET", onTarget("/users/%s/roles", ""), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(404, latchkey.AbilityUsersManage)}, 200},
	// Granting and revoking roles needs roles.manage alone.
	{"grant a role", "PUT", onTarget("/users/%s/roles/matrix%%20empty", ""), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage)}, 200},
	{"revoke a role", "DELETE", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		return "/users/" + id(m.target(emptyRole)) + "/roles/matrix%20empty", ""
	}, []string{latchkey.AbilityRolesManage}, []denial{lacks(403, latchkey.AbilityRolesManage)}, 200},
	{"end a user's sessions", "DELETE", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		u := m.target()
		m.f.sessionOf(u)
		return "/users/" + id(u) + "/sessions", ""
	}, []string{latchkey.AbilitySessionsManage},
		[]denial{lacks(403, latchkey.AbilitySessionsManage), lacks(404, latchkey.AbilitySessionsManage, latchkey.AbilityUsersManage)}, 200},

	{"list roles", "GET", fixed("/roles?limit=2"), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage, latchkey.AbilityUsersManage)}, 200},
	{"list roles with users.manage", "GET", fixed("/roles"), []string{latchkey.AbilityUsersManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage, latchkey.AbilityUsersManage)}, 200},
	{"create a role", "POST", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		m.n++
		return "/roles", fmt.Sprintf(`{"name":"made role %d","description":"made by the matrix","abilities":[]}`, m.n)
	}, []string{latchkey.AbilityRolesManage}, []denial{lacks(403, latchkey.AbilityRolesManage)}, 201},
	{"a role", "GET", fixed("/roles/matrix%20empty"), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage, latchkey.AbilityUsersManage)}, 200},
	{"change a role", "PATCH", onRole("/roles/%s", `{"description":"changed"}`), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage)}, 200},
	{"delete a role", "DELETE", onRole("/roles/%s", ""), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage)}, 200},
	{"list abilities", "GET", fixed("/abilities?search=manage"), []string{latchkey.AbilityRolesManage},
		[]denial{lacks(403, latchkey.AbilityRolesManage, latchkey.AbilityUsersManage)}, 200},
	{"define an ability", "POST", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		m.n++
		return "/abilities", fmt.Sprintf(`{"name":"matrix.made%d","description":"made by the matrix"}`, m.n)
	}, []string{latchkey.AbilityRolesManage}, []denial{lacks(403, latchkey.AbilityRolesManage)}, 201},
	// Deleting an ability takes it from every role, so it needs the
	// ability itself as well (credential.DeleteAbility).
	{"delete an ability", "DELETE", func(m *adminMatrix, _ *latchkey.User) (string, string) {
		if err := m.f.st.CreateAbility(context.Background(), &latchkey.Ability{Name: "matrix.gone"}, nil); err != nil {
			m.f.t.Fatal(err)
		}
		return "/abilities/matrix.gone", ""
	}, []string{latchkey.AbilityRolesManage, "matrix.gone"}, []denial{lacks(403, latchkey.AbilityRolesManage)}, 200},

	{"one's own sessions", "GET", fixed("/sessions"), nil, nil, 200},
	{"another's sessions", "GET", onTarget("/sessions?user_id=%s&include_ended=true", ""), []string{latchkey.AbilitySessionsManage},
		[]denial{lacks(403, latchkey.AbilitySessionsManage)}, 200},
	{"a session", "GET", onSession("/sessions/%s"), []string{latchkey.AbilitySessionsManage},
		[]denial{lacks(404, latchkey.AbilitySessionsManage)}, 200},
	{"end a session", "DELETE", onSession("/sessions/%s"), []string{latchkey.AbilitySessionsManage},
		[]denial{lacks(404, latchkey.AbilitySessionsManage)}, 200},
	{"end a session by POST", "POST", onSession("/sessions/%s/end"), []string{latchkey.AbilitySessionsManage},
		[]denial{lacks(404, latchkey.AbilitySessionsManage)}, 200},

	{"the audit log", "GET", fixed("/audit?limit=10&action=user."), []string{latchkey.AbilityAuditRead},
		[]denial{lacks(403, latchkey.AbilityAuditRead)}, 200},
}

func fixed(path string) func(*adminMatrix, *latchkey.User) (string, string) {
	return func(*adminMatrix, *latchkey.User) (string, string) { return path, "" }
}

// onTarget puts the id of a new user without roles in the path.
func onTarget(format, body string) func(*adminMatrix, *latchkey.User) (string, string) {
	return func(m *adminMatrix, _ *latchkey.User) (string, string) {
		return fmt.Sprintf(format, id(m.target())), body
	}
}

// onRole puts the (escaped) name of a new role that grants nothing in the
// path.
func onRole(format, body string) func(*adminMatrix, *latchkey.User) (string, string) {
	return func(m *adminMatrix, _ *latchkey.User) (string, string) {
		m.n++
		name := fmt.Sprintf("role %d", m.n)
		m.f.role(name)
		return fmt.Sprintf(format, strings.ReplaceAll(name, " ", "%20")), body
	}
}

// onSession puts the id of a new user's session in the path.
func onSession(format string) func(*adminMatrix, *latchkey.User) (string, string) {
	return func(m *adminMatrix, _ *latchkey.User) (string, string) {
		_, sid := m.f.sessionOf(m.target())
		return fmt.Sprintf(format, sid), ""
	}
}

// TestAdminAbilities calls every endpoint of the admin API as: nobody
// (401 with the challenge), an administrator without the required headers
// on unsafe methods (403), an administrator's read-only API key (reads
// only), callers who lack what the endpoint needs (403, or 404 where the
// layer hides whether the target exists), and one who holds exactly that.
func TestAdminAbilities(t *testing.T) { forEachStore(t, testAdminAbilities) }

func testAdminAbilities(t *testing.T, f *fixture) {
	m := &adminMatrix{f: f, callers: map[string][]string{}}
	f.role(emptyRole)
	boss := f.addUser("boss", latchkey.RoleAdmin)
	asBoss := basicOf(boss)
	readOnly := []string{"X-Api-Key", f.key(boss, true).Key}
	api := newAPICheck(t, f.s.Handler())

	covered := map[string]bool{}
	for _, tt := range adminCases {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			var self *latchkey.User
			if tt.needs == nil {
				self = m.target()
			}
			path, body := tt.setup(m, self)
			var holder []string
			if self != nil {
				holder = basicOf(self)
			} else {
				holder = m.holding(tt.needs...)
			}
			covered[f.adminRouteOf(tt.method, path)] = true
			safe := latchkey.SafeMethod(tt.method)
			check := func(who string, w *httptest.ResponseRecorder, status int, want string) {
				t.Helper()
				if w.Code != status {
					t.Fatalf("%s: %d, want %d: %s", who, w.Code, status, w.Body)
				}
				if want != "" && !strings.Contains(errorMessage(t, w), want) {
					t.Errorf("%s: the message %q does not say %q", who, errorMessage(t, w), want)
				}
			}

			// Every request goes through the OpenAPI harness, which holds it
			// and its answer to openapi.json.
			a := api.in(t)
			w := a.doInvalid(adminRequest(tt.method, path, body), "no credentials")
			check("nobody", w, 401, "credentials")
			if c := w.Header().Get("WWW-Authenticate"); c != basicChallenge {
				t.Errorf("nobody: WWW-Authenticate %q, want %q", c, basicChallenge)
			}
			if !safe {
				r := request(tt.method, adminPrefix+path, body, append([]string{"Content-Type", "application/json"}, asBoss...)...)
				check("without the required headers", a.doInvalid(r, "no Origin"), 403, "Origin header is required")
				r = request(tt.method, adminPrefix+path, body, xhr(append([]string{"X-Requested-With", "fetch"}, asBoss...)...)...)
				check("with a wrong X-Requested-With", a.doInvalid(r, "X-Requested-With is not XMLHttpRequest"), 403, "X-Requested-With")
			}
			if safe {
				check("a read-only key", a.do(adminRequest(tt.method, path, body, readOnly...)), tt.status, "")
				check("a read-only key, HEAD", a.do(adminRequest("HEAD", path, body, readOnly...)), tt.status, "")
			} else {
				check("a read-only key", a.do(adminRequest(tt.method, path, body, readOnly...)), 403, "read-only")
			}
			for _, d := range tt.denied {
				want := ""
				if d.status == 403 {
					want = d.lacks[0]
				}
				who := "without " + strings.Join(d.lacks, " and ")
				check(who, a.do(adminRequest(tt.method, path, body, m.lacking(d.lacks...)...)), d.status, want)
				if safe {
					w := a.do(adminRequest("HEAD", path, body, m.lacking(d.lacks...)...))
					if w.Code != d.status {
						t.Errorf("%s, HEAD: %d, want %d", who, w.Code, d.status)
					}
				}
			}
			if safe {
				if w := a.do(adminRequest("HEAD", path, body, holder...)); w.Code != tt.status {
					t.Errorf("HEAD: %d, want %d", w.Code, tt.status)
				}
			}
			w = a.do(adminRequest(tt.method, path, body, holder...))
			check("with "+strings.Join(tt.needs, " and "), w, tt.status, "")
			if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", w.Header())
			}
		})
		f.t = t
	}
	// Every endpoint has a row.
	for _, rt := range f.s.admin.routes {
		for method := range rt.ops {
			if key := method + " " + strings.Join(rt.pattern, "/"); !covered[key] {
				t.Errorf("no row calls %s", key)
			}
		}
	}
}

// forEachStore runs test on a fixture over SQLite, and over PostgreSQL
// when LATCHKEY_TEST_POSTGRES names one.
func forEachStore(t *testing.T, test func(*testing.T, *fixture)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), storetest.PostgresDSN(t), postgres.Options{Logger: quietLog(), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		test(t, newFixtureOn(t, st))
	})
}

// adminRouteOf names the endpoint that serves the method and path (after
// the prefix), as "GET users/{id}".
func (f *fixture) adminRouteOf(method, path string) string {
	f.t.Helper()
	r := request(method, adminPrefix+path, "")
	segs, ok := f.s.admin.segments(r)
	if ok {
		for _, rt := range f.s.admin.routes {
			if _, ok := rt.match(segs); ok && rt.ops[method] != nil {
				return method + " " + strings.Join(rt.pattern, "/")
			}
		}
	}
	f.t.Fatalf("no admin endpoint serves %s %s", method, path)
	return ""
}

// TestAdminCallers shows each way of authenticating at the admin API: a
// session cookie, Basic with a password, Basic with an API key, and the API
// key header; a read-only session (opened with a read-only key) reads only.
func TestAdminCallers(t *testing.T) {
	f := newFixture(t)
	boss := f.addUser("boss", latchkey.RoleAdmin)
	key := f.key(boss, false).Key
	roKey := f.key(boss, true).Key
	roSession := f.login(boss.QualifiedName(), roKey)
	callers := []struct {
		name string
		cred []string
		read bool // read-only
	}{
		{"session", []string{"Cookie", "wtsession=" + f.login(boss.QualifiedName(), "password-boss")}, false},
		{"basic password", basicOf(boss), false},
		{"basic key", []string{"Authorization", basic(boss.QualifiedName(), key)}, false},
		{"key header", []string{"X-Api-Key", key}, false},
		{"read-only session", []string{"Cookie", "wtsession=" + roSession}, true},
		{"read-only key as Basic", []string{"Authorization", basic(boss.QualifiedName(), roKey)}, true},
	}
	for i, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			var me credential.UserView
			f.adminOK(200, "GET", "/users/me", "", &me, c.cred...)
			if me.ID != boss.ID || !slices.Contains(me.Abilities, latchkey.AbilityUsersManage) {
				t.Errorf("me: %+v", me)
			}
			body := fmt.Sprintf(`{"username":"by%d"}`, i)
			if c.read {
				if w := f.adminDo("POST", "/users", body, c.cred...); w.Code != 403 || !strings.Contains(errorMessage(t, w), "read-only") {
					t.Errorf("a read-only create: %d %s", w.Code, w.Body)
				}
				return
			}
			var v credential.UserView
			f.adminOK(201, "POST", "/users", body, &v, c.cred...)
			if v.Username != fmt.Sprintf("by%d", i) || v.Directory != latchkey.DefaultDirectory {
				t.Errorf("created %+v", v)
			}
		})
		f.t = t
	}
}

// TestAdminPaths: what the admin API owns under its prefix and what it
// leaves to the other endpoints and the routes; 404 and 405 answers.
func TestAdminPaths(t *testing.T) {
	f := newFixture(t)
	boss := f.addUser("boss", latchkey.RoleAdmin)
	asBoss := basicOf(boss)
	tests := []struct {
		name, method, path string
		status             int
		want               string // in the message; the Allow header of a 405
	}{
		{"no such endpoint", "GET", "/users/1/frobnicate", 404, "no admin endpoint"},
		{"too deep", "GET", "/roles/a/b", 404, "no admin endpoint"},
		{"PUT on the users", "PUT", "/users", 405, "GET, HEAD, POST"},
		{"PATCH on oneself", "PATCH", "/users/me", 405, "GET, HEAD"},
		{"GET on one's password", "GET", "/users/me/password", 405, "POST"},
		{"PUT on one's password", "PUT", "/users/me/password", 405, "POST"},
		{"POST on a user", "POST", "/users/1", 405, "GET, HEAD, PATCH, DELETE"},
		{"GET on an ability", "GET", "/abilities/audit.read", 405, "DELETE"},
		{"GET on disable", "GET", "/users/1/disable", 405, "POST"},
		{"OPTIONS on the audit log", "OPTIONS", "/audit", 405, "GET, HEAD"},
		{"a user that does not exist", "GET", "/users/999999", 404, "999999"},
		{"a role that does not exist", "GET", "/roles/nope", 404, "nope"},
		{"a session that does not exist", "GET", "/sessions/nope", 404, "nope"},
		{"HEAD on the users", "HEAD", "/users", 200, ""},
		{"trailing slash", "GET", "/users/", 200, ""},
		{"unclean path: refused, not redirected", "GET", "/users/../roles", 400, "'..'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, adminPrefix+tt.path, "", asBoss...))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 405 && w.Header().Get("Allow") != tt.want {
				t.Errorf("Allow = %q, want %q", w.Header().Get("Allow"), tt.want)
			}
			if tt.status != 200 && tt.status != 405 && !strings.Contains(errorMessage(t, w), tt.want) {
				t.Errorf("message %q does not name %q", errorMessage(t, w), tt.want)
			}
		})
	}

	// The rest of the prefix keeps its owners.
	for _, p := range []string{"/projects", "/usersx", "/Users", "/auditing/x", "/"} {
		w := f.serve(request("GET", adminPrefix+p, "", asBoss...))
		if e := echoed(t, w); e.Request.Route != "api" {
			t.Errorf("%s went to %q", p, e.Request.Route)
		}
	}
	var keys []credential.KeyView
	if c := f.keyCall("GET", "", "", &keys, asBoss...); c != 200 {
		t.Errorf("the API key endpoints: %d", c)
	}
	f.login(boss.QualifiedName(), "password-boss")

	// Another prefix, and none.
	g := newFixtureWith(t, func(c *config.Config) { c.Login.AdminPath = "/manage/" })
	boss = g.addUser("boss", latchkey.RoleAdmin)
	if w := g.serve(request("GET", "/manage/users", "", basicOf(boss)...)); w.Code != 200 {
		t.Errorf("/manage/users: %d %s", w.Code, w.Body)
	}
	if w := g.serve(request("GET", "/manage/roles/admin", "", basicOf(boss)...)); w.Code != 200 {
		t.Errorf("/manage/roles/admin: %d %s", w.Code, w.Body)
	}
	if e := echoed(t, g.serve(request("GET", "/api/v1/users", "", basicOf(boss)...))); e.Request.Route != "api" {
		t.Errorf("/api/v1/users went to %q", e.Request.Route)
	}
	h := newFixtureWith(t, func(c *config.Config) { c.Login.AdminPath = "-" })
	boss = h.addUser("boss", latchkey.RoleAdmin)
	if e := echoed(t, h.serve(request("GET", "/api/v1/users", "", basicOf(boss)...))); e.Request.Route != "api" {
		t.Errorf("with admin_path -, /api/v1/users went to %q", e.Request.Route)
	}
}
