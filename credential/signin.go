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
// briefly, keyed by a hash of the login name and password, until the user
// changes; the limits apply to it too.
func (s *Service) SignIn(ctx context.Context, login, secret, remote, method string) (*latchkey.Principal, string, error) {
	return s.signInAs(ctx, claimant{login: login}, secret, remote, method) // acct: made when needed
}

// claimant is who a sign-in claims to be: a login name, or an email (the
// JWT login), with the key its failures are counted under. An email is
// counted under its own key whether or not a user has it, never under the
// name of the user it belongs to: otherwise a name locked out by other
// sign-ins would show which email is that user's.
type claimant struct {
	login string // the login name, or the email as given
	acct  string // accountKey of the login (made by signInAs when "": a remembered password needs none), or emailKey of the email
	email bool   // login is an email
}

// signInAs is SignIn for a claimant. Known and unknown claimants, names
// and emails, take the same steps in the same order, so that the answers
// (and their timing) cannot tell them apart.
func (s *Service) signInAs(ctx context.Context, c claimant, secret, remote, method string) (*latchkey.Principal, string, error) {
	now := s.now()
	addr := addressKey(remote)
	if pc := s.rememberedPassword(c, secret); pc != nil {
		if s.accounts.blocked(pc.acct, now) || s.addresses.blocked(addr, now) {
			return nil, "", errTooMany
		}
		return pc.user.passwordPrincipal(method), ByPassword, nil
	}
	if c.acct == "" {
		c.acct = accountKey(s, c.login)
	}
	if s.accounts.blocked(c.acct, now) || s.addresses.blocked(addr, now) {
		return nil, "", errTooMany
	}
	p, how, err := s.signIn(ctx, c, addr, secret, method)
	if err != nil {
		if code := latchkey.ErrorCode(err); code == latchkey.EUNAUTHORIZED || code == latchkey.EFORBIDDEN {
			s.accounts.fail(c.acct, now)
			s.addresses.fail(addr, now)
			name := c.login
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

// claimed returns the user the claimant names; ENOTFOUND when there is none.
func (s *Service) claimed(ctx context.Context, c claimant) (*userEntry, error) {
	if !c.email {
		return s.userByKey(ctx, c.login, c.acct)
	}
	if c.login == "" || len(c.login) > 256 {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No such user.")
	}
	st := s.v.begin() // the user's slot is known once it is read
	u, err := s.store.UserByEmail(ctx, c.login)
	if err != nil {
		return nil, err
	}
	return s.cacheUser(ctx, u, st.with(userSlot(u.ID)))
}

// signIn checks the secret; addr is addressKey of the client's address.
func (s *Service) signIn(ctx context.Context, c claimant, addr, secret, method string) (*latchkey.Principal, string, error) {
	if _, isKey := ParseAPIKey(secret); isKey {
		e, err := s.verifyKey(ctx, secret)
		if err != nil {
			return nil, "", err
		}
		u, err := s.claimed(ctx, c)
		if err != nil || u.user.ID != e.key.UserID {
			return nil, "", errBadLogin // a valid key, but not this user's
		}
		p := e.user.principal(method, e.key.ID, e.key.ReadOnly, e.key.ExpiresAt)
		p.RateLimit, p.RateLimitID = e.key.RateLimit, e.key.ID // a key as a password keeps its limit
		return p, ByAPIKey, nil
	}
	u, err := s.claimed(ctx, c)
	if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		return nil, "", err
	}
	// A check that waited for its turn to hash is dropped if the limits
	// were reached meanwhile (by the checks ahead of it).
	admit := func() error {
		if now := s.now(); s.accounts.blocked(c.acct, now) || s.addresses.blocked(addr, now) {
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
	ok, err := s.hasher.VerifyAdmitted(ctx, u.user.PasswordHash, secret, admit)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", errBadLogin
	}
	// The check holds for as long as the user entry it was made against is
	// fresh: a new password, a disable, a role change make it stale.
	s.passwords.Set(s.passwordCacheKey(c, secret), &passwordCheck{user: u, acct: c.acct})
	return u.passwordPrincipal(method), ByPassword, nil
}

// passwordCheck is a password found right for a login name: whose, and the
// name's accountKey (for the limits).
type passwordCheck struct {
	user *userEntry
	acct string
}

// rememberedPassword returns the check that found secret right for the claimant,
// if there was one lately and the user has not changed since.
func (s *Service) rememberedPassword(c claimant, secret string) *passwordCheck {
	if _, isKey := ParseAPIKey(secret); isKey {
		return nil
	}
	pc, ok := s.passwords.GetIfPresent(s.passwordCacheKey(c, secret))
	if !ok || !s.v.fresh(&pc.user.stamp) || pc.user.user.Disabled {
		return nil
	}
	return pc
}

// passwordCacheKey derives the password cache's key from this process's
// random key, the claimant (a login name, or an email) and the password, so
// the cache holds nothing from which a password could be read. With a
// 16-byte key, a login name and password of up to 37 bytes together take
// one SHA-256 block.
func (s *Service) passwordCacheKey(c claimant, pw string) [32]byte {
	var stack [128]byte // enough for most; longer ones spill to the heap
	buf := append(stack[:0], s.cacheKey...)
	if c.email {
		buf = append(buf, 'e')
	} else {
		buf = append(buf, 'n')
	}
	buf = binary.AppendUvarint(buf, uint64(len(c.login)))
	buf = append(buf, c.login...)
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
		Target: sess.ID, SubjectID: p.UserID, Method: how, CredentialID: p.CredentialID, RemoteAddr: remote})
	u, err := s.user(ctx, p.UserID)
	if err != nil {
		return nil, "", nil, err
	}
	return u.principal(latchkey.MethodSession, sess.ID, sess.ReadOnly, sess.ExpiresAt), token, sess, nil
}

// emailKey is the key of an email, as the JWT login counts its failures:
// apart from every login name's.
func emailKey(email string) string { return "email\x00" + latchkey.NameKey(email) }

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
