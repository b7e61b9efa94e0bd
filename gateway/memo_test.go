package gateway

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// TestRememberedPrincipalsFollowTheStore: a token or certificate seen again
// is answered from memory, but a change to its user — a role granted, the
// account disabled and enabled — is seen on the next request.
func TestRememberedPrincipalsFollowTheStore(t *testing.T) {
	f := newBearerFixture(t)
	olle := f.addUser(`LAB\olle`)
	token := "Bearer " + bearerJWT(t, "qs", "userId", "olle")
	p := testPKI()
	certs := certGateway(t, f, config.Certificates{Directory: "LAB"}, "")
	f.addUser(`LAB\alice`)
	alice, err := f.st.UserByName(t.Context(), "LAB", "alice")
	if err != nil {
		t.Fatal(err)
	}
	viaJWT := func() int {
		return f.serve(request("GET", "/users", "", "X-Qlik-Xrfkey", xrf, "Authorization", token)).Code
	}
	viaCert := func() (int, []string) {
		w := serveWith(certs, withCert(request("GET", "/qrs/x", ""), p.alice))
		if w.Code != 200 {
			return w.Code, nil
		}
		return w.Code, echoed(t, w).Principal.Roles
	}
	if c := viaJWT(); c != 403 {
		t.Fatalf("before the grant: %d", c)
	}
	if c := viaJWT(); c != 403 {
		t.Fatalf("before the grant, again: %d", c)
	}
	if c, roles := viaCert(); c != 200 || len(roles) != 0 {
		t.Fatalf("cert before the grant: %d %v", c, roles)
	}
	viaCert()
	// Another administrator, so that olle and alice may both be disabled.
	root := f.addUser(`LABoot`)
	if err := f.st.GrantRole(t.Context(), root.ID, latchkey.RoleAdmin, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{olle.ID, alice.ID} {
		if err := f.st.GrantRole(t.Context(), id, latchkey.RoleAdmin, nil); err != nil {
			t.Fatal(err)
		}
	}
	if c := viaJWT(); c != 200 {
		t.Fatalf("after the grant: %d", c)
	}
	if c, roles := viaCert(); c != 200 || len(roles) != 1 {
		t.Fatalf("cert after the grant: %d %v", c, roles)
	}
	for _, disabled := range []bool{true, false} {
		for _, id := range []int64{olle.ID, alice.ID} {
			if _, err := f.st.UpdateUser(t.Context(), id, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
				t.Fatal(err)
			}
		}
		want := map[bool]int{true: 401, false: 200}[disabled]
		if c := viaJWT(); c != want {
			t.Fatalf("disabled %v: %d, want %d", disabled, c, want)
		}
		if c, _ := viaCert(); c != want {
			t.Fatalf("cert, disabled %v: %d, want %d", disabled, c, want)
		}
	}
}

// TestPrincipalMemo: entries end with the access generation, with their
// credential's expiry, and after credential.AbsentFor for a user the store
// did not hold.
func TestPrincipalMemo(t *testing.T) {
	var gen uint64
	m := newPrincipalMemo[int](nil)
	m.gen = func() uint64 { return gen }
	long := &latchkey.Principal{Username: "a", ExpiresAt: time.Now().Add(time.Hour)}
	m.set(1, long, m.generation(), true)
	m.set(2, long, m.generation(), false)
	m.set(3, &latchkey.Principal{ExpiresAt: time.Now().Add(-time.Second)}, m.generation(), true)
	m.set(4, &latchkey.Principal{}, m.generation(), true) // no expiry: memoMaxAge
	for k, want := range map[int]bool{1: true, 2: true, 3: false, 4: true, 5: false} {
		if got := m.get(k) != nil; got != want {
			t.Errorf("key %d remembered: %v, want %v", k, got, want)
		}
	}
	m.start = m.start.Add(-credential.AbsentFor) // as if that much time passed
	if m.get(2) != nil || m.get(1) == nil {
		t.Error("an absent user's principal outlived credential.AbsentFor, or a present one did not")
	}
	m.start = m.start.Add(-memoMaxAge)
	if m.get(4) != nil {
		t.Error("a principal outlived memoMaxAge")
	}
	m.start = time.Now()
	m.set(1, long, m.generation(), true)
	gen++
	if m.get(1) != nil {
		t.Error("a principal outlived a change of the access generation")
	}
}
