package credential

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/latchkey/latchkey"
)

// API keys look like lk_<id>_<secret>: a fixed prefix, 13 characters of
// non-secret id (8 random bytes, base32), and 43 characters of secret (32
// random bytes, base64url). The store keeps SHA-256 of the whole key: the
// secret has 256 bits, so a fast hash is safe and lookups stay O(1).
const (
	KeyPrefix    = "lk_"
	keyIDLen     = 13
	keySecretLen = 43
	keyLen       = len(KeyPrefix) + keyIDLen + 1 + keySecretLen
)

var keyIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ParseAPIKey returns the id of a string shaped like an API key. It says
// nothing of whether the key is valid.
func ParseAPIKey(s string) (id string, ok bool) {
	if len(s) != keyLen || !strings.HasPrefix(s, KeyPrefix) || s[len(KeyPrefix)+keyIDLen] != '_' {
		return "", false
	}
	id = s[len(KeyPrefix) : len(KeyPrefix)+keyIDLen]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	for _, c := range []byte(s[len(KeyPrefix)+keyIDLen+1:]) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return id, true
}

func newAPIKey() (id, secret string) {
	id = keyIDEncoding.EncodeToString(randomBytes(8))
	return id, KeyPrefix + id + "_" + randomToken(32)
}

func hashKey(secret string) [32]byte { return sum256(secret) }

// sum256 is sha256.Sum256 of s. Strings that fit 64 bytes (API keys and
// session tokens) are hashed from a stack buffer: []byte(s) would put any
// string longer than 32 bytes on the heap, once per request.
func sum256(s string) [32]byte {
	var buf [64]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(append(buf[:0], s...))
	}
	return sha256.Sum256([]byte(s))
}

// keyEntry is a verified key as cached: the key, its owner and the
// principal it yields. Its stamp covers the key and the owner.
type keyEntry struct {
	key       *latchkey.APIKey
	user      *userEntry
	principal *latchkey.Principal
	stamp     stamp
	lastUsed  atomic.Int64 // unix nanoseconds of the last use seen by this node
	dirty     atomic.Bool  // lastUsed awaits writing
	// verified is the key as last presented and found to match the stored
	// hash. A request that presents the same key again is compared with it
	// in constant time instead of hashing the key anew. Only a key that
	// matched the hash is ever kept here, and only in this process's memory.
	verified atomic.Pointer[string]
}

// matches reports, in constant time, whether secret is this entry's key.
func (e *keyEntry) matches(secret string) bool {
	if v := e.verified.Load(); v != nil && len(*v) == len(secret) &&
		subtle.ConstantTimeCompare(unsafe.Slice(unsafe.StringData(*v), len(*v)), unsafe.Slice(unsafe.StringData(secret), len(secret))) == 1 {
		return true
	}
	h := hashKey(secret)
	if subtle.ConstantTimeCompare(h[:], e.key.Hash) != 1 {
		return false
	}
	v := strings.Clone(secret) // not the request's memory
	e.verified.Store(&v)
	return true
}

// errNoKey is the one answer for a key id that names no key, or a key the
// asker may not see.
func errNoKey(id string) error {
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	return latchkey.Errorf(latchkey.ENOTFOUND, "No API key %q.", id)
}

var errBadKey = latchkey.Errorf(latchkey.EUNAUTHORIZED, "The API key is not valid.")

// VerifyAPIKey returns the principal of an API key: its owner, with method
// "apikey". It refuses keys that are unknown, revoked or expired (401), keys
// of disabled users (401), and keys whose owner lacks apikey.signin (403).
func (s *Service) VerifyAPIKey(ctx context.Context, secret string) (*latchkey.Principal, error) {
	e, err := s.verifyKey(ctx, secret)
	if err != nil {
		return nil, err
	}
	return e.principal, nil
}

func (s *Service) verifyKey(ctx context.Context, secret string) (*keyEntry, error) {
	id, ok := ParseAPIKey(secret)
	if !ok {
		return nil, errBadKey
	}
	e, err := s.cachedKey(ctx, id)
	if err != nil {
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, errBadKey
		}
		return nil, err
	}
	if !e.matches(secret) {
		return nil, errBadKey
	}
	now := s.now()
	if !e.key.Usable(now) {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The API key has expired or was revoked.")
	}
	if e.user.user.Disabled {
		return nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The account of this API key is disabled.")
	}
	if !e.principal.Can(latchkey.AbilityAPIKeySignIn) {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN,
			"This account may not sign in with an API key: it needs the ability %s.", latchkey.AbilityAPIKeySignIn)
	}
	e.lastUsed.Store(now.UnixNano())
	if !e.dirty.Swap(true) {
		s.touch.key(e)
	}
	return e, nil
}

