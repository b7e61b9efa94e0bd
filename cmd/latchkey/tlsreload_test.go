package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pki"
)

// TestServeReloadsTLSOnSIGHUP runs latchkey serve with certificate files,
// replaces them and sends SIGHUP: the process goes on serving, now with
// the new certificate.
func TestServeReloadsTLSOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Issue(pki.Request{Kind: pki.KindCA, CommonName: "test root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(cn string) {
		t.Helper()
		p, err := pki.Issue(pki.Request{Kind: pki.KindServer, CommonName: cn, Hosts: []string{"127.0.0.1"}}, ca)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Write(pki.FilesIn(dir, "server"), true); err != nil {
			t.Fatal(err)
		}
	}
	issue("server A")
	conf := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `data_dir: %[1]s/data
listeners:
  - address: 127.0.0.1:0
    tls:
      cert_file: %[1]s/server.pem
      key_file: %[1]s/server_key.pem
      reload_interval: 0s # SIGHUP only
`, dir), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, "serve", "--config", conf, "--log-format", "json")
	cmd.Env = append(os.Environ(), "LATCHKEY_ADMIN_PASSWORD=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	type record struct{ Msg, URL, Subject, Level string }
	records := make(chan record, 1000)
	go func() {
		defer close(records)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var r record
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				records <- r
			}
		}
	}()
	// awaitLog waits for the log line with msg, reading the lines before it.
	awaitLog := func(msg string) record {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case r, ok := <-records:
				if !ok {
					t.Fatalf("serve ended before logging %q", msg)
				}
				if r.Msg == msg {
					return r
				}
			case <-timeout:
				t.Fatalf("serve did not log %q within 20s", msg)
			}
		}
	}
	addr := awaitLog("listening").URL[len("https://"):]

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	served := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "server A" {
		t.Fatalf("before SIGHUP: %s", got)
	}
	issue("server B")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if r := awaitLog("reloaded the TLS certificate"); r.Subject != "CN=server B" {
		t.Errorf("reload logged %+v", r)
	}
	if got := served(); got != "server B" {
		t.Errorf("after SIGHUP: %s, want server B", got)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	awaitLog("stopped")
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGTERM after SIGHUP: %v", err)
	}
}

// TestServeReloadOnHangup calls reload once per signal and stops when
// told, waiting for a reload under way.
func TestServeReloadOnHangup(t *testing.T) {
	hup := make(chan os.Signal)
	reloads := make(chan struct{}, 3)
	stop := reloadOnHangup(context.Background(), hup, func() error {
		reloads <- struct{}{}
		return errors.New("logged by the gateway")
	}, slog.New(slog.DiscardHandler))
	hup <- syscall.SIGHUP
	hup <- syscall.SIGHUP
	<-reloads
	<-reloads
	stop()
	select {
	case hup <- syscall.SIGHUP:
		t.Error("a signal was taken after stop")
	default:
	}
}
