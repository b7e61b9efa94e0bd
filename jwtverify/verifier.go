// Package jwtverify checks JSON Web Tokens that others sign — an identity
// provider, Qlik's qs-jwt tool — against one configured verifier: its keys
// (PEM files, inline PEM, JWKS URLs, HMAC secrets), its algorithm allow-list,
// its claim rules (exp, nbf, iat with leeway, aud, iss, maximum lifetime, the
// qlik-cloud profile) and its mapping of claims onto a principal.
//
// Parsing and signature checks are golang-jwt's; JWK Sets are fetched,
// cached and refreshed by keyfunc. The claims set is decoded in one pass
// by jsontext's tokenizer, keeping only the claims the verifier reads and
// skipping the rest (decode.go). Each key serves only the algorithms of
// its own family, so an HMAC secret and a public key are never
// interchangeable, and "none" is never accepted.
//
// Tokens verified once are remembered (keyed by the token itself, within a
// memory budget) until they expire, so that a client that repeats its token
// costs one map lookup.
package jwtverify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// MaxTokenBytes is the longest token looked at; longer ones are refused
// before parsing.
const MaxTokenBytes = 16 << 10

// Verifier checks the tokens of one configured verifier. It is safe for
// concurrent use.
type Verifier struct {
	name      string
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	static    []staticKey
	jwks      *jwks // nil: no jwks_url
	cancel    context.CancelFunc
	parser    *jwt.Parser
	validator *jwt.Validator
	claims    *claimSet   // the claims verify decodes
	keys      jwt.Keyfunc // the static keys' keyfunc; nil with a JWK Set
	userLabel string      // the user id, in messages
	cache     Part        // the verifier's share of the configured Cache
}

// Config describes one verifier. Its zero values are not defaults: the
// caller gives every value (latchkey's configuration fills them, see
// config.JWTVerifier), and New refuses what is missing.
type Config struct {
	// Name names the verifier in messages and logs.
	Name string
	// Keys are where the verification keys come from.
	Keys []Key
	// Algorithms lists the accepted "alg" values; each key serves only
	// those of its own family, and "none" is never accepted.
	Algorithms []string
	// Audience, when given, must contain the token's "aud" (one of them).
	Audience []string
	// Issuer, when given, must equal the token's "iss".
	Issuer string
	// Leeway allows for clock skew on exp, nbf and iat.
	Leeway time.Duration
	// MaxLifetime, when more than 0, refuses tokens whose exp lies further
	// than this after nbf (or iat).
	MaxLifetime time.Duration
	// QlikCloud requires Qlik Cloud's claims: a kid header, iss, aud, sub,
	// subType, name, email, email_verified (true), jti, iat, nbf and exp.
	QlikCloud bool
	Claims    Claims
	// Cache remembers the tokens verified, shared with other verifiers
	// (nil: none; every token is checked afresh). The verifier does not
	// close it.
	Cache *Cache
}

// Key is one source of verification keys: exactly one of File, PEM,
// JWKSURL and SecretEnv is set.
type Key struct {
	File    string // PEM file: certificate or public key
	PEM     string // the same, inline
	JWKSURL string // a JWK Set, fetched and refreshed in the background
	// SecretEnv names the environment variable that holds an HMAC secret.
	SecretEnv string
	// KeyID, for a file, pem or secret, is the "kid" the key answers to;
	// empty means any token (with or without a kid) may use it.
	KeyID string
}

// Claims names the claims that make the principal.
type Claims struct {
	User             string   // the user id; required
	Directory        string   // the user directory; "" for none
	DefaultDirectory string   // the directory of tokens without one; required
	Name             string   // "" for none
	Email            string   // "" for none
	Groups           []string // each a string or an array of strings
	// Extra names other claims to copy onto the result (string values,
	// or numbers and booleans as text).
	Extra []string
}

// New builds the verifier c describes. HMAC secrets are read with getenv
// (nil: os.Getenv). JWK Sets are fetched before New returns — a URL that
// does not answer is logged, not fatal, and retried — and refreshed in the
// background until Close or the end of ctx.
func New(ctx context.Context, c Config, getenv func(string) string, log *slog.Logger) (*Verifier, error) {
	return newVerifier(ctx, c, getenv, log, defaultOptions)
}

