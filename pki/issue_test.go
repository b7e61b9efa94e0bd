package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chain makes a CA, a server and a client certificate.
func chain(t *testing.T, useRSA bool) (ca, server, client *Pair) {
	t.Helper()
	var err error
	if ca, err = Issue(Request{Kind: KindCA, CommonName: "test root", RSA: useRSA}, nil); err != nil {
		t.Fatal(err)
	}
	if server, err = Issue(Request{Kind: KindServer, CommonName: "localhost", Hosts: []string{"localhost", "127.0.0.1", "::1"}, RSA: useRSA}, ca); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://example.org/repo")
	if client, err = Issue(Request{Kind: KindClient, CommonName: "sa_repository", Emails: []string{"sa@example.com"},
		Hosts: []string{"repo.example.com"}, URIs: []*url.URL{u}, RSA: useRSA}, ca); err != nil {
		t.Fatal(err)
	}
	return ca, server, client
}

func TestIssueChainsVerify(t *testing.T) {
	for _, useRSA := range []bool{false, true} {
		t.Run(map[bool]string{false: "ecdsa", true: "rsa"}[useRSA], func(t *testing.T) {
			ca, server, client := chain(t, useRSA)
			roots := x509.NewCertPool()
			roots.AddCert(ca.Cert)
			if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1",
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("server certificate: %v", err)
			}
			if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"}); err != nil {
				t.Errorf("server certificate for localhost: %v", err)
			}
			if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client certificate: %v", err)
			}
			// The key usages keep each certificate to its job.
			if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Error("the client certificate verifies as a server certificate")
			}
			if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: roots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("the server certificate verifies as a client certificate")
			}
			other, _, _ := chain(t, useRSA)
			otherRoots := x509.NewCertPool()
			otherRoots.AddCert(other.Cert)
			if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: otherRoots,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("the client certificate verifies against another CA")
			}

			if !ca.Cert.IsCA || !ca.Cert.MaxPathLenZero || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA: IsCA %v, MaxPathLenZero %v, key usage %b", ca.Cert.IsCA, ca.Cert.MaxPathLenZero, ca.Cert.KeyUsage)
			}
			for _, leaf := range []*Pair{server, client} {
				if leaf.Cert.IsCA || leaf.Cert.KeyUsage&x509.KeyUsageCertSign != 0 || leaf.Cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
					t.Errorf("%s: IsCA %v, key usage %b", leaf.Cert.Subject.CommonName, leaf.Cert.IsCA, leaf.Cert.KeyUsage)
				}
				if _, isRSA := leaf.Key.(*rsa.PrivateKey); isRSA != useRSA {
					t.Errorf("key %T", leaf.Key)
				}
				if useRSA && leaf.Cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
					t.Error("an RSA leaf without key encipherment")
				}
			}
			if k, ok := client.Key.(*rsa.PrivateKey); ok && k.N.BitLen() != 2048 {
				t.Errorf("RSA key of %d bits", k.N.BitLen())
			}
			if k, ok := client.Key.(*ecdsa.PrivateKey); ok && k.Curve != elliptic.P256() {
				t.Errorf("curve %v", k.Curve.Params().Name)
			}
			c := client.Cert
			if c.Subject.CommonName != "sa_repository" || strings.Join(c.EmailAddresses, ",") != "sa@example.com" ||
				strings.Join(c.DNSNames, ",") != "repo.example.com" || len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://example.org/repo" {
				t.Errorf("client subject %v, SANs %s", c.Subject, Describe(c))
			}
			if got := Describe(server.Cert); got != "DNS:localhost, IP:127.0.0.1, IP:::1" {
				t.Errorf("server SANs %q", got)
			}
		})
	}
}

// TestIssueTLSHandshake checks that the certificates do what they are for:
// a server that requires client certificates from the CA accepts the
// client's and refuses one from another CA.
func TestIssueTLSHandshake(t *testing.T) {
	ca, server, client := chain(t, false)
	_, _, stranger := chain(t, false)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tlsCert := func(p *Pair) tls.Certificate {
		return tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlsCert(server)},
		ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Write([]byte("ok"))
				c.Close()
			}()
		}
	}()
	dial := func(p *Pair) error {
		conf := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		if p != nil {
			conf.Certificates = []tls.Certificate{tlsCert(p)}
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), conf)
		if err != nil {
			return err
		}
		defer c.Close()
		b := make([]byte, 2)
		_, err = c.Read(b) // TLS 1.3 reports the server's refusal here
		return err
	}
	if err := dial(client); err != nil {
		t.Errorf("the client certificate: %v", err)
	}
	if err := dial(stranger); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	if err := dial(nil); err == nil {
		t.Error("no client certificate was accepted")
	}
}

