package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/sqlite"
	"github.com/latchkey/latchkey/storetest"
)

// manageBackends opens a new, empty store of each backend.
var manageBackends = []struct {
	name string
	open func(t *testing.T) latchkey.Store
}{
	{"sqlite", func(t *testing.T) latchkey.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(t *testing.T) latchkey.Store {
		st, err := postgres.Open(context.Background(), storetest.PostgresDSN(t), postgres.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// newService returns a credential service over st for the administration
// tests.
func newService(t *testing.T, st latchkey.Store) *Service {
	t.Helper()
	svc, err := New(context.Background(), st, password.NewHasher(testParams, 4), slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 50, MaxAddressFailures: 500, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		PasswordMinLength: 10,
		DefaultDirectory:  latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, FlushEvery: 15 * time.Second, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// admins is a store with one user per kind of administrator, each signed in
// with an API key.
type admins struct {
	st     latchkey.Store
	svc    *Service
	op     Actor
	actors map[string]Actor // by kind
	n      atomic.Int64
}

// The abilities each kind of actor holds; each also holds apikey.signin, to
// sign in with its key.
var actorKinds = map[string][]string{
	"admin":    {latchkey.AbilityUsersManage, latchkey.AbilityRolesManage, latchkey.AbilitySessionsManage, latchkey.AbilityAuditRead, latchkey.AbilityAPIKeyGenerate, latchkey.AbilityAPIKeyManage},
	"users":    {latchkey.AbilityUsersManage},
	"roles":    {latchkey.AbilityRolesManage},
	"sessions": {latchkey.AbilitySessionsManage},
	"audit":    {latchkey.AbilityAuditRead},
	"plain":    {},
}

func newAdmins(t *testing.T, st latchkey.Store) *admins {
	t.Helper()
	ctx := t.Context()
	f := &admins{st: st, svc: newService(t, st), op: Operator("tester"), actors: map[string]Actor{}}
	for kind, abilities := range actorKinds {
		role := "kind-" + kind
		if _, err := f.svc.CreateRole(ctx, f.op, latchkey.Role{Name: role, Abilities: append(slices.Clone(abilities), latchkey.AbilityAPIKeySignIn)}, "local"); err != nil {
			t.Fatal(err)
		}
		roles := []string{role}
		if kind == "admin" {
			roles = append(roles, latchkey.RoleAdmin)
		}
		u, err := f.svc.CreateUser(ctx, f.op, NewUser{Directory: "LAB", Username: kind, Roles: roles}, "local")
		if err != nil {
			t.Fatal(err)
		}
		f.actors[kind] = f.signIn(t, u.ID, false)
		if kind == "admin" {
			f.actors["readonly-admin"] = f.signIn(t, u.ID, true)
		}
	}
	f.actors["operator"] = f.op
	return f
}

// signIn returns the principal of a new API key of the user.
func (f *admins) signIn(t *testing.T, userID int64, readOnly bool) Actor {
	t.Helper()
	v, err := f.svc.GenerateAPIKey(t.Context(), nil, KeyRequest{OwnerID: userID, ReadOnly: readOnly}, "local")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.VerifyAPIKey(t.Context(), v.Key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// target makes a new user with no roles, named uniquely, with a password,
// an API key and a session; it returns the user, the key and the session
// token.
func (f *admins) target(t *testing.T, roles ...string) (*UserView, string, string) {
	t.Helper()
	ctx := t.Context()
	name := fmt.Sprintf("target%d", f.n.Add(1))
	u, err := f.svc.CreateUser(ctx, f.op, NewUser{Directory: "LAB", Username: name, Password: "password-" + name,
		Roles: append([]string{latchkey.RoleAPIKeyUser}, roles...)}, "local")
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.svc.GenerateAPIKey(ctx, nil, KeyRequest{OwnerID: u.ID}, "local")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.VerifyAPIKey(ctx, k.Key)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := f.svc.OpenSession(ctx, p, ByPassword, "", "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	// The role only served to make the key; the targets hold no ability,
	// so that every manager outranks them.
	if err := f.svc.RevokeRole(ctx, f.op, u.ID, latchkey.RoleAPIKeyUser, "local"); err != nil {
		t.Fatal(err)
	}
	return u, k.Key, token
}

// TestManageNeedsAbilities runs every use-case as every kind of actor: it
// is allowed with the ability it needs (reads also with a read-only key),
// and refused otherwise with 403, or 404 where the actor may not learn
// whether the thing exists.
func TestManageNeedsAbilities(t *testing.T) {
	type op struct {
		name   string
		need   []string // any one of them
		read   bool     // a read-only credential may do it
		denied string   // the code of a refusal
		run    func(t *testing.T, f *admins, a Actor) error
	}
	users, roles, sessions, audit := latchkey.AbilityUsersManage, latchkey.AbilityRolesManage, latchkey.AbilitySessionsManage, latchkey.AbilityAuditRead
	forbidden, notFound := latchkey.EFORBIDDEN, latchkey.ENOTFOUND
	ops := []op{
		{"CreateUser", []string{users}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.CreateUser(t.Context(), a, NewUser{Username: fmt.Sprintf("new%d", f.n.Add(1))}, "local")
			return err
		}},
		{"User", []string{users}, true, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			_, err := f.svc.User(t.Context(), a, u.ID)
			return err
		}},
		{"Users", []string{users}, true, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.Users(t.Context(), a, UserQuery{})
			return err
		}},
		{"UpdateUser", []string{users}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			name := "Renamed"
			_, err := f.svc.UpdateUser(t.Context(), a, u.ID, UserChange{DisplayName: &name}, "local")
			return err
		}},
		{"SetPassword", []string{users}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			return f.svc.SetPassword(t.Context(), a, u.ID, "a new password", "local")
		}},
		{"SetDisabled", []string{users}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			_, err := f.svc.SetDisabled(t.Context(), a, u.ID, true, "local")
			return err
		}},
		{"DeleteUser", []string{users}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			return f.svc.DeleteUser(t.Context(), a, u.ID, "local")
		}},
		{"Roles", []string{roles, users}, true, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.Roles(t.Context(), a)
			return err
		}},
		{"Abilities", []string{roles, users}, true, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.Abilities(t.Context(), a)
			return err
		}},
		{"CreateRole", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.CreateRole(t.Context(), a, latchkey.Role{Name: fmt.Sprintf("role%d", f.n.Add(1))}, "local")
			return err
		}},
		{"UpdateRole", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			name := fmt.Sprintf("role%d", f.n.Add(1))
			if _, err := f.svc.CreateRole(t.Context(), f.op, latchkey.Role{Name: name}, "local"); err != nil {
				t.Fatal(err)
			}
			desc := "changed"
			_, err := f.svc.UpdateRole(t.Context(), a, name, latchkey.RoleUpdate{Description: &desc}, "local")
			return err
		}},
		{"DeleteRole", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			name := fmt.Sprintf("role%d", f.n.Add(1))
			if _, err := f.svc.CreateRole(t.Context(), f.op, latchkey.Role{Name: name}, "local"); err != nil {
				t.Fatal(err)
			}
			return f.svc.DeleteRole(t.Context(), a, name, "local")
		}},
		{"CreateAbility", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.CreateAbility(t.Context(), a, latchkey.Ability{Name: fmt.Sprintf("reports.read%d", f.n.Add(1))}, "local")
			return err
		}},
		{"GrantRole", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			return f.svc.GrantRole(t.Context(), a, u.ID, "kind-plain", "local")
		}},
		{"RevokeRole", []string{roles}, false, forbidden, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t, "kind-plain")
			return f.svc.RevokeRole(t.Context(), a, u.ID, "kind-plain", "local")
		}},
		{"ListSessions of everyone", []string{sessions}, true, forbidden, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			_, err := f.svc.ListSessions(t.Context(), a, SessionQuery{UserID: u.ID})
			return err
		}},
		{"EndSessionByID", []string{sessions}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			page, err := f.svc.ListSessions(t.Context(), f.op, SessionQuery{UserID: u.ID})
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("sessions of the target: %v, %v", page, err)
			}
			return f.svc.EndSessionByID(t.Context(), a, page.Items[0].ID, "local")
		}},
		{"EndUserSessions", []string{sessions}, false, notFound, func(t *testing.T, f *admins, a Actor) error {
			u, _, _ := f.target(t)
			_, err := f.svc.EndUserSessions(t.Context(), a, u.ID, "local")
			return err
		}},
		{"Audit", []string{audit}, true, forbidden, func(t *testing.T, f *admins, a Actor) error {
			_, err := f.svc.Audit(t.Context(), a, AuditQuery{})
			return err
		}},
	}
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newAdmins(t, b.open(t))
			for _, o := range ops {
				for kind, a := range f.actors {
					t.Run(o.name+"/"+kind, func(t *testing.T) {
						allowed := isOperator(a) || slices.ContainsFunc(o.need, a.Can)
						want := ""
						switch {
						case allowed && a.ReadOnly && !o.read:
							want = forbidden
						case !allowed && kind == "users" && o.name == "EndUserSessions":
							// users.manage sees the user, but may not end their sessions.
							want = forbidden
						case !allowed:
							want = o.denied
						}
						err := o.run(t, f, a)
						if code(err) != want {
							t.Fatalf("%s as %s: code %q (%v), want %q", o.name, kind, code(err), err, want)
						}
					})
				}
			}
		})
	}
}

