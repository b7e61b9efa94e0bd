package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
)

// buildVerifiers returns the configured JWT verifiers by name, and a
// function that stops their background work.
func buildVerifiers(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger) (map[string]gateway.TokenVerifier, func(), error) {
	if len(cfg.JWT.Verifiers) > 0 {
		return nil, nil, fmt.Errorf("jwt.verifiers: JWT verification is being built")
	}
	return map[string]gateway.TokenVerifier{}, func() {}, nil
}
