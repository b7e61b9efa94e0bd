package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/pki"
)

// certFlags are the flags of "cert ca", "cert server" and "cert client".
type certFlags struct {
	kind          pki.Kind
	out, name     string
	caDir, caName string
	cn            string
	days          int
	useRSA, force bool
	hosts         []string
	emails, uris  []string
}

func (a *app) certCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Make the CA, server and client certificates for client-certificate authentication",
		Long: `Make the PEM files of client-certificate authentication (the cert method), named
as Qlik Sense exports them for its QRS API on port 4242:

  root.pem, root_key.pem       the CA: "cert ca"
  server.pem, server_key.pem   latchkey's listener certificate, signed by the CA: "cert server"
  client.pem, client_key.pem   a client's certificate, signed by the CA: "cert client"

A listener with client_auth: require (or optional) and client_ca_file: root.pem
accepts the client certificates that the CA signed; certificates.identity says
how one names its user (by default its common name). Hand a client client.pem,
client_key.pem and root.pem.

Keys are ECDSA P-256 (--rsa: RSA 2048), written with mode 0600; certificates
with 0644. Existing files are never replaced without --force. Each command
prints the fingerprint of the certificate it made, in the form that
certificates.trusted takes (sha256:HEX).

--out names the directory and --name the files (NAME.pem and NAME_key.pem);
"cert server" and "cert client" read the CA from --ca-dir (default: --out) and
--ca-name (default root).`,
		Example: `  latchkey cert ca --out certs
  latchkey cert server --out certs --host 127.0.0.1 --host localhost --host qlik.example.com
  latchkey cert client --out certs --cn sa_repository
  curl --cert certs/client.pem --key certs/client_key.pem --cacert certs/root.pem \
      -H 'X-Qlik-User: UserDirectory=INTERNAL; UserId=sa_repository' \
      -H 'X-Qlik-Xrfkey: ABCDEFG123456789' 'https://127.0.0.1:4242/qrs/about?xrfkey=ABCDEFG123456789'`,
	}
	cmd.AddCommand(a.certSub(pki.KindCA), a.certSub(pki.KindServer), a.certSub(pki.KindClient))
	return cmd
}

func (a *app) certSub(kind pki.Kind) *cobra.Command {
	f := &certFlags{kind: kind}
	cmd := &cobra.Command{Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error { return a.certRun(f) }}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "", "`directory` to write the files into (made, mode 0700, when missing)")
	cmd.MarkFlagRequired("out")
	fl.BoolVar(&f.useRSA, "rsa", false, "make an RSA 2048 key instead of ECDSA P-256")
	fl.BoolVar(&f.force, "force", false, "replace existing files")
	if kind != pki.KindCA {
		fl.StringVar(&f.caDir, "ca-dir", "", "`directory` of the CA's files (default: --out)")
		fl.StringVar(&f.caName, "ca-name", "root", "`name` of the CA's files: NAME.pem and NAME_key.pem")
	}
	switch kind {
	case pki.KindCA:
		cmd.Use, cmd.Short = "ca", "Make a CA: root.pem and root_key.pem"
		cmd.Example = "  latchkey cert ca --out certs --cn 'Example root CA' --days 3650"
		fl.StringVar(&f.name, "name", "root", "`name` of the files: NAME.pem and NAME_key.pem")
		fl.StringVar(&f.cn, "cn", "latchkey root CA", "subject common `name` of the CA")
		fl.IntVar(&f.days, "days", days(pki.CALifetime), "`days` the certificate is valid")
	case pki.KindServer:
		cmd.Use, cmd.Short = "server", "Make a server certificate signed by the CA: server.pem and server_key.pem"
		cmd.Example = "  latchkey cert server --out certs --ca-dir certs --host 127.0.0.1 --host localhost"
		fl.StringVar(&f.name, "name", "server", "`name` of the files: NAME.pem and NAME_key.pem")
		fl.StringSliceVar(&f.hosts, "host", []string{"localhost", "127.0.0.1", "::1"}, "DNS `name` or IP address clients connect to (repeat or separate with commas)")
		fl.StringVar(&f.cn, "cn", "", "subject common `name` (default: the first --host)")
		fl.IntVar(&f.days, "days", days(pki.ServerLifetime), "`days` the certificate is valid")
	case pki.KindClient:
		cmd.Use, cmd.Short = "client", "Make a client certificate signed by the CA: client.pem and client_key.pem"
		cmd.Example = `  latchkey cert client --out certs --cn sa_repository
  latchkey cert client --out certs --name reports --cn reports --email reports@example.com --days 90`
		fl.StringVar(&f.name, "name", "client", "`name` of the files: NAME.pem and NAME_key.pem")
		fl.StringVar(&f.cn, "cn", "", "subject common `name`: the user, with certificates.identity cn (required)")
		cmd.MarkFlagRequired("cn")
		fl.StringSliceVar(&f.emails, "email", nil, "e-mail `address` to add as a SAN (certificates.identity san-email)")
		fl.StringSliceVar(&f.hosts, "dns", nil, "DNS `name` to add as a SAN (certificates.identity san-dns)")
		fl.StringSliceVar(&f.uris, "uri", nil, "`URI` to add as a SAN (certificates.identity san-uri)")
		fl.IntVar(&f.days, "days", days(pki.ClientLifetime), "`days` the certificate is valid")
	}
	a.addOutputFlag(cmd)
	return cmd
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// certOutput is what "cert" prints with -o json.
type certOutput struct {
	Kind        string    `json:"kind"`
	Certificate string    `json:"certificate"`
	Key         string    `json:"key"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Names       string    `json:"names,omitempty"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
}