// TestDisableStopsEverythingAtOnce: disabling a user ends their sessions and
// stops their key and password at once on the node that did it; enabling
// brings back the key and the password, not the sessions.
func TestDisableStopsEverythingAtOnce(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newAdmins(t, b.open(t))
			ctx := t.Context()
			u, key, token := f.target(t, "kind-plain") // kind-plain grants apikey.signin
			login, pw := u.QualifiedName(), "password-"+u.Username
			works := func() (keyOK, sessionOK, passwordOK bool) {
				_, err := f.svc.VerifyAPIKey(ctx, key)
				keyOK = err == nil
				_, _, err = f.svc.VerifySession(ctx, token)
				sessionOK = err == nil
				_, _, err = f.svc.SignIn(ctx, login, pw, "192.0.2.9", latchkey.MethodBasic)
				passwordOK = err == nil
				return
			}
			if k, s, p := works(); !k || !s || !p {
				t.Fatalf("before: key %v session %v password %v", k, s, p)
			}
			v, err := f.svc.SetDisabled(ctx, f.actors["users"], u.ID, true, "192.0.2.1")
			if err != nil || !v.Disabled {
				t.Fatalf("disable: %+v, %v", v, err)
			}
			if k, s, p := works(); k || s || p {
				t.Fatalf("after disable: key %v session %v password %v", k, s, p)
			}
			if _, err := f.svc.SetDisabled(ctx, f.actors["users"], u.ID, false, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if k, s, p := works(); !k || s || !p {
				t.Fatalf("after enable: key %v session %v password %v; want the key and password back, not the session", k, s, p)
			}
		})
	}
}

