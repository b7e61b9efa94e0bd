package gateway

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestOtherUsersKeysLikeMissingOnes asks for another user's key and for a
// key that does not exist, on every endpoint that names a key: the answers
// must be the same but for the id asked for.
func TestOtherUsersKeysLikeMissingOnes(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	ann := f.addUser("ann", latchkey.RoleAPIKeyUser)
	theirsKey := f.key(ann, false)
	theirs := theirsKey.ID
	const missing = "aaaaaaaaaaaaa" // shaped like an id; no key has it
	asGoran := []string{"Authorization", basic(`LAB\goran`, "password-goran")}
	tests := []struct{ method, path string }{
		{"GET", "/%s"},
		{"DELETE", "/%s"},
		{"POST", "/%s/revoke"},
		{"POST", "/%s/rotate"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var got [2]string
			for i, id := range []string{theirs, missing} {
				h := asGoran
				if !latchkey.SafeMethod(tt.method) {
					h = xhr(asGoran...)
				}
				w := f.serve(request(tt.method, keysPath+strings.Replace(tt.path, "%s", id, 1), "", h...))
				got[i] = strings.ReplaceAll(w.Result().Status+" "+w.Body.String(), id, "ID")
			}
			if got[0] != got[1] || !strings.HasPrefix(got[0], "404") {
				t.Errorf("another user's key: %s\n\ta missing key: %s", got[0], got[1])
			}
		})
	}
	if w := f.serve(request("GET", "/keyonly", "", "X-Api-Key", theirsKey.Key)); w.Code != 200 {
		t.Errorf("ann's key was revoked: %d", w.Code)
	}
}
