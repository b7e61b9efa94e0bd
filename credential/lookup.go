package credential

import (
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

// AccessGeneration changes whenever what a user is or may do may have
// changed: a user, their roles or a role's abilities, on any node, or a
// resync of the change feed. A principal made from Access stays right while
// it does not change (and, for a user Access did not find, for AbsentFor).
func (s *Service) AccessGeneration() uint64 { return s.accessGen.Load() }

// Access finds the user DIRECTORY\username (compared case-insensitively)
// with their roles and abilities, from memory when seen recently, for a
// caller authenticated elsewhere, such as by a JWT. found is false, with no
// error, when the store has no such user. The user and slices are shared
// and must not be modified.
func (s *Service) Access(ctx context.Context, directory, username string) (u *latchkey.User, roles, abilities []string, found bool, err error) {
	if directory == "" || username == "" || strings.Contains(directory, `\`) {
		return nil, nil, nil, false, nil
	}
	key := latchkey.NameKey(directory) + "\x00" + latchkey.NameKey(username)
	if st, ok := s.absent.GetIfPresent(key); ok && s.v.fresh(&st) {
		return nil, nil, nil, false, nil
	}
	st := s.v.begin()
	e, err := s.userByKey(ctx, directory+`\`+username, key)
	switch {
	case latchkey.ErrorCode(err) == latchkey.ENOTFOUND:
		s.absent.Set(key, st)
		return nil, nil, nil, false, nil
	case err != nil:
		return nil, nil, nil, false, err
	}
	return e.user, e.roles, e.abilities, true, nil
}