// TestDisableReachesOtherNode: two nodes over one PostgreSQL; a user
// disabled on node A is refused on node B (key and session, both cached
// there) within a second. It reports the p99 of 20 tries.
func TestDisableReachesOtherNode(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func() latchkey.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a := newAdmins(t, open())
	stB := open()
	svcB := newService(t, stB)
	ctx := t.Context()
	u, key, token := a.target(t, "kind-plain")
	heard := make(chan struct{}, 16)
	defer stB.Subscribe(func(c latchkey.Change) { // after svcB's own subscription: it has heard first
		if c.Kind == latchkey.ChangeUser && c.UserID == u.ID {
			heard <- struct{}{}
		}
	})()
	const tries = 20
	var took []time.Duration
	for i := range tries {
		disabled := i%2 == 0
		// Node B has the key (and, before each disable, a session) in memory.
		if disabled {
			if _, err := svcB.VerifyAPIKey(ctx, key); err != nil {
				t.Fatalf("try %d: node B refused the key before the disable: %v", i, err)
			}
			if _, _, err := svcB.VerifySession(ctx, token); err != nil {
				t.Fatalf("try %d: node B refused the session before the disable: %v", i, err)
			}
		}
		start := time.Now()
		if _, err := a.svc.SetDisabled(ctx, a.op, u.ID, disabled, "local"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
		case <-time.After(5 * time.Second):
			t.Fatalf("try %d: node B did not hear the change within 5s", i)
		}
		_, keyErr := svcB.VerifyAPIKey(ctx, key)
		_, _, sessErr := svcB.VerifySession(ctx, token)
		took = append(took, time.Since(start))
		if disabled && (keyErr == nil || sessErr == nil) {
			t.Fatalf("try %d: node B still takes the key (%v) or session (%v) of a disabled user", i, keyErr, sessErr)
		}
		if !disabled {
			if keyErr != nil {
				t.Fatalf("try %d: node B refuses the key of an enabled user: %v", i, keyErr)
			}
			// Disabling ended the session; a new one for the next try.
			p, err := a.svc.VerifyAPIKey(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if token, _, err = a.svc.OpenSession(ctx, p, ByAPIKey, p.CredentialID, "192.0.2.1", "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(took)
	p99 := took[(len(took)*99+99)/100-1] // the nearest rank: of 20 tries, the slowest
	t.Logf("disable or enable on node A until node B answers accordingly, %d tries: median %v, p99 %v", tries, took[len(took)/2], p99)
	if p99 > time.Second {
		t.Errorf("p99 %v: node B took longer than a second", p99)
	}
}

// TestFailureHalfWayChangesNothing: a use-case the store refuses after it
// has begun to write leaves everything as it was, its audit record too.
func TestFailureHalfWayChangesNothing(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			svc := newService(t, st)
			op := Operator("tester")
			ctx := t.Context()
			// The one administrator, with a key and a session.
			u, err := svc.CreateUser(ctx, op, NewUser{Directory: "LAB", Username: "root", Roles: []string{latchkey.RoleAdmin}, Password: "root password"}, "local")
			if err != nil {
				t.Fatal(err)
			}
			k, err := svc.GenerateAPIKey(ctx, op, KeyRequest{OwnerID: u.ID}, "local")
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.VerifyAPIKey(ctx, k.Key)
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := svc.OpenSession(ctx, p, ByAPIKey, k.ID, "192.0.2.1", "test")
			if err != nil {
				t.Fatal(err)
			}
			before, err := svc.Audit(ctx, op, AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			// DeleteUser deletes the sessions, keys and grants, then finds
			// no administrator left, and rolls back.
			if err := svc.DeleteUser(ctx, op, u.ID, "local"); code(err) != latchkey.ECONFLICT {
				t.Fatalf("deleting the last administrator: %v", err)
			}
			if _, err := svc.SetDisabled(ctx, op, u.ID, true, "local"); code(err) != latchkey.ECONFLICT {
				t.Fatalf("disabling the last administrator: %v", err)
			}
			if err := svc.RevokeRole(ctx, op, u.ID, latchkey.RoleAdmin, "local"); code(err) != latchkey.ECONFLICT {
				t.Fatalf("revoking admin from the last administrator: %v", err)
			}
			if _, err := svc.UpdateRole(ctx, op, latchkey.RoleAdmin, latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityAuditRead}}, "local"); code(err) != latchkey.EINVALID {
				t.Fatalf("emptying the admin role: %v", err)
			}
			if _, err := svc.VerifyAPIKey(ctx, k.Key); err != nil {
				t.Errorf("the key: %v", err)
			}
			if _, _, err := svc.VerifySession(ctx, token); err != nil {
				t.Errorf("the session: %v", err)
			}
			got, err := svc.User(ctx, op, u.ID)
			if err != nil || got.Disabled || !slices.Equal(got.Roles, []string{latchkey.RoleAdmin}) {
				t.Errorf("the user: %+v, %v", got, err)
			}
			after, err := svc.Audit(ctx, op, AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(after.Items) != len(before.Items) {
				t.Errorf("refused changes left audit records: %d before, %d after", len(before.Items), len(after.Items))
			}
		})
	}
}

// TestManageRules: who may act on whom, and the rules of each use-case.
func TestManageRules(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newAdmins(t, b.open(t))
			ctx := t.Context()
			adminID := f.actors["admin"].UserID
			usersMgr, rolesMgr := f.actors["users"], f.actors["roles"]
			tests := []struct {
				name string
				run  func() error
				want string
			}{
				{"a user manager cannot reset an administrator's password", func() error {
					return f.svc.SetPassword(ctx, usersMgr, adminID, "takeover password", "local")
				}, latchkey.EFORBIDDEN},
				{"nor disable one", func() error { _, err := f.svc.SetDisabled(ctx, usersMgr, adminID, true, "local"); return err }, latchkey.EFORBIDDEN},
				{"nor create a user with roles", func() error {
					_, err := f.svc.CreateUser(ctx, usersMgr, NewUser{Username: "x1", Roles: []string{"kind-plain"}}, "local")
					return err
				}, latchkey.EFORBIDDEN},
				{"a role manager cannot grant admin, which has more than they hold", func() error {
					u, _, _ := f.target(t)
					return f.svc.GrantRole(ctx, rolesMgr, u.ID, latchkey.RoleAdmin, "local")
				}, latchkey.EFORBIDDEN},
				{"nor give a role an ability they lack", func() error {
					_, err := f.svc.CreateRole(ctx, rolesMgr, latchkey.Role{Name: "sneaky", Abilities: []string{latchkey.AbilityUsersManage}}, "local")
					return err
				}, latchkey.EFORBIDDEN},
				{"nobody disables themselves", func() error {
					_, err := f.svc.SetDisabled(ctx, f.actors["admin"], adminID, true, "local")
					return err
				}, latchkey.ECONFLICT},
				{"nobody deletes themselves", func() error { return f.svc.DeleteUser(ctx, f.actors["admin"], adminID, "local") }, latchkey.ECONFLICT},
				{"a user exists already, in any case", func() error {
					_, err := f.svc.CreateUser(ctx, f.op, NewUser{Directory: "lab", Username: "ADMIN"}, "local")
					return err
				}, latchkey.ECONFLICT},
				{"a short password", func() error {
					_, err := f.svc.CreateUser(ctx, f.op, NewUser{Username: "x2", Password: "short"}, "local")
					return err
				}, latchkey.EINVALID},
				{"an unknown role", func() error {
					_, err := f.svc.CreateUser(ctx, f.op, NewUser{Username: "x3", Roles: []string{"nope"}}, "local")
					return err
				}, latchkey.EINVALID},
				{"a built-in role cannot be deleted", func() error { return f.svc.DeleteRole(ctx, f.op, latchkey.RoleAPIKeyUser, "local") }, latchkey.EINVALID},
				{"an unknown ability is bad input, not a refusal", func() error {
					_, err := f.svc.CreateRole(ctx, rolesMgr, latchkey.Role{Name: "r-unknown", Abilities: []string{"no.such"}}, "local")
					return err
				}, latchkey.EINVALID},
				{"deleting an ability that does not exist", func() error { return f.svc.DeleteAbility(ctx, rolesMgr, "no.such", "local") }, latchkey.ENOTFOUND},
				{"granting a role that does not exist", func() error {
					u, _, _ := f.target(t)
					return f.svc.GrantRole(ctx, rolesMgr, u.ID, "no-such-role", "local")
				}, latchkey.ENOTFOUND},
				{"an administrator gives a role an ability operators defined", func() error {
					if _, err := f.svc.CreateAbility(ctx, f.actors["admin"], latchkey.Ability{Name: "reports.read"}, "local"); err != nil {
						return err
					}
					_, err := f.svc.CreateRole(ctx, f.actors["admin"], latchkey.Role{Name: "reporter", Abilities: []string{"reports.read"}}, "local")
					return err
				}, ""},
				{"a role manager without it may not", func() error {
					_, err := f.svc.UpdateRole(ctx, rolesMgr, "reporter", latchkey.RoleUpdate{Abilities: &[]string{}}, "local")
					return err
				}, latchkey.EFORBIDDEN},
				{"a bad cursor", func() error { _, err := f.svc.Users(ctx, f.op, UserQuery{Cursor: "nope"}); return err }, latchkey.EINVALID},
				{"a page too large", func() error { _, err := f.svc.Users(ctx, f.op, UserQuery{Limit: MaxPageSize + 1}); return err }, latchkey.EINVALID},
				{"an empty time range", func() error {
					now := time.Now()
					_, err := f.svc.Audit(ctx, f.op, AuditQuery{Since: now, Until: now})
					return err
				}, latchkey.EINVALID},
			}
			for _, tt := range tests {
				if err := tt.run(); code(err) != tt.want {
					t.Errorf("%s: code %q (%v), want %q", tt.name, code(err), err, tt.want)
				}
			}
		})
	}
}

