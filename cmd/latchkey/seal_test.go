package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/sqlite"
)

// TestServeSealKeyRotation: serve seals its signing keys with
// LATCHKEY_SEAL_KEY, refuses to start with another seal key (naming the
// variable), and starts with the new key once the old one is given as
// LATCHKEY_SEAL_KEY_PREVIOUS.
func TestServeSealKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	newKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	_, logs, stop := startServe(t, map[string]string{envSealKey: oldKey}, "--data-dir", dir)
	if c := stop(); c != 0 {
		t.Fatalf("serve exited %d:\n%s", c, logs)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "latchkey.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.SigningKeys(context.Background())
	st.Close()
	if err != nil || len(rows) != 1 || !bytes.HasPrefix(rows[0].PrivateKey, []byte("lks1")) {
		t.Fatalf("stored signing keys: %d, %v; want one, sealed", len(rows), err)
	}

	_, errOut, code := cli(t, map[string]string{envSealKey: newKey}, "", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "LATCHKEY_SEAL_KEY") {
		t.Errorf("another seal key: exit %d, %s", code, errOut)
	}
	_, errOut, code = cli(t, map[string]string{envSealKey: newKey, envPreviousSealKey: "short"}, "", "serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, envPreviousSealKey) {
		t.Errorf("a bad previous seal key: exit %d, %s", code, errOut)
	}
	_, logs, stop = startServe(t, map[string]string{envSealKey: newKey, envPreviousSealKey: oldKey}, "--data-dir", dir)
	if c := stop(); c != 0 {
		t.Fatalf("serve with the previous seal key exited %d:\n%s", c, logs)
	}
	if strings.Contains(logs.String(), oldKey) || strings.Contains(logs.String(), newKey) {
		t.Error("a seal key was logged")
	}
}
