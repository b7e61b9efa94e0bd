package gateway

import "github.com/latchkey/latchkey"

// builtins are the authentication methods over latchkey's own credentials.
// Adding one is a file with its Authenticator and one line here.
var builtins = []struct {
	name  string
	build func(s *Server) Authenticator
}{
	{latchkey.MethodSession, newSessionAuth},
	{latchkey.MethodBasic, newBasicAuth},
	{latchkey.MethodAPIKey, newAPIKeyAuth},
	{latchkey.MethodJWT, newJWTAuth},
	{latchkey.MethodCert, newCertAuth},
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
func (s *Server) buildMethods(extra []Authenticator) map[string]Authenticator {
	m := make(map[string]Authenticator, len(builtins)+len(extra))
	if s.creds != nil {
		for _, b := range builtins {
			m[b.name] = b.build(s)
		}
	}
	for _, a := range extra {
		m[a.Method()] = a
	}
	return m
}
