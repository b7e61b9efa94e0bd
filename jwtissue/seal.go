package jwtissue

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
)

// sealPrefix starts a sealed private half: version 1, AES-256-GCM under the
// seal key, then the nonce and the ciphertext, with the key id as
// additional data, so that a value moved to another key id does not open.
const sealPrefix = "lks1"

// errUnopened is a sealed private half that neither seal key opens.
var errUnopened = errors.New("the seal key does not open it")

// sealer seals private halves with the current seal key and opens them with
// the current or, while the seal key is rotated, the previous one.
type sealer struct {
	current, previous cipher.AEAD
}

func newSealer(opt Options) (*sealer, error) {
	if len(opt.SealKey) != 32 {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The seal key must be 32 bytes.")
	}
	if n := len(opt.PreviousSealKey); n != 0 && n != 32 {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The previous seal key must be 32 bytes.")
	}
	s := &sealer{}
	var err error
	if s.current, err = newAEAD(opt.SealKey); err != nil {
		return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "Could not use the seal key.")
	}
	if len(opt.PreviousSealKey) != 0 {
		if s.previous, err = newAEAD(opt.PreviousSealKey); err != nil {
			return nil, latchkey.Wrap(err, latchkey.EINTERNAL, "Could not use the previous seal key.")
		}
	}
	return s, nil
}

// seal encrypts the PKCS #8 DER of the key kid with the current seal key.
func (s *sealer) seal(kid string, der []byte) ([]byte, error) {
	nonce := make([]byte, s.current.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte(sealPrefix), nonce...)
	return s.current.Seal(out, nonce, der, []byte(kid)), nil
}

// open returns the PKCS #8 DER of a stored private half: sealed, or as
// stored before private halves were sealed (plain DER, which starts with
// 0x30, the tag of an ASN.1 SEQUENCE).
func (s *sealer) open(kid string, stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, []byte(sealPrefix)) {
		if len(stored) > 0 && stored[0] == 0x30 {
			return stored, nil
		}
		return nil, fmt.Errorf("neither sealed nor PKCS #8")
	}
	b := stored[len(sealPrefix):]
	n := s.current.NonceSize()
	if len(b) < n+s.current.Overhead() {
		return nil, fmt.Errorf("a sealed value too short")
	}
	for _, a := range []cipher.AEAD{s.current, s.previous} {
		if a == nil {
			continue
		}
		if der, err := a.Open(nil, b[:n], b[n:], []byte(kid)); err == nil {
			return der, nil
		}
	}
	return nil, errUnopened
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
