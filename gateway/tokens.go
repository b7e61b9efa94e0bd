package gateway

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/jwtverify"
)

// TokenVerifier checks a JWT and says whose it is. A bad signature, an
// expired or not-yet-valid token, a wrong audience or issuer is an
// EUNAUTHORIZED error; a token that is not a JWT or lacks a required claim
// is EINVALID.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*jwtverify.Result, error)
}

// Issuer signs latchkey's own tokens and verifies them.
type Issuer interface {
	TokenVerifier
	// Sign returns a token for the principal and when it expires.
	Sign(ctx context.Context, p *latchkey.Principal) (string, time.Time, error)
	// JWKS returns the public keys as a JSON Web Key Set.
	JWKS(ctx context.Context) ([]byte, error)
}
