package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// tlsFiles holds what a listener reads from its TLS files — the
// certificate of cert_file and key_file, the client CAs of client_ca_file —
// and reloads them on Reload (SIGHUP) or, on check, when a file's
// modification time or size changed. A handshake takes whatever is current
// when it starts, so a connection keeps the certificate it was served with
// and only new handshakes see a reloaded one. A reload that fails keeps
// what was loaded before.
//
// The self-signed development certificate is not reloaded: only files the
// configuration names are.
type tlsFiles struct {
	listener          string
	certFile, keyFile string        // "" when the certificate does not reload
	caFile            string        // "" when the client CAs do not reload
	interval          time.Duration // of the checks; 0: only on Reload
	log               *slog.Logger
	ok, failed        prometheus.Counter // latchkey_tls_reloads_total of the listener

	// template is the listener's configuration, which the certificate and
	// the client CAs of every handshake are joined to. Never changed once
	// built, and never handed to the http.Server (which writes to its own).
	template *tls.Config

	cert   atomic.Pointer[tls.Certificate]
	client atomic.Pointer[tls.Config] // template with the current ClientCAs

	mu sync.Mutex // one reload at a time; guards seen
	// seen are the stamps of the files as last loaded or tried: check
	// reloads only what changed since, so that a broken file is reported
	// once, not on every check, and retried when it changes again.
	seen [3]fileStamp // cert, key, CA
}

// fileStamp is what check compares: a file replaced or rewritten changes
// its modification time or its size. A missing file has a zero stamp.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(name string) fileStamp {
	fi, err := os.Stat(name)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// newTLSFiles loads the files of a listener — its certificate (certFile
// and keyFile, or "" for a certificate template holds already) and its
// client CAs (caFile, or "" for none) — into template, which it completes
// with GetCertificate. An error is that of the first load: the listener
// cannot start. interval is that of watch (0: none).
func newTLSFiles(template *tls.Config, listener, certFile, keyFile, caFile string, interval time.Duration,
	log *slog.Logger, m *metrics) (*tlsFiles, error) {
	f := &tlsFiles{listener: listener, certFile: certFile, keyFile: keyFile, caFile: caFile, interval: interval, log: log,
		ok: m.tlsReloads.WithLabelValues(listener, "ok"), failed: m.tlsReloads.WithLabelValues(listener, "error")}
	if certFile != "" {
		f.seen[0], f.seen[1] = stampOf(certFile), stampOf(keyFile)
		cert, err := loadCert(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		f.cert.Store(cert)
		template.Certificates = nil
		template.GetCertificate = f.getCertificate
	}
	// net/http adds these to a configuration it serves; the configuration
	// of each handshake is a copy of template, so it must have them too.
	template.NextProtos = []string{"h2", "http/1.1"}
	f.template = template
	if caFile != "" {
		f.seen[2] = stampOf(caFile)
		pool, _, err := loadClientCAs(caFile)
		if err != nil {
			return nil, err
		}
		f.setClientCAs(pool)
	}
	return f, nil
}

// served is the configuration for the listener's http.Server: a copy of
// the template whose handshakes each take the current client CAs.
func (f *tlsFiles) served() *tls.Config {
	conf := f.template.Clone()
	if f.caFile != "" {
		conf.ClientCAs = f.client.Load().ClientCAs
		conf.GetConfigForClient = f.configForClient
	}
	return conf
}

func (f *tlsFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert.Load(), nil
}

// configForClient returns the template with the current client CAs. The
// copies carry no session ticket keys of their own, so crypto/tls encrypts
// and decrypts tickets with those of the served configuration, and
// resumption works across reloads; a resumed session's client certificate
// is verified again against the current CAs.
func (f *tlsFiles) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return f.client.Load(), nil
}

func (f *tlsFiles) setClientCAs(pool *x509.CertPool) {
	c := f.template.Clone()
	c.ClientCAs = pool
	f.client.Store(c)
}

