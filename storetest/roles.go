package storetest

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

var roleTests = []storeTest{
	{"BuiltInsPresent", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		abilities, err := s.Abilities(ctx)
		must(t, err)
		have := map[string]*latchkey.Ability{}
		for _, a := range abilities {
			have[a.Name] = a
		}
		for _, want := range latchkey.BuiltInAbilities {
			equal(t, "built-in ability "+want.Name, have[want.Name], &want)
		}
		for _, want := range latchkey.BuiltInRoles {
			r, err := s.Role(ctx, want.Name)
			must(t, err)
			if !r.BuiltIn || r.Description != want.Description || r.CreatedAt.IsZero() {
				t.Fatalf("built-in role %s = %s", want.Name, show(r))
			}
			equal(t, "abilities of "+want.Name, r.Abilities, sortedCopy(want.Abilities))
		}
		roles, err := s.Roles(ctx)
		must(t, err)
		var names []string
		for _, r := range roles {
			names = append(names, r.Name)
		}
		equal(t, "roles", names, []string{latchkey.RoleAdmin, latchkey.RoleAPIKeyAdmin, latchkey.RoleAPIKeyUser})
	}},
	{"CreateAbility", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		a := &latchkey.Ability{Name: "reports.read", Description: "Read reports", BuiltIn: true}
		must(t, s.CreateAbility(ctx, a, nil))
		if a.BuiltIn {
			t.Fatal("a created ability is built in")
		}
		abilities, err := s.Abilities(ctx)
		must(t, err)
		if len(abilities) != len(latchkey.BuiltInAbilities)+1 {
			t.Fatalf("%d abilities, want %d", len(abilities), len(latchkey.BuiltInAbilities)+1)
		}
		found := false
		for i, got := range abilities {
			if i > 0 && abilities[i-1].Name >= got.Name {
				t.Fatalf("abilities not sorted: %q before %q", abilities[i-1].Name, got.Name)
			}
			if got.Name == a.Name {
				found = true
				equal(t, "created ability", got, a)
			}
		}
		if !found {
			t.Fatal("created ability not listed")
		}
		wantCode(t, s.CreateAbility(ctx, &latchkey.Ability{Name: "reports.read"}, nil), latchkey.ECONFLICT)
		wantCode(t, s.CreateAbility(ctx, &latchkey.Ability{Name: latchkey.AbilityAuditRead}, nil), latchkey.ECONFLICT)
		for _, bad := range []string{"", "Reports", "1x", "a b", "a\\b"} {
			wantCode(t, s.CreateAbility(ctx, &latchkey.Ability{Name: bad}, nil), latchkey.EINVALID)
		}
	}},
	{"CreateRole", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		must(t, s.CreateAbility(ctx, &latchkey.Ability{Name: "reports.read"}, nil))
		r := &latchkey.Role{Name: "Reporter", Description: "Reads reports", BuiltIn: true,
			Abilities: []string{"reports.read", latchkey.AbilityAuditRead, "reports.read"}}
		must(t, s.CreateRole(ctx, r, nil))
		if r.BuiltIn || r.CreatedAt.IsZero() {
			t.Fatalf("created role = %s", show(r))
		}
		equal(t, "abilities after create", r.Abilities, []string{latchkey.AbilityAuditRead, "reports.read"})
		got, err := s.Role(ctx, "Reporter")
		must(t, err)
		equal(t, "Role", got, r)
		empty := &latchkey.Role{Name: "empty"}
		must(t, s.CreateRole(ctx, empty, nil))
		got, err = s.Role(ctx, "empty")
		must(t, err)
		equal(t, "role without abilities", got, empty)

		wantCode(t, s.CreateRole(ctx, &latchkey.Role{Name: "Reporter"}, nil), latchkey.ECONFLICT)
		wantCode(t, s.CreateRole(ctx, &latchkey.Role{Name: latchkey.RoleAdmin}, nil), latchkey.ECONFLICT)
		wantCode(t, s.CreateRole(ctx, &latchkey.Role{Name: ""}, nil), latchkey.EINVALID)
		wantCode(t, s.CreateRole(ctx, &latchkey.Role{Name: "a=b"}, nil), latchkey.EINVALID)
		wantCode(t, s.CreateRole(ctx, &latchkey.Role{Name: "x", Abilities: []string{"Bad Name"}}, nil), latchkey.EINVALID)
		err = s.CreateRole(ctx, &latchkey.Role{Name: "x", Abilities: []string{"audit.read", "no.such"}}, nil)
		wantCode(t, err, latchkey.EINVALID)
		if !strings.Contains(latchkey.ErrorMessage(err), "no.such") {
			t.Fatalf("message %q does not name the missing ability", latchkey.ErrorMessage(err))
		}
		_, err = s.Role(ctx, "x")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"RoleNotFound", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		_, err := s.Role(ctx, "nope")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.Role(ctx, "ADMIN")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.UpdateRole(ctx, "nope", latchkey.RoleUpdate{Abilities: &[]string{}}, nil)
		wantCode(t, err, latchkey.ENOTFOUND)
		wantCode(t, s.DeleteRole(ctx, "nope", nil), latchkey.ENOTFOUND)
	}},
	{"UpdateRole", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "ops", Abilities: []string{latchkey.AbilityAuditRead}}, nil))
		up, err := s.UpdateRole(ctx, "ops", latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityUsersManage, latchkey.AbilitySessionsManage}}, nil)
		must(t, err)
		equal(t, "abilities returned", up.Abilities, []string{latchkey.AbilitySessionsManage, latchkey.AbilityUsersManage})
		r, err := s.Role(ctx, "ops")
		must(t, err)
		equal(t, "abilities", r.Abilities, []string{latchkey.AbilitySessionsManage, latchkey.AbilityUsersManage})

		desc := "operations"
		up, err = s.UpdateRole(ctx, "ops", latchkey.RoleUpdate{Description: &desc}, nil)
		must(t, err)
		equal(t, "description", up.Description, desc)
		equal(t, "abilities kept", up.Abilities, []string{latchkey.AbilitySessionsManage, latchkey.AbilityUsersManage})

		_, err = s.UpdateRole(ctx, "ops", latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityAuditRead, "no.such"}}, nil)
		wantCode(t, err, latchkey.EINVALID)
		if !strings.Contains(latchkey.ErrorMessage(err), "no.such") {
			t.Fatalf("message %q does not name the missing ability", latchkey.ErrorMessage(err))
		}
		r, err = s.Role(ctx, "ops")
		must(t, err)
		equal(t, "abilities after a rejected change", r.Abilities, []string{latchkey.AbilitySessionsManage, latchkey.AbilityUsersManage})

		_, err = s.UpdateRole(ctx, "ops", latchkey.RoleUpdate{Abilities: &[]string{}}, nil)
		must(t, err)
		r, err = s.Role(ctx, "ops")
		must(t, err)
		equal(t, "abilities after clearing", r.Abilities, []string{})

		// A built-in role keeps its own abilities and may gain others.
		_, err = s.UpdateRole(ctx, latchkey.RoleAPIKeyUser, latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityAuditRead}}, nil)
		wantCode(t, err, latchkey.EINVALID)
		if msg := latchkey.ErrorMessage(err); !strings.Contains(msg, "built-in") || !strings.Contains(msg, latchkey.AbilityAPIKeySignIn) {
			t.Fatalf("message %q", msg)
		}
		more := []string{latchkey.AbilityAPIKeyGenerate, latchkey.AbilityAPIKeySignIn, latchkey.AbilityAuditRead}
		up, err = s.UpdateRole(ctx, latchkey.RoleAPIKeyUser, latchkey.RoleUpdate{Abilities: &more}, nil)
		must(t, err)
		equal(t, "built-in role with one more", up.Abilities, more)
	}},
	{"DeleteRole", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "ops", Abilities: []string{latchkey.AbilityAuditRead}}, nil))
		u := newUser(t, s, "goran", "ops", latchkey.RoleAPIKeyUser)
		must(t, s.DeleteRole(ctx, "ops", nil))
		_, err := s.Role(ctx, "ops")
		wantCode(t, err, latchkey.ENOTFOUND)
		got, err := s.User(ctx, u.ID)
		must(t, err)
		equal(t, "roles after delete", got.Roles, []string{latchkey.RoleAPIKeyUser})
		wantCode(t, s.DeleteRole(ctx, "ops", nil), latchkey.ENOTFOUND)
		for _, r := range latchkey.BuiltInRoles {
			wantCode(t, s.DeleteRole(ctx, r.Name, nil), latchkey.EINVALID)
		}
		// The name is free again.
		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "ops"}, nil))
	}},
	{"GrantAndRevoke", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		newUser(t, s, "admin", latchkey.RoleAdmin) // so that goran is not the last administrator
		u := newUser(t, s, "goran")
		must(t, s.GrantRole(ctx, u.ID, latchkey.RoleAPIKeyUser, nil))
		must(t, s.GrantRole(ctx, u.ID, latchkey.RoleAdmin, nil))
		got, err := s.User(ctx, u.ID)
		must(t, err)
		equal(t, "roles after grants", got.Roles, []string{latchkey.RoleAdmin, latchkey.RoleAPIKeyUser})
		wantCode(t, s.GrantRole(ctx, u.ID, latchkey.RoleAdmin, nil), latchkey.ECONFLICT)
		wantCode(t, s.GrantRole(ctx, u.ID, "nope", nil), latchkey.ENOTFOUND)
		wantCode(t, s.GrantRole(ctx, 424242, latchkey.RoleAdmin, nil), latchkey.ENOTFOUND)

		must(t, s.RevokeRole(ctx, u.ID, latchkey.RoleAdmin, nil))
		got, err = s.User(ctx, u.ID)
		must(t, err)
		equal(t, "roles after revoke", got.Roles, []string{latchkey.RoleAPIKeyUser})
		wantCode(t, s.RevokeRole(ctx, u.ID, latchkey.RoleAdmin, nil), latchkey.ENOTFOUND)
		wantCode(t, s.RevokeRole(ctx, u.ID, "nope", nil), latchkey.ENOTFOUND)
		wantCode(t, s.RevokeRole(ctx, 424242, latchkey.RoleAPIKeyUser, nil), latchkey.ENOTFOUND)
	}},
	{"LastAdministratorStays", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		a := newUser(t, s, "anna", latchkey.RoleAdmin)
		b := newUser(t, s, "bob", latchkey.RoleAdmin)
		off := newUser(t, s, "off", latchkey.RoleAdmin)
		yes := true
		_, err := s.UpdateUser(ctx, off.ID, latchkey.UserUpdate{Disabled: &yes}, nil)
		must(t, err)
		// Two enabled administrators: either may go, not both.
		must(t, s.RevokeRole(ctx, b.ID, latchkey.RoleAdmin, nil))
		err = s.RevokeRole(ctx, a.ID, latchkey.RoleAdmin, nil)
		wantCode(t, err, latchkey.ECONFLICT)
		if !strings.Contains(latchkey.ErrorMessage(err), latchkey.RoleAdmin) {
			t.Fatalf("message %q does not name the role", latchkey.ErrorMessage(err))
		}
		_, err = s.UpdateUser(ctx, a.ID, latchkey.UserUpdate{Disabled: &yes}, nil)
		wantCode(t, err, latchkey.ECONFLICT)
		wantCode(t, s.DeleteUser(ctx, a.ID, nil), latchkey.ECONFLICT)
		// Nothing changed: anna is still an enabled administrator.
		got, err := s.User(ctx, a.ID)
		must(t, err)
		equal(t, "disabled", got.Disabled, false)
		equal(t, "roles", got.Roles, []string{latchkey.RoleAdmin})
		// A disabled administrator does not count, and may go.
		must(t, s.RevokeRole(ctx, off.ID, latchkey.RoleAdmin, nil))
		must(t, s.GrantRole(ctx, b.ID, latchkey.RoleAdmin, nil))
		must(t, s.DeleteUser(ctx, a.ID, nil))
	}},
	{"UserAccess", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		must(t, s.CreateAbility(ctx, &latchkey.Ability{Name: "reports.read"}, nil))
		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "reporter",
			Abilities: []string{"reports.read", latchkey.AbilityAPIKeySignIn}}, nil))
		u := newUser(t, s, "goran", "reporter", latchkey.RoleAPIKeyUser)
		roles, abilities, err := s.UserAccess(ctx, u.ID)
		must(t, err)
		equal(t, "roles", roles, []string{latchkey.RoleAPIKeyUser, "reporter"})
		equal(t, "abilities", abilities, []string{latchkey.AbilityAPIKeyGenerate, latchkey.AbilityAPIKeySignIn, "reports.read"})

		must(t, s.CreateRole(ctx, &latchkey.Role{Name: "nothing"}, nil))
		bare := newUser(t, s, "anna", "nothing")
		roles, abilities, err = s.UserAccess(ctx, bare.ID)
		must(t, err)
		if len(roles) != 1 || roles[0] != "nothing" || len(abilities) != 0 {
			t.Fatalf("access of a user with an empty role = %v, %v", roles, abilities)
		}
		none := newUser(t, s, "carl")
		roles, abilities, err = s.UserAccess(ctx, none.ID)
		must(t, err)
		if len(roles) != 0 || len(abilities) != 0 {
			t.Fatalf("access of a user without roles = %v, %v", roles, abilities)
		}
		_, _, err = s.UserAccess(ctx, 424242)
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
}
