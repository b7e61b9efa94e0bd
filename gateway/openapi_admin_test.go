package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// decoded decodes a JSON answer into a T, or fails.
func decoded[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	return v
}

// testOpenAPIAdmin is the admin API's part of TestOpenAPIDocument: every
// operation, with success and the usual refusals, through a.
func testOpenAPIAdmin(t *testing.T, a *apiCheck, f *jwtFixture) {
	ctx := context.Background()
	root := f.addUser("root", latchkey.RoleAdmin)
	plain, err := f.st.UserByName(ctx, "LAB", "plain")
	if err != nil {
		t.Fatal(err)
	}
	asRoot, asPlain := basicOf(root), basicOf(plain)
	rootRO := []string{"X-Api-Key", f.key(root, true).Key}
	noHeaders := func(r *http.Request) *http.Request { r.Header.Del("Origin"); return r }
	get := func(path string, cred ...string) *http.Request { return request("GET", adminPrefix+path, "", cred...) }
	head := func(path string, cred ...string) *http.Request { return request("HEAD", adminPrefix+path, "", cred...) }
	send := func(method, path, body string, cred ...string) *http.Request {
		return request(method, adminPrefix+path, body, xhr(cred...)...)
	}
	// Each page of a list, to its end.
	walk := func(path string, cred ...string) int {
		t.Helper()
		n := 0
		for next := ""; ; n++ {
			p := path
			if next != "" {
				p += "&cursor=" + url.QueryEscape(next)
			}
			page := decoded[credential.Page[json.RawMessage]](t, wantStatus(t, a.do(get(p, cred...)), 200))
			if next = page.Next; next == "" || n > 50 {
				return n + 1
			}
		}
	}

	t.Run("users", func(t *testing.T) {
		w := wantStatus(t, a.do(send("POST", "/users", `{"directory": "LAB", "username": "zoe", "name": "Zoe", "email": "zoe@example.com",
			"groups": ["ops"], "roles": ["apikey-user"], "password": "zoe-password"}`, asRoot...)), 201)
		zoe := decoded[credential.UserView](t, w)
		z := "/users/" + id(&latchkey.User{ID: zoe.ID})
		wantStatus(t, a.do(send("POST", "/users", `{"directory": "lab", "username": "ZOE"}`, asRoot...)), 409)
		wantStatus(t, a.do(send("POST", "/users", `{"username": "x", "password": "short"}`, asRoot...)), 400)
		wantStatus(t, a.doInvalid(send("POST", "/users", `{"name": "no username"}`, asRoot...), "no username"), 400)
		wantStatus(t, a.doInvalid(send("POST", "/users", `{"username": "x", "admin": true}`, asRoot...), "an unknown field"), 400)
		wantStatus(t, a.do(send("POST", "/users", `{"username": "y"}`, asPlain...)), 403)
		wantStatus(t, a.do(send("POST", "/users", `{"username": "y"}`, rootRO...)), 403)
		wantStatus(t, a.doInvalid(send("POST", "/users", `{"username": "y"}`), "no credentials"), 401)
		wantStatus(t, a.doInvalid(noHeaders(send("POST", "/users", `{"username": "y"}`, asRoot...)), "no Origin"), 403)
		wantStatus(t, a.doOtherMethod(send("PUT", "/users", `{}`, asRoot...)), 405)

		if n := walk("/users?directory=LAB&limit=2", asRoot...); n < 2 {
			t.Errorf("%d pages", n)
		}
		wantStatus(t, a.do(get("/users?search=zo&role=apikey-user&disabled=false", asRoot...)), 200)
		wantStatus(t, a.do(get("/users?cursor=garbage", asRoot...)), 400)
		wantStatus(t, a.doInvalid(get("/users?disabled=maybe", asRoot...), "disabled is not a boolean"), 400)
		wantStatus(t, a.doInvalid(get("/users?limit=0", asRoot...), "limit below 1"), 400)
		wantStatus(t, a.do(get("/users", asPlain...)), 403)
		wantStatus(t, a.doInvalid(get("/users"), "no credentials"), 401)
		wantStatus(t, a.do(head("/users?limit=1", rootRO...)), 200)
		wantStatus(t, a.doInvalid(head("/users"), "no credentials"), 401)

		if me := decoded[credential.UserView](t, wantStatus(t, a.do(get("/users/me", asPlain...)), 200)); me.ID != plain.ID {
			t.Errorf("me: %+v", me)
		}
		wantStatus(t, a.do(head("/users/me", asPlain...)), 200)
		wantStatus(t, a.doInvalid(get("/users/me"), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(send("PATCH", "/users/me", `{}`, asRoot...)), 405)

		asZoe := []string{"Authorization", basic(`LAB\zoe`, "zoe-password")}
		wantStatus(t, a.do(send("POST", "/users/me/password", `{"current_password": "wrong-password", "password": "zoe-new-password"}`, asZoe...)), 403)
		wantStatus(t, a.do(send("POST", "/users/me/password", `{"current_password": "zoe-password", "password": "zoe-new-password"}`, asZoe...)), 200)
		wantStatus(t, a.doInvalid(send("POST", "/users/me/password", `{"password": "zoe-newer-password"}`, asRoot...), "no current password"), 400)
		wantStatus(t, a.do(send("POST", "/users/me/password", `{"current_password": "x", "password": "y"}`, rootRO...)), 403)
		wantStatus(t, a.doInvalid(send("POST", "/users/me/password", `{"current_password": "x", "password": "y"}`), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(get("/users/me/password", asRoot...)), 405)

		wantStatus(t, a.do(get(z, asRoot...)), 200)
		wantStatus(t, a.do(head(z, asRoot...)), 200)
		wantStatus(t, a.do(get(z, asPlain...)), 404) // not plain's to see
		wantStatus(t, a.do(get("/users/999999", asRoot...)), 404)
		wantStatus(t, a.doInvalid(get("/users/zoe", asRoot...), "a name for an id"), 400)
		wantStatus(t, a.doInvalid(get(z), "no credentials"), 401)
		wantStatus(t, a.doInvalid(head(z), "no credentials"), 401)
		if v := decoded[credential.UserView](t, wantStatus(t, a.do(send("PATCH", z, `{"name": "Zoe Z", "groups": []}`, asRoot...)), 200)); v.DisplayName != "Zoe Z" {
			t.Errorf("patched: %+v", v)
		}
		wantStatus(t, a.do(send("PATCH", z, `{"email": "not an address"}`, asRoot...)), 400)
		wantStatus(t, a.doInvalid(send("PATCH", z, `{"groups": "ops"}`, asRoot...), "groups is not a list"), 400)
		wantStatus(t, a.do(send("PATCH", z, `{"name": "x"}`, asPlain...)), 404)
		wantStatus(t, a.do(send("PATCH", z, `{"name": "x"}`, rootRO...)), 403)
		wantStatus(t, a.doOtherMethod(send("POST", z, `{}`, asRoot...)), 405)

		wantStatus(t, a.do(send("POST", z+"/disable", "", asRoot...)), 200)
		wantStatus(t, a.do(send("POST", "/users/"+id(root)+"/disable", "", asRoot...)), 409) // oneself
		wantStatus(t, a.do(send("POST", z+"/disable", "", asPlain...)), 404)
		wantStatus(t, a.doInvalid(send("POST", "/users/0/disable", "", asRoot...), "id 0"), 400)
		wantStatus(t, a.doOtherMethod(get(z+"/disable", asRoot...)), 405)
		wantStatus(t, a.do(send("POST", z+"/enable", "", asRoot...)), 200)
		wantStatus(t, a.do(send("POST", z+"/enable", "", rootRO...)), 403)
		wantStatus(t, a.doInvalid(send("POST", z+"/enable", ""), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(get(z+"/enable", asRoot...)), 405)

		wantStatus(t, a.do(send("PUT", z+"/password", `{"password": "set-by-root"}`, asRoot...)), 200)
		wantStatus(t, a.do(send("PUT", z+"/password", `{"password": "short"}`, asRoot...)), 400)
		wantStatus(t, a.doInvalid(send("PUT", z+"/password", `{}`, asRoot...), "no password"), 400)
		wantStatus(t, a.do(send("PUT", z+"/password", `{"password": "set-by-plain"}`, asPlain...)), 404)
		wantStatus(t, a.do(send("DELETE", z+"/password", "", asRoot...)), 200)
		wantStatus(t, a.doInvalid(noHeaders(send("DELETE", z+"/password", "", asRoot...)), "no Origin"), 403)
		wantStatus(t, a.doOtherMethod(get(z+"/password", asRoot...)), 405)

		if r := decoded[credential.Page[string]](t, wantStatus(t, a.do(get(z+"/roles", asRoot...)), 200)); !slices.Equal(r.Items, []string{"apikey-user"}) {
			t.Errorf("roles: %+v", r)
		}
		wantStatus(t, a.do(head(z+"/roles", asRoot...)), 200)
		wantStatus(t, a.do(get(z+"/roles", asPlain...)), 404)
		wantStatus(t, a.doOtherMethod(send("POST", z+"/roles", "", asRoot...)), 405)
		wantStatus(t, a.do(send("PUT", z+"/roles/apikey-admin", "", asRoot...)), 200)
		wantStatus(t, a.do(send("PUT", z+"/roles/apikey-admin", "", asRoot...)), 409)
		wantStatus(t, a.do(send("PUT", z+"/roles/no%20such%20role", "", asRoot...)), 404)
		wantStatus(t, a.do(send("PUT", z+"/roles/apikey-admin", "", asPlain...)), 403)
		wantStatus(t, a.do(send("DELETE", z+"/roles/apikey-admin", "", asRoot...)), 200)
		wantStatus(t, a.do(send("DELETE", z+"/roles/apikey-admin", "", asRoot...)), 404)
		wantStatus(t, a.doInvalid(send("DELETE", z+"/roles/apikey-user", ""), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(get(z+"/roles/apikey-user", asRoot...)), 405)
	})

	t.Run("users, deleted", func(t *testing.T) {
		w := wantStatus(t, a.do(send("POST", "/users", `{"username": "yan", "password": "yan-password"}`, asRoot...)), 201)
		yan := decoded[credential.UserView](t, w)
		y := "/users/" + id(&latchkey.User{ID: yan.ID})
		f.login(yan.QualifiedName(), "yan-password")
		if e := decoded[endedBody](t, wantStatus(t, a.do(send("DELETE", y+"/sessions", "", asRoot...)), 200)); e.Ended != 1 {
			t.Errorf("ended %+v", e)
		}
		wantStatus(t, a.do(send("DELETE", y+"/sessions", "", asPlain...)), 404)
		wantStatus(t, a.doOtherMethod(get(y+"/sessions", asRoot...)), 405)
		wantStatus(t, a.do(send("DELETE", y, "", asPlain...)), 404)
		wantStatus(t, a.do(send("DELETE", y, "", asRoot...)), 200)
		wantStatus(t, a.do(send("DELETE", y, "", asRoot...)), 404)
		wantStatus(t, a.do(send("DELETE", "/users/"+id(root), "", asRoot...)), 409) // oneself
		wantStatus(t, a.doInvalid(send("DELETE", y, ""), "no credentials"), 401)
	})

	t.Run("roles", func(t *testing.T) {
		if n := walk("/roles?limit=2", asRoot...); n < 2 {
			t.Errorf("%d pages", n)
		}
		wantStatus(t, a.do(get("/roles?search=API", asRoot...)), 200)
		wantStatus(t, a.doInvalid(get("/roles?limit=ten", asRoot...), "limit is not a number"), 400)
		wantStatus(t, a.do(get("/roles", asPlain...)), 403)
		wantStatus(t, a.do(head("/roles", asRoot...)), 200)
		wantStatus(t, a.doOtherMethod(send("DELETE", "/roles", "", asRoot...)), 405)
		w := wantStatus(t, a.do(send("POST", "/roles", `{"name": "report readers", "description": "Read reports", "abilities": ["audit.read"]}`, asRoot...)), 201)
		if loc := w.Header().Get("Location"); loc != adminPrefix+"/roles/report%20readers" {
			t.Errorf("Location %q", loc)
		}
		wantStatus(t, a.do(send("POST", "/roles", `{"name": "report readers"}`, asRoot...)), 409)
		wantStatus(t, a.do(send("POST", "/roles", `{"name": " padded"}`, asRoot...)), 400)
		wantStatus(t, a.doInvalid(send("POST", "/roles", `{"description": "no name"}`, asRoot...), "no name"), 400)
		wantStatus(t, a.do(send("POST", "/roles", `{"name": "mine"}`, asPlain...)), 403)

		r := "/roles/report%20readers"
		wantStatus(t, a.do(get(r, asRoot...)), 200)
		wantStatus(t, a.do(head(r, rootRO...)), 200)
		wantStatus(t, a.do(get("/roles/nope", asRoot...)), 404)
		wantStatus(t, a.do(get(r, asPlain...)), 403)
		wantStatus(t, a.doInvalid(head(r), "no credentials"), 401)
		wantStatus(t, a.do(send("PATCH", r, `{"description": "Reads reports"}`, asRoot...)), 200)
		wantStatus(t, a.do(send("PATCH", "/roles/admin", `{"abilities": []}`, asRoot...)), 400) // keeps its built-in abilities
		wantStatus(t, a.doInvalid(send("PATCH", r, `{"abilities": "audit.read"}`, asRoot...), "abilities is not a list"), 400)
		wantStatus(t, a.do(send("PATCH", "/roles/nope", `{"description": "x"}`, asRoot...)), 404)
		wantStatus(t, a.do(send("PATCH", r, `{"description": "x"}`, rootRO...)), 403)
		wantStatus(t, a.do(send("DELETE", "/roles/apikey-user", "", asRoot...)), 400) // built in
		wantStatus(t, a.do(send("DELETE", r, "", asRoot...)), 200)
		wantStatus(t, a.do(send("DELETE", r, "", asRoot...)), 404)
		wantStatus(t, a.doOtherMethod(send("POST", r, "", asRoot...)), 405)

		if n := walk("/abilities?limit=3", asRoot...); n < 2 {
			t.Errorf("%d pages", n)
		}
		wantStatus(t, a.do(get("/abilities?search=manage", asRoot...)), 200)
		wantStatus(t, a.do(get("/abilities", asPlain...)), 403)
		wantStatus(t, a.do(head("/abilities", asRoot...)), 200)
		wantStatus(t, a.doOtherMethod(send("PUT", "/abilities", "", asRoot...)), 405)
		wantStatus(t, a.do(send("POST", "/abilities", `{"name": "reports.export", "description": "Export reports"}`, asRoot...)), 201)
		wantStatus(t, a.do(send("POST", "/abilities", `{"name": "reports.export"}`, asRoot...)), 409)
		wantStatus(t, a.doInvalid(send("POST", "/abilities", `{"name": "Reports"}`, asRoot...), "an upper-case name"), 400)
		wantStatus(t, a.do(send("POST", "/abilities", `{"name": "mine.too"}`, asPlain...)), 403)
		// Deleting an ability needs the ability, or the admin role.
		if err := f.st.CreateAbility(ctx, &latchkey.Ability{Name: "doc.gone"}, nil); err != nil {
			t.Fatal(err)
		}
		f.role("doc gone holder", "doc.gone")
		if err := f.st.GrantRole(ctx, root.ID, "doc gone holder", nil); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, a.do(send("DELETE", "/abilities/reports.export", "", asRoot...)), 200) // an administrator may delete what operators defined
		wantStatus(t, a.do(send("DELETE", "/abilities/audit.read", "", asRoot...)), 400)     // built in
		wantStatus(t, a.do(send("DELETE", "/abilities/doc.gone", "", asRoot...)), 200)
		wantStatus(t, a.doInvalid(send("DELETE", "/abilities/doc.gone", ""), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(get("/abilities/doc.gone", asRoot...)), 405)
	})

	t.Run("sessions", func(t *testing.T) {
		sam := f.addUser("sam")
		tok, s1 := f.sessionOf(sam)
		_, s2 := f.sessionOf(sam)
		_, s3 := f.sessionOf(sam)
		q := "/sessions?user_id=" + id(sam) + "&include_ended=true&limit=1"
		if n := walk(q, asRoot...); n != 3 {
			t.Errorf("%d pages", n)
		}
		asSam := []string{"Cookie", "wtsession=" + tok}
		if p := decoded[credential.Page[credential.SessionView]](t, wantStatus(t, a.do(get("/sessions", asSam...)), 200)); len(p.Items) != 3 {
			t.Errorf("own sessions: %+v", p)
		}
		wantStatus(t, a.do(get("/sessions?user_id="+id(sam), asPlain...)), 403)
		wantStatus(t, a.doInvalid(get("/sessions?user_id=sam", asRoot...), "a name for an id"), 400)
		wantStatus(t, a.doInvalid(get("/sessions?include_ended=yes", asRoot...), "not a boolean"), 400)
		wantStatus(t, a.do(head("/sessions", asSam...)), 200)
		wantStatus(t, a.doInvalid(get("/sessions"), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(send("DELETE", "/sessions", "", asRoot...)), 405)

		if v := decoded[credential.SessionView](t, wantStatus(t, a.do(get("/sessions/"+s1, asRoot...)), 200)); v.ID != s1 || !v.Active {
			t.Errorf("session: %+v", v)
		}
		wantStatus(t, a.do(head("/sessions/"+s1, asSam...)), 200)
		wantStatus(t, a.do(get("/sessions/"+s1, asPlain...)), 404) // not plain's to see
		wantStatus(t, a.do(get("/sessions/aaaaaaaaaaaaaaaa", asRoot...)), 404)
		wantStatus(t, a.doInvalid(get("/sessions/Not-A-Session", asRoot...), "not shaped like a session id"), 404)
		wantStatus(t, a.doInvalid(head("/sessions/"+s1), "no credentials"), 401)
		wantStatus(t, a.do(send("DELETE", "/sessions/"+s2, "", asPlain...)), 404)
		wantStatus(t, a.do(send("DELETE", "/sessions/"+s2, "", rootRO...)), 403)
		wantStatus(t, a.do(send("DELETE", "/sessions/"+s2, "", asRoot...)), 200)
		wantStatus(t, a.do(send("POST", "/sessions/"+s3+"/end", "", asSam...)), 200) // one's own
		wantStatus(t, a.do(send("POST", "/sessions/aaaaaaaaaaaaaaaa/end", "", asRoot...)), 404)
		wantStatus(t, a.doInvalid(noHeaders(send("POST", "/sessions/"+s1+"/end", "", asRoot...)), "no Origin"), 403)
		wantStatus(t, a.doOtherMethod(send("PUT", "/sessions/"+s1, "", asRoot...)), 405)
		wantStatus(t, a.doOtherMethod(get("/sessions/"+s1+"/end", asRoot...)), 405)
	})

	t.Run("audit", func(t *testing.T) {
		since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
		if n := walk("/audit?action=user.&actor_id="+id(root)+"&since="+since+"&until="+url.QueryEscape(until)+"&limit=2", asRoot...); n < 2 {
			t.Errorf("%d pages", n)
		}
		p := decoded[credential.Page[latchkey.AuditEvent]](t, wantStatus(t, a.do(get("/audit?actor="+url.QueryEscape(`LAB\root`)+"&action=role.", asRoot...)), 200))
		if len(p.Items) == 0 {
			t.Error("no role events of root's")
		}
		wantStatus(t, a.do(get("/audit?subject_id="+id(root), asRoot...)), 200)
		wantStatus(t, a.do(get("/audit?since="+until+"&until="+since, asRoot...)), 400)
		wantStatus(t, a.doInvalid(get("/audit?since=yesterday", asRoot...), "since is not a time"), 400)
		wantStatus(t, a.doInvalid(get("/audit?subject_id=-1", asRoot...), "a negative id"), 400)
		wantStatus(t, a.do(get("/audit", asPlain...)), 403)
		wantStatus(t, a.do(head("/audit?limit=1", rootRO...)), 200)
		wantStatus(t, a.doInvalid(head("/audit"), "no credentials"), 401)
		wantStatus(t, a.doOtherMethod(send("POST", "/audit", "", asRoot...)), 405)
	})
}

// TestOpenAPIAdminPaths: the document describes the admin API's endpoints
// as admin.go serves them, path for path and method for method (GET with
// HEAD), at the default login.admin_path.
func TestOpenAPIAdminPaths(t *testing.T) {
	d, err := theOpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	if f.s.cfg.Login.AdminPath != adminPrefix { // the default (config's TestDefault)
		t.Fatalf("the fixtures' admin_path is %q; the document shows %s", f.s.cfg.Login.AdminPath, adminPrefix)
	}
	served := map[string][]string{}
	for _, rt := range f.s.admin.routes {
		var methods []string
		for _, m := range strings.Split(rt.allow, ", ") {
			methods = append(methods, strings.ToUpper(m))
		}
		served[adminPrefix+"/"+strings.Join(rt.pattern, "/")] = methods
	}
	documented := map[string][]string{}
	for path, item := range d.doc.Paths.Map() {
		rest, ok := strings.CutPrefix(path, adminPrefix+"/")
		if !ok || !slices.Contains(config.AdminCollections, strings.Split(rest, "/")[0]) {
			continue
		}
		documented[path] = slices.Sorted(maps.Keys(item.Operations()))
	}
	for p, methods := range served {
		slices.Sort(methods)
		if !slices.Equal(documented[p], methods) {
			t.Errorf("%s: served %v, documented %v", p, methods, documented[p])
		}
	}
	for p := range documented {
		if served[p] == nil {
			t.Errorf("%s is documented but not served", p)
		}
	}
}
