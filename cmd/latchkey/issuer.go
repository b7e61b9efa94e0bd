package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtissue"
)

// buildIssuer returns the signer of latchkey's own tokens, over the store so
// that every node signs and verifies with the same keys, and a function that
// stops its background key rotation (call it before the store closes). It is
// always built: the JWKS endpoint and the verifier "latchkey" need it.
func buildIssuer(ctx context.Context, cfg *config.Config, st latchkey.Store, log *slog.Logger) (gateway.Issuer, func(), error) {
	is, err := jwtissue.New(ctx, st, cfg.JWT.Issuer, log)
	if err != nil {
		return nil, nil, fmt.Errorf("jwt.issuer: %w", err)
	}
	return is, func() { is.Close() }, nil
}
