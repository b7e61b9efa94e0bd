package credential

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// AbsentFor is how long a user found absent from the store is taken as
// absent, so that the many users of an identity provider who are not in
// the store do not each cost a query per request. A user created meanwhile
// gets their roles after at most this long.
const AbsentFor = 30 * time.Second

// absentEntry is a DIRECTORY\user name that the store did not hold: read
// with stamp, and taken as absent until until (by the service's clock).
type absentEntry struct {
	stamp stamp
	until time.Time
}

// AccessGeneration changes whenever what a user is or may do may have
// changed: a user, their roles or a role's abilities, on any node, or a
// resync of the change feed. A principal that Vouch made stays right while
// it does not change (and, for a user Vouch did not find, for AbsentFor).
func (s *Service) AccessGeneration() uint64 { return s.accessGen.Load() }

// Vouch completes the principal of a caller whose identity another method
// proved (a JWT, a client certificate). A user the store holds under the
// same DIRECTORY\user (compared case-insensitively) lends the principal
// their id, their directory and username as the store spells them, their
// roles and abilities, and their display name, email and groups where p has
// none; a disabled one is refused (EUNAUTHORIZED, "The account X is
// disabled."). found says whether the store holds the user; when it does
// not, out is p itself. p is never modified: a user found yields a new
// principal, whose slices are shared with the cache and must not be
// modified either. Users are read from memory when seen recently, and a
// name the store does not hold is remembered as absent for AbsentFor.
func (s *Service) Vouch(ctx context.Context, p *latchkey.Principal) (out *latchkey.Principal, found bool, err error) {
	e, err := s.lookup(ctx, p.Directory, p.Username)
	switch {
	case err != nil:
		return nil, false, err
	case e == nil:
		return p, false, nil
	case e.user.Disabled:
		return nil, true, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The account %s is disabled.", e.user.QualifiedName())
	}
	u := e.user
	q := *p
	q.UserID, q.Directory, q.Username = u.ID, u.Directory, u.Username
	q.DisplayName, q.Email = cmp.Or(p.DisplayName, u.DisplayName), cmp.Or(p.Email, u.Email)
	if len(q.Groups) == 0 {
		q.Groups = u.Groups
	}
	q.Roles, q.Abilities = e.roles, e.abilities
	return &q, true, nil
}

// lookup finds the user DIRECTORY\username (compared case-insensitively)
// with their roles and abilities, from memory when seen recently. It
// returns nil, with no error, when the store has no such user (or the name
// cannot be one).
func (s *Service) lookup(ctx context.Context, directory, username string) (*userEntry, error) {
	if directory == "" || username == "" || strings.Contains(directory, `\`) {
		return nil, nil
	}
	key := latchkey.NameKey(directory) + "\x00" + latchkey.NameKey(username)
	if a, ok := s.absent.GetIfPresent(key); ok && s.v.fresh(&a.stamp) && s.now().Before(a.until) {
		return nil, nil
	}
	st := s.v.begin()
	e, err := s.userByName(ctx, directory, username, key)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		s.absent.Set(key, absentEntry{stamp: st, until: s.now().Add(AbsentFor)})
		return nil, nil
	case err != nil:
		return nil, err
	}
	return e, nil
}
