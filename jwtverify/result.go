package jwtverify

import "time"

// Result is what a verified token says: who it names and its registered
// claims. Every verifier of latchkey (those configured, and latchkey's own
// tokens) answers with one.
type Result struct {
	Directory   string
	Username    string
	DisplayName string
	Email       string
	Groups      []string
	// Claims holds the claims the verifier is told to copy onto the
	// principal (claims.extra), as text.
	Claims map[string]string

	Subject   string
	Issuer    string
	Audience  []string
	JTI       string
	KeyID     string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time

	// Set only for latchkey's own tokens (jwtissue), which carry them:
	// the read-only state of the principal the token was signed for, and
	// the credential that principal proved itself with (a method such as
	// "apikey", and the credential's id). Other verifiers leave them zero.
	ReadOnly         bool
	CredentialMethod string
	CredentialID     string

	remembered bool // set by Cache.Set before the Result is shared
}

// Remembered says whether r is held by a Cache: the token was seen more
// than once, and later requests with it get this same Result. A cache of
// what follows from a Result (the principal it names) should keep only
// remembered ones, which come back, and not those of one-time tokens.
func (r *Result) Remembered() bool { return r.remembered }
