package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// minRSABits is the smallest RSA modulus accepted, from a file or a JWKS.
const minRSABits = 2048

// staticKey is a key from a file, inline PEM or an environment variable.
type staticKey struct {
	kid string // "" serves tokens with any kid or none
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// errUnknownKey is what the key lookup answers when no key fits the token.
var errUnknownKey = errors.New("no key fits the token's kid and alg")

// errNoKID refuses a token without a kid where the profile requires one.
var errNoKID = errors.New("the token's header lacks kid")

// fits reports whether key may verify a token signed with alg: each key
// serves only its own family (RSA: RS*/PS*; ECDSA: ES* of its own curve;
// Ed25519: EdDSA; HMAC secrets: HS*), so that a public key can never be
// used as an HMAC secret.
func fits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		var curve elliptic.Curve
		switch alg {
		case "ES256":
			curve = elliptic.P256()
		case "ES384":
			curve = elliptic.P384()
		case "ES512":
			curve = elliptic.P521()
		}
		return curve != nil && k.Curve == curve
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case []byte:
		return strings.HasPrefix(alg, "HS")
	}
	return false
}

// family names a key's kind for error messages.
func family(key any) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case []byte:
		return "HMAC secret"
	}
	return fmt.Sprintf("%T", key)
}

// loadStatic reads a file, pem or secret_env key.
func loadStatic(k Key, getenv func(string) string) (any, error) {
	switch {
	case k.SecretEnv != "":
		s := getenv(k.SecretEnv)
		if s == "" {
			return nil, fmt.Errorf("secret_env: the environment variable %s is empty or not set", k.SecretEnv)
		}
		return []byte(s), nil
	case k.File != "":
		b, err := os.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("file: %w", err)
		}
		key, err := parsePEM(b)
		if err != nil {
			return nil, fmt.Errorf("file %s: %w", k.File, err)
		}
		return key, nil
	case k.PEM != "":
		key, err := parsePEM([]byte(k.PEM))
		if err != nil {
			return nil, fmt.Errorf("pem: %w", err)
		}
		return key, nil
	}
	return nil, errors.New("give one of file, pem, jwks_url and secret_env")
}

// parsePEM returns the public key of the first PEM block: a certificate
// (later blocks, such as a chain, are ignored), a PKIX public key or a PKCS#1
// RSA public key. The key must be RSA (at least 2048 bits), ECDSA or Ed25519.
func parsePEM(b []byte) (any, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("holds no PEM block; give a certificate or a public key in PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, errors.New("holds a private key; give the certificate or the public key instead")
		}
		return nil, fmt.Errorf("holds a %q block; give a CERTIFICATE, PUBLIC KEY or RSA PUBLIC KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("holds a %T key; use RSA, ECDSA or Ed25519", key)
	}
	return key, nil
}

// jwks is the keys of one verifier's JWK Sets: fetched at start, refreshed
// in the background, and refetched at once for an unknown kid — at most
// once per unknownKIDEvery, without making anyone wait: while the gate is
// shut, an unknown kid is simply unknown. A failed fetch keeps the last
// good set.
type jwks struct {
	kf     keyfunc.Keyfunc  // over every URL; refetches when asked for a kid it lacks
	stores []jwkset.Storage // each URL's last good set, read without refetching
	gate   *rate.Limiter    // read at the verifier's clock
	now    func() time.Time
}

func newJWKS(ctx context.Context, urls []string, o options, onErr func(u string, err error)) (*jwks, error) {
	j := &jwks{gate: rate.NewLimiter(rate.Every(o.unknownKIDEvery), 1), now: o.now}
	client := &http.Client{Timeout: o.httpTimeout, Transport: o.transport}
	byURL := make(map[string]jwkset.Storage, len(urls))
	for _, u := range urls {
		st, err := jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{
			Client: client, Ctx: ctx, HTTPTimeout: o.httpTimeout, RefreshInterval: o.refreshEvery,
			NoErrorReturnFirstHTTPReq: true, // a set that is down at start is retried, not fatal
			RefreshErrorHandler:       func(_ context.Context, err error) { onErr(redact(u), err) },
		})
		if err != nil {
			return nil, err
		}
		byURL[u] = st
		j.stores = append(j.stores, st)
	}
	all, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{HTTPURLs: byURL, RateLimitWaitMax: o.httpTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1)}) // j.gate decides
	if err != nil {
		return nil, err
	}
	if j.kf, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: all}); err != nil {
		return nil, err
	}
	return j, nil
}

// lookup returns the set's key for the token's kid (a VerificationKeySet of
// every key for a token without one).
func (j *jwks) lookup(ctx context.Context, t *jwt.Token) (any, error) {
	if raw, present := t.Header["kid"]; present {
		kid, _ := raw.(string)
		if kid == "" || !j.has(ctx, kid) && !j.gate.AllowN(j.now(), 1) {
			return nil, errUnknownKey
		}
	}
	return j.kf.KeyfuncCtx(ctx)(t)
}

func (j *jwks) has(ctx context.Context, kid string) bool {
	for _, st := range j.stores {
		if _, err := st.KeyRead(ctx, kid); err == nil {
			return true
		}
	}
	return false
}

func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}

// keyfunc returns the jwt.Keyfunc of one verification: the static keys that
// fit the token's alg and kid, and the JWK Set's key for its kid (or every
// key of the set when it has none), keeping only keys of the alg's family.
func (v *Verifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, errUnknownKey
		}
		if kid == "" && v.cfg.QlikCloud {
			// Incomplete (400), as Qlik Cloud answers it, rather than
			// signed by an unknown key (401).
			return nil, errNoKID
		}
		// One key, the common case, is returned without a slice.
		var one jwt.VerificationKey
		var keys []jwt.VerificationKey
		n := 0
		add := func(k jwt.VerificationKey) {
			switch n {
			case 0:
				one = k
			case 1:
				keys = append(keys, one, k)
			default:
				keys = append(keys, k)
			}
			n++
		}
		exact := false
		for _, k := range v.static {
			if (k.kid == "" || k.kid == kid) && fits(alg, k.key) {
				add(k.key)
				exact = exact || k.kid != "" && k.kid == kid
			}
		}
		if v.jwks != nil && !exact {
			got, err := v.jwks.lookup(ctx, t)
			if err == nil {
				switch got := got.(type) {
				case jwt.VerificationKeySet:
					for _, k := range got.Keys {
						if fits(alg, k) {
							add(k)
						}
					}
				default:
					if fits(alg, got) {
						add(got)
					}
				}
			}
		}
		switch n {
		case 0:
			return nil, errUnknownKey
		case 1:
			return one, nil
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	}
}

// options are the knobs tests turn; New uses defaultOptions.
type options struct {
	now             func() time.Time
	httpTimeout     time.Duration // a JWKS fetch
	refreshEvery    time.Duration // background JWKS refresh
	unknownKIDEvery time.Duration // the least time between refetches on an unknown kid
	// transport fetches the JWK Sets (nil: http.DefaultTransport); tests
	// serve them from memory, so that they can run in a synctest bubble.
	transport http.RoundTripper
}

var defaultOptions = options{
	now:             time.Now,
	httpTimeout:     10 * time.Second,
	refreshEvery:    15 * time.Minute,
	unknownKIDEvery: time.Minute,
}
