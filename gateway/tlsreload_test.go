package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pki"
)

// lockedBuffer is a log destination that handshakes and reloads may write
// to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// reloadRig is a gateway serving one TLS listener from files in dir, with
// a log to look at.
type reloadRig struct {
	t     *testing.T
	s     *Server
	log   *lockedBuffer
	files pki.Files // the listener's cert_file and key_file
	ca    string    // its client_ca_file ("" for none)
	roots *x509.CertPool
	mod   time.Time // the modification time the next write gets
}

// newReloadRig serves a listener with the certificate server and, when ca
// is not nil, requiring client certificates signed by it.
func newReloadRig(t *testing.T, server, ca *pki.Pair) *reloadRig {
	t.Helper()
	dir := t.TempDir()
	r := &reloadRig{t: t, log: &lockedBuffer{}, files: pki.FilesIn(dir, "server"), roots: x509.NewCertPool(),
		mod: time.Now().Add(-time.Hour)}
	r.roots.AddCert(testPKI().ca.Cert)
	r.writePair(server)
	tc := config.TLS{CertFile: r.files.Cert, KeyFile: r.files.Key, MinVersion: "1.2", ClientAuth: "none"}
	if ca != nil {
		r.ca = dir + "/client-ca.pem"
		r.write(r.ca, ca.CertPEM())
		tc.ClientAuth, tc.ClientCAFile = "require", r.ca
	}
	cfg := testConfig()
	// No polling: the tests call check, or watch with ticks of their own.
	cfg.Listeners = []config.Listener{{Name: "main", Address: "127.0.0.1:0", TLS: tc}}
	s, err := New(cfg, Deps{Log: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	serveListening(t, s)
	r.s = s
	return r
}

// serveListening makes s listen and serve until t ends.
func serveListening(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
}

// write replaces a file as a deployment would, and gives it a modification
// time of its own: two writes within the file system's clock tick would
// otherwise look alike to check when their sizes match.
func (r *reloadRig) write(name string, data []byte) {
	r.t.Helper()
	if err := pki.WriteFile(name, data, 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.mod = r.mod.Add(time.Second)
	if err := os.Chtimes(name, r.mod, r.mod); err != nil {
		r.t.Fatal(err)
	}
}

func (r *reloadRig) writePair(p *pki.Pair) {
	r.t.Helper()
	key, err := p.KeyPEM()
	if err != nil {
		r.t.Fatal(err)
	}
	r.write(r.files.Key, key)
	r.write(r.files.Cert, p.CertPEM())
}

func (r *reloadRig) reloader() *tlsFiles { return r.s.listeners[0].files }

func (r *reloadRig) url(path string) string {
	return "https://" + r.s.Addrs()["main"].String() + path
}

// client returns an HTTP client that trusts the test CA and keeps its
// connections open.
func (r *reloadRig) client() *http.Client {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots}}}
	r.t.Cleanup(c.CloseIdleConnections)
	return c
}

// get sends GET /healthz with c and returns the common name of the
// server's certificate and whether the connection was one used before.
func (r *reloadRig) get(c *http.Client) (cn string, reused bool) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.url("/healthz"), nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) // read to the end, so that the connection is kept
	resp.Body.Close()
	if resp.StatusCode != 200 {
		r.t.Fatalf("GET /healthz: %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].Subject.CommonName, reused
}

// servedCN is the common name of the certificate a new connection gets.
func (r *reloadRig) servedCN() string {
	r.t.Helper()
	cn, _ := r.get(r.client())
	return cn
}

// reloads is latchkey_tls_reloads_total of the listener, as /metrics shows it.
func (r *reloadRig) reloads(result string) float64 {
	r.t.Helper()
	w := httptest.NewRecorder()
	r.s.metrics.handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	prefix := `latchkey_tls_reloads_total{listener="main",result="` + result + `"} `
	for line := range strings.Lines(w.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				r.t.Fatal(err)
			}
			return n
		}
	}
	r.t.Fatalf("/metrics has no %s", prefix)
	return 0
}

