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
	"github.com/latchkey/latchkey/gateway"
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
	if cfg.Store.Driver == "postgres" {
		// Every node seals and opens with it (signing keys, keys made on a
		// user's behalf): a file of each node's own would split them.
		return nil, fmt.Errorf("with store.driver postgres, every node must have the same seal key: set %s "+
			"(32 bytes in base64; make one with: head -c 32 /dev/urandom | base64) on every node", envSealKey)
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
	return createOnce(file, k)
}

// createOnce makes file with content k unless it exists, and returns what
// the file holds: nodes starting together on a new data directory must all
// use the one key that the first of them made. The key is written to a file
// of its own and then linked into place, which fails if another node linked
// its key first; nobody ever reads a half-written key.
func createOnce(file string, k []byte) ([]byte, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".seal-*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(k)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err != nil {
		return nil, err
	}
	switch err := os.Link(tmp.Name(), file); {
	case err == nil:
		return k, nil
	case errors.Is(err, os.ErrExist):
		theirs, err := os.ReadFile(file)
		if err == nil && len(theirs) != 32 {
			err = fmt.Errorf("%s must hold exactly 32 bytes", file)
		}
		return theirs, err
	default:
		return nil, err
	}
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
	return credential.New(ctx, st, hasher(), log, gateway.CredentialConfig(cfg, key, previous))
}
