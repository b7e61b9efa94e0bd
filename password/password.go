// Package password hashes and checks passwords with argon2id.
//
// Hashes are PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so the cost
// can rise later without invalidating stored hashes. Hashing is memory-hard on
// purpose; a Hasher bounds how many hashes run at once, so that a burst of
// logins (or of wrong passwords) cannot exhaust memory: the others wait their
// turn or give up when their context ends.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/latchkey/latchkey"
)

// Params is the cost of argon2id.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams costs 64 MiB and two passes: tens of milliseconds on a
// server core, far more for anyone guessing at scale.
var DefaultParams = Params{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on what a password may be.
const (
	MinLength = 8
	MaxLength = 1024 // bytes; bounds the work one request can ask for
)

// Hasher hashes and verifies passwords, at most a fixed number at once,
// with at most a fixed number more waiting for their turn.
type Hasher struct {
	params  Params
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
}

// WaitingPerSlot is how many hashes may wait per hash running; more are
// refused at once (ERATELIMITED) rather than queued, so that a flood of
// password checks is answered quickly and a good user's check is not
// behind hundreds of bad ones.
const WaitingPerSlot = 8

// NewHasher returns a Hasher with the given cost that runs at most
// concurrency hashes at once. 0 means one fewer than the number of CPUs (at
// least one), so that a flood of password checks leaves a core for the
// requests that need no hashing.
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = max(1, runtime.NumCPU()-1)
	}
	return &Hasher{params: p, slots: make(chan struct{}, concurrency), maxWait: int64(concurrency * WaitingPerSlot)}
}

var errBusy = latchkey.Errorf(latchkey.ERATELIMITED, "Too many password checks are waiting; try again in a few seconds.")

// Validate reports whether a new password is acceptable, with a sentence
// saying what to fix.
func Validate(pw string) error {
	switch {
	case len(pw) < MinLength:
		return latchkey.Errorf(latchkey.EINVALID, "The password must be at least %d characters.", MinLength)
	case len(pw) > MaxLength:
		return latchkey.Errorf(latchkey.EINVALID, "The password must be at most %d bytes.", MaxLength)
	}
	return nil
}

// Decoy returns a PHC string with the hasher's parameters and a random salt
// and key, which no password matches: verifying against it costs what
// verifying a real hash costs, while making it costs nothing. Sign-ins of
// unknown users are checked against one, so that they take as long as
// those of known users.
func (h *Hasher) Decoy() string {
	salt, key := make([]byte, h.params.SaltLen), make([]byte, h.params.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	return format(h.params, salt, key)
}

// Hash returns the PHC string of a new password. It does not validate the
// password: call Validate first for passwords a person chose.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	rand.Read(salt)
	key, err := h.derive(ctx, h.params, salt, pw, nil)
	if err != nil {
		return "", err
	}
	return format(h.params, salt, key), nil
}

// Verify reports whether pw matches the PHC string encoded. A wrong password
// is (false, nil); an error means the check could not be made (a malformed
// hash, or the context ended while waiting for a slot). Passwords longer
// than MaxLength never match but still cost a full hash.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	return h.VerifyAdmitted(ctx, encoded, pw, nil)
}

// VerifyAdmitted is Verify that, once its turn has come and before it
// hashes, asks admit (when not nil) whether the check is still wanted: an
// error from admit — such as a limit of failed sign-ins that was reached
// while this check waited — is returned without hashing.
func (h *Hasher) VerifyAdmitted(ctx context.Context, encoded, pw string, admit func() error) (bool, error) {
	p, salt, want, err := Parse(encoded)
	if err != nil {
		return false, err
	}
	tooLong := len(pw) > MaxLength
	if tooLong {
		pw = pw[:MaxLength]
	}
	got, err := h.derive(ctx, p, salt, pw, admit)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1 && !tooLong, nil
}

func (h *Hasher) derive(ctx context.Context, p Params, salt []byte, pw string, admit func() error) ([]byte, error) {
	select {
	case h.slots <- struct{}{}: // a free slot: no wait
	default:
		if h.waiting.Add(1) > h.maxWait {
			h.waiting.Add(-1)
			return nil, errBusy
		}
		select {
		case h.slots <- struct{}{}:
			h.waiting.Add(-1)
		case <-ctx.Done():
			h.waiting.Add(-1)
			return nil, latchkey.Wrap(ctx.Err(), latchkey.EUNAVAILABLE, "The server is busy; try again.")
		}
	}
	defer func() { <-h.slots }()
	if admit != nil {
		if err := admit(); err != nil {
			return nil, err
		}
	}
	return argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

var b64 = base64.RawStdEncoding

func format(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Bounds on the parameters a stored hash may ask for, so that a corrupt or
// hostile hash cannot make a check exhaust memory or time.
const (
	maxMemory  = 1 << 20 // KiB (1 GiB)
	maxTime    = 32
	maxKeyLen  = 128
	maxSaltLen = 128
)

// Parse splits a PHC argon2id string into its parameters, salt and key.
func Parse(encoded string) (Params, []byte, []byte, error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, latchkey.Errorf(latchkey.EINTERNAL, "stored password hash is malformed: %s", why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	var p Params
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return bad("bad parameter")
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return bad("bad parallelism")
			}
			p.Threads = uint8(n)
		default:
			return bad("unknown parameter")
		}
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) {
		return bad("parameters out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return bad("bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return bad("bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// Random returns a new random password of 128 bits, for first
// administrators and resets; it is printed once and never stored.
func Random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
