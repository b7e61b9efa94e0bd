package gateway

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

const keysPath = "/api/v1/api_keys"

// keyCall calls an API key endpoint with the given credential headers (and
// the required headers on unsafe methods) and decodes a 200 answer into out.
func (f *fixture) keyCall(method, path, body string, out any, cred ...string) int {
	f.t.Helper()
	h := cred
	if !latchkey.SafeMethod(method) {
		h = xhr(cred...)
	}
	w := f.serve(request(method, keysPath+path, body, h...))
	if w.Code == 200 && out != nil {
		reflect.ValueOf(out).Elem().SetZero() // omitted fields must not keep the last answer's
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, w.Body)
		}
	}
	if w.Code == 200 && w.Header().Get("Cache-Control") != "no-store" {
		f.t.Errorf("%s %s: Cache-Control %q", method, path, w.Header().Get("Cache-Control"))
	}
	return w.Code
}

func TestAPIKeyEndpoints(t *testing.T) {
	f := newFixture(t)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	f.addUser("boss", latchkey.RoleAdmin)
	f.addUser("plain")
	asGoran := []string{"Authorization", basic(`LAB\goran`, "password-goran")}
	asBoss := []string{"Cookie", "wtsession=" + f.login(`LAB\boss`, "password-boss")}
	works := func(key string) int { return f.serve(request("GET", "/keyonly", "", "X-Api-Key", key)).Code }

	// Own key: shown at once.
	var own credential.KeyView
	if c := f.keyCall("POST", "/generate_api_key", `{"name":"ci","days":7,"read_only":false}`, &own, asGoran...); c != 200 ||
		own.Key == "" || own.Owner != `LAB\goran` || own.Name != "ci" || own.Expires.Sub(own.Created) != 7*24*time.Hour {
		t.Fatalf("generate: %d %+v", c, own)
	}
	if c := works(own.Key); c != 200 {
		t.Fatalf("the new key: %d", c)
	}
	asKey := []string{"X-Api-Key", own.Key}
	var list []credential.KeyView
	if c := f.keyCall("GET", "", "", &list, asKey...); c != 200 || len(list) != 1 || list[0].ID != own.ID || list[0].Key != "" {
		t.Fatalf("list: %d %+v", c, list)
	}
	var d credential.KeyView
	if c := f.keyCall("GET", "/"+own.ID, "", &d, asGoran...); c != 200 || d.ID != own.ID || d.Key != "" || d.LastUsed == nil {
		t.Fatalf("details: %d %+v", c, d)
	}

	// On goran's behalf: the maker never sees it, goran once.
	var ob credential.KeyView
	if c := f.keyCall("POST", "/generate_api_key", `{"user":"LAB\\goran","read_only":true}`, &ob, asBoss...); c != 200 ||
		ob.Key != "" || !ob.AwaitsReveal || ob.OwnerID != goran.ID || !ob.ReadOnly {
		t.Fatalf("on behalf: %d %+v", c, ob)
	}
	if c := f.keyCall("GET", "/"+ob.ID, "", &d, asBoss...); c != 200 || d.Key != "" {
		t.Fatalf("the maker's details: %d %+v", c, d)
	}
	if c := f.keyCall("GET", "?user=LAB%5Cgoran", "", &list, asBoss...); c != 200 || len(list) != 2 {
		t.Fatalf("boss lists goran's keys: %d %+v", c, list)
	}
	if c := f.keyCall("HEAD", "/"+ob.ID, "", nil, asKey...); c != 405 {
		t.Fatalf("HEAD on details: %d, want 405 (it would spend the one view)", c)
	}
	if c := f.keyCall("GET", "/"+ob.ID, "", &d, asKey...); c != 200 || d.Key == "" || d.AwaitsReveal {
		t.Fatalf("the owner's first view: %d %+v", c, d)
	}
	revealed := d.Key
	if c := f.keyCall("GET", "/"+ob.ID, "", &d, asGoran...); c != 200 || d.Key != "" {
		t.Fatalf("the owner's second view: %d %+v", c, d)
	}
	if c := works(revealed); c != 200 {
		t.Fatalf("the revealed key: %d", c)
	}

	// Rotate with the key itself: the new one works, the old one stops.
	var rot credential.KeyView
	if c := f.keyCall("POST", "/"+own.ID+"/rotate", "", &rot, asKey...); c != 200 || rot.Key == "" || rot.ID == own.ID || rot.Name != "ci" {
		t.Fatalf("rotate: %d %+v", c, rot)
	}
	if works(own.Key) != 401 || works(rot.Key) != 200 {
		t.Fatalf("after rotating: old %d, new %d", works(own.Key), works(rot.Key))
	}

	// Revoke, both ways.
	var ok successBody
	if c := f.keyCall("DELETE", "/"+rot.ID, "", &ok, asGoran...); c != 200 || !ok.Success || works(rot.Key) != 401 {
		t.Fatalf("DELETE: %d %+v; key %d", c, ok, works(rot.Key))
	}
	if c := f.keyCall("POST", "/"+ob.ID+"/revoke", "", &ok, asBoss...); c != 200 || works(revealed) != 401 {
		t.Fatalf("revoke: %d; key %d", c, works(revealed))
	}
	if c := f.keyCall("POST", "/"+ob.ID+"/revoke", "", nil, asBoss...); c != 409 {
		t.Errorf("revoke twice: %d, want 409", c)
	}

	// What goran and plain may not do.
	refused := []struct {
		name, method, path, body string
		cred                     []string
		status                   int
	}{
		{"another's list", "GET", "?user=LAB%5Cboss", "", asGoran, 403},
		{"a key for another", "POST", "/generate_api_key", `{"user":"LAB\\boss"}`, asGoran, 403},
		{"generate without apikey.generate", "POST", "/generate_api_key", `{}`, []string{"Authorization", basic(`LAB\plain`, "password-plain")}, 403},
		{"too many days", "POST", "/generate_api_key", `{"days":9999}`, asGoran, 400},
		{"an unknown field", "POST", "/generate_api_key", `{"expires":3}`, asGoran, 400},
		{"an unknown user", "POST", "/generate_api_key", `{"user":"LAB\\nobody"}`, asBoss, 404},
	}
	for _, tt := range refused {
		if c := f.keyCall(tt.method, tt.path, tt.body, nil, tt.cred...); c != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, c, tt.status)
		}
	}
}