func TestIssueRefusals(t *testing.T) {
	ca, _, client := chain(t, false)
	short, err := Issue(Request{Kind: KindCA, CommonName: "short", Lifetime: 24 * time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		req  Request
		ca   *Pair
		want string
	}{
		"CA with a signer":      {Request{Kind: KindCA, CommonName: "x"}, ca, "signs itself"},
		"client without a CA":   {Request{Kind: KindClient, CommonName: "x"}, nil, "needs a CA"},
		"no common name":        {Request{Kind: KindClient}, ca, "common name"},
		"server without a host": {Request{Kind: KindServer, CommonName: "x"}, ca, "host name"},
		"outlives its CA":       {Request{Kind: KindClient, CommonName: "x", Lifetime: 48 * time.Hour}, short, "after its CA"},
		"signed by a leaf":      {Request{Kind: KindClient, CommonName: "x"}, client, "not a CA"},
		"negative lifetime":     {Request{Kind: KindClient, CommonName: "x", Lifetime: -time.Hour}, ca, "negative"},
	} {
		if _, err := Issue(tt.req, tt.ca); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tt.want)
		}
	}
}

func TestIssueLifetimes(t *testing.T) {
	ca, server, client := chain(t, false)
	for _, tt := range []struct {
		p    *Pair
		want time.Duration
	}{{ca, CALifetime}, {server, ServerLifetime}, {client, ClientLifetime}} {
		if d := time.Until(tt.p.Cert.NotAfter); d < tt.want-time.Minute || d > tt.want {
			t.Errorf("%s lasts %v, want %v", tt.p.Cert.Subject.CommonName, d, tt.want)
		}
		if tt.p.Cert.NotBefore.After(time.Now()) {
			t.Errorf("%s is not valid yet", tt.p.Cert.Subject.CommonName)
		}
	}
	p, err := Issue(Request{Kind: KindClient, CommonName: "x", Lifetime: 30 * 24 * time.Hour}, ca)
	if err != nil || time.Until(p.Cert.NotAfter) > 30*24*time.Hour {
		t.Errorf("30 days: %v, %v", p, err)
	}
}

func TestWriteAndLoad(t *testing.T) {
	ca, _, client := chain(t, false)
	dir := filepath.Join(t.TempDir(), "certs")
	f := FilesIn(dir, "client")
	if f.Cert != filepath.Join(dir, "client.pem") || f.Key != filepath.Join(dir, "client_key.pem") {
		t.Fatalf("FilesIn = %+v", f)
	}
	if err := client.Write(f, false); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{f.Key: 0o600, f.Cert: 0o644, dir: 0o700 | os.ModeDir} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", name, st.Mode(), mode)
		}
	}
	back, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(client.Cert) || !back.Key.(*ecdsa.PrivateKey).Equal(client.Key) {
		t.Error("Load returned another certificate or key")
	}

	// Never overwrite without being asked, and change nothing then.
	before, _ := os.ReadFile(f.Cert)
	if err := ca.Write(f, false); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "client.pem") {
		t.Fatalf("second Write = %v, want fs.ErrExist naming the file", err)
	}
	if after, _ := os.ReadFile(f.Cert); string(after) != string(before) {
		t.Error("a refused Write changed the certificate")
	}
	os.Remove(f.Cert)
	if err := ca.Write(f, false); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "client_key.pem") {
		t.Fatalf("Write over the key alone = %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(f.Cert); err == nil {
		t.Error("a refused Write wrote the certificate")
	}
	if err := ca.Write(f, true); err != nil {
		t.Fatalf("Write with overwrite: %v", err)
	}
	if back, err := Load(f); err != nil || !back.Cert.Equal(ca.Cert) {
		t.Errorf("after overwrite: %v", err)
	}

	if _, err := Load(FilesIn(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("Load of missing files = %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	_, _, client := chain(t, false)
	sum := sha256.Sum256(client.Cert.Raw)
	if got, want := Fingerprint(client.Cert), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
	if len(FingerprintHex(client.Cert)) != 64 {
		t.Error("FingerprintHex is not 64 hex digits")
	}
}
