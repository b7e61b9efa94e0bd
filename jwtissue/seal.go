package jwtissue

import (
	"bytes"
	"fmt"

	"github.com/latchkey/latchkey/seal"
)

// sealPrefix starts a sealed private half: version 1, then what seal.Keys
// makes (the nonce and the AES-256-GCM ciphertext under the seal key, with
// the key id as additional data, so that a value moved to another key id
// does not open).
const sealPrefix = "lks1"

// errUnopened is a sealed private half that neither seal key opens.
var errUnopened = seal.ErrUnopened

// sealer seals private halves and opens them, sealed or as stored before
// they were sealed.
type sealer struct{ keys *seal.Keys }

func newSealer(opt Options) (*sealer, error) {
	k, err := seal.New(opt.SealKey, opt.PreviousSealKey)
	if err != nil {
		return nil, err
	}
	return &sealer{keys: k}, nil
}

// seal encrypts the PKCS #8 DER of the key kid with the current seal key.
func (s *sealer) seal(kid string, der []byte) ([]byte, error) {
	return s.keys.Seal([]byte(sealPrefix), kid, der), nil
}

// open returns the PKCS #8 DER of a stored private half: sealed, or as
// stored before private halves were sealed (plain DER, which starts with
// 0x30, the tag of an ASN.1 SEQUENCE). One that neither seal key opens is
// seal.ErrUnopened.
func (s *sealer) open(kid string, stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, []byte(sealPrefix)) {
		if len(stored) > 0 && stored[0] == 0x30 {
			return stored, nil
		}
		return nil, fmt.Errorf("neither sealed nor PKCS #8")
	}
	return s.keys.Open(kid, stored[len(sealPrefix):])
}
