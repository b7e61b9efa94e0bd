package gateway

import (
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtissue"
	"github.com/latchkey/latchkey/jwtverify"
)

// The configuration meets the credential service and the JWT packages
// here, and only here: credential, jwtverify and jwtissue take options of
// their own, with no defaults, and these functions hand them the
// configuration's values (defaults filled by config.Load).

// CredentialConfig is what credential.New takes for c, with the seal key
// and the previous one (nil for none).
func CredentialConfig(c *config.Config, sealKey, previousSealKey []byte) credential.Config {
	m := c.RateLimits.KeyMaximum
	return credential.Config{
		DefaultDirectory: latchkey.DefaultDirectory,
		SessionIdle:      c.Sessions.IdleTimeout.D(), SessionLifetime: c.Sessions.Lifetime.D(),
		KeyMaxDays: c.APIKeys.MaxDays, KeyDefaultDays: c.APIKeys.DefaultDays,
		KeyLimitMaximum: latchkey.RateLimit{Requests: m.Requests, Window: int(m.Window.D() / time.Second)},
		MaxFailures:     c.Login.MaxFailures, MaxAddressFailures: c.Login.MaxAddressFailures,
		FailureWindow: c.Login.FailureWindow.D(),
		SealKey:       sealKey, PreviousSealKey: previousSealKey,
		PasswordMinLength: c.Passwords.MinLength, PasswordCacheTTL: c.Passwords.CacheTTL.D(),
		CacheSize:  c.Caches.CredentialEntries,
		FlushEvery: c.Store.LastUseFlush.D(), UsageFlushEvery: c.APIKeys.UsageFlush.D(),
	}
}

// VerifierConfig is what jwtverify.New takes for a configured verifier that
// remembers tokens in cache (nil: none; see TokenCache).
func VerifierConfig(c config.JWTVerifier, cache *jwtverify.Cache) jwtverify.Config {
	keys := make([]jwtverify.Key, len(c.Keys))
	for i, k := range c.Keys {
		keys[i] = jwtverify.Key{File: k.File, PEM: k.PEM, JWKSURL: k.JWKSURL, SecretEnv: k.SecretEnv, KeyID: k.KeyID}
	}
	m := c.Claims
	return jwtverify.Config{
		Name: c.Name, Keys: keys, Algorithms: c.Algorithms, Audience: c.Audience, Issuer: c.Issuer,
		Leeway: c.Leeway.D(), MaxLifetime: c.MaxLifetime.D(), QlikCloud: c.Profile == config.ProfileQlikCloud,
		Claims: jwtverify.Claims{User: m.User, Directory: m.Directory, DefaultDirectory: m.DefaultDirectory,
			Name: m.Name, Email: m.Email, Groups: m.Groups, Extra: m.Extra},
		Cache: cache,
	}
}

// IssuerOptions is what jwtissue.New takes for the configured issuer, with
// the seal key and the previous one (nil for none), remembering tokens in
// cache (nil: none).
func IssuerOptions(c config.JWTIssuer, sealKey, previousSealKey []byte, cache *jwtverify.Cache) jwtissue.Options {
	return jwtissue.Options{Algorithm: c.Algorithm, Issuer: c.Issuer, Audience: c.Audience,
		Lifetime: c.Lifetime.D(), RotateEvery: c.RotateEvery.D(), SealKey: sealKey, PreviousSealKey: previousSealKey,
		Cache: cache}
}

// TokenCache is the one cache of verified tokens that every verifier and
// the issuer share, of caches.tokens_mib (nil for 0: none). Its owner
// closes it.
func TokenCache(c config.Caches) *jwtverify.Cache {
	return jwtverify.NewCache(int64(c.TokensMiB)<<20, nil)
}
