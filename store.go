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
//
// The administrative writes (users, roles, abilities, ending sessions) take
// the audit record of the change as their last argument, rec, and append it
// in the transaction that makes the change, so that a change is never made
// without its record nor recorded without being made. A nil rec records
// nothing. The store fills in rec's ID and, when zero, its Time.
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
	CreateUser(ctx context.Context, u *User, rec *AuditEvent) error
	User(ctx context.Context, id int64) (*User, error)
	// UserByName finds a user by directory and username, case-insensitively.
	UserByName(ctx context.Context, directory, username string) (*User, error)
	// UserByEmail finds the one user with the email, case-insensitively;
	// ENOTFOUND when none has it or when several do.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// Users lists users ordered by directory, username and id (compared
	// case-insensitively).
	Users(ctx context.Context, f UserFilter) ([]*User, error)
	// UpdateUser changes the fields of upd that are not nil. Disabling a user
	// ends their sessions in the same transaction.
	UpdateUser(ctx context.Context, id int64, upd UserUpdate, rec *AuditEvent) (*User, error)
	// DeleteUser removes the user with their roles, API keys and sessions.
	DeleteUser(ctx context.Context, id int64, rec *AuditEvent) error
	// Directories lists the directories that hold at least one user.
	Directories(ctx context.Context) ([]string, error)
}

// RoleStore keeps roles, abilities and who holds which role.
//
// Two rules hold whoever writes: a built-in role keeps its built-in
// abilities (others may be added to it), and a change that would leave no
// enabled user holding the admin role is ECONFLICT — latchkey is never left
// without an administrator by disabling, deleting or revoking the last one.
type RoleStore interface {
	CreateAbility(ctx context.Context, a *Ability, rec *AuditEvent) error
	// DeleteAbility removes an ability that is not built in, and takes it
	// from the roles that grant it.
	DeleteAbility(ctx context.Context, name string, rec *AuditEvent) error
	Abilities(ctx context.Context) ([]*Ability, error)
	CreateRole(ctx context.Context, r *Role, rec *AuditEvent) error
	Role(ctx context.Context, name string) (*Role, error)
	Roles(ctx context.Context) ([]*Role, error)
	// UpdateRole changes the description and replaces the abilities (each
	// must exist) where upd says.
	UpdateRole(ctx context.Context, name string, upd RoleUpdate, rec *AuditEvent) (*Role, error)
	// DeleteRole removes a role that is not built in, and its grants.
	DeleteRole(ctx context.Context, name string, rec *AuditEvent) error
	// GrantRole gives the user the role; granting a role held is ECONFLICT.
	GrantRole(ctx context.Context, userID int64, role string, rec *AuditEvent) error
	// RevokeRole takes the role; ENOTFOUND when the user does not hold it.
	RevokeRole(ctx context.Context, userID int64, role string, rec *AuditEvent) error
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
	// SetAPIKeyLimit gives the key its own rate limit, or takes it (nil),
	// emits ChangeAPIKey and appends rec in the same transaction; it
	// returns the key as it is now.
	SetAPIKeyLimit(ctx context.Context, id string, limit *RateLimit, rec *AuditEvent) (*APIKey, error)
	// TouchAPIKeys records last use for many keys in one write; callers batch
	// uses in memory so that a request costs no write.
	TouchAPIKeys(ctx context.Context, lastUsed map[string]time.Time) error
	// AddAPIKeyUsage adds the counts to the keys' buckets of the hour that
	// begins at hour, and deletes the buckets that begin before
	// deleteBefore, in one transaction; callers batch counts in memory so
	// that a request costs no write.
	AddAPIKeyUsage(ctx context.Context, hour time.Time, counts map[string]APIKeyCount, deleteBefore time.Time) error
	// APIKeyUsage returns the use of the keys named (those with none are
	// left out): in the bucket of hour, and in the 24 buckets up to and
	// including it.
	APIKeyUsage(ctx context.Context, ids []string, hour time.Time) (map[string]APIKeyUsage, error)
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
	EndSession(ctx context.Context, id string, at time.Time, rec *AuditEvent) error
	// EndUserSessions ends every active session of the user and returns how
	// many it ended.
	EndUserSessions(ctx context.Context, userID int64, at time.Time, rec *AuditEvent) (int, error)
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// AppendAudit stores an event that records no change of the store's
	// (a sign-in, a failed one), and sets its ID.
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
	ChangeAPIKey      ChangeKind = "apikey"       // a key was revoked or its rate limit changed (Name = key id, UserID)
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
