package latchkey

import (
	"slices"
	"time"
)

// Authentication methods, as they appear in Principal.Method and in route
// configuration.
const (
	MethodAnonymous = "anonymous"
	MethodJWT       = "jwt"
	MethodSession   = "session"
	MethodAPIKey    = "apikey"
	MethodBasic     = "basic"
	MethodCert      = "cert"
)

// Principal is what authentication yields for one request: who the caller is,
// what they may do, and how they proved it.
type Principal struct {
	UserID       int64             `json:"user_id,omitempty"` // 0 for a caller not in the store (e.g. a JWT subject)
	Directory    string            `json:"directory"`
	Username     string            `json:"user"`
	DisplayName  string            `json:"name"`
	Email        string            `json:"email"`
	Groups       []string          `json:"groups"`
	Roles        []string          `json:"roles"`
	Abilities    []string          `json:"abilities"`
	Method       string            `json:"method"`
	CredentialID string            `json:"credential_id,omitempty"`
	ReadOnly     bool              `json:"read_only"`
	ExpiresAt    time.Time         `json:"expires,omitzero"`
	Claims       map[string]string `json:"claims,omitempty"` // other claims mapped onto the principal
	// RateLimit is the limit that comes with the credential (an API key's
	// own), which the gateway checks with the route's; nil: none.
	RateLimit *RateLimit `json:"-"`
	// RateLimitID names the API key whose limit (RateLimit) and use a
	// request spends: the key itself, in X-Api-Key or as a password, or the
	// key a session or one of latchkey's tokens was obtained with, so that
	// one budget holds for the key however it came. Empty: no key.
	RateLimitID string `json:"-"`
}

// Anonymous is the principal of a request that presented no credentials on a
// route that allows that.
var Anonymous = &Principal{Method: MethodAnonymous}

// IsAnonymous reports whether p stands for nobody in particular.
func (p *Principal) IsAnonymous() bool { return p == nil || p.Method == MethodAnonymous }

// QualifiedName is the caller as Qlik writes it: DIRECTORY\username.
func (p *Principal) QualifiedName() string {
	if p.IsAnonymous() {
		return ""
	}
	return p.Directory + `\` + p.Username
}

// Can reports whether the principal holds the ability.
func (p *Principal) Can(ability string) bool {
	return p != nil && slices.Contains(p.Abilities, ability)
}

// SafeMethod reports whether an HTTP method only reads: GET, HEAD, OPTIONS.
// Read-only principals may make only such requests.
func SafeMethod(method string) bool {
	return method == "GET" || method == "HEAD" || method == "OPTIONS"
}
