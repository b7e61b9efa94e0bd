package credential

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
)

// Sign-ins that involve JWTs: the JWT login (seed 002) finds the user by
// email and hands the principal to latchkey's issuer; the JWT session
// exchange (seed 000, Qlik Cloud) turns a verified token into a session,
// creating its user on first sight. Sessions opened so are protected by a
// CSRF token derived from the session token.

// ByJWT is how a session opened with a JWT was proved, as sessions record it.
const ByJWT = latchkey.MethodJWT

// SignInByEmail checks an email with a password or an API key, for the JWT
// login, and returns the principal (method "jwt") and how it was proved. It
// takes SignIn's steps (regulation per client address, failures alike
// whether or not the email is known, unknown ones checked against the dummy
// hash, every attempt audited), with one difference: failures are counted
// per email, known or not, rather than per the name of the user who has it,
// so that a lockout says nothing of which user an email belongs to.
func (s *Service) SignInByEmail(ctx context.Context, email, secret, remote string) (*latchkey.Principal, string, error) {
	p, how, err := s.signInAs(ctx, claimant{login: email, acct: emailKey(email), email: true}, secret, remote, latchkey.MethodJWT)
	if err != nil {
		return nil, "", err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginSuccess, Actor: p.QualifiedName(), ActorID: p.UserID,
		SubjectID: p.UserID, Method: how, CredentialID: p.CredentialID, RemoteAddr: remote, Detail: "JWT login"})
	return p, how, nil
}

// JWTIdentity is who a verified token names, for OpenJWTSession.
type JWTIdentity struct {
	Directory string // where the user is found or created
	Username  string // the token's user claim
	Name      string
	Email     string
	Groups    []string  // replace the user's groups when not empty
	JTI       string    // the token's id: one session per token
	ExpiresAt time.Time // the token's exp: until then its id stays used
}

// OpenJWTSession opens a session for a verified token (POST
// /login/jwt-session). The token's id must not have been used before. The
// user is found in id.Directory, or created there on first sight, and their
// name, email and groups follow the token's. It returns the principal of the
// session (method "session"), its token and the session, whose Method is
// "jwt" and CredentialID the token's id.
func (s *Service) OpenJWTSession(ctx context.Context, id JWTIdentity, remote, userAgent string) (*latchkey.Principal, string, *latchkey.Session, error) {
	switch {
	case id.JTI == "":
		return nil, "", nil, latchkey.Errorf(latchkey.EINVALID, "The token has no jti claim; each token needs a unique one.")
	case id.ExpiresAt.IsZero():
		return nil, "", nil, latchkey.Errorf(latchkey.EINVALID, "The token has no exp claim.")
	case id.Username == "":
		return nil, "", nil, latchkey.Errorf(latchkey.EINVALID, "The token does not name a user.")
	}
	fail := func(err error) (*latchkey.Principal, string, *latchkey.Session, error) {
		s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginFailure, Actor: id.Directory + `\` + id.Username,
			Method: ByJWT, CredentialID: id.JTI, RemoteAddr: remote, Detail: latchkey.ErrorMessage(err)})
		return nil, "", nil, err
	}
	fresh, err := s.store.UseJTI(ctx, id.JTI, id.ExpiresAt)
	if err != nil {
		return nil, "", nil, err
	}
	if !fresh {
		return fail(latchkey.Errorf(latchkey.EUNAUTHORIZED, "This token has been used already: each token opens one session; make a new one with a new jti."))
	}
	u, err := s.jwtUser(ctx, id, remote)
	if err != nil {
		return nil, "", nil, err
	}
	if u.Disabled {
		return fail(latchkey.Errorf(latchkey.EUNAUTHORIZED, "The account %s is disabled.", u.QualifiedName()))
	}
	e, err := s.user(ctx, u.ID)
	if err != nil {
		return nil, "", nil, err
	}
	token, sess, err := s.OpenSession(ctx, e.principal(latchkey.MethodSession, "", false, zeroTime), ByJWT, id.JTI, remote, userAgent)
	if err != nil {
		return nil, "", nil, err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditLoginSuccess, Actor: u.QualifiedName(), ActorID: u.ID,
		Target: sess.ID, SubjectID: u.ID, Method: ByJWT, CredentialID: id.JTI, RemoteAddr: remote})
	return e.principal(latchkey.MethodSession, sess.ID, sess.ReadOnly, sess.ExpiresAt), token, sess, nil
}

// jwtUser finds the user a token names, or creates it, and brings its name,
// email and groups up to date with the token (a disabled user is left as it
// is).
func (s *Service) jwtUser(ctx context.Context, id JWTIdentity, remote string) (*latchkey.User, error) {
	u, err := s.store.UserByName(ctx, id.Directory, id.Username)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		u = &latchkey.User{Directory: id.Directory, Username: id.Username, DisplayName: id.Name, Email: id.Email, Groups: id.Groups}
		if err = u.Validate(); err != nil {
			return nil, err
		}
		err = s.store.CreateUser(ctx, u, &latchkey.AuditEvent{Time: s.now(), Action: latchkey.AuditUserCreate,
			Actor: u.QualifiedName(), Target: u.QualifiedName(), Method: ByJWT, CredentialID: id.JTI,
			RemoteAddr: remote, Detail: "first sign-in with a JWT"})
		if err == nil {
			return u, nil
		}
		if latchkey.ErrorCode(err) == latchkey.ECONFLICT { // made meanwhile by a concurrent exchange
			u, err = s.store.UserByName(ctx, id.Directory, id.Username)
		}
	}
	if err != nil || u.Disabled {
		return u, err
	}
	var upd latchkey.UserUpdate
	if id.Name != "" && id.Name != u.DisplayName {
		upd.DisplayName = &id.Name
	}
	if id.Email != "" && id.Email != u.Email {
		upd.Email = &id.Email
	}
	if len(id.Groups) > 0 && !slices.Equal(id.Groups, u.Groups) {
		upd.Groups = &id.Groups
	}
	if upd == (latchkey.UserUpdate{}) {
		return u, nil
	}
	return s.store.UpdateUser(ctx, u.ID, upd, &latchkey.AuditEvent{Time: s.now(), Action: latchkey.AuditUserUpdate,
		Actor: u.QualifiedName(), ActorID: u.ID, Target: u.QualifiedName(), SubjectID: u.ID, Method: ByJWT,
		CredentialID: id.JTI, RemoteAddr: remote, Detail: "name, email or groups from a JWT"})
}

// csrfLabel separates the CSRF token's hash from every other hash of a
// session token (the store keeps plain SHA-256 of it).
const csrfLabel = "latchkey session CSRF token\x00"

// CSRFToken returns the CSRF token of a session: base64url of SHA-256 over
// a fixed label and the session token. It may be shown to scripts (Qlik's
// _csrfToken cookie); the session token cannot be learnt from it.
func CSRFToken(sessionToken string) string {
	sum := sha256.Sum256([]byte(csrfLabel + sessionToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCSRF reports, in constant time, whether given is the CSRF token of
// the session token.
func CheckCSRF(sessionToken, given string) bool {
	return subtle.ConstantTimeCompare([]byte(CSRFToken(sessionToken)), []byte(given)) == 1
}
