package latchkey

import (
	"strconv"
	"time"
)

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
	// RateLimit is the key's own limit, checked with the routes' on every
	// request made with it; nil: none of its own.
	RateLimit *RateLimit `json:"rate_limit"`

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

// RateLimit is a limit that comes with a credential: Requests per Window
// seconds on average, with Burst more at once (the GCRA of the routes'
// limits, docs/rate-limits.md).
type RateLimit struct {
	Requests int `json:"requests"`
	Window   int `json:"window"` // seconds
	Burst    int `json:"burst"`
}

// WindowDuration is the window as a time.Duration.
func (l RateLimit) WindowDuration() time.Duration { return time.Duration(l.Window) * time.Second }

// String is the limit as the command line writes it: "100/1m", or
// "100/1m,burst=20" with a burst.
func (l RateLimit) String() string {
	s := strconv.Itoa(l.Requests) + "/" + FormatWindow(l.Window)
	if l.Burst > 0 {
		s += ",burst=" + strconv.Itoa(l.Burst)
	}
	return s
}

// LimitText is l as String writes it, or "none" for no limit (nil), as
// the command line and the audit log say it.
func LimitText(l *RateLimit) string {
	if l == nil {
		return "none"
	}
	return l.String()
}

// FormatWindow writes seconds as the largest whole unit: "1h", "1m", "90s".
func FormatWindow(seconds int) string {
	switch {
	case seconds > 0 && seconds%3600 == 0:
		return strconv.Itoa(seconds/3600) + "h"
	case seconds > 0 && seconds%60 == 0:
		return strconv.Itoa(seconds/60) + "m"
	}
	return strconv.Itoa(seconds) + "s"
}

// APIKeyCount is what a node counted of one key since its last write:
// requests let through and requests refused by a rate limit.
type APIKeyCount struct {
	Requests int64
	Refused  int64
}

// APIKeyUsage is a key's use as the store has it: in the current clock hour
// and in the 24 clock hours up to and including it.
type APIKeyUsage struct {
	RequestsHour int64 `json:"requests_hour"`
	RefusedHour  int64 `json:"refused_hour"`
	RequestsDay  int64 `json:"requests_day"`
	RefusedDay   int64 `json:"refused_day"`
}
