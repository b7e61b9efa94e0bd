package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureSelfSigned(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	cert, made, err := EnsureSelfSigned(dir)
	if err != nil || !made {
		t.Fatalf("first EnsureSelfSigned = %v, %v", made, err)
	}
	if err := cert.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("certificate not valid for 127.0.0.1: %v", err)
	}
	if err := cert.Leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("certificate not valid for localhost: %v", err)
	}
	if cert.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Error("not a server certificate")
	}
	st, err := os.Stat(filepath.Join(dir, "server_key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode(), err)
	}
	again, made, err := EnsureSelfSigned(dir)
	if err != nil || made {
		t.Fatalf("second EnsureSelfSigned generated anew: %v, %v", made, err)
	}
	if !again.Leaf.Equal(cert.Leaf) {
		t.Error("second start returned a different certificate")
	}
}

func TestEnsureSelfSignedCorrupt(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "server.pem"), []byte("junk"), 0o644)
	os.WriteFile(filepath.Join(dir, "server_key.pem"), []byte("junk"), 0o600)
	if _, _, err := EnsureSelfSigned(dir); err == nil {
		t.Fatal("corrupt files were silently replaced or accepted")
	}
}
