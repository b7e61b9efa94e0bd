package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pki"
)

// writePair writes p as NAME.pem and NAME_key.pem in dir.
func writePair(t *testing.T, p *pki.Pair, dir, name string) pki.Files {
	t.Helper()
	f := pki.FilesIn(dir, name)
	if err := p.Write(f, false); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestServerTLSClientAuth(t *testing.T) {
	dir := t.TempDir()
	ca := writePair(t, testPKI().ca, dir, "root")
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate\n"), 0o644)
	tests := []struct {
		auth, caFile string
		want         tls.ClientAuthType
		err          string
	}{
		{"none", "", tls.NoClientCert, ""},
		{"optional", ca.Cert, tls.VerifyClientCertIfGiven, ""},
		{"require", ca.Cert, tls.RequireAndVerifyClientCert, ""},
		{"require", junk, 0, "client_ca_file " + junk + " holds no PEM certificate"},
		{"optional", filepath.Join(dir, "missing.pem"), 0, "missing.pem"},
	}
	for _, tt := range tests {
		l := config.Listener{Name: "qrs", TLS: config.TLS{ClientAuth: tt.auth, ClientCAFile: tt.caFile}}
		conf, _, err := serverTLS(l, t.TempDir(), quietLog(), newMetrics())
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s %s: %v, want an error with %q", tt.auth, tt.caFile, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.auth, err)
		}
		if conf.ClientAuth != tt.want || (tt.auth == "none") != (conf.ClientCAs == nil) {
			t.Errorf("%s: ClientAuth %v, ClientCAs %v", tt.auth, conf.ClientAuth, conf.ClientCAs)
		}
	}
}

// TestCertOverTLS serves a listener that requires client certificates and
// one where they are optional, and sends real handshakes.
func TestCertOverTLS(t *testing.T) {
	f := newFixture(t)
	p := testPKI()
	dir := t.TempDir()
	ca := writePair(t, p.ca, dir, "root")
	server, err := pki.Issue(pki.Request{Kind: pki.KindServer, CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1"}}, p.ca)
	if err != nil {
		t.Fatal(err)
	}
	sf := writePair(t, server, dir, "server")
	other, err := pki.Issue(pki.Request{Kind: pki.KindCA, CommonName: "other root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "QlikClient"}, other)
	if err != nil {
		t.Fatal(err)
	}

	s := certGateway(t, f, config.Certificates{Trusted: []string{"cn:QlikClient"}}, "")
	listenerTLS := func(auth string) config.TLS {
		return config.TLS{CertFile: sf.Cert, KeyFile: sf.Key, MinVersion: "1.2", ClientAuth: auth, ClientCAFile: ca.Cert}
	}
	s.cfg.Listeners = []config.Listener{
		{Name: "require", Address: "127.0.0.1:0", TLS: listenerTLS("require")},
		{Name: "optional", Address: "127.0.0.1:0", TLS: listenerTLS("optional")},
	}
	serveListening(t, s)

	roots := x509.NewCertPool()
	roots.AddCert(p.ca.Cert)
	get := func(listener string, c *pki.Pair, header ...string) (int, string, error) {
		conf := &tls.Config{RootCAs: roots}
		if c != nil { // sent whatever CAs the server names, as curl does
			conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				return &tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key}, nil
			}
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+s.Addrs()[listener].String()+"/qrs/about", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e echoBody
		if json.Unmarshal(b, &e) == nil && e.Principal != nil {
			return resp.StatusCode, e.Principal.QualifiedName(), nil
		}
		return resp.StatusCode, string(b), nil
	}

	qlikUser := []string{"X-Qlik-User", "UserDirectory=Internal; UserId=sa_repository"}
	for _, listener := range []string{"require", "optional"} {
		if code, who, err := get(listener, p.qlik, qlikUser...); err != nil || code != 200 || who != `INTERNAL\sa_repository` {
			t.Errorf("%s: trusted certificate with X-Qlik-User: %d %s %v", listener, code, who, err)
		}
		if code, who, err := get(listener, p.alice, qlikUser...); err != nil || code != 200 || who != `INTERNAL\alice` {
			t.Errorf("%s: untrusted certificate: %d %s %v", listener, code, who, err)
		}
		if _, _, err := get(listener, forged, qlikUser...); err == nil {
			t.Errorf("%s: a certificate from another CA was let in", listener)
		}
	}
	if _, _, err := get("require", nil); err == nil {
		t.Error("require: a connection without a certificate was let in")
	}
	if code, body, err := get("optional", nil); err != nil || code != 401 {
		t.Errorf("optional: no certificate: %d %s %v, want 401", code, body, err)
	}
}
