package gateway

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/pki"
)

// testPKI is a CA and certificates it signed, made once for the package.
var testPKI = sync.OnceValue(func() (p struct {
	ca, qlik, alice, sans, stranger *pki.Pair
}) {
	must := func(q *pki.Pair, err error) *pki.Pair {
		if err != nil {
			panic(err)
		}
		return q
	}
	p.ca = must(pki.Issue(pki.Request{Kind: pki.KindCA, CommonName: "test root"}, nil))
	p.qlik = must(pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "QlikClient"}, p.ca))
	p.alice = must(pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "alice"}, p.ca))
	u, _ := url.Parse("spiffe://example.org/svc/reports")
	p.sans = must(pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "svc", Emails: []string{"svc@example.com", "b@example.com"},
		Hosts: []string{"svc.example.com"}, URIs: []*url.URL{u}}, p.ca))
	p.stranger = must(pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: "stranger"}, p.ca))
	return p
})

// withCert makes r arrive over TLS with the client certificate c, verified
// as a listener with client_auth verifies it.
func withCert(r *http.Request, c *pki.Pair) *http.Request {
	r.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	if c != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{c.Cert}
		r.TLS.VerifiedChains = [][]*x509.Certificate{{c.Cert, testPKI().ca.Cert}}
	}
	return r
}

