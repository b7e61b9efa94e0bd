package latchkey

import "time"

// Audit actions.
const (
	AuditLoginSuccess   = "login.success"
	AuditLoginFailure   = "login.failure"
	AuditSessionCreate  = "session.create"
	AuditSessionEnd     = "session.end"
	AuditAPIKeyCreate   = "apikey.create"
	AuditAPIKeyReveal   = "apikey.reveal"
	AuditAPIKeyRevoke   = "apikey.revoke"
	AuditAPIKeyRotate   = "apikey.rotate"
	AuditAPIKeyLimit    = "apikey.limit"
	AuditUserCreate     = "user.create"
	AuditUserUpdate     = "user.update"
	AuditUserPassword   = "user.password"
	AuditUserDisable    = "user.disable"
	AuditUserEnable     = "user.enable"
	AuditUserDelete     = "user.delete"
	AuditSessionEndAll  = "session.end_all"
	AuditAbilityCreate  = "ability.create"
	AuditAbilityDelete  = "ability.delete"
	AuditRoleCreate     = "role.create"
	AuditRoleUpdate     = "role.update"
	AuditRoleDelete     = "role.delete"
	AuditRoleGrant      = "role.grant"
	AuditRoleRevoke     = "role.revoke"
	AuditSigningKeyAdd  = "signing_key.create"
	AuditSigningKeyDrop = "signing_key.delete"
)

// AuditEvent records who did what, when and from where. It never holds a
// secret: credentials are named by their non-secret id.
type AuditEvent struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Action       string    `json:"action"`
	Actor        string    `json:"actor"`         // DIR\user, "cli", or the name given at a failed login
	ActorID      int64     `json:"actor_id"`      // 0 when the actor is not a known user
	Target       string    `json:"target"`        // what was acted on: a user, role, key id or session id
	SubjectID    int64     `json:"subject_id"`    // the user the event concerns (whose key, session or account); 0 when none
	Method       string    `json:"method"`        // the authentication method in use
	CredentialID string    `json:"credential_id"` // key id, session id or JWT id; never the secret
	RemoteAddr   string    `json:"remote_addr"`
	Detail       string    `json:"detail"`
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	ActorID   int64     // 0 means anyone
	Actor     string    // "" means anyone; else the actor exactly as recorded ("cli:root", "LAB\goran")
	SubjectID int64     // 0 means any; else only events about this user
	Action    string    // "" means any; a trailing "." matches a prefix ("login.")
	Since     time.Time // zero means from the start
	Until     time.Time // zero means until now; else only events before it
	Limit     int       // 0 means 100
	BeforeID  int64     // page backwards: only events with a smaller id
}
