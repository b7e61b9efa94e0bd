package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// feedCase is a write and the change it must deliver before it returns.
type feedCase struct {
	name string
	// setup prepares the store and returns the write and its change.
	setup func(t *testing.T, s latchkey.Store) (write func() error, want latchkey.Change)
}

var feedCases = []feedCase{
	{"UpdateUser", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		name := "Göran"
		return func() error {
			_, err := s.UpdateUser(t.Context(), u.ID, latchkey.UserUpdate{DisplayName: &name}, nil)
			return err
		}, latchkey.Change{Kind: latchkey.ChangeUser, UserID: u.ID}
	}},
	{"GrantRole", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		return func() error { return s.GrantRole(t.Context(), u.ID, latchkey.RoleAdmin, nil) },
			latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: u.ID}
	}},
	{"RevokeRole", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran", latchkey.RoleAPIKeyUser)
		return func() error { return s.RevokeRole(t.Context(), u.ID, latchkey.RoleAPIKeyUser, nil) },
			latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: u.ID}
	}},
	{"SetRoleAbilities", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		must(t, s.CreateRole(t.Context(), &latchkey.Role{Name: "ops"}, nil))
		return func() error {
				_, err := s.UpdateRole(t.Context(), "ops", latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityAuditRead}}, nil)
				return err
			},
			latchkey.Change{Kind: latchkey.ChangeRole, Name: "ops"}
	}},
	{"DeleteRole", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		must(t, s.CreateRole(t.Context(), &latchkey.Role{Name: "ops"}, nil))
		return func() error { return s.DeleteRole(t.Context(), "ops", nil) },
			latchkey.Change{Kind: latchkey.ChangeRole, Name: "ops"}
	}},
	{"RevokeAPIKey", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		newKey(t, s, u.ID, "lk_a", nil)
		return func() error { return s.RevokeAPIKey(t.Context(), "lk_a", time.Now()) },
			latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: "lk_a", UserID: u.ID}
	}},
	{"SetAPIKeyLimit", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		newKey(t, s, u.ID, "lk_a", nil)
		return func() error {
				_, err := s.SetAPIKeyLimit(t.Context(), "lk_a", &latchkey.RateLimit{Requests: 3, Window: 60}, nil)
				return err
			},
			latchkey.Change{Kind: latchkey.ChangeAPIKey, Name: "lk_a", UserID: u.ID}
	}},
	{"EndSession", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		newSession(t, s, u.ID, "s1", nil)
		return func() error { return s.EndSession(t.Context(), "s1", time.Now(), nil) },
			latchkey.Change{Kind: latchkey.ChangeSession, Name: "s1", UserID: u.ID}
	}},
	{"EndUserSessions", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		u := newUser(t, s, "goran")
		newSession(t, s, u.ID, "s1", nil)
		return func() error { _, err := s.EndUserSessions(t.Context(), u.ID, time.Now(), nil); return err },
			latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: u.ID}
	}},
	{"CreateSigningKey", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		return func() error { return s.CreateSigningKey(t.Context(), testSigningKey("kid1")) },
			latchkey.Change{Kind: latchkey.ChangeSigningKey, Name: "kid1"}
	}},
	{"DeleteSigningKey", func(t *testing.T, s latchkey.Store) (func() error, latchkey.Change) {
		must(t, s.CreateSigningKey(t.Context(), testSigningKey("kid1")))
		return func() error { return s.DeleteSigningKey(t.Context(), "kid1") },
			latchkey.Change{Kind: latchkey.ChangeSigningKey, Name: "kid1"}
	}},
}

