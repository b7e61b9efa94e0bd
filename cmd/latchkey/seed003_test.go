package main

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/testenv"
)

// certCurl runs curl with a client certificate's files (none when cert is
// ""), trusting root. It returns the body and status, or curl's exit code
// when the request failed (a refused handshake).
func certCurl(t *testing.T, root, cert, url string, headers ...string) (body string, status, exit int) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		testenv.Missing(t, "curl is not installed")
	}
	args := []string{"-s", "--cacert", root, "-w", "\n%{http_code}"}
	if cert != "" {
		args = append(args, "--cert", cert+".pem", "--key", cert+"_key.pem")
	}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("curl", append(args, url)...).Output()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return "", 0, ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	i := strings.LastIndex(text, "\n")
	fmt.Sscan(text[i+1:], &status)
	return text[:i], status, 0
}

// TestSeed003 sends seed 003's request to Qlik's QRS — a client
// certificate, X-Qlik-User and an Xrfkey, on port 4242 — through a real
// latchkey serve, with files that "latchkey cert" made, to an upstream.
func TestSeed003(t *testing.T) {
	certs, otherCA := t.TempDir(), t.TempDir()
	mustCLI(t, "", "cert", "ca", "--out", certs)
	mustCLI(t, "", "cert", "server", "--out", certs, "--ca-dir", certs, "--host", "127.0.0.1", "--host", "localhost")
	out := mustCLI(t, "", "cert", "client", "--out", certs, "--ca-dir", certs, "--cn", "sa_repository")
	if m := fingerprintLine.FindStringSubmatch(out); m == nil {
		t.Fatalf("cert client printed no fingerprint: %q", out)
	}
	mustCLI(t, "", "cert", "client", "--out", certs, "--name", "other", "--cn", "other")
	// The same name from a CA that latchkey does not trust.
	mustCLI(t, "", "cert", "ca", "--out", otherCA, "--cn", "impostor CA")
	mustCLI(t, "", "cert", "client", "--out", otherCA, "--cn", "sa_repository")

	about := `{"buildVersion":"30.4.0.0","schemaPath":"About"}`
	up := newUpstream(t, about)
	optional := freePort(t)
	// The first listener is the one --listen moves to a free port.
	s := startServer(t, writeConfig(t, fmt.Sprintf(`
certificates:
  trusted: ["cn:sa_repository"]
listeners:
  - address: 127.0.0.1:4242
    tls:
      cert_file: %[1]s/server.pem
      key_file: %[1]s/server_key.pem
      client_auth: require
      client_ca_file: %[1]s/root.pem
  - name: optional
    address: %[2]s
    tls:
      cert_file: %[1]s/server.pem
      key_file: %[1]s/server_key.pem
      client_auth: optional
      client_ca_file: %[1]s/root.pem
routes:
  - prefix: /qrs/
    upstream: %[3]s
    auth: [cert]
    xrfkey: true
`, certs, optional, up.URL)))
	s.cli("", "user", "add", "--directory", "INTERNAL", "--user", "sa_repository", "--role", "admin", "--no-password")

	root, client, other := filepath.Join(certs, "root.pem"), filepath.Join(certs, "client"), filepath.Join(certs, "other")
	url := s.url + "/qrs/about/?xrfkey=ABCDEFG123456789"
	xrf := "X-Qlik-xrfkey: ABCDEFG123456789"
	// upstreamSaw checks the last request that reached the upstream.
	upstreamSaw := func(name, dir, user string) *http.Request {
		t.Helper()
		r := up.seen()
		if r == nil {
			t.Fatalf("%s: nothing reached the upstream", name)
		}
		if r.Header.Get("X-Latchkey-User") != user || !strings.EqualFold(r.Header.Get("X-Latchkey-Directory"), dir) ||
			r.Header.Get("X-Latchkey-Method") != "cert" || !strings.HasPrefix(r.Header.Get("X-Latchkey-Key-Id"), "sha256:") {
			t.Errorf("%s: reached the upstream as %s\\%s: %v", name, r.Header.Get("X-Latchkey-Directory"), r.Header.Get("X-Latchkey-User"), r.Header)
		}
		if v, ok := r.Header["X-Qlik-User"]; ok {
			t.Errorf("%s: X-Qlik-User %q reached the upstream", name, v)
		}
		return r
	}

	for _, header := range []string{
		"X-Qlik-User: UserDirectory=Internal;UserId=sa_repository", // SPEC M7
		"X-Qlik-User: UserDirectory:Internal;UserId:sa_repository", // seed 003's node.js client
	} {
		body, code, exit := certCurl(t, root, client, url, header, xrf)
		if exit != 0 || code != 200 || body != about {
			t.Fatalf("%s: exit %d, %d %s", header, exit, code, body)
		}
		r := upstreamSaw(header, "INTERNAL", "sa_repository")
		if r.URL.Path != "/qrs/about/" || r.URL.Query().Get("xrfkey") != "ABCDEFG123456789" || r.Header.Get("X-Qlik-Xrfkey") != "ABCDEFG123456789" {
			t.Errorf("the upstream got %s with %v", r.URL, r.Header)
		}
		if r.Header.Get("X-Latchkey-Directory") != "INTERNAL" || !slices.Contains(strings.Split(r.Header.Get("X-Latchkey-Roles"), ","), "admin") {
			t.Errorf("the store's INTERNAL\\sa_repository and roles did not reach the upstream: %v", r.Header)
		}
	}

	// The trusted certificate acts as a user the store does not hold.
	if _, code, exit := certCurl(t, root, client, url, "X-Qlik-User: UserDirectory=Lab; UserId=G%C3%B6ran", xrf); exit != 0 || code != 200 {
		t.Fatalf("another user: exit %d, %d", exit, code)
	}
	if r := upstreamSaw("another user", "LAB", "Göran"); r.Header.Get("X-Latchkey-Roles") != "" {
		t.Errorf("roles for a user the store does not hold: %v", r.Header)
	}

	// A valid certificate that is not trusted is itself, whatever it claims.
	if _, code, exit := certCurl(t, root, other, url, "X-Qlik-User: UserDirectory=Internal;UserId=sa_repository",
		"X-Latchkey-User: sa_repository", "X-Latchkey-Roles: admin", xrf); exit != 0 || code != 200 {
		t.Fatalf("untrusted certificate: exit %d, %d", exit, code)
	}
	if r := upstreamSaw("untrusted certificate", "INTERNAL", "other"); r.Header.Get("X-Latchkey-Roles") != "" {
		t.Errorf("a spoofed X-Latchkey-Roles reached the upstream: %v", r.Header)
	}

	// A malformed X-Qlik-User from the trusted certificate is 400.
	body, code, exit := certCurl(t, root, client, url, "X-Qlik-User: UserDirectory=Internal", xrf)
	if exit != 0 || code != 400 || !strings.Contains(body, "UserId is missing.") {
		t.Errorf("malformed X-Qlik-User: exit %d, %d %s", exit, code, body)
	}
	// Xrfkey still applies.
	if body, code, _ := certCurl(t, root, client, s.url+"/qrs/about/", "X-Qlik-User: UserDirectory=Internal;UserId=sa_repository"); code != 403 || body != xsrfBody {
		t.Errorf("no Xrfkey: %d %s", code, body)
	}

	// Without a certificate, or with one from another CA, the require
	// listener refuses the handshake; the optional listener answers 401
	// to no certificate and refuses the other CA's.
	if _, code, exit := certCurl(t, root, "", url, xrf); exit == 0 {
		t.Errorf("require, no certificate: answered %d", code)
	}
	if _, code, exit := certCurl(t, root, filepath.Join(otherCA, "client"), url, xrf); exit == 0 {
		t.Errorf("require, another CA's certificate: answered %d", code)
	}
	optURL := "https://" + optional + "/qrs/about/?xrfkey=ABCDEFG123456789"
	if body, code, exit := certCurl(t, root, "", optURL, xrf); exit != 0 || code != 401 {
		t.Errorf("optional, no certificate: exit %d, %d %s", exit, code, body)
	}
	if _, code, exit := certCurl(t, root, filepath.Join(otherCA, "client"), optURL, xrf); exit == 0 {
		t.Errorf("optional, another CA's certificate: answered %d", code)
	}
	if _, code, exit := certCurl(t, root, client, optURL, "X-Qlik-User: UserDirectory=Internal;UserId=sa_repository", xrf); exit != 0 || code != 200 {
		t.Errorf("optional, the trusted certificate: exit %d, %d", exit, code)
	}
	upstreamSaw("optional listener", "INTERNAL", "sa_repository")
}