// certGateway is a gateway over f's store with a cert route to the echo
// (/qrs/), one to upstream (/proxied/) and a Basic route (/basic/).
func certGateway(t *testing.T, f *fixture, certs config.Certificates, upstream string) *Server {
	t.Helper()
	certs.Identity = cmp.Or(certs.Identity, "cn")
	certs.Directory = cmp.Or(certs.Directory, "INTERNAL")
	certs.ImpersonationHeader = cmp.Or(certs.ImpersonationHeader, "X-Qlik-User")
	cfg := testConfig(
		config.Route{Name: "qrs", Prefix: "/qrs/", Upstream: "echo", Auth: []string{"cert"}},
		config.Route{Name: "basic", Prefix: "/basic/", Upstream: "echo", Auth: []string{"basic"}},
	)
	if upstream != "" {
		cfg.Routes = append(cfg.Routes, config.Route{Name: "proxied", Prefix: "/proxied/", Upstream: upstream, Auth: []string{"cert"}})
	}
	cfg.Certificates = certs
	cfg.Sessions, cfg.APIKeys, cfg.Login = f.s.cfg.Sessions, f.s.cfg.APIKeys, f.s.cfg.Login
	s, err := New(cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serveWith(s *Server, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

func TestCertMethod(t *testing.T) {
	f := newFixture(t)
	p := testPKI()
	f.addUser(`INTERNAL\sa_repository`, latchkey.RoleAdmin)
	f.addUser(`INTERNAL\alice`, latchkey.RoleAPIKeyUser)
	off := f.addUser(`LAB\off`)
	disabled := true
	if _, err := f.st.UpdateUser(t.Context(), off.ID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
		t.Fatal(err)
	}
	s := certGateway(t, f, config.Certificates{Trusted: []string{"cn:QlikClient", pki.Fingerprint(p.sans.Cert)}}, "")

	tests := []struct {
		name      string
		cert      *pki.Pair
		header    []string
		status    int
		dir, user string   // of the principal
		roles     []string // of the principal
		mention   string   // in the error message
	}{
		{"no TLS", nil, nil, 401, "", "", nil, "cert"},
		{"TLS without a certificate", nil, nil, 401, "", "", nil, "cert"},
		{"a certificate names its user by CN", p.alice, nil, 200, "INTERNAL", "alice", []string{latchkey.RoleAPIKeyUser}, ""},
		{"a user not in the store has no roles", p.stranger, nil, 200, "INTERNAL", "stranger", nil, ""},
		{"a trusted certificate without the header is itself", p.qlik, nil, 200, "INTERNAL", "QlikClient", nil, ""},
		{"the seed's header, trusted by cn", p.qlik, []string{"X-Qlik-User", "UserDirectory=Internal;UserId=sa_repository"},
			200, "INTERNAL", "sa_repository", []string{latchkey.RoleAdmin}, ""},
		{"the seed's node.js header with colons", p.qlik, []string{"X-Qlik-User", "UserDirectory:Internal;UserId:sa_repository"},
			200, "INTERNAL", "sa_repository", []string{latchkey.RoleAdmin}, ""},
		{"any case, spaces, URL-encoding", p.qlik, []string{"x-qlik-user", "userdirectory = internal ; USERID = sa%5Frepository"},
			200, "INTERNAL", "sa_repository", []string{latchkey.RoleAdmin}, ""},
		{"trusted by fingerprint", p.sans, []string{"X-Qlik-User", "UserDirectory=INTERNAL; UserId=alice"},
			200, "INTERNAL", "alice", []string{latchkey.RoleAPIKeyUser}, ""},
		{"a user not in the store, directory in capitals", p.qlik, []string{"X-Qlik-User", "UserDirectory=Lab; UserId=G%C3%B6ran%20Sander"},
			200, "LAB", "Göran Sander", nil, ""},
		{"an untrusted certificate's header is ignored", p.alice, []string{"X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_repository"},
			200, "INTERNAL", "alice", []string{latchkey.RoleAPIKeyUser}, ""},
		{"an untrusted certificate's malformed header is ignored", p.stranger, []string{"X-Qlik-User", "nonsense"},
			200, "INTERNAL", "stranger", nil, ""},
		{"malformed header from a trusted certificate", p.qlik, []string{"X-Qlik-User", "UserDirectory=INTERNAL"},
			400, "", "", nil, "X-Qlik-User header must be UserDirectory=DIRECTORY; UserId=USER. UserId is missing."},
		{"bad name from a trusted certificate", p.qlik, []string{"X-Qlik-User", "UserDirectory=INTERNAL; UserId=a%5Cb"},
			400, "", "", nil, "must not contain"},
		{"two headers from a trusted certificate", p.qlik, []string{"X-Qlik-User", "UserDirectory=A; UserId=b", "X-Qlik-User", "UserDirectory=A; UserId=c"},
			400, "", "", nil, "Send one X-Qlik-User header, not 2."},
		{"a disabled user", p.qlik, []string{"X-Qlik-User", "UserDirectory=lab; UserId=off"}, 401, "", "", nil, `LAB\off is disabled`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("GET", "/qrs/about", "", tt.header...)
			if tt.name != "no TLS" {
				r = withCert(r, tt.cert)
			}
			w := serveWith(s, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.mention) {
					t.Errorf("message %q does not say %q", msg, tt.mention)
				}
				return
			}
			e := echoed(t, w)
			pr := e.Principal
			if pr.Directory != tt.dir || pr.Username != tt.user || pr.Method != "cert" || !slices.Equal(pr.Roles, tt.roles) {
				t.Errorf("principal %s\\%s method %s roles %v, want %s\\%s cert %v", pr.Directory, pr.Username, pr.Method, pr.Roles, tt.dir, tt.user, tt.roles)
			}
			if want := pki.Fingerprint(tt.cert.Cert); pr.CredentialID != want || e.Headers[HeaderKeyID] != want {
				t.Errorf("credential %q (header %q), want the certificate's fingerprint %s", pr.CredentialID, e.Headers[HeaderKeyID], want)
			}
			if !pr.ExpiresAt.Equal(tt.cert.Cert.NotAfter) {
				t.Errorf("expires %v, want the certificate's %v", pr.ExpiresAt, tt.cert.Cert.NotAfter)
			}
			if (tt.roles != nil) != (pr.UserID != 0) {
				t.Errorf("user id %d", pr.UserID)
			}
		})
	}
}

// TestCertImpersonationHeaderElsewhere: on a route without the cert method
// the header means nothing, even with a trusted certificate.
func TestCertImpersonationHeaderElsewhere(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran")
	s := certGateway(t, f, config.Certificates{Trusted: []string{"cn:QlikClient"}}, "")
	r := withCert(request("GET", "/basic/x", "", "Authorization", basic(`LAB\goran`, "password-goran"),
		"X-Qlik-User", "UserDirectory=INTERNAL; UserId=sa_repository"), testPKI().qlik)
	w := serveWith(s, r)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if pr := echoed(t, w).Principal; pr.QualifiedName() != `LAB\goran` || pr.Method != "basic" {
		t.Errorf("principal %s by %s", pr.QualifiedName(), pr.Method)
	}
}

func TestCertIdentity(t *testing.T) {
	f := newFixture(t)
	p := testPKI()
	tests := []struct {
		identity string
		cert     *pki.Pair
		status   int
		user     string
	}{
		{"cn", p.sans, 200, "svc"},
		{"san-email", p.sans, 200, "svc@example.com"},
		{"san-dns", p.sans, 200, "svc.example.com"},
		{"san-uri", p.sans, 200, "spiffe://example.org/svc/reports"},
		{"fingerprint", p.sans, 200, pki.FingerprintHex(p.sans.Cert)},
		{"san-email", p.alice, 401, "e-mail address"},
		{"san-dns", p.alice, 401, "DNS name"},
		{"san-uri", p.alice, 401, "URI"},
	}
	for _, tt := range tests {
		t.Run(tt.identity+"/"+tt.cert.Cert.Subject.CommonName, func(t *testing.T) {
			s := certGateway(t, f, config.Certificates{Identity: tt.identity, Directory: "SVC"}, "")
			w := serveWith(s, withCert(request("GET", "/qrs/about", ""), tt.cert))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.user) {
					t.Errorf("message %q does not say %q", msg, tt.user)
				}
				return
			}
			if pr := echoed(t, w).Principal; pr.Directory != "SVC" || pr.Username != tt.user {
				t.Errorf("principal %s, want SVC\\%s", pr.QualifiedName(), tt.user)
			}
		})
	}
}

