package config

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// JWTAlgorithms are the signing algorithms a verifier may accept, by family.
var JWTAlgorithms = map[string][]string{
	"RSA":   {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	"ECDSA": {"ES256", "ES384", "ES512"},
	"EdDSA": {"EdDSA"},
	"HMAC":  {"HS256", "HS384", "HS512"},
}

// AlgorithmFamily returns the family (a key of JWTAlgorithms) of a signing
// algorithm, "" for one latchkey does not verify.
func AlgorithmFamily(alg string) string {
	for fam, algs := range JWTAlgorithms {
		if slices.Contains(algs, alg) {
			return fam
		}
	}
	return ""
}

func (v *validator) jwt(j JWT) {
	names := map[string]int{}
	for i, ver := range j.Verifiers {
		p := fmt.Sprintf("jwt.verifiers[%d]", i)
		switch k, dup := names[ver.Name]; {
		case ver.Name == "":
			v.add(p+".name", "is missing; give the verifier a name that routes can refer to")
		case ver.Name == OwnVerifier:
			v.add(p+".name", "%q names latchkey's own tokens; choose another name", ver.Name)
		case dup:
			v.add(p+".name", "%q is also the name of jwt.verifiers[%d]", ver.Name, k)
		default:
			names[ver.Name] = i
		}
		v.verifier(p, ver)
	}
	v.oneOf("jwt.issuer.algorithm", j.Issuer.Algorithm, "EdDSA", "ES256", "RS256")
	if j.Issuer.Lifetime <= 0 {
		v.add("jwt.issuer.lifetime", "must be more than 0, such as 24h")
	}
	if j.Issuer.RotateEvery < j.Issuer.Lifetime {
		v.add("jwt.issuer.rotate_every", "must be at least jwt.issuer.lifetime (%s), so that a key outlives the tokens it signs", j.Issuer.Lifetime)
	}
	for _, e := range []struct{ key, path string }{{"jwt.login.path", j.Login.Path}, {"jwt.session.path", j.Session.Path}} {
		if e.path != "" && (!strings.HasPrefix(e.path, "/") || path.Clean(e.path) != e.path) {
			v.add(e.key, "%q must be a clean absolute path such as /login/jwt-session, or empty for none", e.path)
		}
	}
	if j.Session.Path != "" {
		if _, ok := names[j.Session.Verifier]; !ok {
			v.add("jwt.session.verifier", "%q is not the name of a verifier in jwt.verifiers", j.Session.Verifier)
		}
		v.name("jwt.session.directory", "directory", j.Session.Directory)
		v.token("jwt.session.csrf_cookie", j.Session.CSRFCookie)
		v.token("jwt.session.csrf_header", j.Session.CSRFHeader)
	}
}

func (v *validator) verifier(p string, ver JWTVerifier) {
	if len(ver.Keys) == 0 {
		v.add(p+".keys", "is missing; give at least one key: file, pem, jwks_url or secret_env")
	}
	secrets, public := 0, 0
	for i, k := range ver.Keys {
		q := fmt.Sprintf("%s.keys[%d]", p, i)
		n := 0
		for _, set := range []bool{k.File != "", k.PEM != "", k.JWKSURL != "", k.SecretEnv != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.add(q, "give exactly one of file, pem, jwks_url and secret_env")
			continue
		}
		if k.SecretEnv != "" {
			secrets++
		} else {
			public++
		}
		if k.JWKSURL != "" {
			u, err := url.Parse(k.JWKSURL)
			local := err == nil && (u.Hostname() == "localhost" || strings.HasPrefix(u.Hostname(), "127.") || u.Hostname() == "::1")
			if err != nil || u.Host == "" || u.Scheme != "https" && !(u.Scheme == "http" && local) {
				v.add(q+".jwks_url", "must be an https:// URL (http:// only for localhost)")
			}
			if k.KeyID != "" {
				v.add(q+".kid", "is for file, pem and secret_env keys; a JWK Set names its own keys")
			}
		}
	}
	if len(ver.Algorithms) == 0 {
		v.add(p+".algorithms", "is missing; list the accepted algorithms, such as [RS256]")
	}
	for i, alg := range ver.Algorithms {
		q := fmt.Sprintf("%s.algorithms[%d]", p, i)
		switch fam := AlgorithmFamily(alg); {
		case fam == "":
			v.add(q, "%q is not an algorithm latchkey verifies; use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512", alg)
		case fam == "HMAC" && public > 0:
			v.add(q, "%s needs a shared secret (secret_env), and this verifier has public keys: an HMAC secret and a public key are never interchangeable; make a separate verifier", alg)
		case fam != "HMAC" && secrets > 0:
			v.add(q, "%s needs a public key, and this verifier has HMAC secrets; make a separate verifier", alg)
		}
	}
	if ver.Leeway < 0 || ver.Leeway.D().Minutes() > 10 {
		v.add(p+".leeway", "must be 0 to 10m")
	}
	if ver.MaxLifetime < 0 {
		v.add(p+".max_lifetime", "must not be negative")
	}
	v.oneOf(p+".profile", ver.Profile, "", ProfileQlikCloud)
	if ver.Claims.User == "" {
		v.add(p+".claims.user", "must name the claim that holds the user id, such as sub")
	}
	v.name(p+".claims.default_directory", "directory", ver.Claims.DefaultDirectory)
}

// routeJWT checks a route's jwt_verifiers and Xrfkey settings.
func (v *validator) routeJWT(p string, r Route, verifiers []JWTVerifier) {
	if len(r.JWTVerifiers) > 0 && !slices.Contains(r.Auth, "jwt") {
		v.add(p+".jwt_verifiers", "has no effect unless auth lists jwt")
	}
	for i, name := range r.JWTVerifiers {
		if name != OwnVerifier && !slices.ContainsFunc(verifiers, func(x JWTVerifier) bool { return x.Name == name }) {
			v.add(fmt.Sprintf("%s.jwt_verifiers[%d]", p, i), "%q is neither latchkey nor the name of a verifier in jwt.verifiers", name)
		}
	}
	if r.StripXrfkey && !r.Xrfkey {
		v.add(p+".strip_xrfkey", "has no effect unless xrfkey is true")
	}
}
