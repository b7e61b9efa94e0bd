package gateway

import (
	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// builtins are the authentication methods over latchkey's own credentials.
// Adding one is a file with its Authenticator and one line here.
var builtins = []struct {
	name  string
	build func(d *methodDeps) Authenticator
}{
	{latchkey.MethodSession, newSessionAuth},
	{latchkey.MethodBasic, newBasicAuth},
	{latchkey.MethodAPIKey, newAPIKeyAuth},
	{latchkey.MethodJWT, newJWTAuth},
	{latchkey.MethodCert, newCertAuth},
}

// methodDeps are what the built-in methods (and the JWT session exchange)
// use, built once by New: the credential service, the sections of the
// configuration they read, the required headers, and the JWT verifiers. A
// method takes what it needs from here, never the Server.
type methodDeps struct {
	creds    *credential.Service // never nil: without it there are no built-in methods
	required *requiredHeaders
	sessions config.Sessions
	apiKeys  config.APIKeys
	// jwtSession names the CSRF cookie and header of sessions opened with
	// a JWT, and where the exchange finds or creates their users.
	jwtSession   config.JWTSession
	certificates config.Certificates
	// verifierNames are the configured JWT verifiers' names, in
	// configuration order; verifiers are the verifiers by name (those
	// configured, or given without configuration) and issuer verifies
	// latchkey's own tokens (nil: none).
	verifierNames []string
	verifiers     map[string]TokenVerifier
	issuer        Issuer
	// memoBytes is the heap each method's principal memo may take.
	memoBytes int64
}

// newMethodDeps gathers what the built-in methods use from cfg and d.
func newMethodDeps(cfg *config.Config, d Deps, required *requiredHeaders) *methodDeps {
	md := &methodDeps{creds: d.Creds, required: required, sessions: cfg.Sessions, apiKeys: cfg.APIKeys,
		jwtSession: cfg.JWT.Session, certificates: cfg.Certificates, verifiers: d.Verifiers, issuer: d.Issuer,
		memoBytes: int64(cfg.Caches.PrincipalsMiB) << 20}
	for _, v := range cfg.JWT.Verifiers {
		md.verifierNames = append(md.verifierNames, v.Name)
	}
	return md
}

// MethodNames lists the authentication methods that New builds from the
// credential service, for configuration validation: session, basic, apikey,
// jwt, cert.
func MethodNames() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.name
	}
	return names
}

// buildMethods returns the built-in methods (when there is a credential
// service) and extra, by name.
func buildMethods(d *methodDeps, extra []Authenticator) map[string]Authenticator {
	m := make(map[string]Authenticator, len(builtins)+len(extra))
	if d.creds != nil {
		for _, b := range builtins {
			m[b.name] = b.build(d)
		}
	}
	for _, a := range extra {
		m[a.Method()] = a
	}
	return m
}