// TestCertUpstreamHeaders: what reaches a real upstream through a cert
// route carries the principal's identity and neither the impersonation
// header nor a client's own X-Latchkey-* headers.
func TestCertUpstreamHeaders(t *testing.T) {
	f := newFixture(t)
	f.addUser(`INTERNAL\sa_repository`, latchkey.RoleAdmin)
	var mu sync.Mutex
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
	}))
	defer up.Close()
	for _, header := range []string{"X-Qlik-User", "X-Act-As"} {
		t.Run(header, func(t *testing.T) {
			s := certGateway(t, f, config.Certificates{Trusted: []string{"cn:QlikClient"}, ImpersonationHeader: header}, up.URL)
			for _, c := range []*pki.Pair{testPKI().qlik, testPKI().alice} {
				r := withCert(request("GET", "/proxied/about", "", header, "UserDirectory=Internal;UserId=sa_repository",
					"X-Latchkey-User", "admin", "x-latchkey-roles", "admin"), c)
				if w := serveWith(s, r); w.Code != 200 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
				mu.Lock()
				h := seen
				mu.Unlock()
				want := "sa_repository"
				if c == testPKI().alice {
					want = "alice"
				}
				if h.Get(HeaderUser) != want || h.Get(HeaderDirectory) != "INTERNAL" || h.Get(HeaderMethod) != "cert" {
					t.Errorf("%s: the upstream saw %v", c.Cert.Subject.CommonName, h)
				}
				if _, ok := h[http.CanonicalHeaderKey(header)]; ok {
					t.Errorf("%s: %s reached the upstream", c.Cert.Subject.CommonName, header)
				}
				if want == "alice" && h.Get(HeaderRoles) != "" {
					t.Errorf("a spoofed X-Latchkey-Roles reached the upstream: %v", h)
				}
			}
		})
	}
}

func TestSetIdentityStrips(t *testing.T) {
	h := http.Header{"X-Qlik-User": {"UserDirectory=A; UserId=b"}, "X-Latchkey-User": {"mallory"}, "Accept": {"*/*"}}
	setIdentity(h, &latchkey.Principal{Directory: "LAB", Username: "goran", Method: "basic"}, "x-qlik-user")
	if _, ok := h["X-Qlik-User"]; ok || h.Get(HeaderUser) != "goran" || h.Get("Accept") != "*/*" {
		t.Errorf("headers after setIdentity: %v", h)
	}
}
