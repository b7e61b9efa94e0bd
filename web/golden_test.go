package web

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/credential"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden renders each page in a fixed scenario on the fixed clock, with
// what differs from run to run (ids, tokens, keys, passwords) masked, and
// compares it with testdata/<page>.html. Run with -update to rewrite them
// after a change that is meant.
func TestGolden(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	goran := f.addUser("goran", "apikey-user")
	f.addUser("lena")

	anon := f.browser("anon")
	golden(t, f, "signin", anon.get("/ui/signin"), http.StatusOK)
	golden(t, f, "signin-refused", anon.do("POST", "/ui/signin", url.Values{"username": {`LAB\nobody`}, "password": {"not it"}}), http.StatusUnauthorized)
	golden(t, f, "signin-ended", anon.get("/ui/signin?ended=1&next=%2Fui%2Fadmin%2Fusers"), http.StatusOK)

	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	golden(t, f, "newkey", g.get("/ui/keys/new"), http.StatusOK)
	golden(t, f, "newkey-refused", g.postRaw("/ui/keys", "name", strings.Repeat("n", 129), "days", "999", "read_only", "1"), http.StatusBadRequest)
	made := g.postRaw("/ui/keys", "name", "ci", "days", "30")
	maskKey(f, made, 1)
	golden(t, f, "key-new", made, http.StatusOK)
	f.clock.advance(1800e9)
	ro := g.postRaw("/ui/keys", "name", "reports", "days", "10", "read_only", "1")
	roID := maskKey(f, ro, 2)
	f.clock.advance(1800e9)
	g.post("/ui/keys/" + roID + "/revoke")

	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	a.post("/ui/admin/keys", "user", `LAB\goran`, "name", "from the administrator", "days", "7")
	keys := f.keys(goran.ID)
	f.mask(keys[0].ID, "KEYID-3")
	for i := range 7 { // the pages show what this node counted and has not written yet
		f.creds.CountAPIKeyUse(keys[0].ID, i >= 5)
	}
	golden(t, f, "settings", g.get("/ui/"), http.StatusOK)
	first := g.postRaw("/ui/keys/" + keys[0].ID + "/details")
	f.mask(secret(first), "lk_KEYID-3_SECRET")
	golden(t, f, "key-reveal", first, http.StatusOK)
	golden(t, f, "key-details", g.postRaw("/ui/keys/"+keys[0].ID+"/details"), http.StatusOK)
	golden(t, f, "forbidden", g.get("/ui/admin/users"), http.StatusForbidden)

	f.clock.advance(60e9)
	golden(t, f, "users", a.get("/ui/admin/users"), http.StatusOK)
	golden(t, f, "users-refused", a.postRaw("/ui/admin/users", "username", "", "email", "nope"), http.StatusBadRequest)
	golden(t, f, "user", a.get(fmt.Sprintf("/ui/admin/users/%d", goran.ID)), http.StatusOK)
	reset := a.postRaw("/ui/admin/users/3/password")
	f.mask(secret(reset), "ONE-TIME-PASSWORD")
	golden(t, f, "password", reset, http.StatusOK)
	golden(t, f, "roles", a.get("/ui/admin/roles"), http.StatusOK)
	golden(t, f, "userkeys", a.get("/ui/admin/keys?user=LAB%5Cgoran"), http.StatusOK)
	golden(t, f, "sessions", a.get("/ui/admin/sessions"), http.StatusOK)
	golden(t, f, "audit", a.get("/ui/admin/audit"), http.StatusOK)
	golden(t, f, "notfound", a.get("/ui/nothing"), http.StatusNotFound)
}

// maskKey masks the key a page shows, and its id, as the n-th key.
func maskKey(f *fixture, p *page, n int) string {
	key := secret(p)
	id, ok := credential.ParseAPIKey(key)
	if !ok {
		f.t.Fatalf("no key on the page:\n%s", p.body)
	}
	f.mask(key, fmt.Sprintf("lk_KEYID-%d_SECRET", n))
	f.mask(id, fmt.Sprintf("KEYID-%d", n))
	return id
}

// golden compares a page, masked, with testdata/name.html.
func golden(t *testing.T, f *fixture, name string, p *page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d:\n%s", name, p.status, status, p.body)
	}
	checkHeaders(t, name, p.header)
	checkNoInline(t, name, p.body)
	got := f.masked(p.body)
	file := filepath.Join("testdata", name+".html")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -run TestGolden -update rewrites it):\n%s", name, file, diff(string(want), got))
	}
}

// diff shows the first lines where want and got differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
