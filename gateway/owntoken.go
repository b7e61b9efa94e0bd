package gateway

import (
	"context"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtverify"
)

// Tokens latchkey signs (the JWT login's, upstream_jwt's) carry the
// principal's read-only state and the credential it came from; when one
// comes back as a bearer token, the principal keeps that read-only state,
// and a token obtained with an API key is refused once the key is revoked
// or expired.

// toSign returns a copy of p to sign a token for, whose Method names the
// credential p was proved with: how when the caller knows it (the JWT
// login), otherwise read from p — Basic is a password, or an API key when
// it names one.
func toSign(p *latchkey.Principal, how string) *latchkey.Principal {
	c := *p
	switch {
	case how != "":
		c.Method = how
	case p.Method == latchkey.MethodBasic && p.CredentialID != "":
		c.Method = credential.ByAPIKey
	case p.Method == latchkey.MethodBasic:
		c.Method = credential.ByPassword
	}
	return &c
}

// keyOrigin refuses a principal made from one of latchkey's tokens whose
// credential is gone: an API key revoked or expired since. For a token
// obtained with a key it returns the key's id and its own rate limit as it
// is now, which the token's requests spend and are held to. It reads the
// key from the credential service's memory (creds), which follows the
// change feed.
func keyOrigin(ctx context.Context, creds *credential.Service, res *jwtverify.Result) (id string, limit *latchkey.RateLimit, err error) {
	if res.CredentialMethod != credential.ByAPIKey || creds == nil {
		return "", nil, nil
	}
	if res.CredentialID == "" {
		return "", nil, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The token names no API key it was obtained with; sign in again.")
	}
	limit, err = creds.KeyOrigin(ctx, res.CredentialID)
	return res.CredentialID, limit, err
}