func (a *app) certRun(f *certFlags) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	req, err := f.request()
	if err != nil {
		return err
	}
	var ca *pki.Pair
	if f.kind != pki.KindCA {
		caFiles := pki.FilesIn(cmp.Or(f.caDir, f.out), f.caName)
		if ca, err = pki.Load(caFiles); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w; make the CA first with: latchkey cert ca --out %s", err, filepath.Dir(caFiles.Cert))
		} else if err != nil {
			return err
		}
	}
	p, err := pki.Issue(req, ca)
	if err != nil {
		return err
	}
	files := pki.FilesIn(f.out, f.name)
	if err := p.Write(files, f.force); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists: --force replaces it, and --out or --name write elsewhere",
			strings.TrimSuffix(err.Error(), ": "+fs.ErrExist.Error()))
	} else if err != nil {
		return err
	}
	v := certOutput{Kind: f.kind.String(), Certificate: absPath(files.Cert), Key: absPath(files.Key),
		Subject: p.Cert.Subject.String(), Issuer: p.Cert.Issuer.String(), Names: pki.Describe(p.Cert),
		NotAfter: p.Cert.NotAfter.UTC(), Fingerprint: pki.Fingerprint(p.Cert)}
	if a.output == "json" {
		return printJSON(a.stdout, v)
	}
	w := a.stdout
	fmt.Fprintf(w, "Wrote %s and %s (keep the key secret).\n", files.Cert, files.Key)
	fmt.Fprintf(w, "  subject      %s\n  issuer       %s\n", v.Subject, v.Issuer)
	if v.Names != "" {
		fmt.Fprintf(w, "  names        %s\n", v.Names)
	}
	fmt.Fprintf(w, "  expires      %s\n  fingerprint  %s\n", v.NotAfter.Format(time.DateOnly), v.Fingerprint)
	switch f.kind {
	case pki.KindCA:
		fmt.Fprintf(w, "A listener trusts the certificates it signs with client_ca_file: %s\n", v.Certificate)
	case pki.KindClient:
		fmt.Fprintf(w, "To let it act as the user that its X-Qlik-User header names, add to certificates.trusted:\n"+
			"  cn:%s   (or, for this certificate alone)   %s\n", p.Cert.Subject.CommonName, v.Fingerprint)
	}
	return nil
}

// request checks the flags and returns what they ask for.
func (f *certFlags) request() (pki.Request, error) {
	if f.days < 1 {
		return pki.Request{}, fmt.Errorf("--days must be at least 1, not %d", f.days)
	}
	if f.name == "" || strings.ContainsAny(f.name, `/\`) {
		return pki.Request{}, fmt.Errorf("--name %q must be a file name without a directory; give the directory with --out", f.name)
	}
	req := pki.Request{Kind: f.kind, CommonName: strings.TrimSpace(f.cn), Hosts: f.hosts, Emails: f.emails,
		Lifetime: time.Duration(f.days) * 24 * time.Hour, RSA: f.useRSA}
	if slices.Contains(f.hosts, "") {
		return pki.Request{}, errors.New("a --host or --dns must not be empty")
	}
	if f.kind == pki.KindServer {
		if len(f.hosts) == 0 {
			return pki.Request{}, errors.New("give at least one --host that clients connect to")
		}
		req.CommonName = cmp.Or(req.CommonName, f.hosts[0])
	}
	if req.CommonName == "" {
		return pki.Request{}, errors.New("--cn must not be empty")
	}
	for _, e := range f.emails {
		if !strings.Contains(e, "@") {
			return pki.Request{}, fmt.Errorf("--email %q is not an e-mail address", e)
		}
	}
	for _, s := range f.uris {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" {
			return pki.Request{}, fmt.Errorf("--uri %q is not an absolute URI such as spiffe://example.org/reports", s)
		}
		req.URIs = append(req.URIs, u)
	}
	return req, nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
