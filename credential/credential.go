// Package credential verifies and issues latchkey's own credentials:
// passwords, API keys and sessions. It is the part of authentication that
// knows the store; the gateway's authenticators and the command line call it.
//
// Everything verified recently is served from memory: users with their roles
// and abilities, API keys, sessions, and (briefly) successful password checks.
// The store's change feed keeps these caches true: once a change is heard (at
// its commit on this node, within about a second on every other), no entry
// built from older state is used again — a revoked key, an ended session, a
// disabled user or a changed role is refused at once. versions.go says how.
// Principals handed out are shared and must not be modified.
package credential

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/seal"
)

// Config sets the policies of a Service.
type Config struct {
	DefaultDirectory string        // directory of a username given without one (latchkey.DefaultDirectory)
	SessionIdle      time.Duration // idle timeout of new sessions
	SessionLifetime  time.Duration // absolute lifetime of new sessions
	KeyMaxDays       int           // the longest expiry an API key may have
	KeyDefaultDays   int           // expiry of a key when none is asked for
	// KeyLimitMaximum is the most that a rate limit given to an API key
	// may allow (rate_limits.key_maximum): Requests per Window seconds,
	// its Burst unused. Requests 0 means no maximum.
	KeyLimitMaximum latchkey.RateLimit
	// MaxFailures and MaxAddressFailures bound failed sign-ins per account
	// and per client address within FailureWindow.
	MaxFailures        int
	MaxAddressFailures int
	FailureWindow      time.Duration
	// SealKey (32 bytes) seals the secret of a key made on behalf of
	// another user until its owner views it. Every node must share it.
	SealKey []byte
	// PreviousSealKey (empty, or 32 bytes), while the seal key is rotated,
	// also opens what was sealed before; nothing new is sealed with it.
	PreviousSealKey []byte
	// PasswordMinLength is the shortest password a user may be given
	// (passwords.min_length).
	PasswordMinLength int
	// CacheSize bounds each cache and failure counter, in entries
	// (caches.credential_entries).
	CacheSize int
	// PasswordCacheTTL is how long a successful password check is
	// remembered (passwords.cache_ttl).
	PasswordCacheTTL time.Duration
	// FlushEvery is how often last-use times are written
	// (store.last_use_flush).
	FlushEvery time.Duration
	// UsageFlushEvery is how often the counted use of API keys is written
	// (api_keys.usage_flush).
	UsageFlushEvery time.Duration
	// Now is the clock of the service: creation and expiry times, audit
	// times, lifetimes and idle timeouts; default time.Now. Tests that
	// compare rendered output fix it.
	Now func() time.Time
}

