package credential

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// The tests of the floor (versions.changedAll): the changes that may touch
// every user, a role's abilities changed, a role deleted and a resync of the
// feed, reach every decision cached before them, and every decision whose
// load they overlapped, at once.

// reporter makes the custom role "reporter" with the ability report.read
// (report.write exists too, unheld), and a user holding it besides
// apikey-user, with an API key, a session and a password.
func (f *fixture) reporter(t *testing.T, name string) *creds {
	t.Helper()
	ctx := context.Background()
	for _, a := range []string{"report.read", "report.write"} {
		if err := f.st.CreateAbility(ctx, &latchkey.Ability{Name: a}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.CreateRole(ctx, &latchkey.Role{Name: "reporter", Abilities: []string{"report.read"}}, nil); err != nil {
		t.Fatal(err)
	}
	c := f.creds(t, name)
	if err := f.st.GrantRole(ctx, c.u.ID, "reporter", nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// decision is one way a request is decided for the holder of a credential.
type decision struct {
	name  string
	reads []string // the store reads of its load, in order
	do    func(f *fixture, c *creds) (*latchkey.Principal, error)
}

var decisions = []decision{
	{"api key", []string{"APIKey", "User", "UserAccess"}, func(f *fixture, c *creds) (*latchkey.Principal, error) {
		return f.svc.VerifyAPIKey(context.Background(), c.key)
	}},
	{"session", []string{"SessionByHash", "User", "UserAccess"}, func(f *fixture, c *creds) (*latchkey.Principal, error) {
		p, _, err := f.svc.VerifySession(context.Background(), c.session)
		return p, err
	}},
	{"basic password", []string{"UserByName", "UserAccess"}, func(f *fixture, c *creds) (*latchkey.Principal, error) {
		p, _, err := f.svc.SignIn(context.Background(), c.login, c.password, "192.0.2.9:1", latchkey.MethodBasic)
		return p, err
	}},
	{"vouch", []string{"UserByName", "UserAccess"}, func(f *fixture, c *creds) (*latchkey.Principal, error) {
		return vouchFor(f, c.u.Directory, c.u.Username)
	}},
}

// vouchFor is Vouch for DIR\user as a JWT names them; a user the store
// does not hold is an error.
func vouchFor(f *fixture, dir, user string) (*latchkey.Principal, error) {
	p, found, err := f.svc.Vouch(context.Background(), &latchkey.Principal{Directory: dir, Username: user, Method: latchkey.MethodJWT})
	if err == nil && !found {
		err = fmt.Errorf(`the store does not hold %s\%s`, dir, user)
	}
	return p, err
}

// seen is what a decision says of reporter's holder.
type seen struct {
	reports  string // the report.* abilities, comma-separated
	reporter bool   // holds the role
	name     string // display name
}

func seenIn(p *latchkey.Principal) seen {
	var reports []string
	for _, a := range p.Abilities {
		if strings.HasPrefix(a, "report.") {
			reports = append(reports, a)
		}
	}
	return seen{strings.Join(reports, ","), slices.Contains(p.Roles, "reporter"), p.DisplayName}
}

// decide runs d and returns what it saw; a refusal fails the test.
func (f *fixture) decide(t *testing.T, d decision, c *creds) seen {
	t.Helper()
	p, err := d.do(f, c)
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	return seenIn(p)
}

// expectAll checks that every decision sees want, twice (the second from
// memory, where the first one cached).
func (f *fixture) expectAll(t *testing.T, when string, c *creds, want seen) {
	t.Helper()
	for range 2 {
		for _, d := range decisions {
			if got := f.decide(t, d, c); got != want {
				t.Errorf("%s, %s saw %+v, want %+v", when, d.name, got, want)
			}
		}
	}
}

// floorChange is a change that may touch every user.
type floorChange struct {
	name string
	make func(t *testing.T, f *fixture)
	want seen // what reporter's holder is afterwards
}

var before = seen{reports: "report.read", reporter: true}

var roleChanges = []floorChange{
	{"role abilities set", func(t *testing.T, f *fixture) {
		if _, err := f.st.UpdateRole(context.Background(), "reporter", latchkey.RoleUpdate{Abilities: &[]string{"report.write"}}, nil); err != nil {
			t.Fatal(err)
		}
	}, seen{reports: "report.write", reporter: true}},
	{"role deleted", func(t *testing.T, f *fixture) {
		if err := f.st.DeleteRole(context.Background(), "reporter", nil); err != nil {
			t.Fatal(err)
		}
	}, seen{}},
}

// behindTheBack changes rows straight in the database, so that no change is
// published: reporter gets report.write for report.read, and the user of c
// is renamed.
func behindTheBack(t *testing.T, f *fixture, c *creds) {
	f.exec(t, `UPDATE role_abilities SET ability = 'report.write' WHERE role = 'reporter'`)
	f.exec(t, `UPDATE users SET display_name = 'Renamed' WHERE id = `+fmt.Sprint(c.u.ID))
}

var afterBehindTheBack = seen{reports: "report.write", reporter: true, name: "Renamed"}

// resync delivers a resync on the feed, as a backend does after a gap in
// what it heard.
func resync(f *fixture) { f.feed.Publish(latchkey.Change{Kind: latchkey.ChangeResync}) }

// TestRoleChangeReachesDecisions: once a role's abilities are set or the
// role is deleted, the next API key, session, Basic password and Vouch
// decision of its holder sees it, synchronously after the store call
// returns — whether the decision was cached before the change or its load
// overlapped the change (committed after each of its store reads). A user
// found absent before is looked up again too.
func TestRoleChangeReachesDecisions(t *testing.T) {
	onBackends(t, func(t *testing.T, newf func(t *testing.T) *fixture) {
		for _, ch := range roleChanges {
			t.Run(ch.name+" after caching", func(t *testing.T) {
				t.Parallel()
				f := newf(t)
				c := f.reporter(t, "goran")
				if _, err := vouchFor(f, "LAB", "newbie"); err == nil {
					t.Fatal("found newbie before there was one")
				}
				f.expectAll(t, "before", c, before)
				newbie := &latchkey.User{Directory: "LAB", Username: "newbie", Roles: []string{"reporter"}}
				if err := f.st.CreateUser(context.Background(), newbie, nil); err != nil { // publishes no change
					t.Fatal(err)
				}
				ch.make(t, f)
				f.expectAll(t, "after", c, ch.want)
				p, err := vouchFor(f, "LAB", "newbie")
				if err != nil || seenIn(p) != ch.want {
					t.Errorf("newbie, found absent before the change: %+v, %v; want %+v", p, err, ch.want)
				}
			})
			racingLoads(t, newf, ch.name, func(t *testing.T, f *fixture, _ *creds) { ch.make(t, f) }, ch.want)
		}
	})
}

// TestResyncReloadsEverything: a resync heard on the feed makes every
// cached decision be read from the store again: rows changed behind the
// service's back, which published no change and were not seen until then,
// are seen by the next API key, session, Basic password and Vouch decision,
// a user created meanwhile is found, and a load that the resync overlapped
// is not used afterwards.
func TestResyncReloadsEverything(t *testing.T) {
	onBackends(t, func(t *testing.T, newf func(t *testing.T) *fixture) {
		t.Run("after caching", func(t *testing.T) {
			t.Parallel()
			f := newf(t)
			c := f.reporter(t, "goran")
			if _, err := vouchFor(f, "LAB", "newbie"); err == nil {
				t.Fatal("found newbie before there was one")
			}
			f.expectAll(t, "before", c, before)
			behindTheBack(t, f, c)
			newbie := &latchkey.User{Directory: "LAB", Username: "newbie", Roles: []string{"reporter"}}
			if err := f.st.CreateUser(context.Background(), newbie, nil); err != nil {
				t.Fatal(err)
			}
			// Nothing was heard: every decision is still answered from
			// memory, so what follows proves the resync.
			f.expectAll(t, "before the resync", c, before)
			if _, err := vouchFor(f, "LAB", "newbie"); err == nil {
				t.Fatal("newbie, found absent, was looked up again before the resync")
			}
			resync(f)
			f.expectAll(t, "after the resync", c, afterBehindTheBack)
			p, err := vouchFor(f, "LAB", "newbie")
			if want := (seen{reports: "report.write", reporter: true}); err != nil || seenIn(p) != want {
				t.Errorf("newbie after the resync: %+v, %v; want %+v", p, err, want)
			}
		})
		racingLoads(t, newf, "resync", func(t *testing.T, f *fixture, c *creds) {
			behindTheBack(t, f, c)
			resync(f)
		}, afterBehindTheBack)
	})
}

// racingLoads runs, for each decision and each store read of its load, a
// subtest in which change is made right after that read: the decision
// itself may see the state before or after, but the next one must see want.
func racingLoads(t *testing.T, newf func(t *testing.T) *fixture, name string, change func(t *testing.T, f *fixture, c *creds), want seen) {
	for _, d := range decisions {
		for _, read := range d.reads {
			t.Run(fmt.Sprintf("%s during %s load after %s", name, d.name, read), func(t *testing.T) {
				t.Parallel()
				f := newf(t)
				hs := &hookedStore{Store: f.st}
				f.svc.store = hs
				c := f.reporter(t, "goran")
				hs.mu.Lock()
				hs.after, hs.hook = read, func() { change(t, f, c) }
				hs.mu.Unlock()
				if _, err := d.do(f, c); err != nil {
					t.Fatalf("the racing %s: %v", d.name, err)
				}
				hs.mu.Lock()
				fired := hs.hook == nil
				hs.mu.Unlock()
				if !fired {
					t.Fatalf("the %s load made no %s read", d.name, read)
				}
				if got := f.decide(t, d, c); got != want {
					t.Errorf("after the change, %s saw %+v, want %+v", d.name, got, want)
				}
			})
		}
	}
}
