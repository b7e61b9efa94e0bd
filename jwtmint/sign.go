package jwtmint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms are the signing algorithms a Signer supports.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithm is the algorithm qs-jwt signs with, and the only family
// a QSEoW virtual proxy accepts (RS256, RS384, RS512).
const DefaultAlgorithm = "RS256"

// MinRSABits is the smallest RSA key a Signer accepts.
const MinRSABits = 2048

// Signer signs claims with one private key and algorithm.
type Signer struct {
	alg    string
	key    crypto.Signer
	method jwt.SigningMethod
}

// NewSigner returns a signer for the algorithm (one of Algorithms; "" means
// RS256) and key, which must be of the algorithm's type: RSA of at least
// 2048 bits for RS* and PS*, ECDSA on P-256, P-384 or P-521 for ES256,
// ES384 or ES512, Ed25519 for EdDSA.
func NewSigner(alg string, key crypto.Signer) (*Signer, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if err := CheckKey(alg, key); err != nil {
		return nil, err
	}
	if k, ok := key.(*ed25519.PrivateKey); ok {
		key = *k
	}
	return &Signer{alg: alg, key: key, method: jwt.GetSigningMethod(alg)}, nil
}

// Algorithm returns the signer's algorithm.
func (s *Signer) Algorithm() string { return s.alg }

// Key returns the signer's private key.
func (s *Signer) Key() crypto.Signer { return s.key }

// Public returns the signer's public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign returns the signed token for the claims, with the header
// {"alg":…,"typ":"JWT"} and, when keyID is not empty, "kid".
func (s *Signer) Sign(c *Claims, keyID string) (string, error) {
	t := jwt.NewWithClaims(s.method, c)
	if keyID != "" {
		t.Header["kid"] = keyID
	}
	tok, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign the token with %s: %w", s.alg, err)
	}
	return tok, nil
}

// CheckKey reports, as an error that says what to do, whether key fits the
// signing algorithm alg.
func CheckKey(alg string, key crypto.Signer) error {
	if !slices.Contains(Algorithms, alg) {
		return fmt.Errorf("algorithm %q is not one latchkey signs with; use one of %s", alg, strings.Join(Algorithms, ", "))
	}
	if key == nil {
		return errors.New("no private key to sign with")
	}
	switch alg[:2] {
	case "RS", "PS":
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA private key, and this is %s", alg, KeyType(key))
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("the RSA key has %d bits; %s needs at least %d", bits, alg, MinRSABits)
		}
	case "ES":
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok || k.Curve != want {
			return fmt.Errorf("%s needs an ECDSA %s private key, and this is %s", alg, want.Params().Name, KeyType(key))
		}
	case "Ed":
		switch key.(type) {
		case ed25519.PrivateKey, *ed25519.PrivateKey:
		default:
			return fmt.Errorf("EdDSA needs an Ed25519 private key, and this is %s", KeyType(key))
		}
	}
	return nil
}

// KeyType describes a private or public key, such as "an RSA 2048-bit key"
// or "an ECDSA P-256 key".
func KeyType(key any) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("an RSA %d-bit key", k.N.BitLen())
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA %d-bit key", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return "an ECDSA " + k.Curve.Params().Name + " key"
	case *ecdsa.PublicKey:
		return "an ECDSA " + k.Curve.Params().Name + " key"
	case ed25519.PrivateKey, *ed25519.PrivateKey, ed25519.PublicKey:
		return "an Ed25519 key"
	case nil:
		return "no key"
	}
	return fmt.Sprintf("a key of type %T", key)
}

// ParsePrivateKey reads the first private key in PEM data: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY").
// Other blocks (certificates, EC parameters) are skipped. Encrypted keys are
// refused: decrypt them first, with "openssl pkey -in key.pem -out plain.pem".
// PEM pasted with literal "\n" sequences instead of line breaks (as it often
// is in environment variables) is read too.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	if !strings.Contains(string(data), "\n") && strings.Contains(string(data), `\n`) {
		data = []byte(strings.ReplaceAll(string(data), `\n`, "\n"))
	}
	var seen []string
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		seen = append(seen, b.Type)
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, errors.New("the private key is encrypted; decrypt it first, for example with: openssl pkey -in key.pem -out plain.pem")
		}
		var key any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the %s PEM block: %w", b.Type, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("the %s PEM block holds %s, which cannot sign", b.Type, KeyType(key))
		}
		return s, nil
	}
	if len(seen) == 0 {
		return nil, errors.New("no PEM data found; give a PEM private key (-----BEGIN PRIVATE KEY----- …)")
	}
	return nil, fmt.Errorf("no private key in the PEM data (it holds %s); give the private key, not the certificate or public key", strings.Join(seen, ", "))
}

// AlgorithmFor is what a key signs with when no algorithm is asked for:
// DefaultAlgorithm (RS256, what Qlik accepts) for RSA, the algorithm of its
// curve for ECDSA, EdDSA for Ed25519.
func AlgorithmFor(key crypto.Signer) string {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
		return "ES256"
	case ed25519.PrivateKey, *ed25519.PrivateKey:
		return "EdDSA"
	}
	return DefaultAlgorithm
}