func TestAPIKeyEndpointsRefused(t *testing.T) {
	f := newFixture(t)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	ro := f.key(goran, true)
	pw := basic(`LAB\goran`, "password-goran")
	tests := []struct {
		name, method, path string
		header             []string
		status             int
		want               string
	}{
		{"no credentials", "GET", keysPath, nil, 401, "credentials"},
		{"bad password", "GET", keysPath, []string{"Authorization", basic(`LAB\goran`, "x")}, 401, "not correct"},
		{"no X-Requested-With", "POST", keysPath + "/generate_api_key",
			[]string{"Authorization", pw, "Origin", testOrigin, "Accept", "*/*", "Content-Type", "application/json"}, 403, "X-Requested-With"},
		{"no headers, even with a key", "POST", keysPath + "/x/revoke", []string{"X-Api-Key", ro.Key}, 403, "Origin header is required"},
		{"read-only key may list", "GET", keysPath, []string{"X-Api-Key", ro.Key}, 200, ""},
		{"read-only key may not generate", "POST", keysPath + "/generate_api_key", xhr("X-Api-Key", ro.Key), 403, "read-only"},
		{"read-only key may not revoke itself", "DELETE", keysPath + "/" + ro.ID, xhr("X-Api-Key", ro.Key), 403, "read-only"},
		{"an unknown key", "GET", keysPath + "/nosuchkey", []string{"Authorization", pw}, 404, "nosuchkey"},
		// Without apikey.manage, naming anyone else is 403 whether or not
		// they exist: the answer does not tell which users exist.
		{"an unknown user", "GET", keysPath + "?user=LAB%5Cnobody", []string{"Authorization", pw}, 403, "apikey.manage"},
		{"oneself by name", "GET", keysPath + "?user=lab%5CGORAN", []string{"Authorization", pw}, 200, ""},
		{"no such endpoint", "POST", keysPath + "/x/frobnicate", xhr("Authorization", pw), 404, "no API key endpoint"},
		{"too deep", "GET", keysPath + "/a/b/c", []string{"Authorization", pw}, 404, "no API key endpoint"},
		{"PUT on the list", "PUT", keysPath, xhr("Authorization", pw), 405, "GET, HEAD"},
		{"GET on generate", "GET", keysPath + "/generate_api_key", []string{"Authorization", pw}, 405, "POST"},
		{"unclean path: refused, not redirected", "GET", keysPath + "/../api_keys", []string{"Authorization", pw}, 400, "'..'"},
		{"trailing slash", "GET", keysPath + "/", []string{"Authorization", pw}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, tt.path, "", tt.header...))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") != basicChallenge {
				t.Errorf("401 without the Basic challenge")
			}
			if tt.status == 405 && w.Header().Get("Allow") != tt.want {
				t.Errorf("Allow = %q, want %q", w.Header().Get("Allow"), tt.want)
			}
			if tt.status != 200 && !strings.Contains(errorMessage(t, w), tt.want) {
				t.Errorf("message %q does not name %q", errorMessage(t, w), tt.want)
			}
		})
	}
	// A path that only starts like the prefix goes to the routes.
	w := f.serve(request("GET", keysPath+"x", "", "Authorization", pw))
	if e := echoed(t, w); e.Request.Route != "api" {
		t.Errorf("%sx went to %q", keysPath, e.Request.Route)
	}
}
