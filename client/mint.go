package client

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/latchkey/latchkey/jwtmint"
)

// DefaultMintExpiry is the lifetime of a minted token when the claims'
// Expires is zero: long enough for one request and a clock a little off,
// short enough that a token seen in a log is soon useless.
const DefaultMintExpiry = 5 * time.Minute

// A Minter makes a new signed token each time it is asked: for
// MintedBearer (a token per request) and JWTSession (a token per exchange,
// since each token's jti opens one session only). It must be safe for
// concurrent use.
type Minter interface {
	Mint() (string, error)
}

// MinterFunc is a function that is a Minter.
type MinterFunc func() (string, error)

// Mint calls f.
func (f MinterFunc) Mint() (string, error) { return f() }

// QSEoWMinter returns a Minter of tokens for a Qlik Sense Enterprise JWT
// virtual proxy (seed 000), as "latchkey jwt create qseow" makes them:
// claims userId, userDirectory, name, email, group, iat, exp and aud,
// signed without a kid. Each token is issued now and lives claims.Expires
// (DefaultMintExpiry when zero); claims.IssuedAt is ignored. The claims are
// checked here, so that a mistake shows before the first request.
func QSEoWMinter(s *jwtmint.Signer, claims jwtmint.QSEoW) (Minter, error) {
	if s == nil {
		return nil, errors.New("client: QSEoWMinter: no signer")
	}
	claims.IssuedAt = time.Time{}
	if claims.Expires == 0 {
		claims.Expires = DefaultMintExpiry
	}
	if _, err := claims.Claims(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return MinterFunc(func() (string, error) {
		tok, _, err := claims.Mint(s)
		return tok, err
	}), nil
}

// CloudMinter returns a Minter of tokens for Qlik Cloud's
// /login/jwt-session (seed 000), as "latchkey jwt create cloud" makes them:
// a kid header; claims jti, sub, subType, name, email, group,
// email_verified, iat, nbf, exp, aud and iss. Each token has a new random
// jti, is issued now and lives claims.Expires (DefaultMintExpiry when zero;
// Qlik Cloud allows an hour at most); claims.JTI and claims.IssuedAt are
// ignored. Set claims.Subject: when it is empty every token names a new
// random user, as qs-jwt does.
func CloudMinter(s *jwtmint.Signer, claims jwtmint.Cloud) (Minter, error) {
	if s == nil {
		return nil, errors.New("client: CloudMinter: no signer")
	}
	claims.IssuedAt, claims.JTI = time.Time{}, ""
	if claims.Expires == 0 {
		claims.Expires = DefaultMintExpiry
	}
	if claims.KeyID == "" {
		return nil, errors.New("client: a Qlik Cloud token needs a key id (the kid header)")
	}
	if _, err := claims.Claims(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return MinterFunc(func() (string, error) {
		tok, _, err := claims.Mint(s)
		return tok, err
	}), nil
}

// LoadSigner reads a PEM private key (PKCS#8, PKCS#1 or SEC1, such as the
// privatekey.pem that "latchkey jwt create --cert-create" writes) and
// returns a signer for alg. An empty alg means what the key signs with by
// default: RS256 for RSA (what Qlik accepts), ES256, ES384 or ES512 for
// ECDSA by curve, EdDSA for Ed25519. Errors name the file, never the key.
func LoadSigner(privateKeyFile, alg string) (*jwtmint.Signer, error) {
	data, err := os.ReadFile(privateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("client: read the private key: %w", err)
	}
	key, err := jwtmint.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", privateKeyFile, err)
	}
	if alg == "" {
		alg = jwtmint.AlgorithmFor(key)
	}
	s, err := jwtmint.NewSigner(alg, key)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", privateKeyFile, err)
	}
	return s, nil
}
