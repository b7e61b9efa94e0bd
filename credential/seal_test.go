package credential

import (
	"bytes"
	"testing"

	"github.com/latchkey/latchkey/seal"
)

// TestSealKeyRotation: while the seal key is rotated, a secret sealed with
// the previous key still opens, and new secrets are sealed with the current
// one only.
func TestSealKeyRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	sealing := func(current, previous []byte) *Service {
		k, err := seal.New(current, previous)
		if err != nil {
			t.Fatal(err)
		}
		return &Service{sealKeys: k}
	}
	before := sealing(oldKey, nil)
	during := sealing(newKey, oldKey)
	after := sealing(newKey, nil)

	sealed, err := before.seal("key1", "the secret")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := during.unseal("key1", sealed); err != nil || got != "the secret" {
		t.Errorf("sealed with the previous key: %q, %v", got, err)
	}
	if _, err := after.unseal("key1", sealed); err == nil {
		t.Error("a secret sealed with a dropped key opened")
	}
	if _, err := during.unseal("key2", sealed); err == nil {
		t.Error("a secret opened under another key id")
	}
	fresh, err := during.seal("key3", "new secret")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := after.unseal("key3", fresh); err != nil || got != "new secret" {
		t.Errorf("sealed during the rotation, opened with the current key: %q, %v", got, err)
	}
	if _, err := before.unseal("key3", fresh); err == nil {
		t.Error("a new secret was sealed with the previous key")
	}
}
