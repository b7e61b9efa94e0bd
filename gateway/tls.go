package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
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
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minVersion}, nil
}
