// Package pki makes the certificates latchkey needs: the self-signed server
// certificate it generates once for development; a CA with the server and
// client certificates it signs, for client-certificate authentication (the
// root.pem, server.pem and client.pem of Qlik's QRS, seed 003); and PEM
// encoding helpers.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SelfSignedLifetime is how long a generated development certificate lasts;
// an expired one is replaced at the next start.
const SelfSignedLifetime = 397 * 24 * time.Hour

// EnsureSelfSigned returns the certificate stored as server.pem and
// server_key.pem in dir, generating a new self-signed one for localhost,
// 127.0.0.1 and ::1 (plus hosts) when the files are missing or expired. It
// reports whether it generated one.
//
// Processes that share dir and start together (nodes on one SQLite data
// directory) take turns through a lock file, so that one of them writes the
// pair and the others read it: two writing at once could leave the key of
// one next to the certificate of the other.
func EnsureSelfSigned(dir string, hosts ...string) (tls.Certificate, bool, error) {
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server_key.pem")
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && time.Now().Before(cert.Leaf.NotAfter) {
		return cert, false, nil
	}
	// Missing, expired, or caught between another process's two writes:
	// look again under the lock.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, err
	}
	unlock, err := lockFile(filepath.Join(dir, ".server.lock"))
	if err != nil {
		return tls.Certificate{}, false, err
	}
	defer unlock()
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil && time.Now().Before(cert.Leaf.NotAfter) {
		return cert, false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, false, fmt.Errorf("read self-signed certificate in %s (delete both files to regenerate): %w", dir, err)
	}
	certPEM, keyPEM, err := SelfSigned(append([]string{"localhost", "127.0.0.1", "::1"}, hosts...), SelfSignedLifetime)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, true, err
}

// Waiting for a lock file: a holder writes two small files, so one older than
// staleLock was left by a process that died holding it.
const (
	lockWait  = 30 * time.Second
	lockPoll  = 10 * time.Millisecond
	staleLock = 10 * time.Second
)

// lockFile takes the lock of name by creating it exclusively, which every
// platform supports; unlock removes it.
func lockFile(name string) (unlock func(), err error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { _ = os.Remove(name) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(name); err == nil && time.Since(fi.ModTime()) > staleLock {
			_ = os.Remove(name)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s has been locked for over %v (remove it if no latchkey is starting)", name, lockWait)
		}
		time.Sleep(lockPoll) // a lock file cannot be waited on; its holder is done within milliseconds
	}
}

// SelfSigned returns a new ECDSA P-256 certificate and key, PEM-encoded,
// valid for the given DNS names and IP addresses.
func SelfSigned(hosts []string, lifetime time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "latchkey development certificate"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// WriteFile writes data to a temporary file beside name and renames it into
// place, so that a crash never leaves half a key behind.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
