package latchkey

import (
	"context"
	"time"
)

// Store keeps everything latchkey must remember. The sqlite and postgres
// packages implement it and pass the same test suite (package storetest).
//
// Errors are *Error values: ENOTFOUND when a named thing does not exist,
// ECONFLICT when it exists already, EINVALID for bad input, EUNAVAILABLE when
// the database cannot be reached.
type Store interface {
	UserStore
	RoleStore
	APIKeyStore
	SessionStore
	AuditStore
	JWTStore
	ChangeFeed

	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// PurgeExpired deletes what can never be used again: sessions and API
	// keys that ended or expired before cutoff, used JWT ids past their
	// expiry, and old change-feed rows. It returns how many rows went.
	PurgeExpired(ctx context.Context, cutoff time.Time) (int64, error)
	// Close stops the change feed and closes the database.
	Close() error
}

// UserStore keeps users and their directories.
type UserStore interface {
	// CreateUser stores u and sets its ID and times. Roles listed in u.Roles
	// are granted in the same transaction.
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id int64) (*User, error)
	// UserByName finds a user by directory and username, case-insensitively.
	UserByName(ctx context.Context, directory, username string) (*User, error)
	// UserByEmail finds the one user with the email, case-insensitively;
	// ENOTFOUND when none has it or when several do.
	UserByEmail(ctx context.Context, email string) (*User, error)
	Users(ctx context.Context, f UserFilter) ([]*User, error)
	UpdateUser(ctx context.Context, id int64, upd UserUpdate) (*User, error)
	// Directories lists the directories that hold at least one user.
	Directories(ctx context.Context) ([]string, error)
}

// RoleStore keeps roles, abilities and who holds which role.
type RoleStore interface {
	CreateAbility(ctx context.Context, a *Ability) error
	Abilities(ctx context.Context) ([]*Ability, error)
	CreateRole(ctx context.Context, r *Role) error
	Role(ctx context.Context, name string) (*Role, error)
	Roles(ctx context.Context) ([]*Role, error)
	// SetRoleAbilities replaces the role's abilities; each must exist.
	SetRoleAbilities(ctx context.Context, role string, abilities []string) error
	// DeleteRole removes a role that is not built in, and its grants.
	DeleteRole(ctx context.Context, name string) error
	GrantRole(ctx context.Context, userID int64, role string) error
	RevokeRole(ctx context.Context, userID int64, role string) error
	// UserAccess returns the user's roles and the union of their abilities,
	// both sorted.
	UserAccess(ctx context.Context, userID int64) (roles, abilities []string, err error)
}

// APIKeyStore keeps API key metadata and hashes.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *APIKey) error
	APIKey(ctx context.Context, id string) (*APIKey, error)
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	APIKeys(ctx context.Context, f APIKeyFilter) ([]*APIKey, error)
	// RevokeAPIKey marks the key revoked at the given time; revoking a
	// revoked key is ECONFLICT.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKeys records last use for many keys in one write; callers batch
	// uses in memory so that a request costs no write.
	TouchAPIKeys(ctx context.Context, lastUsed map[string]time.Time) error
	// TakeAPIKeyReveal returns the sealed secret of a key made on its owner's
	// behalf and deletes it in the same transaction; ENOTFOUND when there is
	// none (any more).
	TakeAPIKeyReveal(ctx context.Context, id string) ([]byte, error)
}

// SessionStore keeps sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, id string) (*Session, error)
	SessionByHash(ctx context.Context, hash []byte) (*Session, error)
	Sessions(ctx context.Context, f SessionFilter) ([]*Session, error)
	// TouchSessions records last activity for many sessions in one write.
	TouchSessions(ctx context.Context, lastSeen map[string]time.Time) error
	// EndSession ends one session; ending an ended session is ECONFLICT.
	EndSession(ctx context.Context, id string, at time.Time) error
	// EndUserSessions ends every active session of the user and returns how
	// many it ended.
	EndUserSessions(ctx context.Context, userID int64, at time.Time) (int, error)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// JWTStore keeps single-use JWT ids and latchkey's own signing keys.
type JWTStore interface {
	// UseJTI records a JWT id as used until expires. It returns false, and
	// no error, when the id was used already and has not expired.
	UseJTI(ctx context.Context, jti string, expires time.Time) (bool, error)
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys lists every stored signing key, newest first.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	DeleteSigningKey(ctx context.Context, id string) error
}

// ChangeKind says what changed.
type ChangeKind string

// The kinds of change the feed delivers.
const (
	ChangeUser        ChangeKind = "user"         // a user was disabled, enabled, edited or got a new password (UserID)
	ChangeUserRoles   ChangeKind = "user_roles"   // a user's roles changed (UserID)
	ChangeRole        ChangeKind = "role"         // a role's abilities changed or it was deleted (Name)
	ChangeAPIKey      ChangeKind = "apikey"       // a key was revoked (Name = key id, UserID)
	ChangeSession     ChangeKind = "session"      // a session ended (Name = session id, UserID)
	ChangeUserSession ChangeKind = "user_session" // every session of a user ended (UserID)
	ChangeSigningKey  ChangeKind = "signing_key"  // the signing key set changed (Name = kid)
	// ChangeResync means events may have been missed (the feed lost its
	// connection): a subscriber must drop everything it caches.
	ChangeResync ChangeKind = "resync"
)

// Change is one event of the change feed.
type Change struct {
	Kind   ChangeKind `json:"kind"`
	UserID int64      `json:"user_id,omitempty"`
	Name   string     `json:"name,omitempty"`
}

// ChangeFeed delivers the changes committed by any store instance on any
// node, so that in-memory caches can drop what went stale.
type ChangeFeed interface {
	// Subscribe calls fn for every change committed from now on, by this
	// instance (synchronously, after the commit returns) or by any other
	// (within about a second). fn must be quick and must not call the store.
	// The returned function unsubscribes.
	Subscribe(fn func(Change)) (unsubscribe func())
}