// cachedKey returns the key with its owner, from memory while fresh.
func (s *Service) cachedKey(ctx context.Context, id string) (*keyEntry, error) {
	if e, ok := s.keys.GetIfPresent(id); ok && s.v.fresh(&e.stamp) {
		return e, nil
	}
	st := s.v.begin(keySlot(id))
	k, err := s.store.APIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	k.Reveal = nil // authentication has no use for it
	u, err := s.user(ctx, k.UserID)
	if err != nil {
		return nil, err
	}
	p := u.principal(latchkey.MethodAPIKey, k.ID, k.ReadOnly, k.ExpiresAt)
	p.RateLimit, p.RateLimitID = k.RateLimit, k.ID // the gateway checks it with the route's limits
	e := &keyEntry{key: k, user: u, principal: p, stamp: st.join(u.stamp)}
	s.keys.Set(id, e)
	return e, nil
}

// KeyRequest asks for a new API key.
type KeyRequest struct {
	OwnerID  int64  // 0 means the maker
	Name     string // optional
	Days     int    // days until expiry; 0 means the configured default
	ReadOnly bool   // only GET, HEAD and OPTIONS
	// RateLimit is the key's own limit, checked with the routes' on every
	// request made with it; nil: none. It may not pass Config.KeyLimitMaximum.
	RateLimit *latchkey.RateLimit
}

