package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

// Options shape the base transport: which servers to trust, the client
// certificate to present, and whether credentials may travel over plain
// HTTP. The zero value is the safe default: the system's CAs, TLS 1.2 or
// later, no client certificate, HTTPS only.
type Options struct {
	// CACertFile names a PEM file with the CA certificates that sign the
	// server's certificate (Qlik's root.pem, latchkey's tls/server.pem). They
	// are trusted instead of the system's CAs, as with curl --cacert.
	CACertFile string
	// RootCAs, when not nil, is trusted as CACertFile is. It may be given
	// with CACertFile: the file's certificates are added to a copy of it.
	RootCAs *x509.CertPool

	// CertFile and KeyFile name the PEM client certificate and its private
	// key (Qlik's client.pem and client_key.pem) that the transport presents
	// when a server asks for one. Give both or neither.
	CertFile, KeyFile string

	// InsecureSkipVerify turns off the check of the server's certificate
	// and name, as curl -k does. Anyone on the network can then read and
	// change the traffic, credentials included: use it only against a test
	// server, and prefer CACertFile.
	InsecureSkipVerify bool

	// AllowPlainHTTP lets the credential transports of this package send
	// their credentials to http:// URLs, where anyone on the network can
	// read them. By default they refuse with an error wrapping
	// ErrPlainHTTP. Set it only for a trusted network or a local test.
	AllowPlainHTTP bool
}

// ErrPlainHTTP is wrapped by the error a credential transport returns,
// before anything is sent, when asked to send credentials to an http://
// URL without Options.AllowPlainHTTP (or AllowPlainHTTP around a transport
// of one's own).
var ErrPlainHTTP = errors.New("credentials are not sent over plain HTTP")

// Transport is the base of every chain: an http.Transport configured by
// Options. Wrap it in the credential transports of this package.
type Transport struct {
	http       *http.Transport
	allowPlain bool
}

// NewTransport returns a base transport configured by o. It keeps what
// http.DefaultTransport does (proxy from the environment, HTTP/2, timeouts)
// and changes only TLS: the CAs, the client certificate, TLS 1.2 at least.
// An error names the file that could not be used; it never holds a key.
func NewTransport(o Options) (*Transport, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	if o.RootCAs != nil {
		cfg.RootCAs = o.RootCAs.Clone()
	}
	if o.CACertFile != "" {
		pemBytes, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("client: read the CA certificates: %w", err)
		}
		if cfg.RootCAs == nil {
			cfg.RootCAs = x509.NewCertPool()
		}
		if !cfg.RootCAs.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("client: %s holds no PEM certificate", o.CACertFile)
		}
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			// tls's messages name the files' problem, never the key itself.
			return nil, fmt.Errorf("client: load the client certificate %s and key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("client: give both the client certificate (CertFile) and its key (KeyFile), or neither")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = cfg
	return &Transport{http: t, allowPlain: o.AllowPlainHTTP}, nil
}

// RoundTrip sends the request as it is.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) { return t.http.RoundTrip(r) }

// CloseIdleConnections closes the connections kept for reuse.
func (t *Transport) CloseIdleConnections() { t.http.CloseIdleConnections() }

func (t *Transport) allowsPlainHTTP() bool { return t.allowPlain }

// AllowPlainHTTP wraps a transport of one's own (not made by NewTransport)
// so that the credential transports around it may send credentials to
// http:// URLs, as Options.AllowPlainHTTP does for a Transport. A nil next
// means a Transport with the zero Options.
func AllowPlainHTTP(next http.RoundTripper) http.RoundTripper {
	return &plainAllowed{next: orDefault(next)}
}

type plainAllowed struct{ next http.RoundTripper }

func (p *plainAllowed) RoundTrip(r *http.Request) (*http.Response, error) { return p.next.RoundTrip(r) }
func (p *plainAllowed) CloseIdleConnections()                             { closeIdle(p.next) }
func (p *plainAllowed) allowsPlainHTTP() bool                             { return true }

// plainPolicy is implemented by every transport of this package: whether
// the chain below it may carry credentials over plain HTTP.
type plainPolicy interface{ allowsPlainHTTP() bool }

func allowsPlain(rt http.RoundTripper) bool {
	p, ok := rt.(plainPolicy)
	return ok && p.allowsPlainHTTP()
}

var defaultTransport = sync.OnceValue(func() *Transport {
	t, err := NewTransport(Options{})
	if err != nil { // cannot happen: the zero Options read no file
		panic(err)
	}
	return t
})

// orDefault is next, or the shared Transport of the zero Options.
func orDefault(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		return defaultTransport()
	}
	return next
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// checkScheme refuses a request to an http:// URL unless the chain below
// allows plain HTTP. The error names the origin only.
func checkScheme(u string, scheme string, next http.RoundTripper) error {
	if strings.EqualFold(scheme, "https") || allowsPlain(next) {
		return nil
	}
	return fmt.Errorf("client: %w to %s: use https, or set Options.AllowPlainHTTP for a trusted network", ErrPlainHTTP, u)
}

// origin is scheme://host of r's URL, for messages and comparisons.
func origin(r *http.Request) string {
	return strings.ToLower(r.URL.Scheme) + "://" + canonicalHost(r.URL.Scheme, r.URL.Host)
}

// canonicalHost is host:port with the scheme's default port left out and
// the name in lower case.
func canonicalHost(scheme, host string) string {
	host = strings.ToLower(host)
	if h, p, err := net.SplitHostPort(host); err == nil &&
		(p == "443" && strings.EqualFold(scheme, "https") || p == "80" && strings.EqualFold(scheme, "http")) {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

// carriesCredentials reports whether a credential transport may add its
// credentials to r: always, except on a redirect that left the origin of
// the request the caller made. http.Client follows redirects by calling the
// transport again; a server that redirects elsewhere (or from https to
// http) must not receive the caller's credentials.
func carriesCredentials(r *http.Request) bool {
	first := r
	for first.Response != nil {
		if first.Response.Request == nil {
			return false // a redirect from who knows where: fail closed
		}
		first = first.Response.Request
	}
	return first == r || origin(first) == origin(r)
}

// closeBody closes a request's body, as RoundTrip must even when it fails.
func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// safeMethod reports whether a method only reads (GET, HEAD, OPTIONS), as
// latchkey and Qlik decide which requests need CSRF headers.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == ""
}
