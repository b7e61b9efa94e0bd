package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// TestEnsureSelfSignedTogether runs EnsureSelfSigned in several goroutines
// at once on a new directory, as nodes sharing a data directory start: one
// pair must be written, and every caller must get the pair on disk.
func TestEnsureSelfSignedTogether(t *testing.T) {
	for trial := range 50 {
		dir := filepath.Join(t.TempDir(), "tls")
		certs := make([]tls.Certificate, 3)
		errs := make([]error, len(certs))
		var wg sync.WaitGroup
		for i := range certs {
			wg.Go(func() { certs[i], _, errs[i] = EnsureSelfSigned(dir) })
		}
		wg.Wait()
		disk, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server_key.pem"))
		if err != nil {
			t.Fatalf("trial %d: the pair on disk: %v", trial, err)
		}
		for i, c := range certs {
			if errs[i] != nil {
				t.Fatalf("trial %d: caller %d: %v", trial, i, errs[i])
			}
			if !c.Leaf.Equal(disk.Leaf) {
				t.Fatalf("trial %d: caller %d got a certificate other than the one on disk", trial, i)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".server.lock")); !os.IsNotExist(err) {
			t.Fatalf("trial %d: the lock file is still there: %v", trial, err)
		}
	}
}

// TestLockFileStale checks that a lock file left by a process that died is
// taken over once it is old enough.
func TestLockFileStale(t *testing.T) {
	name := filepath.Join(t.TempDir(), ".server.lock")
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleLock)
	if err := os.Chtimes(name, old, old); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(name)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
