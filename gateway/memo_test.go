package gateway

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtverify"
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
	m := newPrincipalMemo[int](nil, 1<<20)
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

// TestPrincipalMemoWithinBudget: filled with far more remembered tokens
// than fit, the memo keeps the heap it holds (its principals and the
// Results they are keyed by) within 1.25× its budget; and one-time tokens
// keep nothing.
func TestPrincipalMemoWithinBudget(t *testing.T) {
	const memoBytes = 8 << 20
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	entry := func(i int) (*jwtverify.Result, *latchkey.Principal) {
		n := strconv.Itoa(i)
		res := &jwtverify.Result{Directory: strings.Clone("LAB"), Username: "user-" + n, DisplayName: "User " + n,
			Email: "user-" + n + "@example.com", Groups: []string{"group-" + n}, Subject: "user-" + n,
			Issuer: strings.Clone("https://idp.example.com"), Audience: []string{strings.Clone("latchkey")}, JTI: "jti-" + n,
			ExpiresAt: time.Now().Add(time.Hour)}
		return res, &latchkey.Principal{UserID: int64(i), Directory: res.Directory, Username: res.Username,
			DisplayName: res.DisplayName, Email: res.Email, Groups: res.Groups, Roles: []string{"role-" + n},
			Abilities: []string{"apikey.signin", "apikey.manage"}, Method: latchkey.MethodJWT,
			CredentialID: res.JTI, ExpiresAt: res.ExpiresAt}
	}
	t.Run("remembered", func(t *testing.T) {
		before := heap()
		m := newPrincipalMemo[*jwtverify.Result](nil, memoBytes)
		for i := range 100_000 {
			res, p := entry(i)
			m.set(res, p, 0, true)
			m.set(res, p, 0, true)
		}
		m.c.CleanUp()
		growth := heap() - before
		t.Logf("%d entries, weights %d KiB, heap growth %d KiB (%.2f× the budget)",
			m.c.EstimatedSize(), m.c.WeightedSize()>>10, growth>>10, float64(growth)/memoBytes)
		if float64(growth) > 1.25*memoBytes {
			t.Errorf("heap growth %d KiB is more than 1.25× the budget of %d KiB", growth>>10, memoBytes>>10)
		}
		runtime.KeepAlive(m)
	})
	// One-time tokens, through the JWT method: their Results are not the
	// verifier's to remember, so neither are their principals; a token
	// that comes back is remembered from its third request (seen once:
	// noted; twice: its Result remembered; then its principal).
	t.Run("one-time", func(t *testing.T) {
		f := newBearerFixture(t)
		f.addUser(`LAB\goran`)
		memo := f.s.methods[latchkey.MethodJWT].(*jwtAuth).memo
		send := func(tok string) {
			if w := f.serve(request("GET", "/jwt/x?xrfkey="+xrf, "", "X-Qlik-Xrfkey", xrf, "Authorization", "Bearer "+tok)); w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		for i := range 300 {
			send(bearerJWT(t, "qs", "jti", "once-"+strconv.Itoa(i)))
		}
		memo.c.CleanUp()
		if n := memo.c.EstimatedSize(); n != 0 {
			t.Errorf("%d principals of one-time tokens remembered", n)
		}
		tok := bearerJWT(t, "qs", "jti", "again")
		for range 3 {
			send(tok)
		}
		memo.c.CleanUp()
		if n := memo.c.EstimatedSize(); n != 1 {
			t.Errorf("%d principals remembered after a token came back, want 1", n)
		}
	})
}

// TestIdentityCacheAdmission: the identity headers of a principal are kept
// from its second request (checkIdentity once per request), not for one seen
// once, however many looks (setIdentity) that request takes; the anonymous
// principal's are kept at once.
func TestIdentityCacheAdmission(t *testing.T) {
	once := &latchkey.Principal{Directory: "LAB", Username: "once", Method: latchkey.MethodJWT, CredentialID: "jti-once"}
	checkIdentity(once)
	setIdentity(http.Header{}, once)
	setIdentity(http.Header{}, once)
	if _, ok := identities.GetIfPresent(once); ok {
		t.Fatal("the identity of a principal seen in one request is kept")
	}
	checkIdentity(once) // its second request
	if _, ok := identities.GetIfPresent(once); !ok {
		t.Fatal("the identity of a principal seen in two requests is not kept")
	}
	setIdentity(http.Header{}, latchkey.Anonymous)
	if _, ok := identities.GetIfPresent(latchkey.Anonymous); !ok {
		t.Fatal("the anonymous principal's identity is not kept")
	}
}
