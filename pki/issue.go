package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default lifetimes of the certificates that Issue makes.
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServerLifetime = 397 * 24 * time.Hour // the most browsers accept
	ClientLifetime = 365 * 24 * time.Hour
)

// Kind is what a certificate is for.
type Kind int

// The kinds of certificate for client-certificate authentication (Qlik's
// root.pem, server.pem and client.pem).
const (
	KindCA     Kind = iota // signs the others: root.pem
	KindServer             // a TLS server: server.pem
	KindClient             // a TLS client: client.pem
)

func (k Kind) String() string {
	switch k {
	case KindCA:
		return "ca"
	case KindServer:
		return "server"
	case KindClient:
		return "client"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Request describes a certificate to make.
type Request struct {
	Kind       Kind
	CommonName string
	// Hosts are the DNS names and IP addresses of a server certificate,
	// and extra DNS names of a client certificate.
	Hosts  []string
	Emails []string   // e-mail SANs (client certificates)
	URIs   []*url.URL // URI SANs (client certificates)
	// Lifetime is how long the certificate is valid from now; 0 means the
	// kind's default (CALifetime, ServerLifetime, ClientLifetime).
	Lifetime time.Duration
	RSA      bool // RSA 2048 instead of ECDSA P-256
}

// Pair is a certificate with its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Issue makes the certificate that req describes, signed by ca (nil for a
// CA, which signs itself). A leaf may not outlive its CA.
func Issue(req Request, ca *Pair) (*Pair, error) {
	if (req.Kind == KindCA) != (ca == nil) {
		return nil, errors.New("a CA certificate signs itself; a server or client certificate needs a CA")
	}
	if req.CommonName == "" {
		return nil, fmt.Errorf("a %s certificate needs a common name", req.Kind)
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = map[Kind]time.Duration{KindCA: CALifetime, KindServer: ServerLifetime, KindClient: ClientLifetime}[req.Kind]
	}
	if lifetime < 0 {
		return nil, fmt.Errorf("the lifetime %v is negative", lifetime)
	}
	now := time.Now()
	notAfter := now.Add(lifetime)
	if ca != nil {
		if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			return nil, fmt.Errorf("the certificate %q is not a CA", ca.Cert.Subject.CommonName)
		}
		if notAfter.After(ca.Cert.NotAfter) {
			return nil, fmt.Errorf("the certificate would expire on %s, after its CA (%s); give it a shorter lifetime",
				notAfter.UTC().Format(time.DateOnly), ca.Cert.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	key, err := newKey(req.RSA)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: req.CommonName},
		NotBefore:             now.Add(-time.Hour), // some clock skew
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
	}
	leafUsage := x509.KeyUsageDigitalSignature
	if req.RSA {
		leafUsage |= x509.KeyUsageKeyEncipherment // RSA key exchange in TLS 1.2
	}
	switch req.Kind {
	case KindCA:
		tmpl.IsCA, tmpl.MaxPathLenZero = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	case KindServer:
		if len(req.Hosts) == 0 {
			return nil, errors.New("a server certificate needs at least one host name or IP address")
		}
		tmpl.KeyUsage = leafUsage
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case KindClient:
		tmpl.KeyUsage = leafUsage
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.EmailAddresses, tmpl.URIs = req.Emails, req.URIs
	default:
		return nil, fmt.Errorf("unknown kind of certificate %v", req.Kind)
	}
	if req.Kind != KindCA {
		for _, h := range req.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("make the %s certificate: %w", req.Kind, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key}, nil
}

func newKey(useRSA bool) (crypto.Signer, error) {
	if useRSA {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// CertPEM returns the certificate, PEM-encoded.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// KeyPEM returns the private key, PEM-encoded as PKCS #8.
func (p *Pair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Fingerprint returns "sha256:" and the lowercase hex SHA-256 of the
// certificate's DER bytes: the form certificates.trusted takes.
func Fingerprint(c *x509.Certificate) string {
	return "sha256:" + FingerprintHex(c)
}

// FingerprintHex is the lowercase hex SHA-256 of the certificate's DER bytes.
func FingerprintHex(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Files names the two files of a Pair.
type Files struct {
	Cert string // e.g. client.pem
	Key  string // e.g. client_key.pem
}

// FilesIn returns the files named as Qlik names them: NAME.pem and
// NAME_key.pem in dir.
func FilesIn(dir, name string) Files {
	return Files{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+"_key.pem")}
}

// Write writes the key (mode 0600) and the certificate (0644), making the
// directory (0700) when missing. Without overwrite it changes nothing when
// either file exists, and returns an error that wraps fs.ErrExist.
func (p *Pair) Write(f Files, overwrite bool) error {
	keyPEM, err := p.KeyPEM()
	if err != nil {
		return err
	}
	if !overwrite {
		for _, name := range []string{f.Cert, f.Key} {
			if _, err := os.Lstat(name); err == nil {
				return fmt.Errorf("%s: %w", name, fs.ErrExist)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	for _, name := range []string{f.Cert, f.Key} {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			return err
		}
	}
	if err := WriteFile(f.Key, keyPEM, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", f.Key, err)
	}
	if err := WriteFile(f.Cert, p.CertPEM(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", f.Cert, err)
	}
	return nil
}

// Load reads a certificate and its private key from PEM files, such as a
// CA's root.pem and root_key.pem.
func Load(f Files) (*Pair, error) {
	tc, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("read %s and %s: %w", f.Cert, f.Key, err)
	}
	signer, ok := tc.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("the key in %s cannot sign", f.Key)
	}
	leaf := tc.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(tc.Certificate[0]); err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Cert, err)
		}
	}
	return &Pair{Cert: leaf, Key: signer}, nil
}

// Describe returns the certificate's subject alternative names as text, for
// people: "DNS:localhost, IP:127.0.0.1, email:a@example.com".
func Describe(c *x509.Certificate) string {
	var s []string
	for _, d := range c.DNSNames {
		s = append(s, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		s = append(s, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		s = append(s, "email:"+e)
	}
	for _, u := range c.URIs {
		s = append(s, "URI:"+u.String())
	}
	return strings.Join(s, ", ")
}
