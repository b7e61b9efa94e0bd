package main

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readCert parses the one certificate in a PEM file.
func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no certificate", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readKey parses the PKCS #8 key in a PEM file.
func readKey(t *testing.T, file string) any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("%s holds no private key", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var fingerprintLine = regexp.MustCompile(`(?m)^  fingerprint  (sha256:[0-9a-f]{64})$`)

func fingerprintOf(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestCertCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out := mustCLI(t, "", "cert", "ca", "--out", dir)
	if !strings.Contains(out, "root.pem") || !strings.Contains(out, "CN=latchkey root CA") {
		t.Errorf("cert ca printed %q", out)
	}
	mustCLI(t, "", "cert", "server", "--out", dir, "--ca-dir", dir, "--host", "127.0.0.1", "--host", "localhost")
	out = mustCLI(t, "", "cert", "client", "--out", dir, "--ca-dir", dir, "--cn", "sa_repository", "--email", "sa@example.com")

	for name, mode := range map[string]os.FileMode{
		"root.pem": 0o644, "root_key.pem": 0o600, "server.pem": 0o644, "server_key.pem": 0o600,
		"client.pem": 0o644, "client_key.pem": 0o600, "": 0o700 | os.ModeDir,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", name, st.Mode(), mode)
		}
	}
	root, server, client := readCert(t, filepath.Join(dir, "root.pem")), readCert(t, filepath.Join(dir, "server.pem")), readCert(t, filepath.Join(dir, "client.pem"))
	roots := x509.NewCertPool()
	roots.AddCert(root)
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("server.pem: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client.pem: %v", err)
	}
	if client.Subject.CommonName != "sa_repository" || strings.Join(client.EmailAddresses, ",") != "sa@example.com" {
		t.Errorf("client.pem names %v %v", client.Subject, client.EmailAddresses)
	}
	m := fingerprintLine.FindStringSubmatch(out)
	if m == nil || m[1] != fingerprintOf(client) {
		t.Errorf("cert client printed %q; want the fingerprint %s", out, fingerprintOf(client))
	}
	if !strings.Contains(out, "cn:sa_repository") {
		t.Errorf("cert client does not say how to trust it: %q", out)
	}
	if d := time.Until(client.NotAfter); d < 364*24*time.Hour || d > 365*24*time.Hour {
		t.Errorf("client.pem lasts %v, want 365 days", d)
	}

	// Never overwrite without --force.
	before, _ := os.ReadFile(filepath.Join(dir, "client.pem"))
	_, errOut, code := cli(t, nil, "", "cert", "client", "--out", dir, "--cn", "someone")
	if code == 0 || !strings.Contains(errOut, "client.pem already exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("second cert client: exit %d, %q", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "client.pem")); string(after) != string(before) {
		t.Error("a refused cert client changed client.pem")
	}
	mustCLI(t, "", "cert", "client", "--out", dir, "--cn", "someone", "--force", "--days", "30")
	if c := readCert(t, filepath.Join(dir, "client.pem")); c.Subject.CommonName != "someone" || time.Until(c.NotAfter) > 30*24*time.Hour {
		t.Errorf("--force wrote %v until %v", c.Subject, c.NotAfter)
	}
}

func TestCertCommandOptions(t *testing.T) {
	ca, out := t.TempDir(), t.TempDir()
	mustCLI(t, "", "cert", "ca", "--out", ca, "--name", "myca", "--cn", "Example CA", "--days", "30", "--rsa")
	if _, ok := readKey(t, filepath.Join(ca, "myca_key.pem")).(*rsa.PrivateKey); !ok {
		t.Error("--rsa made no RSA key")
	}
	var v struct {
		Kind, Certificate, Key, Subject, Issuer, Names, Fingerprint string
		NotAfter                                                    time.Time `json:"not_after"`
	}
	js := mustCLI(t, "", "cert", "client", "--out", out, "--name", "reports", "--ca-dir", ca, "--ca-name", "myca",
		"--cn", "reports", "--dns", "reports.example.com", "--uri", "spiffe://example.org/reports", "--days", "7", "-o", "json")
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatalf("-o json printed %q: %v", js, err)
	}
	c := readCert(t, filepath.Join(out, "reports.pem"))
	if v.Kind != "client" || v.Certificate != filepath.Join(out, "reports.pem") || v.Key != filepath.Join(out, "reports_key.pem") ||
		v.Fingerprint != fingerprintOf(c) || v.Subject != "CN=reports" || v.Issuer != "CN=Example CA" ||
		v.Names != "DNS:reports.example.com, URI:spiffe://example.org/reports" || !v.NotAfter.Equal(c.NotAfter) {
		t.Errorf("-o json = %+v", v)
	}
	if _, ok := readKey(t, v.Key).(*rsa.PrivateKey); ok {
		t.Error("an RSA key without --rsa")
	}

	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"no CA":           {[]string{"cert", "server", "--out", t.TempDir()}, "make the CA first with: latchkey cert ca --out"},
		"outlives the CA": {[]string{"cert", "client", "--out", out, "--ca-dir", ca, "--ca-name", "myca", "--cn", "x", "--name", "x"}, "after its CA"},
		"no --cn":         {[]string{"cert", "client", "--out", out, "--ca-dir", ca}, `"cn" not set`},
		"no --out":        {[]string{"cert", "ca"}, `"out" not set`},
		"zero days":       {[]string{"cert", "ca", "--out", t.TempDir(), "--days", "0"}, "--days must be at least 1"},
		"bad --uri":       {[]string{"cert", "client", "--out", out, "--ca-dir", ca, "--ca-name", "myca", "--cn", "x", "--uri", "reports", "--days", "1"}, "not an absolute URI"},
		"bad --email":     {[]string{"cert", "client", "--out", out, "--ca-dir", ca, "--ca-name", "myca", "--cn", "x", "--email", "x", "--days", "1"}, "not an e-mail address"},
		"--name with dir": {[]string{"cert", "ca", "--out", t.TempDir(), "--name", "a/b"}, "without a directory"},
		"no --host":       {[]string{"cert", "server", "--out", out, "--ca-dir", ca, "--ca-name", "myca", "--host", "", "--days", "1"}, "--host"},
		"bad -o":          {[]string{"cert", "ca", "--out", t.TempDir(), "-o", "yaml"}, "unknown output format"},
	} {
		_, errOut, code := cli(t, nil, "", tt.args...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, %q; want an error with %q", name, code, errOut, tt.want)
		}
	}
}
