package credential

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestVouch: what a user the store holds lends the principal of an identity
// proven elsewhere, on both backends.
func TestVouch(t *testing.T) {
	onBackends(t, func(t *testing.T, newf func(t *testing.T) *fixture) {
		f := newf(t)
		ctx := context.Background()
		u := &latchkey.User{Directory: "LAB", Username: "Goran", DisplayName: "Göran Stored", Email: "goran@lab.example",
			Groups: []string{"stored"}, Roles: []string{latchkey.RoleAPIKeyUser}}
		if err := f.st.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		d := &latchkey.User{Directory: "LAB", Username: "dora", Roles: []string{latchkey.RoleAPIKeyUser}}
		if err := f.st.CreateUser(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
		disabled := true
		if _, err := f.st.UpdateUser(ctx, d.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
			t.Fatal(err)
		}
		expires := time.Now().Add(time.Hour).Truncate(time.Second)
		// as proven by a token or a certificate; what Vouch must keep of it.
		proven := func(dir, user string) *latchkey.Principal {
			return &latchkey.Principal{Directory: dir, Username: user, Method: latchkey.MethodJWT, CredentialID: "jti-1",
				ExpiresAt: expires, ReadOnly: true, Claims: map[string]string{"tenant": "t1"}}
		}
		withNames := func(p *latchkey.Principal) *latchkey.Principal {
			p.DisplayName, p.Email, p.Groups = "Göran From Token", "g@idp.example", []string{"from-token"}
			return p
		}
		held := []string{latchkey.AbilityAPIKeyGenerate, latchkey.AbilityAPIKeySignIn} // apikey-user's
		// the principal of a found user: p with what the store lends.
		lent := func(p *latchkey.Principal, name, email string, groups []string) *latchkey.Principal {
			q := *p
			q.UserID, q.Directory, q.Username = u.ID, "LAB", "Goran"
			q.DisplayName, q.Email, q.Groups = name, email, groups
			q.Roles, q.Abilities = []string{latchkey.RoleAPIKeyUser}, held
			return &q
		}
		tests := []struct {
			name  string
			p     *latchkey.Principal
			want  *latchkey.Principal // nil: p itself
			found bool
			code  string
		}{
			{name: "unknown user", p: proven("LAB", "nobody")},
			{name: "known name in another directory", p: proven("OTHER", "goran")},
			{name: "no directory", p: proven("", "goran")},
			{name: "no username", p: proven("LAB", "")},
			{name: `directory with a \`, p: proven(`LAB\X`, "goran")},
			{name: "known user, in the store's case", p: proven("LAB", "Goran"), found: true,
				want: lent(proven("LAB", "Goran"), "Göran Stored", "goran@lab.example", []string{"stored"})},
			{name: "known user, in another case", p: proven("lab", "GORAN"), found: true,
				want: lent(proven("lab", "GORAN"), "Göran Stored", "goran@lab.example", []string{"stored"})},
			{name: "known user again, from memory", p: proven("lab", "goran"), found: true,
				want: lent(proven("lab", "goran"), "Göran Stored", "goran@lab.example", []string{"stored"})},
			{name: "the token's names win", p: withNames(proven("LAB", "goran")), found: true,
				want: lent(withNames(proven("LAB", "goran")), "Göran From Token", "g@idp.example", []string{"from-token"})},
			{name: "a certificate's principal, which has no names", found: true,
				p: &latchkey.Principal{Directory: "LAB", Username: "goran", Method: latchkey.MethodCert, CredentialID: "sha256:ab", ExpiresAt: expires},
				want: &latchkey.Principal{UserID: u.ID, Directory: "LAB", Username: "Goran", DisplayName: "Göran Stored", Email: "goran@lab.example",
					Groups: []string{"stored"}, Roles: []string{latchkey.RoleAPIKeyUser}, Abilities: held,
					Method: latchkey.MethodCert, CredentialID: "sha256:ab", ExpiresAt: expires}},
			{name: "disabled user", p: proven("lab", "DORA"), found: true, code: latchkey.EUNAUTHORIZED},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := *tt.p
				got, found, err := f.svc.Vouch(ctx, tt.p)
				if !reflect.DeepEqual(*tt.p, before) {
					t.Errorf("Vouch modified p: %+v, was %+v", *tt.p, before)
				}
				if found != tt.found || code(err) != tt.code {
					t.Fatalf("Vouch(%s\\%s) found %v, error %v; want found %v, code %q", tt.p.Directory, tt.p.Username, found, err, tt.found, tt.code)
				}
				switch {
				case tt.code != "":
					if got != nil || latchkey.ErrorMessage(err) != `The account LAB\dora is disabled.` {
						t.Errorf("refusal = %+v, %q", got, latchkey.ErrorMessage(err))
					}
				case tt.want == nil:
					if got != tt.p {
						t.Errorf("Vouch(unknown) = %+v, want p itself", got)
					}
				case got == tt.p:
					t.Error("Vouch returned p itself for a found user")
				case !reflect.DeepEqual(got, tt.want):
					t.Errorf("Vouch = %+v\nwant   %+v", got, tt.want)
				}
			})
		}
	})
}

// TestVouchAbsentFor: a name the store did not hold is taken as absent for
// AbsentFor (creating a user publishes no change), and then looked up again.
func TestVouchAbsentFor(t *testing.T) {
	onBackends(t, func(t *testing.T, newf func(t *testing.T) *fixture) {
		f := newf(t)
		clock := f.useClock()
		ctx := context.Background()
		p := &latchkey.Principal{Directory: "LAB", Username: "newcomer", Method: latchkey.MethodJWT}
		vouch := func() (*latchkey.Principal, bool) {
			t.Helper()
			got, found, err := f.svc.Vouch(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			return got, found
		}
		if _, found := vouch(); found {
			t.Fatal("found a user before there was one")
		}
		u := &latchkey.User{Directory: "LAB", Username: "newcomer", Roles: []string{latchkey.RoleAPIKeyUser}}
		if err := f.st.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		if got, found := vouch(); found || got != p {
			t.Fatal("a name found absent was looked up again before AbsentFor passed")
		}
		clock.advance(AbsentFor - time.Nanosecond)
		if _, found := vouch(); found {
			t.Fatal("a name found absent was looked up again before AbsentFor passed")
		}
		clock.advance(time.Nanosecond)
		got, found := vouch()
		if !found || got.UserID != u.ID || !got.Can(latchkey.AbilityAPIKeySignIn) {
			t.Fatalf("after AbsentFor: %+v, found %v", got, found)
		}
	})
}

// TestVouchDisableHeard: a disable heard on the change feed refuses the
// next Vouch at once, although the user was in memory, and an enable lets
// them in again.
func TestVouchDisableHeard(t *testing.T) {
	onBackends(t, func(t *testing.T, newf func(t *testing.T) *fixture) {
		f := newf(t)
		ctx := context.Background()
		u := f.addUser(t, "goran", latchkey.RoleAPIKeyUser)
		p := &latchkey.Principal{Directory: "LAB", Username: "goran", Method: latchkey.MethodCert}
		for _, disabled := range []bool{false, false, true, true, false} {
			if _, err := f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
				t.Fatal(err)
			}
			got, found, err := f.svc.Vouch(ctx, p)
			switch {
			case !found:
				t.Fatalf("disabled=%v: not found", disabled)
			case disabled && code(err) != latchkey.EUNAUTHORIZED:
				t.Fatalf("a disabled user: %+v, %v", got, err)
			case !disabled && (err != nil || got.UserID != u.ID || !slices.Contains(got.Roles, latchkey.RoleAPIKeyUser)):
				t.Fatalf("an enabled user: %+v, %v", got, err)
			}
		}
	})
}