// check refuses a Config that leaves out a value the service needs: the
// configuration (package config) gives every one, and this package has no
// defaults of its own.
func (c *Config) check() error {
	var missing []string
	for name, bad := range map[string]bool{
		"DefaultDirectory": c.DefaultDirectory == "", "SessionIdle": c.SessionIdle <= 0, "SessionLifetime": c.SessionLifetime <= 0,
		"KeyMaxDays": c.KeyMaxDays < 1, "KeyDefaultDays": c.KeyDefaultDays < 1 || c.KeyDefaultDays > c.KeyMaxDays,
		"MaxFailures": c.MaxFailures < 1, "MaxAddressFailures": c.MaxAddressFailures < 1, "FailureWindow": c.FailureWindow <= 0,
		"PasswordMinLength": c.PasswordMinLength < 1, "CacheSize": c.CacheSize < 1, "PasswordCacheTTL": c.PasswordCacheTTL <= 0,
		"FlushEvery": c.FlushEvery <= 0, "UsageFlushEvery": c.UsageFlushEvery <= 0,
	} {
		if bad {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("credential: the configuration leaves out or misstates %s", strings.Join(missing, ", "))
	}
	return nil
}

// Service verifies and issues credentials. It is safe for concurrent use.
type Service struct {
	store  latchkey.Store
	hasher *password.Hasher
	log    *slog.Logger
	cfg    Config
	now    func() time.Time

	dummyHash string // verified against for unknown users, so they cost the same (password.Hasher.Decoy)
	cacheKey  []byte // key of the password cache's hash, random per process
	sealKeys  *seal.Keys

	// The caches. Every entry carries a stamp and is used only while v
	// says it is fresh: see versions.go for the invariant this keeps.
	users     *otter.Cache[int64, *userEntry]
	names     *otter.Cache[string, nameEntry]   // "dirkey\x00userkey" → user id
	absent    *otter.Cache[string, absentEntry] // "dirkey\x00userkey" of users not in the store
	keys      *otter.Cache[string, *keyEntry]
	sessions  *otter.Cache[[32]byte, *sessionEntry]
	passwords *otter.Cache[[32]byte, *passwordCheck] // passwordCacheKey(login, password) → check
	v         versions
	// accessGen counts changes that may change what any user is or may do:
	// users, their roles, roles' abilities, and resyncs.
	accessGen atomic.Uint64

	accounts, addresses *limiter
	touch               *toucher
	usage               *usage

	unsubscribe func()
	stop        chan struct{}
	done        sync.WaitGroup
}

// New returns a Service over st that subscribes to the store's change feed
// and writes last-use times in the background until Close.
func New(ctx context.Context, st latchkey.Store, hasher *password.Hasher, log *slog.Logger, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sealKeys, err := seal.New(cfg.SealKey, cfg.PreviousSealKey)
	if err != nil {
		return nil, err
	}
	s := &Service{
		store: st, hasher: hasher, log: log, cfg: cfg, now: cfg.Now,
		dummyHash: hasher.Decoy(),
		sealKeys:  sealKeys,
		cacheKey:  randomBytes(16),
		users:     newCache[int64, *userEntry](cfg.CacheSize, 10*time.Minute),
		names:     newCache[string, nameEntry](cfg.CacheSize, 10*time.Minute),
		absent:    newCache[string, absentEntry](cfg.CacheSize, AbsentFor),
		keys:      newCache[string, *keyEntry](cfg.CacheSize, 10*time.Minute),
		sessions:  newCache[[32]byte, *sessionEntry](cfg.CacheSize, 10*time.Minute),
		passwords: newCache[[32]byte, *passwordCheck](cfg.CacheSize, cfg.PasswordCacheTTL),
		accounts:  newLimiter(cfg.MaxFailures, cfg.FailureWindow, cfg.CacheSize),
		addresses: newLimiter(cfg.MaxAddressFailures, cfg.FailureWindow, cfg.CacheSize),
		stop:      make(chan struct{}),
	}
	s.touch = newToucher(st, log)
	s.usage = newUsage(st, log, cfg.Now)
	s.unsubscribe = st.Subscribe(s.onChange)
	s.done.Go(func() { s.every(s.cfg.FlushEvery, s.touch.flush) })
	s.done.Go(func() { s.every(s.cfg.UsageFlushEvery, s.usage.flush) })
	return s, nil
}

// newCache returns a bounded cache whose entries live at most ttl. The TTL is
// a safety net only: an entry that a change heard made stale is never used
// again (versions.go).
func newCache[K comparable, V any](size int, ttl time.Duration) *otter.Cache[K, V] {
	return otter.Must(&otter.Options[K, V]{
		MaximumSize:      size,
		ExpiryCalculator: otter.ExpiryWriting[K, V](ttl),
	})
}

// Close stops the background work, writes pending last-use times (each
// write bounded by the store's own timeout) and unsubscribes from the change
// feed. The store stays open.
func (s *Service) Close() error { return s.Shutdown(context.Background()) }

// Shutdown is Close within ctx: the last-use times still pending are
// written until ctx ends, so that a node's whole stop can share one
// deadline.
func (s *Service) Shutdown(ctx context.Context) error {
	s.unsubscribe()
	close(s.stop)
	s.done.Wait()
	var wg sync.WaitGroup
	wg.Go(func() { s.touch.flush(ctx) })
	wg.Go(func() { s.usage.flush(ctx) })
	wg.Wait()
	for _, c := range []interface{ StopAllGoroutines() bool }{s.users, s.names, s.absent, s.keys, s.sessions, s.passwords} {
		c.StopAllGoroutines()
	}
	s.accounts.close()
	s.addresses.close()
	return nil
}

// every runs flush every d, each run bounded by 10 seconds, until Close.
// The background writes (last-use times, key usage) go through it.
func (s *Service) every(d time.Duration, flush func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			flush(ctx)
			cancel()
		}
	}
}

// onChange records a committed change in the versions, which is what makes
// every entry built before it stale at once, whichever cache holds it. The
// entries removed here are removed to free memory, not for correctness.
func (s *Service) onChange(c latchkey.Change) {
	switch c.Kind {
	case latchkey.ChangeUser, latchkey.ChangeUserRoles:
		s.v.changed(userSlot(c.UserID))
		s.users.Invalidate(c.UserID)
	case latchkey.ChangeAPIKey:
		s.v.changed(keySlot(c.Name))
		s.keys.Invalidate(c.Name)
	case latchkey.ChangeSession:
		s.v.changed(sessionSlot(c.Name))
	case latchkey.ChangeUserSession:
		s.v.changed(userSessionsSlot(c.UserID))
	case latchkey.ChangeRole, latchkey.ChangeResync:
		s.v.changedAll()
		s.dropAll()
	}
	switch c.Kind {
	case latchkey.ChangeUser, latchkey.ChangeUserRoles, latchkey.ChangeRole, latchkey.ChangeResync:
		s.accessGen.Add(1)
	}
}

func (s *Service) dropAll() {
	s.users.InvalidateAll()
	s.absent.InvalidateAll()
	s.names.InvalidateAll()
	s.keys.InvalidateAll()
	s.sessions.InvalidateAll()
	s.passwords.InvalidateAll()
}