// feedTests has one test per feedCase and the tests of the feed itself.
var feedTests = append(feedWriteTests(), []storeTest{
	{"SeveralSubscribersAndUnsubscribe", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		r1, r2 := Record(t, s), new(Recorder)
		unsubscribe := s.Subscribe(r2.add)
		must(t, s.GrantRole(ctx, u.ID, latchkey.RoleAPIKeyUser, nil))
		want := []latchkey.Change{{Kind: latchkey.ChangeUserRoles, UserID: u.ID}}
		equal(t, "first subscriber", r1.Take(), want)
		equal(t, "second subscriber", r2.Take(), want)
		unsubscribe()
		unsubscribe() // a second call does nothing
		must(t, s.RevokeRole(ctx, u.ID, latchkey.RoleAPIKeyUser, nil))
		equal(t, "still subscribed", r1.Take(), want)
		equal(t, "unsubscribed", len(r2.Take()), 0)
	}},
	{"ReadsAndQuietWritesEmitNothing", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran", latchkey.RoleAPIKeyUser)
		k := newKey(t, s, u.ID, "lk_a", func(k *latchkey.APIKey) { k.Reveal = []byte("sealed") })
		ses := newSession(t, s, u.ID, "s1", nil)
		must(t, s.CreateSigningKey(ctx, testSigningKey("kid1")))
		r := Record(t, s)
		steps := []func() error{
			func() error { _, err := s.User(ctx, u.ID); return err },
			func() error { _, err := s.UserByName(ctx, "lab", "GORAN"); return err },
			func() error { _, err := s.Users(ctx, latchkey.UserFilter{}); return err },
			func() error { _, err := s.Directories(ctx); return err },
			func() error { _, err := s.Abilities(ctx); return err },
			func() error { _, err := s.Roles(ctx); return err },
			func() error { _, _, err := s.UserAccess(ctx, u.ID); return err },
			func() error { _, err := s.APIKeyByHash(ctx, k.Hash); return err },
			func() error { _, err := s.APIKeys(ctx, latchkey.APIKeyFilter{}); return err },
			func() error { _, err := s.SessionByHash(ctx, ses.Hash); return err },
			func() error { _, err := s.Sessions(ctx, latchkey.SessionFilter{}); return err },
			func() error { _, err := s.SigningKeys(ctx); return err },
			func() error { _, err := s.AuditEvents(ctx, latchkey.AuditFilter{}); return err },
			func() error { return s.TouchAPIKeys(ctx, map[string]time.Time{k.ID: time.Now()}) },
			func() error { return s.TouchSessions(ctx, map[string]time.Time{ses.ID: time.Now()}) },
			func() error { _, err := s.TakeAPIKeyReveal(ctx, k.ID); return err },
			func() error { _, err := s.UseJTI(ctx, "j1", time.Now().Add(time.Hour)); return err },
			func() error { return s.AppendAudit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginSuccess}) },
			func() error { return s.Ping(ctx) },
		}
		for i, step := range steps {
			must(t, step())
			if got := r.Take(); len(got) != 0 {
				t.Fatalf("step %d emitted %v", i, got)
			}
		}
	}},
	{"FailedWritesEmitNothing", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran", latchkey.RoleAdmin)
		newKey(t, s, u.ID, "lk_a", nil)
		must(t, s.RevokeAPIKey(ctx, "lk_a", time.Now()))
		r := Record(t, s)
		wantCode(t, s.RevokeAPIKey(ctx, "lk_a", time.Now()), latchkey.ECONFLICT)
		wantCode(t, s.GrantRole(ctx, u.ID, latchkey.RoleAdmin, nil), latchkey.ECONFLICT)
		_, err := s.UpdateRole(ctx, latchkey.RoleAdmin, latchkey.RoleUpdate{Abilities: &[]string{}}, nil)
		wantCode(t, err, latchkey.EINVALID)
		wantCode(t, s.DeleteRole(ctx, latchkey.RoleAdmin, nil), latchkey.EINVALID)
		wantCode(t, s.EndSession(ctx, "none", time.Now(), nil), latchkey.ENOTFOUND)
		wantCode(t, s.DeleteSigningKey(ctx, "none"), latchkey.ENOTFOUND)
		equal(t, "changes of failed writes", len(r.Take()), 0)
	}},
}...)

// feedWriteTests checks that each write delivers its change, once, to a
// subscriber before the write returns.
func feedWriteTests() []storeTest {
	var tests []storeTest
	for _, fc := range feedCases {
		tests = append(tests, storeTest{"Delivers" + fc.name, func(t *testing.T, s latchkey.Store) {
			write, want := fc.setup(t, s)
			r := Record(t, s)
			must(t, write())
			equal(t, "changes delivered by the time "+fc.name+" returned", r.Take(), []latchkey.Change{want})
		}})
	}
	return tests
}

// testSigningKey returns a signing key with placeholder key bytes.
func testSigningKey(id string) *latchkey.SigningKey {
	return &latchkey.SigningKey{ID: id, Algorithm: "EdDSA", PrivateKey: []byte("private " + id),
		PublicKey: []byte("public " + id), ActiveAt: now(), RetireAt: now().Add(time.Hour)}
}
