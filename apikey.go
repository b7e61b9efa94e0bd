package latchkey

import "time"

// APIKey is what the store keeps of an API key: its metadata and a hash of
// the secret. The secret itself is shown once and never stored, except for a
// key made on behalf of another user, whose sealed secret (Reveal) waits until
// the owner views it once.
type APIKey struct {
	ID         string     `json:"id"` // non-secret prefix that tells keys apart
	UserID     int64      `json:"user_id"`
	Name       string     `json:"name"`
	ReadOnly   bool       `json:"read_only"`
	CreatedBy  int64      `json:"created_by"` // the user who made it; differs from UserID when made on behalf
	CreatedAt  time.Time  `json:"created"`
	ExpiresAt  time.Time  `json:"expires"`
	LastUsedAt *time.Time `json:"last_used"`
	RevokedAt  *time.Time `json:"revoked"`

	// Hash is the keyed hash of the secret that lookups use. Never shown.
	Hash []byte `json:"-"`
	// Reveal is the sealed secret of a key made on behalf of its owner, until
	// the owner takes it with TakeAPIKeyReveal. Never shown as stored.
	Reveal []byte `json:"-"`
}

// Usable reports whether the key may authenticate at now: not revoked and not
// expired.
func (k *APIKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && now.Before(k.ExpiresAt)
}

// APIKeyFilter selects API keys.
type APIKeyFilter struct {
	UserID         int64 // 0 means every user
	IncludeRevoked bool
	IncludeExpired bool
}
