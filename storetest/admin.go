package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// adminTests cover the administrative writes: their audit record in the
// same transaction, disabling and deleting users, and the paged lists.
var adminTests = []storeTest{
	{"AuditRecordInTheTransaction", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		rec := &latchkey.AuditEvent{Action: latchkey.AuditUserCreate, Actor: "cli:root", Target: `LAB\goran`, Method: "cli"}
		u := &latchkey.User{Directory: "LAB", Username: "goran"}
		must(t, s.CreateUser(ctx, u, rec))
		if rec.ID == 0 || rec.SubjectID != u.ID || rec.Time.IsZero() {
			t.Fatalf("record after CreateUser = %s", show(rec))
		}
		// A write that fails records nothing.
		dup := &latchkey.AuditEvent{Action: latchkey.AuditUserCreate, Actor: "cli:root", Target: `lab\GORAN`}
		wantCode(t, s.CreateUser(ctx, &latchkey.User{Directory: "lab", Username: "GORAN"}, dup), latchkey.ECONFLICT)
		wantCode(t, s.GrantRole(ctx, u.ID, "nope", &latchkey.AuditEvent{Action: latchkey.AuditRoleGrant}), latchkey.ENOTFOUND)
		_, err := s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Email: ptr("not an email")}, &latchkey.AuditEvent{Action: latchkey.AuditUserUpdate})
		wantCode(t, err, latchkey.EINVALID)
		events, err := s.AuditEvents(ctx, latchkey.AuditFilter{})
		must(t, err)
		equal(t, "audit events", len(events), 1)
		equal(t, "the one event", events[0].ID, rec.ID)
		equal(t, "its subject", events[0].SubjectID, u.ID)
		// A record without an action is refused before anything changes.
		wantCode(t, s.CreateUser(ctx, &latchkey.User{Directory: "LAB", Username: "x"}, &latchkey.AuditEvent{}), latchkey.EINVALID)
		_, err = s.UserByName(ctx, "LAB", "x")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"DisableEndsSessionsAtOnce", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran", latchkey.RoleAPIKeyUser)
		other := newUser(t, s, "other")
		newSession(t, s, u.ID, "s1", nil)
		newSession(t, s, u.ID, "s2", nil)
		newSession(t, s, other.ID, "o1", nil)
		r := Record(t, s)
		yes := true
		rec := &latchkey.AuditEvent{Action: latchkey.AuditUserDisable, SubjectID: u.ID}
		got, err := s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &yes}, rec)
		must(t, err)
		equal(t, "disabled", got.Disabled, true)
		equal(t, "changes", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeUser, UserID: u.ID}, {Kind: latchkey.ChangeUserSession, UserID: u.ID}})
		left, err := s.Sessions(ctx, latchkey.SessionFilter{})
		must(t, err)
		equal(t, "sessions left", len(left), 1)
		equal(t, "the other user's", left[0].ID, "o1")
		// Enabling ends nothing and brings no session back.
		no := false
		_, err = s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &no}, nil)
		must(t, err)
		equal(t, "changes of enabling", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeUser, UserID: u.ID}})
		left, err = s.Sessions(ctx, latchkey.SessionFilter{UserID: u.ID})
		must(t, err)
		equal(t, "sessions after enabling", len(left), 0)
		// EndSessions with a new password does the same.
		newSession(t, s, u.ID, "s3", nil)
		hash := "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"
		_, err = s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{PasswordHash: &hash, EndSessions: true}, nil)
		must(t, err)
		left, err = s.Sessions(ctx, latchkey.SessionFilter{UserID: u.ID})
		must(t, err)
		equal(t, "sessions after a new password", len(left), 0)
	}},
	{"DeleteUser", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran", latchkey.RoleAPIKeyUser)
		keep := newUser(t, s, "keep", latchkey.RoleAPIKeyUser)
		newKey(t, s, u.ID, "lk_gone", nil)
		newKey(t, s, keep.ID, "lk_kept", nil)
		newSession(t, s, u.ID, "s1", nil)
		r := Record(t, s)
		rec := &latchkey.AuditEvent{Action: latchkey.AuditUserDelete, Target: u.QualifiedName(), SubjectID: u.ID}
		must(t, s.DeleteUser(ctx, u.ID, rec))
		equal(t, "changes", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeUser, UserID: u.ID}, {Kind: latchkey.ChangeUserSession, UserID: u.ID}})
		_, err := s.User(ctx, u.ID)
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.APIKey(ctx, "lk_gone")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.Session(ctx, "s1")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.APIKey(ctx, "lk_kept")
		must(t, err)
		wantCode(t, s.DeleteUser(ctx, u.ID, nil), latchkey.ENOTFOUND)
		events, err := s.AuditEvents(ctx, latchkey.AuditFilter{SubjectID: u.ID})
		must(t, err)
		equal(t, "the record stays", len(events), 1)
		// The name is free again, for a new user with a new id.
		again := newUser(t, s, "goran")
		if again.ID == u.ID {
			t.Fatalf("a new user got the id %d of the deleted one", u.ID)
		}
	}},
	{"UserFilters", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		mk := func(name, display, email string, disabled bool, roles ...string) *latchkey.User {
			u := &latchkey.User{Directory: "LAB", Username: name, DisplayName: display, Email: email, Disabled: disabled, Roles: roles}
			must(t, s.CreateUser(ctx, u, nil))
			return u
		}
		a := mk("anna", "Anna Berg", "anna@example.com", false, latchkey.RoleAdmin)
		b := mk("bob", "Bob 100%", "bob@example.org", true, latchkey.RoleAPIKeyUser)
		c := mk("carl_x", "Carl", "carl@example.com", false, latchkey.RoleAPIKeyUser)
		yes, no := true, false
		for _, tc := range []struct {
			name string
			f    latchkey.UserFilter
			want []int64
		}{
			{"search by username", latchkey.UserFilter{Search: "CARL"}, []int64{c.ID}},
			{"search by display name", latchkey.UserFilter{Search: "berg"}, []int64{a.ID}},
			{"search by email", latchkey.UserFilter{Search: "example.com"}, []int64{a.ID, c.ID}},
			{"a % is a percent sign", latchkey.UserFilter{Search: "100%"}, []int64{b.ID}},
			{"an _ is an underscore", latchkey.UserFilter{Search: "l_"}, []int64{c.ID}},
			{"by role", latchkey.UserFilter{Role: latchkey.RoleAPIKeyUser}, []int64{b.ID, c.ID}},
			{"disabled", latchkey.UserFilter{Disabled: &yes}, []int64{b.ID}},
			{"enabled", latchkey.UserFilter{Disabled: &no}, []int64{a.ID, c.ID}},
			{"enabled, by role", latchkey.UserFilter{Disabled: &no, Role: latchkey.RoleAPIKeyUser}, []int64{c.ID}},
			{"page after anna", latchkey.UserFilter{After: a.Position(), Limit: 1}, []int64{b.ID}},
		} {
			got, err := s.Users(ctx, tc.f)
			must(t, err)
			equal(t, tc.name, ids(got), tc.want)
		}
	}},
	{"SessionPages", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		at := now().Add(-time.Hour)
		// s1 and s2 were made in the same microsecond: the id orders them.
		for _, id := range []string{"s0", "s1", "s2", "s3"} {
			created := at
			if id == "s0" {
				created = at.Add(-time.Minute)
			}
			if id == "s3" {
				created = at.Add(time.Minute)
			}
			newSession(t, s, u.ID, id, func(x *latchkey.Session) { x.CreatedAt, x.LastSeenAt = created, created })
		}
		var got []string
		var before *latchkey.Session
		for {
			page, err := s.Sessions(ctx, latchkey.SessionFilter{UserID: u.ID, Limit: 2, Before: before})
			must(t, err)
			for _, x := range page {
				got = append(got, x.ID)
			}
			if len(page) < 2 {
				break
			}
			before = page[len(page)-1]
		}
		equal(t, "sessions, newest first, page by page", got, []string{"s3", "s2", "s1", "s0"})
	}},
	{"AuditFiltersBySubjectActorAndTime", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		base := now().Add(-time.Hour)
		add := func(d time.Duration, actor string, subject int64) int64 {
			e := &latchkey.AuditEvent{Time: base.Add(d), Action: latchkey.AuditUserUpdate, Actor: actor, SubjectID: subject}
			must(t, s.AppendAudit(ctx, e))
			return e.ID
		}
		e1 := add(time.Minute, "cli:root", 5)
		e2 := add(2*time.Minute, `LAB\anna`, 6)
		e3 := add(3*time.Minute, "cli:root", 6)
		idsOf := func(f latchkey.AuditFilter) []int64 {
			events, err := s.AuditEvents(ctx, f)
			must(t, err)
			out := []int64{}
			for _, e := range events {
				out = append(out, e.ID)
			}
			return out
		}
		equal(t, "by subject", idsOf(latchkey.AuditFilter{SubjectID: 6}), []int64{e3, e2})
		equal(t, "by actor", idsOf(latchkey.AuditFilter{Actor: "cli:root"}), []int64{e3, e1})
		equal(t, "until", idsOf(latchkey.AuditFilter{Until: base.Add(2 * time.Minute)}), []int64{e1})
		equal(t, "since and until", idsOf(latchkey.AuditFilter{Since: base.Add(2 * time.Minute), Until: base.Add(3 * time.Minute)}), []int64{e2})
	}},
	{"DeleteAbility", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		must(t, s.CreateAbility(ctx, &latchkey.Ability{Name: "reports.read"}, nil))
		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "reporter", Abilities: []string{"reports.read", latchkey.AbilityAuditRead}}, nil))
		r := Record(t, s)
		must(t, s.DeleteAbility(ctx, "reports.read", nil))
		equal(t, "changes", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeRole, Name: "reporter"}})
		role, err := s.Role(ctx, "reporter")
		must(t, err)
		equal(t, "abilities left", role.Abilities, []string{latchkey.AbilityAuditRead})
		wantCode(t, s.DeleteAbility(ctx, "reports.read", nil), latchkey.ENOTFOUND)
		wantCode(t, s.DeleteAbility(ctx, latchkey.AbilityAuditRead, nil), latchkey.EINVALID)
	}},
}

func ptr[T any](v T) *T { return &v }
