package credential

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlstore"
)

var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	st  latchkey.Store
	svc *Service
	h   *password.Hasher
	// exec runs a statement straight on the database: no change is
	// published.
	exec func(t testing.TB, stmt string)
	// feed is heard by the service as the store's own feed is: a test
	// publishes a resync there.
	feed *sqlstore.Feed
}

func newTestHasher() *password.Hasher { return password.NewHasher(testParams, 4) }

// newFixture is a service over a new SQLite store.
func newFixture(t testing.TB) *fixture {
	return newFixtureWith(t, newTestHasher(), 50)
}

// newFixtureWith is newFixture with the given hasher and limit of failures
// per client address.
func newFixtureWith(t testing.TB, h *password.Hasher, addressFailures int) *fixture {
	t.Helper()
	return newFixtureOn(t, openSQLite(t, 0), h, addressFailures)
}

// newFixtureOn is newFixtureWith over ts, a store of any backend.
func newFixtureOn(t testing.TB, ts *testStore, h *password.Hasher, addressFailures int) *fixture {
	t.Helper()
	st := &feedStore{Store: ts.Store}
	svc, err := New(context.Background(), st, h, slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 5, MaxAddressFailures: addressFailures, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, PasswordMinLength: 8, FlushEvery: 15 * time.Second, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() }) // before the store closes: cleanups run last first
	return &fixture{st: st, svc: svc, h: h, exec: ts.exec, feed: &st.feed}
}

// addUser makes LAB\name with the password "password-<name>" and roles.
func (f *fixture) addUser(t testing.TB, name string, roles ...string) *latchkey.User {
	t.Helper()
	hash, err := f.h.Hash(context.Background(), "password-"+name)
	if err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Directory: "LAB", Username: name, PasswordHash: hash, Roles: roles}
	if err := f.st.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

func code(err error) string { return latchkey.ErrorCode(err) }

func TestSignInPassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser(t, "goran", latchkey.RoleAPIKeyUser)
	tests := []struct {
		login, secret, want string
	}{
		{`LAB\goran`, "password-goran", ""},
		{`lab\GORAN`, "password-goran", ""},
		{`LAB\goran`, "password-goran", ""}, // from the cache
		{`LAB\goran`, "wrong", latchkey.EUNAUTHORIZED},
		{`LAB\nobody`, "password-goran", latchkey.EUNAUTHORIZED},
		{`goran`, "password-goran", latchkey.EUNAUTHORIZED}, // default directory is LOCAL
	}
	for _, tt := range tests {
		p, how, err := f.svc.SignIn(ctx, tt.login, tt.secret, "192.0.2.1:1234", latchkey.MethodBasic)
		if code(err) != tt.want {
			t.Errorf("SignIn(%q, %q) = %v, want code %q", tt.login, tt.secret, err, tt.want)
			continue
		}
		if err == nil && (p.Username != "goran" || p.Method != latchkey.MethodBasic || how != ByPassword || !p.Can(latchkey.AbilityAPIKeySignIn)) {
			t.Errorf("SignIn(%q) principal = %+v, how %s", tt.login, p, how)
		}
		if err != nil && latchkey.ErrorMessage(err) != "The username or password is not correct." {
			t.Errorf("failure message %q tells more than it should", latchkey.ErrorMessage(err))
		}
	}
}

