package gateway

import (
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtverify"
)

// VerifierConfig is what jwtverify.New takes for a configured verifier:
// the one place where the configuration's values (defaults filled by
// config.Load) become the verifier's.
func VerifierConfig(c config.JWTVerifier) jwtverify.Config {
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
	}
}
