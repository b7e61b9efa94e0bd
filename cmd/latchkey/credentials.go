package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/pki"
)

// envSealKey holds the key (32 bytes, base64) that seals API keys made on
// behalf of other users until their owner views them. Nodes that share a
// PostgreSQL store must share it; without it, each data directory gets one.
const envSealKey = "LATCHKEY_SEAL_KEY"

// envPreviousSealKey holds, while the seal key is rotated, the seal key
// before (32 bytes, base64): it still opens what was sealed with it, and
// nothing new is sealed with it.
const envPreviousSealKey = "LATCHKEY_SEAL_KEY_PREVIOUS"

// sealKey returns the seal key from the environment, or from seal.key in the
// data directory, made on first use.
func (a *app) sealKey(cfg *config.Config) ([]byte, error) {
	if v := a.getenv(envSealKey); v != "" {
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("%s must be 32 bytes in base64 (make one with: head -c 32 /dev/urandom | base64)", envSealKey)
		}
		return k, nil
	}
	file := filepath.Join(cfg.DataDir, "seal.key")
	k, err := os.ReadFile(file)
	if err == nil {
		if len(k) != 32 {
			return nil, fmt.Errorf("%s must hold exactly 32 bytes", file)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, pki.WriteFile(file, k, 0o600)
}

// previousSealKey returns the previous seal key from the environment, or
// nil when none is set.
func (a *app) previousSealKey() ([]byte, error) {
	v := a.getenv(envPreviousSealKey)
	if v == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%s must be 32 bytes in base64, like %s", envPreviousSealKey, envSealKey)
	}
	return k, nil
}

// newCredentials returns the credential service for cfg over st, with the
// given seal key, or (nil) the one sealKey finds, and the previous seal key
// if one is set.
func (a *app) newCredentials(ctx context.Context, cfg *config.Config, st latchkey.Store, log *slog.Logger, key []byte) (*credential.Service, error) {
	if key == nil {
		var err error
		if key, err = a.sealKey(cfg); err != nil {
			return nil, err
		}
	}
	previous, err := a.previousSealKey()
	if err != nil {
		return nil, err
	}
	return credential.New(ctx, st, hasher(), log, credential.Config{
		DefaultDirectory:   latchkey.DefaultDirectory,
		SessionIdle:        cfg.Sessions.IdleTimeout.D(),
		SessionLifetime:    cfg.Sessions.Lifetime.D(),
		KeyMaxDays:         cfg.APIKeys.MaxDays,
		KeyDefaultDays:     cfg.APIKeys.DefaultDays,
		MaxFailures:        cfg.Login.MaxFailures,
		MaxAddressFailures: cfg.Login.MaxAddressFailures,
		FailureWindow:      cfg.Login.FailureWindow.D(),
		SealKey:            key,
		PreviousSealKey:    previous,
	})
}