// KeyView is an API key as its owner and managers see it listed. Key is set
// only where the key is shown: to its maker at creation when the maker owns
// it, and once to its owner when it was made on their behalf.
type KeyView struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Owner        string     `json:"owner"`
	OwnerID      int64      `json:"owner_id"`
	CreatedBy    string     `json:"created_by,omitempty"`
	Created      time.Time  `json:"created"`
	Expires      time.Time  `json:"expires"`
	LastUsed     *time.Time `json:"last_used"`
	ReadOnly     bool       `json:"read_only"`
	Revoked      bool       `json:"revoked"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	Expired      bool       `json:"expired"`
	AwaitsReveal bool       `json:"awaits_reveal"`
	// RateLimit is the key's own limit; left out when it has none.
	RateLimit *latchkey.RateLimit `json:"rate_limit,omitempty"`
	// Usage is the key's use in the current clock hour and the last 24:
	// what the store has from every node, plus what this node counted and
	// has not written yet. Set in the key list and a key's details only.
	Usage *latchkey.APIKeyUsage `json:"usage,omitempty"`
	Key   string                `json:"key,omitempty"`
}

// Actor is who asks for a change: a principal, or the operator at the
// command line (Operator, or nil), who may do anything.
type Actor = *latchkey.Principal

func actorName(a Actor) string {
	switch {
	case a == nil || isOperator(a) && a.Username == "":
		return "cli"
	case isOperator(a):
		return "cli:" + a.Username
	}
	return a.QualifiedName()
}

// GenerateAPIKey makes a key. Making one for oneself needs apikey.generate;
// for another user, apikey.manage, and then the maker never sees the key:
// its owner can view it once in its details.
func (s *Service) GenerateAPIKey(ctx context.Context, maker Actor, req KeyRequest, remote string) (*KeyView, error) {
	return s.generateAPIKey(ctx, maker, req, remote, true)
}

// generateAPIKey is GenerateAPIKey; checkMax says whether the key's limit
// must be within the maximum (a rotated key keeps the limit it had).
func (s *Service) generateAPIKey(ctx context.Context, maker Actor, req KeyRequest, remote string, checkMax bool) (*KeyView, error) {
	ownerID := req.OwnerID
	if ownerID == 0 {
		if isOperator(maker) || maker.UserID == 0 {
			return nil, latchkey.Errorf(latchkey.EINVALID, "Name the user the key is for.")
		}
		ownerID = maker.UserID
	}
	onBehalf := !isOperator(maker) && ownerID != maker.UserID
	switch {
	case isOperator(maker):
	case onBehalf && !maker.Can(latchkey.AbilityAPIKeyManage):
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Making API keys for other users needs the ability %s.", latchkey.AbilityAPIKeyManage)
	case !onBehalf && !maker.Can(latchkey.AbilityAPIKeyGenerate):
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Making API keys needs the ability %s.", latchkey.AbilityAPIKeyGenerate)
	}
	if maker != nil && maker.ReadOnly {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Read-only credentials cannot make API keys.")
	}
	days := req.Days
	if days == 0 {
		days = s.cfg.KeyDefaultDays
	}
	if days < 1 || days > s.cfg.KeyMaxDays {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The expiry must be 1 to %d days.", s.cfg.KeyMaxDays)
	}
	if err := validateKeyName(req.Name); err != nil {
		return nil, err
	}
	if err := s.validateLimit(req.RateLimit, checkMax); err != nil {
		return nil, err
	}
	owner, err := s.store.User(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	if owner.Disabled {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The user %s is disabled.", owner.QualifiedName())
	}
	id, secret := newAPIKey()
	h := hashKey(secret)
	now := s.now()
	k := &latchkey.APIKey{ID: id, UserID: owner.ID, Name: req.Name, ReadOnly: req.ReadOnly,
		CreatedAt: now, ExpiresAt: now.AddDate(0, 0, days), Hash: h[:], RateLimit: copyLimit(req.RateLimit)}
	if maker != nil {
		k.CreatedBy = maker.UserID
	}
	if onBehalf {
		if k.Reveal, err = s.seal(id, secret); err != nil {
			return nil, err
		}
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyCreate, Actor: actorName(maker), ActorID: actorID(maker),
		Target: k.ID, SubjectID: owner.ID, Method: actorMethod(maker), RemoteAddr: remote, Detail: "owner " + owner.QualifiedName() + limitDetail(k.RateLimit)})
	v := s.view(k, owner)
	if !onBehalf {
		v.Key = secret
	}
	return v, nil
}

func validateKeyName(name string) error {
	if len(name) > 128 {
		return latchkey.Errorf(latchkey.EINVALID, "The key name must be at most 128 characters.")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return latchkey.Errorf(latchkey.EINVALID, "The key name must not contain control characters.")
		}
	}
	return nil
}

func (s *Service) view(k *latchkey.APIKey, owner *latchkey.User) *KeyView {
	now := s.now()
	v := &KeyView{ID: k.ID, Name: k.Name, OwnerID: k.UserID, Created: k.CreatedAt, Expires: k.ExpiresAt,
		LastUsed: k.LastUsedAt, ReadOnly: k.ReadOnly, Revoked: k.RevokedAt != nil, RevokedAt: k.RevokedAt,
		Expired: !now.Before(k.ExpiresAt), AwaitsReveal: len(k.Reveal) > 0, RateLimit: copyLimit(k.RateLimit)}
	if owner != nil {
		v.Owner = owner.QualifiedName()
	}
	if e, ok := s.keys.GetIfPresent(k.ID); ok {
		if n := e.lastUsed.Load(); n != 0 && (v.LastUsed == nil || time.Unix(0, n).After(*v.LastUsed)) {
			t := time.Unix(0, n).UTC()
			v.LastUsed = &t
		}
	}
	return v
}

// mayManage reports whether the actor may see and change the keys of the
// user: their own, or anyone's with apikey.manage.
func mayManage(a Actor, ownerID int64) bool {
	return a == nil || a.UserID == ownerID && ownerID != 0 || a.Can(latchkey.AbilityAPIKeyManage)
}

// APIKeys lists the keys of a user (0: the actor's own), revoked and
// expired ones included.
func (s *Service) APIKeys(ctx context.Context, viewer Actor, ownerID int64) ([]*KeyView, error) {
	if ownerID == 0 && viewer != nil {
		ownerID = viewer.UserID
	}
	if !mayManage(viewer, ownerID) {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Listing another user's API keys needs the ability %s.", latchkey.AbilityAPIKeyManage)
	}
	keys, err := s.store.APIKeys(ctx, latchkey.APIKeyFilter{UserID: ownerID, IncludeRevoked: true, IncludeExpired: true})
	if err != nil {
		return nil, err
	}
	owners := map[int64]*latchkey.User{}
	views := make([]*KeyView, 0, len(keys))
	for _, k := range keys {
		u, ok := owners[k.UserID]
		if !ok {
			if u, err = s.store.User(ctx, k.UserID); err != nil {
				return nil, err
			}
			owners[k.UserID] = u
		}
		views = append(views, s.view(k, u))
	}
	if err := s.addUsage(ctx, views...); err != nil {
		return nil, err
	}
	return views, nil
}

// APIKeyDetails returns one key. When the key was made on its owner's
// behalf and the viewer is the owner, the key itself is in the view — this
// once: the server then forgets it.
func (s *Service) APIKeyDetails(ctx context.Context, viewer Actor, id string, remote string) (*KeyView, error) {
	k, owner, err := s.keyFor(ctx, viewer, id)
	if err != nil {
		return nil, err
	}
	v := s.view(k, owner)
	if err := s.addUsage(ctx, v); err != nil {
		return nil, err
	}
	if viewer != nil && viewer.UserID == k.UserID && len(k.Reveal) > 0 {
		sealed, err := s.store.TakeAPIKeyReveal(ctx, id)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			return nil, err
		}
		if err == nil {
			if v.Key, err = s.unseal(id, sealed); err != nil {
				return nil, err
			}
			v.AwaitsReveal = false
			s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyReveal, Actor: actorName(viewer),
				ActorID: actorID(viewer), Target: id, SubjectID: k.UserID, Method: actorMethod(viewer), RemoteAddr: remote})
		}
	}
	return v, nil
}

// keyFor reads a key that the viewer may see. A key they may not see is
// reported exactly as one that does not exist (errNoKey), so that nobody
// learns which ids are other users'.
func (s *Service) keyFor(ctx context.Context, viewer Actor, id string) (*latchkey.APIKey, *latchkey.User, error) {
	k, err := s.store.APIKey(ctx, id)
	if err == nil && !mayManage(viewer, k.UserID) || latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, nil, errNoKey(id)
	}
	if err != nil {
		return nil, nil, err
	}
	owner, err := s.store.User(ctx, k.UserID)
	return k, owner, err
}

// RevokeAPIKey revokes a key of the viewer's own, or anyone's with
// apikey.manage. It stops working at once on every node.
func (s *Service) RevokeAPIKey(ctx context.Context, viewer Actor, id, remote string) error {
	if viewer != nil && viewer.ReadOnly {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "Read-only credentials cannot revoke API keys.")
	}
	k, _, err := s.keyFor(ctx, viewer, id)
	if err != nil {
		return err
	}
	if err := s.store.RevokeAPIKey(ctx, id, s.now()); err != nil {
		return err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyRevoke, Actor: actorName(viewer),
		ActorID: actorID(viewer), Target: id, SubjectID: k.UserID, Method: actorMethod(viewer), RemoteAddr: remote})
	return nil
}

// SetAPIKeyLimit gives a key its own rate limit, or takes it (nil). The
// rules are those of the key's other changes: a key of one's own needs
// apikey.generate, another user's apikey.manage (a key the actor may not
// see is not found), and read-only credentials may change nothing. The
// limit must be within Config.KeyLimitMaximum. Every node applies it
// within about a second (the change feed drops the cached key).
func (s *Service) SetAPIKeyLimit(ctx context.Context, actor Actor, id string, limit *latchkey.RateLimit, remote string) (*KeyView, error) {
	if actor != nil && actor.ReadOnly {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Read-only credentials cannot change API keys.")
	}
	k, owner, err := s.keyFor(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if !isOperator(actor) && !actor.Can(latchkey.AbilityAPIKeyManage) && !actor.Can(latchkey.AbilityAPIKeyGenerate) {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "Changing an API key's rate limit needs the ability %s.", latchkey.AbilityAPIKeyGenerate)
	}
	if k.RevokedAt != nil {
		return nil, latchkey.Errorf(latchkey.ECONFLICT, "The API key %s is revoked.", id)
	}
	if err := s.validateLimit(limit, true); err != nil {
		return nil, err
	}
	rec := &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyLimit, Time: s.now(), Actor: actorName(actor), ActorID: actorID(actor),
		Target: id, SubjectID: k.UserID, Method: actorMethod(actor), RemoteAddr: remote, Detail: "rate limit " + latchkey.LimitText(limit)}
	k, err = s.store.SetAPIKeyLimit(ctx, id, copyLimit(limit), rec)
	if err != nil {
		return nil, err
	}
	return s.view(k, owner), nil
}

// maxKeyWindow is the longest window a key's limit may have.
const maxKeyWindow = 24 * 60 * 60

// validateLimit refuses a limit that makes no sense and, when checkMax, one
// that allows more than the maximum: more per second on average, or more
// at once (requests + burst) than the maximum's requests. A limit within
// both never lets through more than the maximum would in any span.
func (s *Service) validateLimit(l *latchkey.RateLimit, checkMax bool) error {
	if l == nil {
		return nil
	}
	switch {
	case l.Requests < 1 || l.Requests > 1_000_000_000:
		return latchkey.Errorf(latchkey.EINVALID, "A rate limit must allow 1 to 1000000000 requests per window.")
	case l.Window < 1 || l.Window > maxKeyWindow:
		return latchkey.Errorf(latchkey.EINVALID, "The window of a rate limit must be 1 s to 24 h.")
	case l.Burst < 0 || l.Burst > 1_000_000_000:
		return latchkey.Errorf(latchkey.EINVALID, "The burst of a rate limit must be 0 to 1000000000.")
	}
	m := s.cfg.KeyLimitMaximum
	if !checkMax || m.Requests == 0 {
		return nil
	}
	// l.Requests/l.Window > m.Requests/m.Window, without division.
	if int64(l.Requests)*int64(m.Window) > int64(m.Requests)*int64(l.Window) || l.Requests+l.Burst > m.Requests {
		return latchkey.Errorf(latchkey.EINVALID,
			"The rate limit %s is above the maximum of API key limits, %d requests per %s (rate_limits.key_maximum): a key may allow no more on average, nor more than %d at once (requests + burst).",
			l, m.Requests, latchkey.FormatWindow(m.Window), m.Requests)
	}
	return nil
}

func copyLimit(l *latchkey.RateLimit) *latchkey.RateLimit {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

// limitDetail is ", rate limit 100/1m" for a key with a limit, "" for one
// without.
func limitDetail(l *latchkey.RateLimit) string {
	if l == nil {
		return ""
	}
	return ", rate limit " + l.String()
}

// RotateAPIKey issues a replacement with the same owner, name, read-only
// flag, lifetime and rate limit, and revokes the old key.
func (s *Service) RotateAPIKey(ctx context.Context, viewer Actor, id, remote string) (*KeyView, error) {
	k, _, err := s.keyFor(ctx, viewer, id)
	if err != nil {
		return nil, err
	}
	if k.RevokedAt != nil {
		return nil, latchkey.Errorf(latchkey.ECONFLICT, "The API key %s is revoked already; generate a new one.", id)
	}
	days := int(k.ExpiresAt.Sub(k.CreatedAt).Hours()+12) / 24
	days = max(1, min(days, s.cfg.KeyMaxDays))
	v, err := s.generateAPIKey(ctx, viewer, KeyRequest{OwnerID: k.UserID, Name: k.Name, Days: days, ReadOnly: k.ReadOnly,
		RateLimit: k.RateLimit}, remote, false)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeAPIKey(ctx, id, s.now()); err != nil && latchkey.ErrorCode(err) != latchkey.ECONFLICT {
		return nil, err
	}
	s.audit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyRotate, Actor: actorName(viewer),
		ActorID: actorID(viewer), Target: id, SubjectID: k.UserID, Method: actorMethod(viewer), RemoteAddr: remote, Detail: "replaced by " + v.ID})
	return v, nil
}

// MintAPIKey returns a new key's id, the key itself and the hash the store
// keeps, without storing anything: for tools and tests that write keys to a
// store directly.
func MintAPIKey() (id, secret string, hash []byte) {
	id, secret = newAPIKey()
	h := hashKey(secret)
	return id, secret, h[:]
}

// KeyOwner resolves the user named by login ("DIR\user") whose keys the
// viewer wants to list or make; "" is the viewer. A viewer without
// apikey.manage learns nothing about other users: naming anyone else is 403
// whether or not that user exists.
func (s *Service) KeyOwner(ctx context.Context, viewer Actor, login string) (int64, error) {
	if login == "" {
		return 0, nil
	}
	if viewer != nil && !viewer.Can(latchkey.AbilityAPIKeyManage) {
		dir, name := s.SplitLogin(login)
		if latchkey.NameKey(dir) != latchkey.NameKey(viewer.Directory) || latchkey.NameKey(name) != latchkey.NameKey(viewer.Username) {
			return 0, latchkey.Errorf(latchkey.EFORBIDDEN, "The API keys of other users need the ability %s.", latchkey.AbilityAPIKeyManage)
		}
		return viewer.UserID, nil
	}
	u, err := s.UserByLogin(ctx, login)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}
