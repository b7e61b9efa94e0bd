package gateway

import (
	"crypto/tls"
	"log/slog"
	"path/filepath"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pki"
)

// serverTLS returns the TLS configuration of a listener, or nil for a
// listener that serves plain HTTP, and the files it reloads (nil: none).
//
// Client certificates are asked for as the listener says: "optional"
// verifies one if the client sends it, "require" refuses a connection
// without one; both against the CAs in client_ca_file. "none" asks for
// nothing.
func serverTLS(l config.Listener, dataDir string, log *slog.Logger, m *metrics) (*tls.Config, *tlsFiles, error) {
	if l.TLS.InsecurePlainHTTP {
		log.Warn("listener serves plain HTTP: credentials cross the network unencrypted", "listener", l.Name)
		return nil, nil, nil
	}
	minVersion := uint16(tls.VersionTLS12)
	if l.TLS.MinVersion == "1.3" {
		minVersion = tls.VersionTLS13
	}
	conf := &tls.Config{MinVersion: minVersion}
	var caFile string
	switch l.TLS.ClientAuth {
	case "optional":
		conf.ClientAuth, caFile = tls.VerifyClientCertIfGiven, l.TLS.ClientCAFile
	case "require":
		conf.ClientAuth, caFile = tls.RequireAndVerifyClientCert, l.TLS.ClientCAFile
	}
	if l.TLS.CertFile == "" {
		// The development certificate: made once, never reloaded.
		dir := filepath.Join(dataDir, "tls")
		cert, made, err := pki.EnsureSelfSigned(dir)
		if err != nil {
			return nil, nil, err
		}
		if made {
			log.Info("generated a self-signed certificate for development", "dir", dir)
		}
		conf.Certificates = []tls.Certificate{cert}
		if caFile == "" {
			return conf, nil, nil
		}
	}
	files, err := newTLSFiles(conf, l.Name, l.TLS.CertFile, l.TLS.KeyFile, caFile, l.TLS.ReloadInterval.D(), log, m)
	if err != nil {
		return nil, nil, err
	}
	return files.served(), files, nil
}
