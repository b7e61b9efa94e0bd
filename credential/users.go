package credential

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
)

// userEntry is a user as last read, with roles and abilities. Key and
// session entries built on it carry its stamp in theirs.
type userEntry struct {
	user      *latchkey.User
	roles     []string
	abilities []string
	stamp     stamp
	// signedIn is the principal of the user's last password sign-in (no
	// credential id, no expiry), shared by the sign-ins that follow with
	// the same method; the entry is replaced when the user changes.
	signedIn atomic.Pointer[latchkey.Principal]
}

// passwordPrincipal returns the principal of a password sign-in with method.
func (u *userEntry) passwordPrincipal(method string) *latchkey.Principal {
	if p := u.signedIn.Load(); p != nil && p.Method == method {
		return p
	}
	p := u.principal(method, "", false, zeroTime)
	u.signedIn.Store(p)
	return p
}

// principal returns a new principal for the user, authenticated by method.
func (u *userEntry) principal(method, credentialID string, readOnly bool, expires time.Time) *latchkey.Principal {
	return &latchkey.Principal{
		UserID:       u.user.ID,
		Directory:    u.user.Directory,
		Username:     u.user.Username,
		DisplayName:  u.user.DisplayName,
		Email:        u.user.Email,
		Groups:       u.user.Groups,
		Roles:        u.roles,
		Abilities:    u.abilities,
		Method:       method,
		CredentialID: credentialID,
		ReadOnly:     readOnly,
		ExpiresAt:    expires,
	}
}

// user returns the user with roles and abilities, from memory when seen
// recently.
func (s *Service) user(ctx context.Context, id int64) (*userEntry, error) {
	if e, ok := s.users.GetIfPresent(id); ok && s.v.fresh(&e.stamp) {
		return e, nil
	}
	st := s.v.begin(userSlot(id))
	u, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.cacheUser(ctx, u, st)
}

// cacheUser reads the roles of u, which was read with stamp st, and caches
// the entry.
func (s *Service) cacheUser(ctx context.Context, u *latchkey.User, st stamp) (*userEntry, error) {
	roles, abilities, err := s.store.UserAccess(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	e := &userEntry{user: u, roles: roles, abilities: abilities, stamp: st}
	s.users.Set(u.ID, e)
	return e, nil
}

// userByLogin finds a user by the name they sign in with: "DIR\user", or a
// bare username in the default directory. ENOTFOUND when there is none.
func (s *Service) userByLogin(ctx context.Context, login string) (*userEntry, error) {
	return s.userByKey(ctx, login, accountKey(s, login))
}

// userByKey is userByLogin with the login's accountKey made already.
func (s *Service) userByKey(ctx context.Context, login, key string) (*userEntry, error) {
	dir, name := s.SplitLogin(login)
	return s.userByName(ctx, dir, name, key)
}

// userByName is userByKey with the login split already: the directory,
// the username and their accountKey.
func (s *Service) userByName(ctx context.Context, dir, name, key string) (*userEntry, error) {
	if n, ok := s.names.GetIfPresent(key); ok && s.v.fresh(&n.stamp) {
		return s.user(ctx, n.id)
	}
	st := s.v.begin() // the user's slot is known once it is read
	u, err := s.store.UserByName(ctx, dir, name)
	if err != nil {
		return nil, err
	}
	st = st.with(userSlot(u.ID))
	e, err := s.cacheUser(ctx, u, st)
	if err == nil {
		s.names.Set(key, nameEntry{id: u.ID, stamp: st})
	}
	return e, err
}

// nameEntry is the user id a login name was found to have.
type nameEntry struct {
	id    int64
	stamp stamp
}

// SplitLogin splits "DIR\user" into directory and username; a name without
// a backslash is in the default directory.
func (s *Service) SplitLogin(login string) (directory, username string) {
	if dir, name, ok := strings.Cut(login, `\`); ok {
		return dir, name
	}
	return s.cfg.DefaultDirectory, login
}

// UserByLogin is userByLogin for callers outside the package.
func (s *Service) UserByLogin(ctx context.Context, login string) (*latchkey.User, error) {
	e, err := s.userByLogin(ctx, login)
	if err != nil {
		return nil, err
	}
	return e.user, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

var zeroTime time.Time