// Reload reads every file again, changed or not. It returns what went
// wrong, which it has also logged and counted; what failed to load keeps
// its previous contents.
func (f *tlsFiles) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reload(f.certFile != "", f.caFile != "")
}

// check reloads what changed since it was last loaded or tried. It
// returns what went wrong, as Reload does.
func (f *tlsFiles) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var cert, ca bool
	if f.certFile != "" {
		cert = stampOf(f.certFile) != f.seen[0] || stampOf(f.keyFile) != f.seen[1]
	}
	if f.caFile != "" {
		ca = stampOf(f.caFile) != f.seen[2]
	}
	if !cert && !ca {
		return nil
	}
	return f.reload(cert, ca)
}

// reload loads the certificate and the client CAs, as asked; f.mu is held.
// The stamps are taken before reading, so a file that changes while it is
// read is read again at the next check.
func (f *tlsFiles) reload(cert, ca bool) error {
	var errs []error
	if cert {
		f.seen[0], f.seen[1] = stampOf(f.certFile), stampOf(f.keyFile)
		if c, err := loadCert(f.certFile, f.keyFile); err != nil {
			f.log.Error("reloading the TLS certificate failed; still serving the previous one", "listener", f.listener,
				"cert_file", f.certFile, "key_file", f.keyFile, "err", err)
			errs = append(errs, err)
		} else {
			f.cert.Store(c)
			f.log.Info("reloaded the TLS certificate", "listener", f.listener, "cert_file", f.certFile,
				"subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if ca {
		f.seen[2] = stampOf(f.caFile)
		if pool, n, err := loadClientCAs(f.caFile); err != nil {
			f.log.Error("reloading the client CAs failed; still verifying against the previous ones", "listener", f.listener,
				"client_ca_file", f.caFile, "err", err)
			errs = append(errs, err)
		} else {
			f.setClientCAs(pool)
			f.log.Info("reloaded the client CAs", "listener", f.listener, "client_ca_file", f.caFile, "certificates", n)
		}
	}
	if len(errs) > 0 {
		f.failed.Inc()
		return fmt.Errorf("listener %s: %w", f.listener, errors.Join(errs...))
	}
	f.ok.Inc()
	return nil
}

// watch checks the files at every tick until ctx ends.
func (f *tlsFiles) watch(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			f.check() // logged and counted
		}
	}
}

// loadCert reads a certificate chain and its key, with the leaf parsed.
func loadCert(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load certificate: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("load certificate %s: %w", certFile, err)
		}
	}
	return &c, nil
}

// loadClientCAs reads client_ca_file and returns its certificates as a pool,
// and how many there are.
func loadClientCAs(name string) (*x509.CertPool, int, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, 0, fmt.Errorf("read client_ca_file: %w", err)
	}
	// As x509.CertPool.AppendCertsFromPEM reads, counting.
	pool, n := x509.NewCertPool(), 0
	for len(data) > 0 {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("client_ca_file %s holds no PEM certificate", name)
	}
	return pool, n, nil
}

// ReloadTLS reads the certificates and client CAs of every listener again
// (latchkey serve calls it on SIGHUP). What fails to load is logged and
// keeps serving as before; the error joins every failure.
func (s *Server) ReloadTLS() error {
	var errs []error
	for _, l := range s.listeners {
		if l.files != nil {
			errs = append(errs, l.files.Reload())
		}
	}
	return errors.Join(errs...)
}

// watchTLS checks the TLS files of every listener that names some, at its
// tls.reload_interval (0: never), until the returned stop is called; stop
// waits for the checks to end.
func (s *Server) watchTLS(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range s.listeners {
		if l.files == nil || l.files.interval <= 0 {
			continue
		}
		wg.Go(func() {
			t := time.NewTicker(l.files.interval)
			defer t.Stop()
			l.files.watch(ctx, t.C)
		})
	}
	return func() { cancel(); wg.Wait() }
}
