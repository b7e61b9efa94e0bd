package credential

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestRolesAndAbilitiesPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, name := range []string{"Zeta", "beta", "a role", "a/b"} {
		if err := f.st.CreateRole(ctx, &latchkey.Role{Name: name}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"x.one", "x.two"} {
		if err := f.st.CreateAbility(ctx, &latchkey.Ability{Name: name}, nil); err != nil {
			t.Fatal(err)
		}
	}
	roleNames := []string{"Zeta", "a role", "a/b", "admin", "apikey-admin", "apikey-user", "beta"} // byte order
	walk := func(a Actor, q NameQuery, page func(NameQuery) ([]string, string, error)) []string {
		t.Helper()
		var all []string
		for n := 0; ; n++ {
			items, next, err := page(q)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) > cmp.Or(q.Limit, DefaultPageSize) || n > 20 {
				t.Fatalf("page %d: %v", n, items)
			}
			all = append(all, items...)
			if next == "" {
				return all
			}
			q.Cursor = next
		}
	}
	roles := func(a Actor) func(NameQuery) ([]string, string, error) {
		return func(q NameQuery) ([]string, string, error) {
			p, err := f.svc.RolesPage(ctx, a, q)
			if err != nil {
				return nil, "", err
			}
			var names []string
			for _, r := range p.Items {
				names = append(names, r.Name)
			}
			return names, p.Next, nil
		}
	}
	abilities := func(a Actor) func(NameQuery) ([]string, string, error) {
		return func(q NameQuery) ([]string, string, error) {
			p, err := f.svc.AbilitiesPage(ctx, a, q)
			if err != nil {
				return nil, "", err
			}
			var names []string
			for _, ab := range p.Items {
				names = append(names, ab.Name)
			}
			return names, p.Next, nil
		}
	}
	usersManager := &latchkey.Principal{UserID: 9, Abilities: []string{latchkey.AbilityUsersManage}}
	for _, limit := range []int{1, 2, 3, 7, 0} {
		if got := walk(nil, NameQuery{Limit: limit}, roles(nil)); !slices.Equal(got, roleNames) {
			t.Errorf("roles by %d: %v, want %v", limit, got, roleNames)
		}
	}
	if got := walk(usersManager, NameQuery{Search: "A", Limit: 2}, roles(usersManager)); !slices.Equal(got,
		[]string{"Zeta", "a role", "a/b", "admin", "apikey-admin", "apikey-user", "beta"}) {
		t.Errorf("roles with a: %v", got)
	}
	if got := walk(nil, NameQuery{Search: "api", Limit: 1}, roles(nil)); !slices.Equal(got, []string{"apikey-admin", "apikey-user"}) {
		t.Errorf("roles with api: %v", got)
	}
	if got := walk(nil, NameQuery{Search: "x.", Limit: 1}, abilities(nil)); !slices.Equal(got, []string{"x.one", "x.two"}) {
		t.Errorf("abilities with x.: %v", got)
	}
	if got := walk(nil, NameQuery{Limit: 4}, abilities(nil)); len(got) != len(latchkey.BuiltInAbilities)+2 || !slices.IsSorted(got) {
		t.Errorf("abilities: %v", got)
	}

	plain := &latchkey.Principal{UserID: 8, Abilities: []string{latchkey.AbilityAuditRead}}
	if _, err := f.svc.RolesPage(ctx, plain, NameQuery{}); code(err) != latchkey.EFORBIDDEN {
		t.Errorf("roles without the ability: %v", err)
	}
	if _, err := f.svc.AbilitiesPage(ctx, plain, NameQuery{}); code(err) != latchkey.EFORBIDDEN {
		t.Errorf("abilities without the ability: %v", err)
	}
	for _, q := range []NameQuery{{Limit: -1}, {Limit: MaxPageSize + 1}, {Cursor: "!!"}, {Cursor: "bm90IGpzb24"}} {
		if _, err := f.svc.RolesPage(ctx, nil, q); code(err) != latchkey.EINVALID {
			t.Errorf("%+v: %v", q, err)
		}
	}
}
