package jwtissue

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// algorithms are the signing algorithms an issuer may use, with their JWS
// method.
var algorithms = map[string]jwt.SigningMethod{
	"ES256": jwt.SigningMethodES256,
	"EdDSA": jwt.SigningMethodEdDSA,
	"RS256": jwt.SigningMethodRS256,
}

// signingKey is a stored key, parsed.
type signingKey struct {
	id             string
	alg            string
	method         jwt.SigningMethod
	private        crypto.Signer
	public         crypto.PublicKey
	active, retire time.Time
	jwk            jwkset.JWKMarshal // the public key as published
}

// keySet is the key set as last read, newest (by ActiveAt) first. gen is
// the feed generation it was read at. unopened are the stored keys whose
// private half the seal keys do not open.
type keySet struct {
	keys     []*signingKey
	byID     map[string]*signingKey
	unopened []*latchkey.SigningKey
	gen      uint64
}

func newKeySet(rows []*latchkey.SigningKey, gen uint64, seal *sealer, log *slog.Logger) *keySet {
	s := &keySet{byID: make(map[string]*signingKey, len(rows)), gen: gen}
	for _, r := range rows {
		k, err := parseKey(r, seal)
		if err != nil {
			if errors.Is(err, errUnopened) {
				s.unopened = append(s.unopened, r)
			}
			log.Warn("ignoring a JWT signing key that cannot be used", "kid", r.ID, "err", err)
			continue
		}
		s.keys = append(s.keys, k)
		s.byID[k.id] = k
	}
	slices.SortFunc(s.keys, func(a, b *signingKey) int {
		if c := b.active.Compare(a.active); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id)
	})
	return s
}

// signer is the key that signs at now: the newest that is active and not
// retired, or else (another node's clock being ahead) the newest not
// retired. Two nodes that made a key at once both pick the same one.
func (s *keySet) signer(now time.Time) *signingKey {
	var fallback *signingKey
	for _, k := range s.keys {
		if !now.Before(k.retire) {
			continue
		}
		if !now.Before(k.active) {
			return k
		}
		if fallback == nil {
			fallback = k
		}
	}
	return fallback
}

// parseKey opens a stored key's private half and checks the key: a known
// algorithm, a private key of its kind, and a public key that is the
// private key's.
func parseKey(r *latchkey.SigningKey, seal *sealer) (*signingKey, error) {
	method, ok := algorithms[r.Algorithm]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q", r.Algorithm)
	}
	der, err := seal.open(r.ID, r.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok || !fitsAlgorithm(signer, r.Algorithm) {
		return nil, fmt.Errorf("the private key is not an %s key", r.Algorithm)
	}
	if eq, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, fmt.Errorf("the public key is not the private key's")
	}
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		ALG: jwkset.ALG(r.Algorithm), KID: r.ID, USE: jwkset.UseSig}})
	if err != nil {
		return nil, err
	}
	return &signingKey{id: r.ID, alg: r.Algorithm, method: method, private: signer, public: pub,
		active: r.ActiveAt, retire: r.RetireAt, jwk: jwk.Marshal()}, nil
}

func fitsAlgorithm(k crypto.Signer, alg string) bool {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		return alg == "EdDSA"
	case *rsa.PrivateKey:
		return alg == "RS256" && k.N.BitLen() >= 2048
	}
	return false
}

// generate makes a new private key for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// maintain makes a new key when none is active or the newest is older than
// rotate_every, and deletes the keys past their RetireAt. It reads the store
// first, so that a node that another has just beaten to a rotation does not
// rotate again; should two nodes still rotate at once, both keys are valid
// and both nodes sign with the same one.
func (is *Issuer) maintain(ctx context.Context) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	s, err := is.load(ctx, true)
	if err != nil {
		return err
	}
	now := is.now()
	// A key this node cannot open was sealed by a node with another seal
	// key: making a key of its own would fork the cluster's signing keys.
	for _, r := range s.unopened {
		if now.Before(r.RetireAt) {
			return latchkey.Errorf(latchkey.EINVALID, "The JWT signing key %s in the store cannot be opened with this node's seal key: "+
				"give every node the same LATCHKEY_SEAL_KEY (and, while it is being rotated, the one before as LATCHKEY_SEAL_KEY_PREVIOUS).", r.ID)
		}
	}
	changed := false
	for _, r := range s.unopened { // retired: no token it signed is still valid
		err := is.st.DeleteSigningKey(ctx, r.ID)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			return err
		}
		if err == nil {
			is.audit(ctx, latchkey.AuditSigningKeyDrop, r.ID, "retired")
		}
		changed = true
	}
	if k := s.signer(now); k == nil || !now.Before(k.active.Add(is.opt.RotateEvery)) {
		if err := is.createKey(ctx, now); err != nil {
			return err
		}
		changed = true
	}
	for _, k := range s.keys {
		if now.Before(k.retire) {
			continue
		}
		err := is.st.DeleteSigningKey(ctx, k.id)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND { // another node was first
			return err
		}
		if err == nil {
			is.audit(ctx, latchkey.AuditSigningKeyDrop, k.id, "retired")
		}
		changed = true
	}
	if changed {
		_, err = is.load(ctx, true)
	}
	return err
}

// createKey stores a new key, active from now until every token it may sign
// has expired, its private half sealed with the seal key.
func (is *Issuer) createKey(ctx context.Context, now time.Time) error {
	priv, err := generate(is.opt.Algorithm)
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "Could not make a signing key.")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "Could not encode a signing key.")
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "Could not encode a signing key.")
	}
	id := make([]byte, 12)
	rand.Read(id)
	kid := base64.RawURLEncoding.EncodeToString(id)
	sealed, err := is.seal.seal(kid, der)
	if err != nil {
		return latchkey.Wrap(err, latchkey.EINTERNAL, "Could not seal a signing key.")
	}
	k := &latchkey.SigningKey{ID: kid, Algorithm: is.opt.Algorithm,
		PrivateKey: sealed, PublicKey: pub, CreatedAt: now, ActiveAt: now,
		RetireAt: now.Add(is.opt.RotateEvery + is.opt.Lifetime)}
	if err := is.st.CreateSigningKey(ctx, k); err != nil {
		return err
	}
	is.log.Info("made a new JWT signing key", "kid", k.ID, "alg", k.Algorithm, "retire", k.RetireAt)
	is.audit(ctx, latchkey.AuditSigningKeyAdd, k.ID, k.Algorithm)
	return nil
}

// audit records a key's creation or deletion; a failure to record is
// logged and does not undo it.
func (is *Issuer) audit(ctx context.Context, action, kid, detail string) {
	e := &latchkey.AuditEvent{Time: is.now(), Action: action, Actor: "latchkey", Target: kid, Detail: detail}
	if err := is.st.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		is.log.Error("could not write the audit log", "action", action, "target", kid, "err", err)
	}
}
