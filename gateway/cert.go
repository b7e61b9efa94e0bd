package gateway

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/pki"
)

// certAuth is the method "cert": a TLS client certificate that the
// listener verified against its client_ca_file (seed 003, Qlik's QRS on port
// 4242). The certificate names the user (certificates.identity); a trusted
// one (certificates.trusted) may instead name, in the impersonation header,
// the user it acts for.
type certAuth struct {
	creds     *credential.Service
	identity  string // cn, san-email, san-dns, san-uri or fingerprint
	directory string
	header    string              // canonical form of the impersonation header's name
	trustCN   map[string]struct{} // subject common names
	trustFP   map[string]struct{} // lowercase hex SHA-256
	memo      *principalMemo[certKey]
}

// certKey is what a principal of the cert method follows from: the
// verified certificate (as parsed for its connection) and the
// impersonation header's value ("" without one).
type certKey struct {
	leaf *x509.Certificate
	as   string
}

func newCertAuth(d *methodDeps) Authenticator {
	c := d.certificates
	a := &certAuth{creds: d.creds, identity: c.Identity, directory: c.Directory,
		header:  http.CanonicalHeaderKey(c.ImpersonationHeader),
		trustCN: map[string]struct{}{}, trustFP: map[string]struct{}{},
		memo: newPrincipalMemo[certKey](d.creds, d.memoBytes)}
	for _, t := range c.Trusted {
		switch kind, val, _ := strings.Cut(t, ":"); kind {
		case "cn":
			a.trustCN[val] = struct{}{}
		case "sha256":
			a.trustFP[strings.ToLower(val)] = struct{}{}
		}
	}
	return a
}

// Method returns "cert".
func (a *certAuth) Method() string { return latchkey.MethodCert }

// Authenticate maps the verified client certificate to a principal. A
// request without one (plain HTTP, no certificate, a listener that asks for
// none) is no credentials. A trusted certificate with the impersonation
// header acts as the user the header names; a malformed header is 400.
// Everyone else's impersonation header is ignored. Either way the header is
// removed from the request, so that it never reaches an upstream (which may
// trust it, as Qlik's QRS does); on routes without the cert method,
// setIdentity removes it when given its name.
func (a *certAuth) Authenticate(r *http.Request) (*latchkey.Principal, error) {
	v := r.Header.Values(a.header)
	r.Header.Del(a.header)
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, ErrNoCredentials
	}
	leaf := r.TLS.VerifiedChains[0][0]
	k := certKey{leaf: leaf}
	if len(v) == 1 {
		k.as = v[0]
	}
	if p := a.memo.get(k); p != nil && len(v) < 2 {
		return p, nil
	}
	gen := a.memo.generation()
	p, found, err := a.authenticate(r.Context(), leaf, v)
	if err == nil {
		a.memo.set(k, p, gen, found)
	}
	return p, err
}

// authenticate makes the principal of a verified certificate; v is the
// impersonation header's values.
func (a *certAuth) authenticate(ctx context.Context, leaf *x509.Certificate, v []string) (*latchkey.Principal, bool, error) {
	fp := pki.FingerprintHex(leaf)
	if len(v) > 0 && a.trusted(leaf, fp) {
		if len(v) > 1 {
			return nil, false, latchkey.Errorf(latchkey.EINVALID, "Send one %s header, not %d.", a.header, len(v))
		}
		dir, user, err := ParseQlikUser(v[0])
		if err != nil {
			return nil, false, latchkey.Errorf(latchkey.EINVALID, "The %s header must be %s. %s", a.header, qlikUserForm, latchkey.ErrorMessage(err))
		}
		return a.principal(ctx, leaf, fp, strings.ToUpper(dir), user)
	}
	user := a.username(leaf, fp)
	if user == "" {
		return nil, false, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The client certificate has no %s to name a user by.", identityNames[a.identity])
	}
	if err := latchkey.ValidateName("username", user); err != nil {
		return nil, false, latchkey.Errorf(latchkey.EUNAUTHORIZED, "The client certificate cannot name a user: %s", latchkey.ErrorMessage(err))
	}
	return a.principal(ctx, leaf, fp, a.directory, user)
}

// trusted reports whether the certificate may act as other users.
func (a *certAuth) trusted(c *x509.Certificate, fp string) bool {
	_, byCN := a.trustCN[c.Subject.CommonName]
	_, byFP := a.trustFP[fp]
	return byCN && c.Subject.CommonName != "" || byFP
}

var identityNames = map[string]string{
	"cn": "subject common name", "san-email": "e-mail address", "san-dns": "DNS name", "san-uri": "URI",
	"fingerprint": "fingerprint",
}

// username is what certificates.identity takes from the certificate: the
// subject's CN, the first e-mail, DNS or URI SAN, or the fingerprint; "" when
// the certificate has none.
func (a *certAuth) username(c *x509.Certificate, fp string) string {
	first := func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[0]
	}
	switch a.identity {
	case "san-email":
		return first(c.EmailAddresses)
	case "san-dns":
		return first(c.DNSNames)
	case "san-uri":
		if len(c.URIs) == 0 {
			return ""
		}
		return c.URIs[0].String()
	case "fingerprint":
		return fp
	}
	return c.Subject.CommonName
}

// principal makes the principal of DIR\user proven by the certificate. A
// user the store holds (the directory compared in any case, as Qlik does)
// lends the principal their names, email, groups, roles and abilities (the
// certificate carries none of its own); a disabled one is refused
// (credential.Service.Vouch). The credential is the certificate, by
// fingerprint.
func (a *certAuth) principal(ctx context.Context, c *x509.Certificate, fp, dir, user string) (*latchkey.Principal, bool, error) {
	return a.creds.Vouch(ctx, &latchkey.Principal{Directory: dir, Username: user, Method: latchkey.MethodCert,
		CredentialID: "sha256:" + fp, ExpiresAt: c.NotAfter})
}
