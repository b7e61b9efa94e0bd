package jwtmint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pki"
)

// The names of the files WriteFiles writes (after a prefix), as qs-jwt
// names them.
const (
	PublicKeyFile   = "publickey.pem"  // the public key, PEM "PUBLIC KEY"
	PrivateKeyFile  = "privatekey.pem" // the private key, PEM "PRIVATE KEY" (PKCS#8), mode 0600
	CertificateFile = "publickey.cer"  // the self-signed certificate, PEM "CERTIFICATE"
)

// DefaultRSABits is the size of the RSA keys GenerateKey makes by default.
const DefaultRSABits = 2048

// GenerateKey makes a private key for the algorithm: RSA (rsaBits, 0 for
// 2048) for RS* and PS*, ECDSA P-256, P-384 or P-521 for ES256, ES384 or
// ES512, Ed25519 for EdDSA.
func GenerateKey(alg string, rsaBits int) (crypto.Signer, error) {
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("algorithm %q is not one latchkey signs with; use one of %s", alg, strings.Join(Algorithms, ", "))
	}
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	if rsaBits == 0 {
		rsaBits = DefaultRSABits
	}
	if rsaBits < MinRSABits || rsaBits > 16384 {
		return nil, fmt.Errorf("an RSA key of %d bits: use %d to 16384", rsaBits, MinRSABits)
	}
	return rsa.GenerateKey(rand.Reader, rsaBits)
}

// KeyPairOptions shape a new key pair and its certificate.
type KeyPairOptions struct {
	// RSABits is the size of an RSA key; 0 means 2048.
	RSABits int
	// CommonName is the certificate's subject and issuer; "" means
	// "latchkey-jwt".
	CommonName string
	// Lifetime is how long the certificate is valid; 0 means 365 days.
	Lifetime time.Duration
}

// KeyPair is a private key and a self-signed certificate for its public
// key: what an identity provider (a QSEoW virtual proxy, a Qlik Cloud JWT
// IdP) is given to check the tokens the key signs.
type KeyPair struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// NewKeyPair makes a key for the algorithm (see GenerateKey) and a
// self-signed certificate for it.
func NewKeyPair(alg string, o KeyPairOptions) (*KeyPair, error) {
	key, err := GenerateKey(alg, o.RSABits)
	if err != nil {
		return nil, err
	}
	cert, err := SelfSignedCertificate(key, o.CommonName, o.Lifetime)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Key: key, Certificate: cert}, nil
}

// SelfSignedCertificate returns a certificate for key's public key, signed
// by key, valid from now (less a minute for clock skew) for lifetime (0
// means 365 days).
func SelfSignedCertificate(key crypto.Signer, commonName string, lifetime time.Duration) (*x509.Certificate, error) {
	if commonName == "" {
		commonName = "latchkey-jwt"
	}
	if lifetime == 0 {
		lifetime = 365 * 24 * time.Hour
	}
	if lifetime < 0 {
		return nil, errors.New("a certificate's lifetime must be positive")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("make the certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// PrivateKeyPEM returns the key as PEM "PRIVATE KEY" (PKCS#8).
func PrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyPEM returns the key as PEM "PUBLIC KEY" (PKIX).
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// CertificatePEM returns the certificate as PEM "CERTIFICATE".
func CertificatePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// existsError is WriteFiles' refusal to replace a file; it is fs.ErrExist.
type existsError string

func (e existsError) Error() string {
	return string(e) + " already exists; choose another directory or prefix, or allow overwriting"
}
func (e existsError) Is(target error) bool { return target == fs.ErrExist }

// Files are the paths WriteFiles wrote.
type Files struct {
	PublicKey   string `json:"public_key"`
	PrivateKey  string `json:"private_key"`
	Certificate string `json:"certificate"`
}

// WriteFiles writes the pair into dir (made, mode 0700, when missing) as
// prefix+publickey.pem, prefix+privatekey.pem (mode 0600) and
// prefix+publickey.cer (the certificate), each atomically. Unless overwrite
// is set, it writes nothing when any of the three exists (the error is then
// fs.ErrExist): replacing a key that an identity provider trusts breaks
// every token signed with it.
func (kp *KeyPair) WriteFiles(dir, prefix string, overwrite bool) (Files, error) {
	if dir == "" {
		dir = "."
	}
	if strings.ContainsAny(prefix, `/\`) {
		return Files{}, fmt.Errorf("the file prefix %q contains a path separator; give the directory separately", prefix)
	}
	f := Files{
		PublicKey:   filepath.Join(dir, prefix+PublicKeyFile),
		PrivateKey:  filepath.Join(dir, prefix+PrivateKeyFile),
		Certificate: filepath.Join(dir, prefix+CertificateFile),
	}
	priv, err := PrivateKeyPEM(kp.Key)
	if err != nil {
		return Files{}, err
	}
	pub, err := PublicKeyPEM(kp.Key.Public())
	if err != nil {
		return Files{}, err
	}
	if !overwrite {
		for _, name := range []string{f.PrivateKey, f.PublicKey, f.Certificate} {
			if _, err := os.Lstat(name); err == nil {
				return Files{}, existsError(name)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return Files{}, err
			}
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, err
	}
	for _, w := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{f.PrivateKey, priv, 0o600},
		{f.PublicKey, pub, 0o644},
		{f.Certificate, CertificatePEM(kp.Certificate), 0o644},
	} {
		if err := pki.WriteFile(w.name, w.data, w.mode); err != nil {
			return Files{}, fmt.Errorf("write %s: %w", w.name, err)
		}
	}
	return f, nil
}
