package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pki"
)

// serverTLS returns the TLS configuration of a listener, or nil for a
// listener that serves plain HTTP.
func serverTLS(l config.Listener, dataDir string, log *slog.Logger) (*tls.Config, error) {
	if l.TLS.InsecurePlainHTTP {
		log.Warn("listener serves plain HTTP: credentials cross the network unencrypted", "listener", l.Name)
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	if l.TLS.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(l.TLS.CertFile, l.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load certificate: %w", err)
		}
	} else {
		dir := filepath.Join(dataDir, "tls")
		var made bool
		cert, made, err = pki.EnsureSelfSigned(dir)
		if err != nil {
			return nil, err
		}
		if made {
			log.Info("generated a self-signed certificate for development", "dir", dir)
		}
	}
	minVersion := uint16(tls.VersionTLS12)
	if l.TLS.MinVersion == "1.3" {
		minVersion = tls.VersionTLS13
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minVersion}
	if err := clientAuth(conf, l.TLS); err != nil {
		return nil, err
	}
	return conf, nil
}

// clientAuth asks for client certificates as the listener says: "optional"
// verifies one if the client sends it, "require" refuses a connection
// without one; both against the CAs in client_ca_file. "none" asks for
// nothing.
func clientAuth(conf *tls.Config, t config.TLS) error {
	switch t.ClientAuth {
	case "optional":
		conf.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		conf.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil
	}
	pem, err := os.ReadFile(t.ClientCAFile)
	if err != nil {
		return fmt.Errorf("read client_ca_file: %w", err)
	}
	conf.ClientCAs = x509.NewCertPool()
	if !conf.ClientCAs.AppendCertsFromPEM(pem) {
		return fmt.Errorf("client_ca_file %s holds no PEM certificate", t.ClientCAFile)
	}
	return nil
}
