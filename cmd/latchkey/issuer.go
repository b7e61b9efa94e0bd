package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtissue"
	"github.com/latchkey/latchkey/jwtverify"
)

// buildIssuer returns the signer of latchkey's own tokens, over the store so
// that every node signs and verifies with the same keys, and a function that
// stops its background key rotation (call it before the store closes). It is
// always built: the JWKS endpoint and the verifier "latchkey" need it. The
// private halves of the keys are sealed in the store with the seal key
// (sealKey) and opened with it or the previous one (previousSealKey).
func (a *app) buildIssuer(ctx context.Context, cfg *config.Config, st latchkey.Store, tokens *jwtverify.Cache, log *slog.Logger) (gateway.Issuer, func(), error) {
	key, err := a.sealKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	previous, err := a.previousSealKey()
	if err != nil {
		return nil, nil, err
	}
	is, err := jwtissue.New(ctx, st, log, gateway.IssuerOptions(cfg.JWT.Issuer, key, previous, tokens))
	if err != nil {
		return nil, nil, fmt.Errorf("jwt.issuer: %w", err)
	}
	return is, func() { is.Close() }, nil
}