// TestChangeOwnPassword: one's own password changes only with the current
// one; then the new one signs in, and every other session has ended.
func TestChangeOwnPassword(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newAdmins(t, b.open(t))
			ctx := t.Context()
			u, _, _ := f.target(t, "kind-plain")
			p, _, err := f.svc.SignIn(ctx, u.QualifiedName(), "password-"+u.Username, "192.0.2.1", latchkey.MethodBasic)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.ChangePassword(ctx, p, "wrong", "my new password", "192.0.2.1"); code(err) != latchkey.EFORBIDDEN {
				t.Fatalf("with a wrong current password: %v", err)
			}
			if err := f.svc.ChangePassword(ctx, p, "password-"+u.Username, "short", "192.0.2.1"); code(err) != latchkey.EINVALID {
				t.Fatalf("with a short new password: %v", err)
			}
			// Signed in twice; the change is asked for in the first session.
			mine, _, err := f.svc.OpenSession(ctx, p, ByPassword, "", "192.0.2.1", "test")
			if err != nil {
				t.Fatal(err)
			}
			other, _, err := f.svc.OpenSession(ctx, p, ByPassword, "", "192.0.2.2", "test")
			if err != nil {
				t.Fatal(err)
			}
			sp, _, err := f.svc.VerifySession(ctx, mine)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.ChangePassword(ctx, sp, "password-"+u.Username, "my new password", "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.svc.VerifySession(ctx, mine); err != nil {
				t.Errorf("the session that changed the password ended: %v", err)
			}
			if _, _, err := f.svc.VerifySession(ctx, other); err == nil {
				t.Error("another session of the user survived the change of password")
			}
			if _, _, err := f.svc.SignIn(ctx, u.QualifiedName(), "password-"+u.Username, "192.0.2.1", latchkey.MethodBasic); err == nil {
				t.Error("the old password still signs in")
			}
			if _, _, err := f.svc.SignIn(ctx, u.QualifiedName(), "my new password", "192.0.2.1", latchkey.MethodBasic); err != nil {
				t.Errorf("the new password: %v", err)
			}
		})
	}
}

