package main

import (
	"context"
	"log/slog"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtverify"
)

// buildVerifiers returns the configured JWT verifiers by name, remembering
// tokens in tokens (nil: none), and a function that stops their background
// work (the refresh of JWK Sets). HMAC secrets are read with getenv.
func buildVerifiers(ctx context.Context, cfg *config.Config, tokens *jwtverify.Cache, getenv func(string) string, log *slog.Logger) (map[string]gateway.TokenVerifier, func(), error) {
	byName := make(map[string]gateway.TokenVerifier, len(cfg.JWT.Verifiers))
	var built []*jwtverify.Verifier
	closeAll := func() {
		for _, v := range built {
			v.Close()
		}
	}
	for _, c := range cfg.JWT.Verifiers {
		v, err := jwtverify.New(ctx, gateway.VerifierConfig(c, tokens), getenv, log)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		built = append(built, v)
		byName[v.Name()] = v
	}
	return byName, closeAll, nil
}
