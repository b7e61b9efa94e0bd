package credential

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// storeChange is a change of one user made straight in the store, as the
// command line or another node would make it.
type storeChange struct {
	name string
	make func(t *testing.T, f *fixture, u *latchkey.User, keyID, sessionID string)
	// The error codes that the user's key, session and password get
	// afterwards ("": still accepted).
	key, session, password string
}

var storeChanges = []storeChange{
	{"disable", func(t *testing.T, f *fixture, u *latchkey.User, _, _ string) {
		disabled := true
		if _, err := f.st.UpdateUser(context.Background(), u.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
			t.Fatal(err)
		}
	}, latchkey.EUNAUTHORIZED, latchkey.EUNAUTHORIZED, latchkey.EUNAUTHORIZED},
	{"role revoke", func(t *testing.T, f *fixture, u *latchkey.User, _, _ string) {
		if err := f.st.RevokeRole(context.Background(), u.ID, latchkey.RoleAPIKeyUser, nil); err != nil {
			t.Fatal(err)
		}
	}, latchkey.EFORBIDDEN, "", ""},
	{"key revoke", func(t *testing.T, f *fixture, _ *latchkey.User, keyID, _ string) {
		if err := f.st.RevokeAPIKey(context.Background(), keyID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}, latchkey.EUNAUTHORIZED, "", ""},
	{"logout", func(t *testing.T, f *fixture, _ *latchkey.User, _, sessionID string) {
		if err := f.st.EndSession(context.Background(), sessionID, time.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}, "", latchkey.EUNAUTHORIZED, ""},
	{"password change", func(t *testing.T, f *fixture, u *latchkey.User, _, _ string) {
		hash, err := f.h.Hash(context.Background(), "another password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.UpdateUser(context.Background(), u.ID, latchkey.UserUpdate{PasswordHash: &hash}, nil); err != nil {
			t.Fatal(err)
		}
	}, "", "", latchkey.EUNAUTHORIZED},
}

// credentials of one user for the invariant tests.
type creds struct {
	u                  *latchkey.User
	key, keyID         string
	session, sessionID string
	login, password    string
}

func (f *fixture) creds(t *testing.T, name string) *creds {
	t.Helper()
	ctx := context.Background()
	u := f.addUser(t, name, latchkey.RoleAPIKeyUser)
	id, key, hash := MintAPIKey()
	now := time.Now()
	if err := f.st.CreateAPIKey(ctx, &latchkey.APIKey{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Hash: hash}); err != nil {
		t.Fatal(err)
	}
	token, sess, err := f.svc.OpenSession(ctx, &latchkey.Principal{UserID: u.ID}, ByPassword, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &creds{u: u, key: key, keyID: id, session: token, sessionID: sess.ID, login: `LAB\` + name, password: "password-" + name}
}

// checkAll says how each credential of c fares now.
func (f *fixture) checkAll(c *creds) (key, session, pw string) {
	ctx := context.Background()
	_, err := f.svc.VerifyAPIKey(ctx, c.key)
	key = code(err)
	_, _, err = f.svc.VerifySession(ctx, c.session)
	session = code(err)
	_, _, err = f.svc.SignIn(ctx, c.login, c.password, "192.0.2.9:1", latchkey.MethodBasic)
	pw = code(err)
	return key, session, pw
}

// TestSignInThenChange: whatever a user signed in with on this node after
// their key and session were cached, a change of the user reaches every
// one of their credentials at once. (Before the caches were stamped, a
// password sign-in replaced the user's cached entry, and a disable then
// reached only the new entry: the cached key kept working until its TTL.)
func TestSignInThenChange(t *testing.T) {
	signIns := []struct {
		name string
		do   func(f *fixture, c *creds) error
	}{
		{"login with password", func(f *fixture, c *creds) error {
			_, _, _, err := f.svc.Login(context.Background(), c.login, c.password, "192.0.2.9:1", "")
			return err
		}},
		{"basic with password", func(f *fixture, c *creds) error {
			_, _, err := f.svc.SignIn(context.Background(), c.login, c.password, "192.0.2.9:1", latchkey.MethodBasic)
			return err
		}},
		{"basic with the key", func(f *fixture, c *creds) error {
			_, _, err := f.svc.SignIn(context.Background(), c.login, c.key, "192.0.2.9:1", latchkey.MethodBasic)
			return err
		}},
		{"JWT or certificate vouched for", func(f *fixture, c *creds) error {
			_, found, err := f.svc.Vouch(context.Background(), &latchkey.Principal{Directory: c.u.Directory, Username: c.u.Username, Method: latchkey.MethodJWT})
			if err == nil && !found {
				err = fmt.Errorf("not found")
			}
			return err
		}},
	}
	for _, ch := range storeChanges {
		for _, si := range signIns {
			t.Run(ch.name+" after "+si.name, func(t *testing.T) {
				f := newFixture(t)
				c := f.creds(t, "goran")
				if k, s, p := f.checkAll(c); k != "" || s != "" || p != "" {
					t.Fatalf("before: key %q session %q password %q", k, s, p)
				}
				// A fresh user entry is made by a sign-in whose name is not
				// cached yet: forget the names, as their TTL would.
				f.svc.names.InvalidateAll()
				if err := si.do(f, c); err != nil {
					t.Fatalf("sign-in: %v", err)
				}
				ch.make(t, f, c.u, c.keyID, c.sessionID)
				k, s, p := f.checkAll(c)
				if k != ch.key || s != ch.session || p != ch.password {
					t.Errorf("after: key %q session %q password %q; want %q %q %q", k, s, p, ch.key, ch.session, ch.password)
				}
			})
		}
	}
}

// hookedStore is the real store with a function run once right after a
// read of the chosen kind returns: a change committed there has been read
// around by the load in progress.
type hookedStore struct {
	latchkey.Store
	mu    sync.Mutex
	after string
	hook  func()
}

func (h *hookedStore) fire(read string) {
	h.mu.Lock()
	fn := h.hook
	if read != h.after {
		fn = nil
	}
	if fn != nil {
		h.hook = nil
	}
	h.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (h *hookedStore) User(ctx context.Context, id int64) (*latchkey.User, error) {
	u, err := h.Store.User(ctx, id)
	h.fire("User")
	return u, err
}

func (h *hookedStore) UserByName(ctx context.Context, dir, name string) (*latchkey.User, error) {
	u, err := h.Store.UserByName(ctx, dir, name)
	h.fire("UserByName")
	return u, err
}

func (h *hookedStore) UserAccess(ctx context.Context, id int64) ([]string, []string, error) {
	r, a, err := h.Store.UserAccess(ctx, id)
	h.fire("UserAccess")
	return r, a, err
}

func (h *hookedStore) APIKey(ctx context.Context, id string) (*latchkey.APIKey, error) {
	k, err := h.Store.APIKey(ctx, id)
	h.fire("APIKey")
	return k, err
}

func (h *hookedStore) SessionByHash(ctx context.Context, hash []byte) (*latchkey.Session, error) {
	s, err := h.Store.SessionByHash(ctx, hash)
	h.fire("SessionByHash")
	return s, err
}

// TestLoadRacingChange commits each change in the middle of each load, after
// each of the store reads a load makes: the load's answer may be the old
// one (it started first), but no check after it may be.
func TestLoadRacingChange(t *testing.T) {
	loads := []struct {
		name  string
		reads []string
		do    func(f *fixture, c *creds)
	}{
		{"key", []string{"APIKey", "User", "UserAccess"}, func(f *fixture, c *creds) { f.svc.VerifyAPIKey(context.Background(), c.key) }},
		{"session", []string{"SessionByHash", "User", "UserAccess"}, func(f *fixture, c *creds) { f.svc.VerifySession(context.Background(), c.session) }},
		{"password", []string{"UserByName", "UserAccess"}, func(f *fixture, c *creds) {
			f.svc.SignIn(context.Background(), c.login, c.password, "192.0.2.9:1", latchkey.MethodBasic)
		}},
	}
	for _, ch := range storeChanges {
		for _, l := range loads {
			for _, read := range l.reads {
				t.Run(fmt.Sprintf("%s during %s load after %s", ch.name, l.name, read), func(t *testing.T) {
					f := newFixture(t)
					hs := &hookedStore{Store: f.st}
					f.svc.store = hs
					c := f.creds(t, "goran")
					hs.mu.Lock()
					hs.after, hs.hook = read, func() { ch.make(t, f, c.u, c.keyID, c.sessionID) }
					hs.mu.Unlock()
					l.do(f, c)
					if hs.hook != nil {
						t.Fatalf("the load made no %s read", read)
					}
					k, s, p := f.checkAll(c)
					if k != ch.key || s != ch.session || p != ch.password {
						t.Errorf("after: key %q session %q password %q; want %q %q %q", k, s, p, ch.key, ch.session, ch.password)
					}
				})
			}
		}
	}
}