func issueServer(t testing.TB, cn string) *pki.Pair {
	t.Helper()
	p, err := pki.Issue(pki.Request{Kind: pki.KindServer, CommonName: cn, Hosts: []string{"127.0.0.1"}}, testPKI().ca)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLSReload replaces the certificate files and reloads them as SIGHUP
// does: new connections get the new certificate, one already open keeps
// the old one and goes on working, and broken files keep the last good
// certificate serving, reported in the log and the metric.
func TestTLSReload(t *testing.T) {
	a, b := issueServer(t, "server A"), issueServer(t, "server B")
	r := newReloadRig(t, a, nil)
	old := r.client()
	if cn, _ := r.get(old); cn != "server A" {
		t.Fatalf("before the reload: %s", cn)
	}

	r.writePair(b)
	if got := r.servedCN(); got != "server A" {
		t.Errorf("before the reload, a new connection got %s", got)
	}
	if err := r.s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := r.servedCN(); got != "server B" {
		t.Errorf("after the reload, a new connection got %s, want server B", got)
	}
	if cn, reused := r.get(old); cn != "server A" || !reused {
		t.Errorf("the connection open across the reload: %s (reused %v), want server A on the same connection", cn, reused)
	}
	if !strings.Contains(r.log.String(), `msg="reloaded the TLS certificate" listener=main cert_file=`+r.files.Cert+` subject="CN=server B" not_after=`) {
		t.Errorf("no info line for the reload:\n%s", r.log)
	}
	if ok, bad := r.reloads("ok"), r.reloads("error"); ok != 1 || bad != 0 {
		t.Errorf("latchkey_tls_reloads_total: ok %v, error %v; want 1, 0", ok, bad)
	}

	c := issueServer(t, "server C")
	cKey, _ := c.KeyPEM()
	aKey, _ := a.KeyPEM()
	broken := []struct {
		name       string
		cert, key  []byte
		wantInLog  string
		wantErrMsg string
	}{
		{"garbage certificate", []byte("-----BEGIN CERT"), cKey, "failed to find any PEM data in certificate input", "certificate input"},
		{"key of another certificate", c.CertPEM(), aKey, "private key does not match public key", "does not match"},
		{"missing key", c.CertPEM(), nil, "no such file or directory", r.files.Key},
	}
	for i, tt := range broken {
		r.write(r.files.Cert, tt.cert)
		if tt.key != nil {
			r.write(r.files.Key, tt.key)
		} else if err := os.Remove(r.files.Key); err != nil {
			t.Fatal(err)
		}
		err := r.s.ReloadTLS()
		if err == nil || !strings.Contains(err.Error(), tt.wantErrMsg) {
			t.Errorf("%s: ReloadTLS = %v, want an error with %q", tt.name, err, tt.wantErrMsg)
		}
		if got := r.servedCN(); got != "server B" {
			t.Errorf("%s: a new connection got %s, want server B still", tt.name, got)
		}
		line := `level=ERROR msg="reloading the TLS certificate failed; still serving the previous one" listener=main cert_file=` +
			r.files.Cert + " key_file=" + r.files.Key
		if log := r.log.String(); !strings.Contains(log, line) || !strings.Contains(log, tt.wantInLog) {
			t.Errorf("%s: the log does not say which files and why:\n%s", tt.name, log)
		}
		if bad := r.reloads("error"); bad != float64(i+1) {
			t.Errorf("%s: latchkey_tls_reloads_total error %v, want %d", tt.name, bad, i+1)
		}
	}
	if strings.Contains(r.log.String(), "PRIVATE KEY") {
		t.Error("the log holds key material")
	}

	// Fixed, the files load on the next reload.
	r.writePair(c)
	if err := r.s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := r.servedCN(); got != "server C" {
		t.Errorf("after the files were fixed: %s, want server C", got)
	}
	if cn, reused := r.get(old); cn != "server A" || !reused {
		t.Errorf("the first connection, after every reload: %s (reused %v)", cn, reused)
	}
}

// TestTLSReloadCheck drives the file-change path: check reloads what
// changed, and only that; a broken file is reported once and retried when
// it changes again; watch checks at every tick and ends with its context.
func TestTLSReloadCheck(t *testing.T) {
	r := newReloadRig(t, issueServer(t, "server A"), nil)
	f := r.reloader()
	if err := f.check(); err != nil || r.reloads("ok") != 0 {
		t.Fatalf("check with nothing changed: %v, %v reloads", err, r.reloads("ok"))
	}

	r.writePair(issueServer(t, "server B"))
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	if got := r.servedCN(); got != "server B" {
		t.Errorf("after check: %s, want server B", got)
	}
	f.check()
	if ok := r.reloads("ok"); ok != 1 {
		t.Errorf("two checks, one change: %v reloads, want 1", ok)
	}

	// Half written: reported once, however many checks find it so.
	r.write(r.files.Cert, []byte("-----BEGIN CERTIFICATE-----\nMIIB"))
	if err := f.check(); err == nil {
		t.Error("check of a half-written certificate: no error")
	}
	f.check()
	if bad := r.reloads("error"); bad != 1 {
		t.Errorf("a broken file checked twice: %v errors, want 1", bad)
	}
	if got := r.servedCN(); got != "server B" {
		t.Errorf("with a broken file: %s, want server B still", got)
	}
	// Written out, it loads at the next check.
	c := issueServer(t, "server C")
	r.writePair(c)
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	if got := r.servedCN(); got != "server C" {
		t.Errorf("after the file was written out: %s, want server C", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() { f.watch(ctx, ticks); close(done) }()
	r.writePair(issueServer(t, "server D"))
	ticks <- time.Now()
	ticks <- time.Now() // received once the first tick's check is over
	if got := r.servedCN(); got != "server D" {
		t.Errorf("after a tick: %s, want server D", got)
	}
	cancel()
	<-done
}

// TestTLSReloadServeStopsWatching serves a listener that polls its files
// and checks that Serve still returns when its context ends.
func TestTLSReloadServeStopsWatching(t *testing.T) {
	dir := t.TempDir()
	files := writePair(t, issueServer(t, "server A"), dir, "server")
	cfg := testConfig()
	cfg.Listeners = []config.Listener{{Name: "main", Address: "127.0.0.1:0", TLS: config.TLS{
		CertFile: files.Cert, KeyFile: files.Key, MinVersion: "1.2", ClientAuth: "none", ReloadInterval: config.Duration(time.Hour)}}}
	s, err := New(cfg, Deps{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if f := s.listeners[0].files; f == nil || f.interval != time.Hour {
		t.Fatalf("the listener's files: %+v", f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, nil) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// dialer makes connections with a client certificate and a session cache
// of its own, and reports whether they resumed a session.
type dialer struct {
	r     *reloadRig
	conf  *tls.Config
	state tls.ConnectionState
}

func (r *reloadRig) dialer(client *pki.Pair, version uint16) *dialer {
	conf := &tls.Config{RootCAs: r.roots, MinVersion: version, MaxVersion: version,
		ClientSessionCache: tls.NewLRUClientSessionCache(4), NextProtos: []string{"h2", "http/1.1"}}
	if client != nil {
		conf.Certificates = []tls.Certificate{{Certificate: [][]byte{client.Cert.Raw}, PrivateKey: client.Key}}
	}
	return &dialer{r: r, conf: conf}
}

// get makes a new connection, asks for /healthz over HTTP/1.1 and reads the
// answer (which also takes in the session tickets the server sends), then
// closes. An error is a refused handshake.
func (d *dialer) get() error {
	conf := d.conf.Clone()
	conf.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", d.r.s.Addrs()["main"].String(), conf)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET /healthz: %d", resp.StatusCode)
	}
	d.state = conn.ConnectionState()
	return nil
}

// negotiate returns the protocol ALPN settles on.
func (d *dialer) negotiate() string {
	d.r.t.Helper()
	conn, err := tls.Dial("tcp", d.r.s.Addrs()["main"].String(), d.conf)
	if err != nil {
		d.r.t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().NegotiatedProtocol
}

// TestTLSReloadClientCAs rotates client_ca_file: a client certificate of
// the new CA is refused until the reload and accepted after it, one of the
// CA taken out is refused after it, resumed sessions included, and
// sessions resume across a reload that keeps the CA.
func TestTLSReloadClientCAs(t *testing.T) {
	oldCA := testPKI().ca
	newCA, err := pki.Issue(pki.Request{Kind: pki.KindCA, CommonName: "new root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	newClient, err := pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "QlikClient"}, newCA)
	if err != nil {
		t.Fatal(err)
	}
	r := newReloadRig(t, issueServer(t, "server A"), oldCA)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if got := r.dialer(testPKI().qlik, v).negotiate(); got != "h2" {
			t.Errorf("TLS %x: ALPN %q, want h2", v, got)
		}
	}

	// Sessions resume across a reload of the same CAs.
	oldClients := map[uint16]*dialer{}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		d := r.dialer(testPKI().qlik, v)
		oldClients[v] = d
		if err := d.get(); err != nil {
			t.Fatalf("TLS %x: old CA before any reload: %v", v, err)
		}
	}
	if err := r.s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	for v, d := range oldClients {
		if err := d.get(); err != nil || !d.state.DidResume {
			t.Errorf("TLS %x: after reloading the same CA: %v, resumed %v; want a resumed session", v, err, d.state.DidResume)
		}
	}

	fresh := r.dialer(newClient, tls.VersionTLS13)
	if err := fresh.get(); err == nil {
		t.Fatal("a client certificate of the new CA was accepted before the reload")
	}
	r.write(r.ca, newCA.CertPEM())
	if err := fresh.get(); err == nil {
		t.Fatal("a client certificate of the new CA was accepted before the reload, the file written")
	}
	if err := r.reloader().check(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.get(); err != nil {
		t.Errorf("a client certificate of the new CA after the reload: %v", err)
	}
	if !strings.Contains(r.log.String(), `msg="reloaded the client CAs" listener=main client_ca_file=`+r.ca+" certificates=1") {
		t.Errorf("no info line for the CA reload:\n%s", r.log)
	}
	for v, d := range oldClients {
		if err := d.get(); err == nil {
			t.Errorf("TLS %x: a client certificate of the CA taken out was accepted (resumed %v)", v, d.state.DidResume)
		}
	}
	if err := r.dialer(testPKI().qlik, tls.VersionTLS13).get(); err == nil {
		t.Error("a new connection with a certificate of the CA taken out was accepted")
	}

	// A broken CA file keeps the new CA.
	r.write(r.ca, []byte("not a certificate\n"))
	if err := r.reloader().check(); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("check of a broken client_ca_file: %v", err)
	}
	if !strings.Contains(r.log.String(), `msg="reloading the client CAs failed; still verifying against the previous ones" listener=main client_ca_file=`+r.ca) {
		t.Errorf("no error line for the broken CA file:\n%s", r.log)
	}
	if err := r.dialer(newClient, tls.VersionTLS12).get(); err != nil {
		t.Errorf("with a broken client_ca_file, the new CA: %v", err)
	}

	// A bundle of both: both are accepted.
	r.write(r.ca, append(oldCA.CertPEM(), newCA.CertPEM()...))
	if err := r.s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.log.String(), "client_ca_file="+r.ca+" certificates=2") {
		t.Errorf("the bundle of two was not counted:\n%s", r.log)
	}
	for _, c := range []*pki.Pair{testPKI().qlik, newClient} {
		if err := r.dialer(c, tls.VersionTLS13).get(); err != nil {
			t.Errorf("with both CAs, %s: %v", c.Cert.Subject, err)
		}
	}
}

// TestTLSReloadConcurrent reloads the certificate and the client CAs over
// and over while clients make handshakes: under -race it finds unguarded
// state, and every handshake gets a whole certificate.
func TestTLSReloadConcurrent(t *testing.T) {
	a, b := issueServer(t, "server A"), issueServer(t, "server B")
	r := newReloadRig(t, a, testPKI().ca)
	caPEM := testPKI().ca.CertPEM()
	stop := make(chan struct{})
	reloaded := make(chan int)
	go func() {
		n := 0
		defer func() { reloaded <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r.writePair([]*pki.Pair{a, b}[i%2])
			r.write(r.ca, caPEM)
			if i%2 == 0 {
				r.reloader().check()
			} else {
				r.s.ReloadTLS()
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			d := r.dialer(testPKI().qlik, []uint16{tls.VersionTLS12, tls.VersionTLS13}[g%2])
			for range 15 {
				if err := d.get(); err != nil {
					t.Error(err)
					return
				}
				if cn := d.state.PeerCertificates[0].Subject.CommonName; cn != "server A" && cn != "server B" {
					t.Errorf("served %q", cn)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	if n := <-reloaded; n == 0 || r.reloads("ok") == 0 {
		t.Errorf("%d reloads, %v ok", n, r.reloads("ok"))
	}
}
