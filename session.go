package latchkey

import "time"

// Session is a signed-in browser or client, named by a random token that only
// the client holds; the store keeps the token's hash. ID is a non-secret
// handle for listing and ending sessions.
type Session struct {
	ID           string     `json:"id"`
	UserID       int64      `json:"user_id"`
	Method       string     `json:"method"`        // how it was opened: "password", "apikey", "jwt"
	CredentialID string     `json:"credential_id"` // the API key id or JWT id used to open it, if any
	ReadOnly     bool       `json:"read_only"`     // opened with a read-only key
	RemoteAddr   string     `json:"remote_addr"`
	UserAgent    string     `json:"user_agent"`
	CreatedAt    time.Time  `json:"created"`
	LastSeenAt   time.Time  `json:"last_seen"`
	ExpiresAt    time.Time  `json:"expires"` // absolute lifetime
	IdleTimeout  Duration   `json:"idle_timeout"`
	EndedAt      *time.Time `json:"ended"`

	// Hash is the hash of the session token. Never shown.
	Hash []byte `json:"-"`
}

// Active reports whether the session may be used at now: not ended, within
// its absolute lifetime, and seen within its idle timeout.
func (s *Session) Active(now time.Time) bool {
	if s.EndedAt != nil || !now.Before(s.ExpiresAt) {
		return false
	}
	return s.IdleTimeout <= 0 || now.Sub(s.LastSeenAt) < time.Duration(s.IdleTimeout)
}

// SessionFilter selects sessions, newest first.
type SessionFilter struct {
	UserID       int64 // 0 means every user
	IncludeEnded bool
	Limit        int // 0 means no limit
	// Before pages on: only sessions that sort after this one, newest first
	// (by creation time, then id). Nil starts at the newest.
	Before *Session
}

// Duration is a time.Duration that JSON shows as a Go duration string.
type Duration time.Duration

// MarshalText writes the duration as "1h30m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration such as "90m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return Errorf(EINVALID, "%q is not a duration such as 90m or 12h.", b)
	}
	*d = Duration(v)
	return nil
}
