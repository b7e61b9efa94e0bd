package credential

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"net"

	"github.com/latchkey/latchkey"
)

// Ways a sign-in was proved, as sessions record them.
const (
	ByPassword = "password"
	ByAPIKey   = "apikey"
)

var (
	errBadLogin = latchkey.Errorf(latchkey.EUNAUTHORIZED, "The username or password is not correct.")
	errTooMany  = latchkey.Errorf(latchkey.ERATELIMITED, "Too many failed sign-ins; wait a few minutes and try again.")
)

// SignIn checks a login name ("DIR\user" or "user") with a password or an
// API key, as a login form and HTTP Basic send them, and returns the
// principal with the given method, and how it was proved (ByPassword or
// ByAPIKey).
//
// Failures answer alike whether or not the user exists: unknown users are
// checked against a dummy hash at full cost, and failed attempts are counted
// per account name and per client address, which are refused for a while
// (429) once they fail too often. A successful password check is remembered
// briefly, keyed by a hash of user, stored hash and password.
func (s *Service) SignIn(ctx context.Context, login, secret, remote, method string) (*latchkey.Principal, string, error) {
	now := s.now()
	acct, addr := accountKey(s, login), addressKey(remote)
	if s.accounts.blocked(acct, now) || s.addresses.blocked(addr, now) {
		return nil, "", errTooMany
	}
	p, how, err := s.signIn(ctx, login, acct, addr, secret, method)
	if err != nil {
		if code := latchkey.ErrorCode(err); code == latchkey.EUNAUTHORIZED || code == latchkey.EFORBIDDEN {
			s.accounts.fail(acct, now)
			s.addresses.fail(addr, now)
			name := login
			if len(name) > 128 {
				name = name[:128]
			}
			s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginFailure, Actor: name, Method: method,
				RemoteAddr: remote, Detail: latchkey.ErrorMessage(err)})
		}
		return nil, "", err
	}
	return p, how, nil
}

// signIn checks the secret; acct is accountKey(s, login), made once per
// sign-in, and addr addressKey of the client's address.
func (s *Service) signIn(ctx context.Context, login, acct, addr, secret, method string) (*latchkey.Principal, string, error) {
	if _, isKey := ParseAPIKey(secret); isKey {
		e, err := s.verifyKey(ctx, secret)
		if err != nil {
			return nil, "", err
		}
		u, err := s.userByKey(ctx, login, acct)
		if err != nil || u.user.ID != e.key.UserID {
			return nil, "", errBadLogin // a valid key, but not this user's
		}
		return e.user.principal(method, e.key.ID, e.key.ReadOnly, e.key.ExpiresAt), ByAPIKey, nil
	}
	u, err := s.userByKey(ctx, login, acct)
	if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		return nil, "", err
	}
	// A check that waited for its turn to hash is dropped if the limits
	// were reached meanwhile (by the checks ahead of it).
	admit := func() error {
		if now := s.now(); s.accounts.blocked(acct, now) || s.addresses.blocked(addr, now) {
			return errTooMany
		}
		return nil
	}
	if err != nil || u.user.PasswordHash == "" || u.user.Disabled {
		// The same cost, and the same refusals, as a real check.
		if _, err := s.hasher.VerifyAdmitted(ctx, s.dummyHash, secret, admit); err != nil {
			return nil, "", err
		}
		return nil, "", errBadLogin
	}
	ck := s.passwordCacheKey(u.user.ID, secret)
	if c, ok := s.passwords.GetIfPresent(ck); ok && c.userID == u.user.ID && c.hash == u.user.PasswordHash {
		return u.passwordPrincipal(method), ByPassword, nil
	}
	gen := s.gen.Load()
	ok, err := s.hasher.VerifyAdmitted(ctx, u.user.PasswordHash, secret, admit)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", errBadLogin
	}
	if s.gen.Load() == gen {
		s.passwords.Set(ck, passwordCheck{userID: u.user.ID, hash: u.user.PasswordHash})
	}
	return u.passwordPrincipal(method), ByPassword, nil
}

// passwordCheck is a password found right: whose, and against which stored
// hash, so that a changed password (a new hash) no longer matches.
type passwordCheck struct {
	userID int64
	hash   string
}

// passwordCacheKey derives the password cache's key from this process's
// random key, the user id and the password, so the cache holds nothing from
// which a password could be read. With a 16-byte key, passwords up to 31
// bytes take one SHA-256 block.
func (s *Service) passwordCacheKey(userID int64, pw string) [32]byte {
	var stack [128]byte // enough for most; a longer password spills to the heap
	buf := append(stack[:0], s.cacheKey...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(userID))
	buf = append(buf, pw...)
	return sha256.Sum256(buf)
}

// Login signs in and opens a session: POST /api/v1/login. It returns the
// principal of the session, its token and the session.
func (s *Service) Login(ctx context.Context, login, secret, remote, userAgent string) (*latchkey.Principal, string, *latchkey.Session, error) {
	p, how, err := s.SignIn(ctx, login, secret, remote, latchkey.MethodSession)
	if err != nil {
		return nil, "", nil, err
	}
	token, sess, err := s.OpenSession(ctx, p, how, p.CredentialID, remote, userAgent)
	if err != nil {
		return nil, "", nil, err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginSuccess, Actor: p.QualifiedName(), ActorID: p.UserID,
		Target: sess.ID, Method: how, CredentialID: p.CredentialID, RemoteAddr: remote})
	u, err := s.user(ctx, p.UserID)
	if err != nil {
		return nil, "", nil, err
	}
	return u.principal(latchkey.MethodSession, sess.ID, sess.ReadOnly, sess.ExpiresAt), token, sess, nil
}

// accountKey is the key of a login name: its directory and username in
// lower case. It counts failures and finds the user in the name cache.
func accountKey(s *Service, login string) string {
	dir, name := s.SplitLogin(login)
	return latchkey.NameKey(dir) + "\x00" + latchkey.NameKey(name)
}

// addressKey is the client's IP address without its port.
func addressKey(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
