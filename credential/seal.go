package credential

import (
	"github.com/latchkey/latchkey"
)

// seal encrypts the secret of a key made on its owner's behalf, bound to the
// key's id, under the seal key (seal.Keys).
func (s *Service) seal(id, secret string) ([]byte, error) {
	return s.sealKeys.Seal(nil, id, []byte(secret)), nil
}

// unseal opens a sealed secret with the seal key or, while the seal key is
// rotated, the previous one.
func (s *Service) unseal(id string, sealed []byte) (string, error) {
	plain, err := s.sealKeys.Open(id, sealed)
	if err != nil {
		return "", latchkey.Wrap(err, latchkey.EINTERNAL,
			"The stored key could not be read; was the seal key changed? Rotate the key.")
	}
	return string(plain), nil
}
