package jwtissue

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/jwtverify"
)

// Claims are the claims of latchkey's tokens: the registered ones (sub is
// DIR\user), who the user is, and what the token may do: whether the
// principal it was signed for is read-only, and the credential that
// principal proved itself with (its method and id, never a secret), so
// that latchkey can refuse the token once that credential is gone.
type Claims struct {
	jwt.RegisteredClaims
	UserID    int64    `json:"uid,omitempty"`
	Name      string   `json:"name,omitempty"`
	Email     string   `json:"email,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Directory string   `json:"directory"`
	Username  string   `json:"username"`
	// ReadOnly is the principal's read-only state: true allows only GET,
	// HEAD and OPTIONS. Always written; a token without it (signed before
	// it existed) is read-write.
	ReadOnly bool `json:"read_only"`
	// CredentialMethod is how the principal was proved: "apikey",
	// "password", "session", "cert", "jwt", … and CredentialID the id of
	// that credential where it has one (an API key's id, a session's id, a
	// certificate's fingerprint, a token's jti).
	CredentialMethod string `json:"credential_method,omitempty"`
	CredentialID     string `json:"credential_id,omitempty"`
}

// Sign returns a token for the principal, signed with the newest active
// key, and when it expires: after the configured lifetime, or sooner when
// the principal's own credentials expire sooner. The token carries the
// principal's read-only state, and its Method and CredentialID as the
// credential it came from: callers pass a principal whose Method says how
// it was proved (credential.ByAPIKey, credential.ByPassword, a session, …).
func (is *Issuer) Sign(ctx context.Context, p *latchkey.Principal) (string, time.Time, error) {
	if p.IsAnonymous() || p.Username == "" || p.Directory == "" {
		return "", time.Time{}, latchkey.Errorf(latchkey.EINVALID, "Only a signed-in user can be given a token.")
	}
	k, err := is.signer(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	now := is.now().Truncate(time.Second)
	exp := now.Add(is.opt.Lifetime)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt
	}
	if k.retire.Before(exp) {
		exp = k.retire // never beyond the key's own publication
	}
	exp = exp.Truncate(time.Second)
	if !exp.After(now) {
		return "", time.Time{}, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The credentials have expired; sign in again.")
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: is.opt.Issuer, Audience: jwt.ClaimStrings{is.opt.Audience}, Subject: p.QualifiedName(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
			ID: base64.RawURLEncoding.EncodeToString(jti),
		},
		UserID: p.UserID, Name: p.DisplayName, Email: p.Email, Groups: p.Groups,
		Directory: p.Directory, Username: p.Username,
		ReadOnly: p.ReadOnly, CredentialMethod: p.Method, CredentialID: p.CredentialID,
	}
	t := jwt.NewWithClaims(k.method, c)
	t.Header["kid"] = k.id
	raw, err := t.SignedString(k.private)
	if err != nil {
		return "", time.Time{}, latchkey.Wrap(err, latchkey.EINTERNAL, "Could not sign the token.")
	}
	return raw, exp, nil
}

// signer returns the key to sign with, rotating first when the newest key
// is due. Should the rotation fail (the store being down), it signs with
// the key it has while that is still published.
func (is *Issuer) signer(ctx context.Context) (*signingKey, error) {
	s, err := is.current(ctx)
	if err != nil {
		return nil, err
	}
	now := is.now()
	k := s.signer(now)
	if k != nil && now.Before(k.active.Add(is.opt.RotateEvery)) {
		return k, nil
	}
	if err := is.maintain(ctx); err != nil {
		if k == nil {
			return nil, err
		}
		is.log.Warn("rotating the JWT signing key; signing with the old one", "err", err)
		return k, nil
	}
	if s, err = is.current(ctx); err != nil {
		return nil, err
	}
	if k = s.signer(now); k == nil {
		return nil, latchkey.Errorf(latchkey.EUNAVAILABLE, "No JWT signing key is available.")
	}
	return k, nil
}

var (
	errUnknownKey = errors.New("unknown key")
	errWrongAlg   = errors.New("algorithm not the key's")
	validMethods  = []string{"ES256", "EdDSA", "RS256"}
)

// Verify checks a token of this issuer: its signature by the published key
// its kid names (with that key's algorithm only), exp, nbf and iat with 30
// seconds' leeway, iss and aud. A token verified before is answered from
// memory until it expires or its key retires (and forgotten when the
// signing keys change); the Result is shared and must not be modified.
func (is *Issuer) Verify(ctx context.Context, raw string) (*jwtverify.Result, error) {
	if len(raw) > jwtverify.MaxTokenBytes {
		return nil, jwtverify.ErrTooLong
	}
	gen := is.gen.Load() // before the keys are read: see jwtverify.Cache
	if res := is.cache.Get(raw, gen); res != nil {
		return res, nil
	}
	s, err := is.current(ctx)
	if err != nil {
		return nil, err
	}
	var c Claims
	var key *signingKey
	keyfunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.byID[kid]
		if k == nil && kid != "" {
			k = is.refreshFor(ctx, kid)
		}
		if k == nil || !is.now().Before(k.retire.Add(Leeway)) {
			return nil, errUnknownKey
		}
		if t.Method.Alg() != k.alg {
			return nil, errWrongAlg
		}
		key = k
		return k.public, nil
	}
	parser := jwt.NewParser(jwt.WithValidMethods(validMethods), jwt.WithLeeway(Leeway), jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(), jwt.WithIssuer(is.opt.Issuer), jwt.WithAudience(is.opt.Audience),
		jwt.WithTimeFunc(is.now))
	t, err := parser.ParseWithClaims(raw, &c, keyfunc)
	if err != nil {
		return nil, verifyError(err)
	}
	kid, _ := t.Header["kid"].(string)
	if c.Username == "" || c.Directory == "" || c.ID == "" {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The token lacks the directory, username or jti claim.")
	}
	res := &jwtverify.Result{
		Directory: c.Directory, Username: c.Username, DisplayName: c.Name, Email: c.Email, Groups: c.Groups,
		Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience, JTI: c.ID, KeyID: kid,
		IssuedAt: c.IssuedAt.Time, NotBefore: c.NotBefore.Time, ExpiresAt: c.ExpiresAt.Time,
		ReadOnly: c.ReadOnly, CredentialMethod: c.CredentialMethod, CredentialID: c.CredentialID,
	}
	until := res.ExpiresAt
	if key.retire.Before(until) {
		until = key.retire
	}
	is.cache.Set(raw, res, until.Add(Leeway), gen)
	return res, nil
}

// verifyError turns a parser error into latchkey's: a token that is no JWT
// or lacks a claim is EINVALID, every other refusal EUNAUTHORIZED.
func verifyError(err error) error {
	msg := "The token's signature is not valid."
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return latchkey.Wrap(err, latchkey.EINVALID, "The token is not a well-formed JWT.")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return latchkey.Wrap(err, latchkey.EINVALID, "The token lacks the exp claim.")
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "The token has expired; sign in again."
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "The token is not valid yet."
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "The token was not issued for this latchkey (iss or aud)."
	case errors.Is(err, errUnknownKey):
		msg = "The token's signing key (kid) is not one of latchkey's."
	case errors.Is(err, errWrongAlg), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		msg = "The token's signature is not valid."
	}
	return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, msg)
}

// JWKS returns the public keys of every key not yet retired as a JSON Web
// Key Set: {"keys":[{"kty","use":"sig","alg","kid",…}]}.
func (is *Issuer) JWKS(ctx context.Context) ([]byte, error) {
	s, err := is.current(ctx)
	if err != nil {
		return nil, err
	}
	now := is.now()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range s.keys {
		if now.Before(k.retire) {
			set.Keys = append(set.Keys, k.jwk)
		}
	}
	return json.Marshal(set)
}
