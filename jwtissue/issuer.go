// Package jwtissue signs and verifies latchkey's own JSON Web Tokens: those
// that the JWT login (seed 002) hands out and that routes accept through the
// verifier named "latchkey".
//
// The signing keys live in the store, so that every node signs and verifies
// with the same set; their private halves are sealed there with the seal
// key (AES-256-GCM, bound to the key id), and keys stored unsealed by
// earlier versions are still used until they rotate out. A node whose seal
// keys do not open a stored key refuses to start. A new key is made at the
// first start and whenever the newest is older than rotate_every; a key
// stays published until every token it signed has expired (rotate_every +
// lifetime after it became active), and is then deleted. Each node caches the set and reloads it when the store's
// change feed reports a signing key change.
package jwtissue

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/jwtverify"
)

// Leeway allows for clock skew between nodes and clients on exp, nbf and iat.
const Leeway = 30 * time.Second

// maintainEvery is how often an issuer looks for a key to rotate or delete.
const maintainEvery = time.Minute

// Issuer signs and verifies latchkey's tokens. It is safe for concurrent use.
type Issuer struct {
	st   latchkey.Store
	opt  Options
	log  *slog.Logger
	now  func() time.Time
	seal *sealer // seals and opens the private halves in the store

	set   atomic.Pointer[keySet]
	gen   atomic.Uint64  // counts signing key changes reported by the feed
	cache jwtverify.Part // tokens verified, until they expire or their key retires

	mu         sync.Mutex // serialises reloads and rotation
	lastForced time.Time  // last reload for an unknown kid, under mu

	unsubscribe func()
	stop        chan struct{}
	done        sync.WaitGroup
	closeOnce   sync.Once
}

// Options are what an issuer signs with. Zero values are not defaults: the
// caller gives every value (latchkey's configuration fills them, see
// config.JWTIssuer), and New refuses what is missing.
type Options struct {
	// Algorithm signs new keys' tokens: EdDSA, ES256 or RS256.
	Algorithm string
	// Issuer and Audience are the tokens' "iss" and "aud".
	Issuer, Audience string
	// Lifetime is how long a token is valid; more than 0.
	Lifetime time.Duration
	// RotateEvery is how often a new signing key is made; at least
	// Lifetime.
	RotateEvery time.Duration
	// SealKey (32 bytes) encrypts the private halves of the signing keys
	// in the store. Every node sharing the store must have the same one.
	SealKey []byte
	// PreviousSealKey (empty, or 32 bytes) also opens stored keys while
	// the seal key is being rotated; new keys are sealed with SealKey.
	PreviousSealKey []byte
	// Cache remembers the tokens verified, shared with the JWT verifiers
	// (nil: none). The issuer does not close it.
	Cache *jwtverify.Cache
}

// New returns an issuer over st's signing keys. It makes a key when the
// store has none that is due to sign, deletes retired ones, and keeps doing
// so in the background until Close.
func New(ctx context.Context, st latchkey.Store, log *slog.Logger, opt Options) (*Issuer, error) {
	return newIssuer(ctx, st, log, opt, time.Now)
}

func newIssuer(ctx context.Context, st latchkey.Store, log *slog.Logger, opt Options, now func() time.Time) (*Issuer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, ok := algorithms[opt.Algorithm]; !ok {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The signing algorithm %q is not one of EdDSA, ES256 and RS256.", opt.Algorithm)
	}
	if opt.Issuer == "" || opt.Audience == "" {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The tokens' issuer and audience must not be empty.")
	}
	if opt.Lifetime <= 0 || opt.RotateEvery < opt.Lifetime {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The token lifetime must be more than 0 and at most rotate_every.")
	}
	seal, err := newSealer(opt)
	if err != nil {
		return nil, err
	}
	opt.SealKey, opt.PreviousSealKey = nil, nil // the sealer holds them
	is := &Issuer{st: st, opt: opt, log: log, now: now, seal: seal, stop: make(chan struct{}), cache: opt.Cache.Part()}
	is.unsubscribe = st.Subscribe(is.onChange)
	if err := is.maintain(ctx); err != nil {
		is.unsubscribe()
		return nil, err
	}
	is.done.Go(is.loop)
	return is, nil
}

// Close stops the background rotation and unsubscribes from the feed. The
// store stays open. Closing twice is harmless.
func (is *Issuer) Close() error {
	is.closeOnce.Do(func() {
		is.unsubscribe()
		close(is.stop)
		is.done.Wait()
	})
	return nil
}

func (is *Issuer) loop() {
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-is.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := is.maintain(ctx); err != nil {
				is.log.Warn("rotating the JWT signing keys", "err", err)
			}
			cancel()
		}
	}
}

// onChange marks the cached key set stale, and with it the tokens verified
// with it (the cache returns them only at the generation they were
// verified at), when another node (or this one) changed the signing keys,
// or when changes may have been missed.
func (is *Issuer) onChange(c latchkey.Change) {
	if c.Kind == latchkey.ChangeSigningKey || c.Kind == latchkey.ChangeResync {
		is.gen.Add(1)
	}
}

// current returns the key set, reloading it when the feed said it changed.
func (is *Issuer) current(ctx context.Context) (*keySet, error) {
	if s := is.set.Load(); s != nil && s.gen == is.gen.Load() {
		return s, nil
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.load(ctx, false)
}

// load reads the key set from the store unless the cached one is fresh and
// force is false. When the store cannot be read it keeps serving the last
// set it had. is.mu must be held.
func (is *Issuer) load(ctx context.Context, force bool) (*keySet, error) {
	old := is.set.Load()
	gen := is.gen.Load()
	if !force && old != nil && old.gen == gen {
		return old, nil
	}
	rows, err := is.st.SigningKeys(ctx)
	if err != nil {
		if old != nil {
			is.log.Warn("reloading the JWT signing keys; keeping the last set", "err", err)
			return old, nil
		}
		return nil, err
	}
	s := newKeySet(rows, gen, is.seal, is.log)
	is.set.Store(s)
	return s, nil
}

// refreshFor reloads the set for a kid it does not hold (another node may
// have rotated a moment ago), at most once a second, and returns the key.
func (is *Issuer) refreshFor(ctx context.Context, kid string) *signingKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	if s := is.set.Load(); s != nil && s.byID[kid] != nil {
		return s.byID[kid]
	}
	if time.Since(is.lastForced) < time.Second {
		return nil
	}
	is.lastForced = time.Now()
	s, err := is.load(ctx, true)
	if err != nil {
		return nil
	}
	return s.byID[kid]
}
