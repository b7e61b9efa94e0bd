package credential

import (
	"context"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestAccess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "goran", latchkey.RoleAPIKeyUser)
	for _, login := range [][2]string{{"LAB", "goran"}, {"lab", "GORAN"}, {"LAB", "goran"}} {
		got, roles, abilities, found, err := f.svc.Access(ctx, login[0], login[1])
		if err != nil || !found || got.ID != u.ID || !slices.Contains(roles, latchkey.RoleAPIKeyUser) ||
			!slices.Contains(abilities, latchkey.AbilityAPIKeySignIn) {
			t.Fatalf("Access(%v) = %+v %v %v %v %v", login, got, roles, abilities, found, err)
		}
	}
	for _, login := range [][2]string{{"LAB", "nobody"}, {"OTHER", "goran"}, {"", "goran"}, {`LAB\X`, "goran"}} {
		if got, _, _, found, err := f.svc.Access(ctx, login[0], login[1]); found || err != nil || got != nil {
			t.Fatalf("Access(%v) = %+v %v %v", login, got, found, err)
		}
	}
	// A disabled user is found, disabled, at once (the change feed drops
	// the cached entry).
	disabled := true
	if _, err := f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
		t.Fatal(err)
	}
	if got, _, _, found, err := f.svc.Access(ctx, "LAB", "goran"); err != nil || !found || !got.Disabled {
		t.Fatalf("after disabling: %+v %v %v", got, found, err)
	}
}