func newVerifier(ctx context.Context, c Config, getenv func(string) string, log *slog.Logger, o options) (*Verifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	v := &Verifier{name: c.Name, cfg: c, log: log, now: o.now}
	fail := func(format string, args ...any) (*Verifier, error) {
		return nil, fmt.Errorf("jwt verifier %s: "+format, append([]any{c.Name}, args...)...)
	}
	if len(c.Algorithms) == 0 {
		return fail("algorithms: list the accepted algorithms, such as [RS256]")
	}
	for _, alg := range c.Algorithms {
		if m := jwt.GetSigningMethod(alg); m == nil || m == jwt.SigningMethodNone {
			return fail("algorithms: %q is not an algorithm latchkey verifies", alg)
		}
	}
	var urls []string
	for i, k := range c.Keys {
		if k.JWKSURL != "" {
			urls = append(urls, k.JWKSURL)
			continue
		}
		key, err := loadStatic(k, getenv)
		if err != nil {
			return fail("keys[%d]: %v", i, err)
		}
		if !slices.ContainsFunc(c.Algorithms, func(alg string) bool { return fits(alg, key) }) {
			return fail("keys[%d]: an %s key serves none of the algorithms %v", i, family(key), c.Algorithms)
		}
		if b, ok := key.([]byte); ok && len(b) < 32 {
			log.Warn("an HMAC secret shorter than 32 bytes is easy to guess", "verifier", c.Name, "key", i)
		}
		v.static = append(v.static, staticKey{kid: k.KeyID, key: key})
	}
	if len(urls) > 0 {
		jctx, cancel := context.WithCancel(ctx)
		jwks, err := newJWKS(jctx, urls, o, func(u string, err error) {
			log.Warn("JWKS fetch failed; keeping the last good key set", "verifier", c.Name, "url", u, "err", err)
		})
		if err != nil {
			cancel()
			return fail("jwks_url: %v", err)
		}
		v.jwks, v.cancel = jwks, cancel
	}
	if len(v.static) == 0 && v.jwks == nil {
		return fail("keys: give at least one key")
	}
	if c.Claims.User == "" {
		return fail("claims: name the user claim")
	}
	if c.Claims.DefaultDirectory == "" {
		return fail("claims: name the default directory")
	}
	// The claims decode into a tokenClaims (decode.go), which keeps
	// numbers' text itself: no WithJSONNumber.
	v.parser = jwt.NewParser(jwt.WithValidMethods(c.Algorithms), jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	v.claims = newClaimSet(c)
	v.userLabel = "user id (claim " + c.Claims.User + ")"
	if v.jwks == nil {
		v.keys = v.keyfunc(context.Background()) // the context serves only JWKS lookups
	}
	vopts := []jwt.ParserOption{jwt.WithLeeway(c.Leeway), jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithTimeFunc(o.now)}
	if len(c.Audience) > 0 {
		vopts = append(vopts, jwt.WithAudience(c.Audience...))
	}
	if c.Issuer != "" {
		vopts = append(vopts, jwt.WithIssuer(c.Issuer))
	}
	v.validator = jwt.NewValidator(vopts...)
	v.cache = c.Cache.Part()
	return v, nil
}

// Name returns the verifier's configured name.
func (v *Verifier) Name() string { return v.name }

// Close stops the background refresh of JWK Sets.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Verify checks raw and says whose token it is. A string that is not a JWT
// (a claims set that names a member twice is not), lacks a required claim
// or has one of the wrong type is EINVALID; a bad
// signature, an unknown key, a refused algorithm, an expired or not yet
// valid token, a wrong audience or issuer and too long a lifetime are
// EUNAUTHORIZED. Messages never repeat the token. A token verified before
// is answered from memory until it expires; the Result is shared and must
// not be modified.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Result, error) {
	if len(raw) > MaxTokenBytes {
		return nil, ErrTooLong
	}
	if res := v.cache.Get(raw, 0); res != nil {
		return res, nil
	}
	res, err := v.verify(ctx, raw)
	if err == nil {
		v.cache.Set(raw, res, res.ExpiresAt.Add(v.cfg.Leeway), 0)
	}
	return res, err
}

// VerifyUncached is Verify without the memory of verified tokens: every
// call parses the token and checks its signature.
func (v *Verifier) VerifyUncached(ctx context.Context, raw string) (*Result, error) {
	if len(raw) > MaxTokenBytes {
		return nil, ErrTooLong
	}
	return v.verify(ctx, raw)
}

func (v *Verifier) verify(ctx context.Context, raw string) (*Result, error) {
	claims := getClaims(v.claims)
	defer putClaims(claims)
	kf := v.keys
	if kf == nil {
		kf = v.keyfunc(ctx)
	}
	tok, err := v.parser.ParseWithClaims(raw, claims, kf)
	if err != nil {
		return nil, v.parseError(tok, err)
	}
	if err := v.checkShape(tok, claims); err != nil {
		return nil, err
	}
	if err := v.validator.Validate(claims); err != nil {
		return nil, claimsError(err)
	}
	if err := v.checkLifetime(claims); err != nil {
		return nil, err
	}
	if err := v.checkProfile(claims); err != nil {
		return nil, err
	}
	return v.result(tok, claims)
}

// parseError classifies an error of golang-jwt's parser, which has checked
// the form, the algorithm, the key and the signature (not the claims).
func (v *Verifier) parseError(tok *jwt.Token, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return latchkey.Wrap(err, latchkey.EINVALID, "The bearer token is not a JWT.")
	case tok != nil && tok.Method != nil && !slices.Contains(v.cfg.Algorithms, tok.Method.Alg()):
		return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, fmt.Sprintf("The token's algorithm %s is not accepted.", tok.Method.Alg()))
	case errors.Is(err, errNoKID):
		return latchkey.Wrap(err, latchkey.EINVALID, "The token's header lacks kid.")
	case errors.Is(err, errUnknownKey):
		return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, "The token's signing key is not known.")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, "The token's signature is not valid.")
	}
	// An unknown or missing alg, or a failed key lookup.
	return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, "The token's algorithm is not accepted.")
}

var (
	// ErrTooLong refuses a token longer than MaxTokenBytes (EINVALID).
	ErrTooLong = latchkey.Errorf(latchkey.EINVALID, "The bearer token is longer than %d KiB.", MaxTokenBytes>>10)
)

// claimsError classifies an error of golang-jwt's claim validator. The
// claims' presence and types were checked before, so what is left is time,
// audience and issuer.
func claimsError(err error) error {
	msg := "The token's claims are not accepted."
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "The token has expired."
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		msg = "The token is not valid yet."
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		msg = "The token's audience is not accepted."
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		msg = "The token's issuer is not accepted."
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return latchkey.Wrap(err, latchkey.EINVALID, "The token lacks a required claim.")
	}
	return latchkey.Wrap(err, latchkey.EUNAUTHORIZED, msg)
}