func TestSignInRegulated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser(t, "ann")
	for range 5 {
		f.svc.SignIn(ctx, `LAB\ann`, "wrong", "192.0.2.1:1", latchkey.MethodBasic)
	}
	if _, _, err := f.svc.SignIn(ctx, `LAB\ann`, "password-ann", "192.0.2.2:1", latchkey.MethodBasic); code(err) != latchkey.ERATELIMITED {
		t.Fatalf("after 5 failures the account answered %v, want rate_limited", err)
	}
	// An unknown account is throttled the same way.
	for range 5 {
		f.svc.SignIn(ctx, `LAB\ghost`, "wrong", "192.0.2.3:1", latchkey.MethodBasic)
	}
	if _, _, err := f.svc.SignIn(ctx, `LAB\ghost`, "wrong", "192.0.2.4:1", latchkey.MethodBasic); code(err) != latchkey.ERATELIMITED {
		t.Fatalf("unknown account answered %v after 5 failures, want rate_limited like a real one", err)
	}
	events, err := f.st.AuditEvents(ctx, latchkey.AuditFilter{Action: latchkey.AuditLoginFailure})
	if err != nil || len(events) != 10 {
		t.Fatalf("audit has %d login failures (%v), want 10", len(events), err)
	}
	for _, e := range events {
		if e.Detail == "wrong" || e.Actor == "wrong" {
			t.Fatal("a password reached the audit log")
		}
	}
}

