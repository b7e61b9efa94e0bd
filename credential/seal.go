package credential

import (
	"crypto/aes"
	"crypto/cipher"

	"github.com/latchkey/latchkey"
)

// seal encrypts the secret of a key made on its owner's behalf, bound to the
// key's id, with AES-256-GCM under the configured seal key.
func (s *Service) seal(id, secret string) ([]byte, error) {
	aead, err := s.aead(s.cfg.SealKey)
	if err != nil {
		return nil, err
	}
	nonce := randomBytes(aead.NonceSize())
	return aead.Seal(nonce, nonce, []byte(secret), []byte(id)), nil
}

// unseal opens a sealed secret with the seal key or, while the seal key is
// rotated, the previous one.
func (s *Service) unseal(id string, sealed []byte) (string, error) {
	aead, err := s.aead(s.cfg.SealKey)
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return "", latchkey.Errorf(latchkey.EINTERNAL, "The stored key could not be read.")
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil && len(s.cfg.PreviousSealKey) != 0 {
		if previous, perr := s.aead(s.cfg.PreviousSealKey); perr == nil {
			if p, perr := previous.Open(nil, sealed[:n], sealed[n:], []byte(id)); perr == nil {
				plain, err = p, nil
			}
		}
	}
	if err != nil {
		return "", latchkey.Wrap(err, latchkey.EINTERNAL,
			"The stored key could not be read; was the seal key changed? Rotate the key.")
	}
	return string(plain), nil
}

func (s *Service) aead(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
