// Package seal encrypts small secrets that latchkey must keep and read back
// (private halves of its signing keys, API keys made on a user's behalf
// until their owner views them) with AES-256-GCM under the seal key that
// every node shares. A sealed value is the nonce followed by the
// ciphertext; the caller's additional data (a key id) binds it to what it
// belongs to, so that a value moved elsewhere does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/latchkey/latchkey"
)

// ErrUnopened is a sealed value that neither seal key opens.
var ErrUnopened = errors.New("the seal key does not open it")

// Keys seals with the current seal key and opens with the current or,
// while the seal key is rotated, the previous one. It is safe for
// concurrent use.
type Keys struct {
	current, previous cipher.AEAD
}

// New returns the Keys of a seal key (32 bytes) and, while it is rotated,
// the previous one (32 bytes, or empty).
func New(current, previous []byte) (*Keys, error) {
	if len(current) != 32 {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The seal key must be 32 bytes.")
	}
	if n := len(previous); n != 0 && n != 32 {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The previous seal key must be 32 bytes.")
	}
	k := &Keys{}
	var err error
	if k.current, err = newAEAD(current); err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "Could not use the seal key.")
	}
	if len(previous) != 0 {
		if k.previous, err = newAEAD(previous); err != nil {
			return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "Could not use the previous seal key.")
		}
	}
	return k, nil
}

// Seal appends to dst the nonce and the ciphertext of plain under the
// current seal key, bound to ad.
func (k *Keys) Seal(dst []byte, ad string, plain []byte) []byte {
	nonce := make([]byte, k.current.NonceSize())
	rand.Read(nonce)
	return k.current.Seal(append(dst, nonce...), nonce, plain, []byte(ad))
}

// Open returns the plaintext of a value that Seal made with the same ad,
// under the current or the previous seal key; ErrUnopened when neither
// opens it.
func (k *Keys) Open(ad string, sealed []byte) ([]byte, error) {
	n := k.current.NonceSize()
	if len(sealed) < n+k.current.Overhead() {
		return nil, errors.New("a sealed value too short")
	}
	for _, a := range []cipher.AEAD{k.current, k.previous} {
		if a == nil {
			continue
		}
		if plain, err := a.Open(nil, sealed[:n], sealed[n:], []byte(ad)); err == nil {
			return plain, nil
		}
	}
	return nil, ErrUnopened
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