// TestListsPageAndAuditHoldsNoSecret walks the lists page by page, and
// checks that the audit log of all that was done names no password and no
// key.
func TestListsPageAndAuditHoldsNoSecret(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newAdmins(t, b.open(t))
			ctx := t.Context()
			var secrets []string
			for range 5 {
				u, key, token := f.target(t)
				secrets = append(secrets, "password-"+u.Username, key, token)
				if err := f.svc.SetPassword(ctx, f.actors["admin"], u.ID, "password-reset-"+u.Username, "local"); err != nil {
					t.Fatal(err)
				}
				secrets = append(secrets, "password-reset-"+u.Username)
			}
			var names []string
			q := UserQuery{Search: "target", Limit: 2}
			for {
				page, err := f.svc.Users(ctx, f.actors["users"], q)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range page.Items {
					names = append(names, u.Username)
				}
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if want := []string{"target1", "target2", "target3", "target4", "target5"}; !slices.Equal(names, want) {
				t.Errorf("users page by page = %v, want %v", names, want)
			}
			var events []*latchkey.AuditEvent
			aq := AuditQuery{Limit: 7}
			for {
				page, err := f.svc.Audit(ctx, f.actors["audit"], aq)
				if err != nil {
					t.Fatal(err)
				}
				events = append(events, page.Items...)
				if page.Next == "" {
					break
				}
				aq.Cursor = page.Next
			}
			all, err := f.st.AuditEvents(ctx, latchkey.AuditFilter{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != len(all) {
				t.Errorf("audit page by page gave %d events, the store holds %d", len(events), len(all))
			}
			b, _ := json.Marshal(events)
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("the audit log holds a secret: %q", s)
				}
			}
			reset := 0
			for _, e := range events {
				if e.Action == latchkey.AuditUserPassword {
					reset++
					if e.Actor != `LAB\admin` || e.SubjectID == 0 || e.Method != latchkey.MethodAPIKey || e.CredentialID == "" {
						t.Errorf("password event %+v", e)
					}
				}
			}
			if reset != 5 {
				t.Errorf("%d password events, want 5", reset)
			}
			ops, err := f.svc.Audit(ctx, f.op, AuditQuery{Actor: "cli:tester", Action: "user."})
			if err != nil || len(ops.Items) == 0 {
				t.Errorf("the operator's user changes: %v, %v", ops, err)
			}
		})
	}
}