// TestSignInFlood: wrong passwords sent at once, for many accounts from one
// address, are not all hashed: those beyond the hasher's queue are refused
// at once, and those that waited are refused once the address's limit was
// reached ahead of them; known and unknown accounts are answered alike.
func TestSignInFlood(t *testing.T) {
	const limit, n = 3, 16
	// A hash slow enough (a few milliseconds) that all n arrive while the
	// first is running.
	h := password.NewHasher(password.Params{Memory: 8 << 10, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	f := newFixtureWith(t, h, limit)
	for i := range n / 2 {
		f.addUser(t, fmt.Sprintf("user%d", i))
	}
	codes := make(chan string, n)
	for i := range n {
		name := fmt.Sprintf("user%d", i/2) // even: a known user
		if i%2 == 1 {
			name = fmt.Sprintf("ghost%d", i)
		}
		go func() {
			_, _, err := f.svc.SignIn(t.Context(), `LAB\`+name, "wrong", "192.0.2.9:1", latchkey.MethodBasic)
			codes <- code(err)
		}()
	}
	count := map[string]int{}
	for range n {
		count[<-codes]++
	}
	// limit failures trip the address's limit; the hash running then, and
	// one admitted before its failure was counted, may still finish.
	if count[latchkey.EUNAUTHORIZED] > limit+2 || count[latchkey.ERATELIMITED] != n-count[latchkey.EUNAUTHORIZED] {
		t.Fatalf("answers %v: want at most %d wrong-password answers, the rest rate_limited", count, limit+2)
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "goran", latchkey.RoleAPIKeyUser)
	admin := f.addUser(t, "boss", latchkey.RoleAdmin)
	p, _, err := f.svc.SignIn(ctx, `LAB\goran`, "password-goran", "", latchkey.MethodBasic)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.GenerateAPIKey(ctx, p, KeyRequest{Name: "ci", Days: 7, ReadOnly: true}, "")
	if err != nil || v.Key == "" || v.Owner != `LAB\goran` {
		t.Fatalf("GenerateAPIKey = %+v, %v", v, err)
	}
	kp, err := f.svc.VerifyAPIKey(ctx, v.Key)
	if err != nil || kp.UserID != u.ID || !kp.ReadOnly || kp.Method != latchkey.MethodAPIKey || kp.CredentialID != v.ID {
		t.Fatalf("VerifyAPIKey = %+v, %v", kp, err)
	}
	if _, err := f.svc.VerifyAPIKey(ctx, v.Key[:len(v.Key)-1]+"x"); code(err) != latchkey.EUNAUTHORIZED {
		t.Errorf("tampered key: %v", err)
	}
	// The key works as a password too, for its owner only.
	if _, how, err := f.svc.SignIn(ctx, `LAB\goran`, v.Key, "", latchkey.MethodBasic); err != nil || how != ByAPIKey {
		t.Errorf("key as password: %v %s", err, how)
	}
	if _, _, err := f.svc.SignIn(ctx, `LAB\boss`, v.Key, "", latchkey.MethodBasic); code(err) != latchkey.EUNAUTHORIZED {
		t.Errorf("goran's key as boss's password: %v", err)
	}
	// Revocation takes effect at once.
	if err := f.svc.RevokeAPIKey(ctx, p, v.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyAPIKey(ctx, v.Key); code(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("revoked key still verifies: %v", err)
	}

	// A key made on goran's behalf: the maker does not see it; goran sees it once.
	ap, _, _ := f.svc.SignIn(ctx, `LAB\boss`, "password-boss", "", latchkey.MethodBasic)
	ob, err := f.svc.GenerateAPIKey(ctx, ap, KeyRequest{OwnerID: u.ID}, "")
	if err != nil || ob.Key != "" || !ob.AwaitsReveal {
		t.Fatalf("on-behalf key = %+v, %v", ob, err)
	}
	if d, err := f.svc.APIKeyDetails(ctx, ap, ob.ID, ""); err != nil || d.Key != "" {
		t.Fatalf("the maker saw the key: %+v %v", d, err)
	}
	d, err := f.svc.APIKeyDetails(ctx, p, ob.ID, "")
	if err != nil || d.Key == "" {
		t.Fatalf("owner's first view = %+v, %v", d, err)
	}
	if _, err := f.svc.VerifyAPIKey(ctx, d.Key); err != nil {
		t.Fatalf("revealed key does not verify: %v", err)
	}
	if d2, _ := f.svc.APIKeyDetails(ctx, p, ob.ID, ""); d2.Key != "" {
		t.Fatal("the key was shown twice")
	}
	// Without apikey.manage one cannot make keys for others.
	if _, err := f.svc.GenerateAPIKey(ctx, p, KeyRequest{OwnerID: admin.ID}, ""); code(err) != latchkey.EFORBIDDEN {
		t.Errorf("on-behalf without manage: %v", err)
	}
	// Losing apikey.signin refuses the key with 403, at once.
	if err := f.st.RevokeRole(ctx, u.ID, latchkey.RoleAPIKeyUser, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyAPIKey(ctx, d.Key); code(err) != latchkey.EFORBIDDEN {
		t.Fatalf("key of a user without apikey.signin: %v", err)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "goran")
	p, token, sess, err := f.svc.Login(ctx, `LAB\goran`, "password-goran", "192.0.2.1:5", "test")
	if err != nil || len(token) != sessionTokenLen || p.Method != latchkey.MethodSession || p.CredentialID != sess.ID {
		t.Fatalf("Login = %+v %q %v", p, token, err)
	}
	for range 2 {
		if sp, _, err := f.svc.VerifySession(ctx, token); err != nil || sp.UserID != u.ID {
			t.Fatalf("VerifySession = %+v, %v", sp, err)
		}
	}
	if err := f.svc.EndSession(ctx, token, "192.0.2.1:5"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.VerifySession(ctx, token); code(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("ended session still verifies: %v", err)
	}
	// Disabling the user ends the use of their sessions at once.
	_, token, _, _ = f.svc.Login(ctx, `LAB\goran`, "password-goran", "", "")
	disabled := true
	f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil)
	if _, _, err := f.svc.VerifySession(ctx, token); code(err) != latchkey.EUNAUTHORIZED {
		t.Fatalf("session of a disabled user verifies: %v", err)
	}
}

func TestParseAPIKey(t *testing.T) {
	id, secret, _ := MintAPIKey()
	if got, ok := ParseAPIKey(secret); !ok || got != id {
		t.Fatalf("ParseAPIKey(minted) = %q, %v", got, ok)
	}
	for _, s := range []string{"", "lk_", secret[:len(secret)-1], "xx" + secret[2:], secret[:5] + "!" + secret[6:], secret + "a"} {
		if _, ok := ParseAPIKey(s); ok {
			t.Errorf("ParseAPIKey(%q) accepted", s)
		}
	}
}

func FuzzParseAPIKey(f *testing.F) {
	_, secret, _ := MintAPIKey()
	f.Add(secret)
	f.Add("lk_aaaaaaaaaaaaa_" + secret[17:])
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseAPIKey(s)
		if ok && (len(s) != keyLen || len(id) != keyIDLen || s[:3] != KeyPrefix) {
			t.Fatalf("ParseAPIKey(%q) accepted a malformed key", s)
		}
	})
}

// TestRememberedPassword: a password found right is not hashed again, but
// the account's limits, a new password and a disabled account all apply to
// it at once.
func TestRememberedPassword(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.addUser(t, "rita")
	signIn := func(login, pw, addr string) string {
		_, _, err := f.svc.SignIn(ctx, login, pw, addr, latchkey.MethodBasic)
		return code(err)
	}
	for _, login := range []string{`LAB\rita`, `LAB\rita`, `lab\RITA`, `lab\RITA`} {
		if c := signIn(login, "password-rita", "192.0.2.1:1"); c != "" {
			t.Fatalf("%s: %s", login, c)
		}
	}
	if f.svc.rememberedPassword(claimant{login: `LAB\rita`}, "password-rita") == nil || f.svc.rememberedPassword(claimant{login: `lab\RITA`}, "password-rita") == nil {
		t.Fatal("a password found right is not remembered")
	}
	if f.svc.rememberedPassword(claimant{login: `LAB\rita`}, "password-rit") != nil || f.svc.rememberedPassword(claimant{login: `LAB\rit`}, "apassword-rita") != nil {
		t.Fatal("another name or password matches a remembered one")
	}

	// The account's limit: failures from elsewhere block the remembered
	// password too.
	for range 5 {
		signIn(`LAB\rita`, "wrong", "192.0.2.2:1")
	}
	if c := signIn(`LAB\rita`, "password-rita", "192.0.2.1:1"); c != latchkey.ERATELIMITED {
		t.Fatalf("a blocked account's remembered password: %q", c)
	}

	// A new password: the old one is refused at once.
	f2 := newFixture(t)
	u := f2.addUser(t, "sven")
	f = f2
	if c := signIn(`LAB\sven`, "password-sven", "192.0.2.1:1"); c != "" {
		t.Fatal(c)
	}
	hash, _ := f.h.Hash(ctx, "a new password")
	if _, err := f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{PasswordHash: &hash}, nil); err != nil {
		t.Fatal(err)
	}
	if c := signIn(`LAB\sven`, "password-sven", "192.0.2.1:1"); c != latchkey.EUNAUTHORIZED {
		t.Fatalf("the old password after a change: %q", c)
	}
	if c := signIn(`LAB\sven`, "a new password", "192.0.2.1:1"); c != "" {
		t.Fatalf("the new password: %q", c)
	}
	disabled := true
	if _, err := f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
		t.Fatal(err)
	}
	if c := signIn(`LAB\sven`, "a new password", "192.0.2.1:1"); c != latchkey.EUNAUTHORIZED {
		t.Fatalf("a disabled account's remembered password: %q", c)
	}
}

// TestNewRefusesMissingValues: the service has no defaults of its own; a
// Config that leaves a value out is refused with the names of what is
// missing, before anything starts.
func TestNewRefusesMissingValues(t *testing.T) {
	st := openSQLite(t, 0).Store
	h := password.NewHasher(testParams, 4)
	_, err := New(context.Background(), st, h, slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 400,
		MaxFailures: 5, MaxAddressFailures: 50, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		DefaultDirectory: latchkey.DefaultDirectory, PasswordMinLength: 8, CacheSize: 10,
	})
	want := "credential: the configuration leaves out or misstates FlushEvery, KeyDefaultDays, PasswordCacheTTL, UsageFlushEvery"
	if err == nil || err.Error() != want {
		t.Fatalf("New: %v, want %q", err, want)
	}
}
