package main

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey/jwtmint"
)

// mintFlags are the flags of "jwt create qseow" and "jwt create cloud".
type mintFlags struct {
	kind string // qseow or cloud

	userdir, userid, username, useremail string
	emailVerified, subType               string
	groups                               []string
	audience, issuer, keyid              string
	expires, alg                         string
	claims                               []string

	keyFile, keyPEM, keyEnv string
	keyStdin                bool

	certCreate    bool
	certPrefix    string
	certDir       string
	certDays      int
	certOverwrite bool
	rsaBits       int

	minimal  bool
	loglevel string
}

const qseowLong = `Create a JWT for Qlik Sense Enterprise on Windows, as "qs-jwt create-qseow" does.

The payload is userId, userDirectory, name, email, group (when --groups is
given), any --claim, iat, exp and aud; the header is {"alg":"RS256","typ":"JWT"},
without kid. The virtual proxy must have the same audience and the certificate
(publickey.cer) of the signing key.

The signing key is one of: --cert-privatekey-file FILE, --cert-privatekey PEM,
--cert-privatekey-env VAR, --cert-privatekey-stdin, or --cert-create, which
makes a new key pair and self-signed certificate and writes
<prefix>publickey.pem, <prefix>privatekey.pem (mode 0600) and
<prefix>publickey.cer into --cert-dir. Existing files are never replaced
unless --cert-overwrite is given. The private key is never printed.

--expires takes a number and a unit: 30s, 60m, 48h, 365d, 2w, 5y (a year is
365.25 days). --groups takes a comma-separated list, or qs-jwt's form
--groups a "b c" (words after --groups, up to the next flag). --claim
name=value adds a claim: a value that is JSON (3, true, ["a","b"], "42") is
taken as JSON, any other as a string.

With --minimal-output only the token is printed, followed by a newline.`

const cloudLong = `Create a JWT for Qlik Cloud's /login/jwt-session, as "qs-jwt create-qscloud" does.

The payload is jti (random), sub (--userid; random when not given, as qs-jwt
does, so that Qlik Cloud sees a new user each time), subType (user), name,
email, group (when --groups is given), email_verified, any --claim, iat, nbf,
exp, aud (qlik.api/login/jwt-session) and iss; the header carries --keyid as
kid. Qlik Cloud's JWT identity provider must have the same issuer and key ID
and the certificate (publickey.cer) of the signing key, and it refuses tokens
valid for more than an hour.

The signing key is one of: --cert-privatekey-file FILE, --cert-privatekey PEM,
--cert-privatekey-env VAR, --cert-privatekey-stdin, or --cert-create, which
makes a new key pair and self-signed certificate and writes
<prefix>publickey.pem, <prefix>privatekey.pem (mode 0600) and
<prefix>publickey.cer into --cert-dir. Existing files are never replaced
unless --cert-overwrite is given. The private key is never printed.

--expires takes a number and a unit: 30s, 60m, 48h, 365d, 2w, 5y. --groups
takes a comma-separated list, or qs-jwt's form --groups a "b c". --claim
name=value adds a claim (JSON values are taken as JSON).

With --minimal-output only the token is printed, followed by a newline.`

// jwtCreate makes "jwt create qseow" or "jwt create cloud" (kind), under the
// name use.
func (a *app) jwtCreate(kind, use string, hidden bool) *cobra.Command {
	f := &mintFlags{kind: kind}
	cmd := &cobra.Command{
		Use:    use,
		Hidden: hidden,
		Args:   cobra.ArbitraryArgs, // qs-jwt's "--groups a b" and "--cert-create true"; see absorbQSArgs
	}
	if kind == "qseow" {
		cmd.Short = "Create a JWT for Qlik Sense Enterprise on Windows (a JWT virtual proxy)"
		cmd.Long = qseowLong
		cmd.Example = `  # A new key pair and certificate in ./keys, and a token valid for a year:
  latchkey jwt create qseow --userdir LAB --userid goran --username "Göran Sander" \
      --groups Sales,Finance --audience abc123 --expires 365d --cert-create --cert-dir keys

  # With an existing key, only the token (for scripts):
  TOKEN=$(latchkey jwt create qseow --userdir LAB --userid goran --audience abc123 \
      --expires 60m --cert-privatekey-file keys/privatekey.pem --minimal-output)
  curl "https://qliksense.example.com/jwt/qrs/about?Xrfkey=$(latchkey xrfkey)" ...`
	} else {
		if use == "cloud" {
			cmd.Aliases = []string{"qscloud"}
		}
		cmd.Short = "Create a JWT for Qlik Cloud's /login/jwt-session"
		cmd.Long = cloudLong
		cmd.Example = `  latchkey jwt create cloud --userid auth0|a08D000001 --username "Ann Andersson" \
      --useremail ann@example.com --groups Analysts --issuer https://idp.example.com \
      --keyid 0330d3e7-1966-41c4-b3ef-d311d1ff7191 --expires 60m \
      --cert-privatekey-file privatekey.pem --minimal-output`
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	if kind == "qseow" {
		fl.StringVar(&f.userdir, "userdir", "", "user `directory` (userDirectory claim), such as LAB; required")
		fl.StringVar(&f.userid, "userid", "", "user `id` (userId claim), such as goran; required")
	} else {
		fl.StringVar(&f.userid, "userid", "", "the user's `id` at the identity provider (sub claim); default random, as qs-jwt")
		fl.StringVar(&f.subType, "subtype", "user", "subject `type` (subType claim)")
	}
	fl.StringVar(&f.username, "username", "", "user's display `name` (name claim), such as \"Göran Sander\"")
	fl.StringVar(&f.useremail, "useremail", "", "user's `email` address (email claim)")
	if kind == "cloud" {
		fl.StringVar(&f.emailVerified, "useremail-verified", "true", "email_verified claim: true or false")
	}
	fl.StringSliceVar(&f.groups, "groups", nil, "the user's `groups` (group claim), comma-separated, or qs-jwt's --groups a \"b c\"")
	if kind == "qseow" {
		fl.StringVar(&f.audience, "audience", "", "`audience` (aud claim); must equal the audience of the virtual proxy")
	} else {
		fl.StringVar(&f.issuer, "issuer", "", "`issuer` (iss claim); must equal the issuer of the tenant's JWT identity provider; required")
		fl.StringVar(&f.keyid, "keyid", "", "key `id` (kid header); must equal the key ID of the tenant's JWT identity provider; required")
		fl.StringVar(&f.audience, "audience", jwtmint.QlikCloudAudience, "`audience` (aud claim)")
	}
	fl.StringVar(&f.expires, "expires", "", "how long the token is valid (`time`): 30s, 60m, 48h, 365d, 5y; required")
	fl.StringVar(&f.alg, "alg", "", "signing `algorithm`: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA\n(default RS256, or what an existing ECDSA or Ed25519 key signs with)")
	fl.StringArrayVar(&f.claims, "claim", nil, "extra claim `name=value` (repeatable; JSON values are taken as JSON)")
	fl.StringVar(&f.keyFile, "cert-privatekey-file", "", "PEM `file` with the private key to sign with (PKCS#8, PKCS#1 or SEC1)")
	fl.StringVar(&f.keyPEM, "cert-privatekey", "", "the private key to sign with, as `PEM` text (visible to other users in the process list: prefer the next two)")
	fl.StringVar(&f.keyEnv, "cert-privatekey-env", "", "read the PEM private key from the environment `variable`")
	fl.BoolVar(&f.keyStdin, "cert-privatekey-stdin", false, "read the PEM private key from stdin")
	fl.BoolVar(&f.certCreate, "cert-create", false, "make a new key pair and self-signed certificate, write them to files and sign with the new key")
	fl.StringVar(&f.certPrefix, "cert-file-prefix", "", "`prefix` of the created files' names, such as qsjwt_")
	fl.StringVar(&f.certDir, "cert-dir", ".", "`directory` to write the created files into (made when missing)")
	fl.IntVar(&f.certDays, "cert-create-expires-days", 365, "how many `days` the created certificate is valid")
	fl.BoolVar(&f.certOverwrite, "cert-overwrite", false, "replace existing key and certificate files")
	fl.IntVar(&f.rsaBits, "cert-rsa-bits", jwtmint.DefaultRSABits, "size of a created RSA key, in `bits`")
	fl.BoolVar(&f.minimal, "minimal-output", false, "print only the token, followed by a newline")
	fl.StringVar(&f.loglevel, "loglevel", "info", "`level`: error, warn, info, verbose or debug (qs-jwt's): error and warn print only the token and error leaves out warnings")
	a.addOutputFlag(cmd)
	// qs-jwt's variadic --groups and optional-valued --cert-create: stop at
	// the first word that is not a flag, and let absorbQSArgs place it.
	fl.SetInterspersed(false)
	last := trackLastFlag(fl)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := absorbQSArgs(cmd.Flags(), args, last, &f.groups, &f.certCreate); err != nil {
			return err
		}
		if help, _ := cmd.Flags().GetBool("help"); help {
			return cmd.Help()
		}
		return a.mint(f)
	}
	return cmd
}

// trackLastFlag makes every flag of fs record its name in *last when set,
// so that a word after it can be given to it.
func trackLastFlag(fs *pflag.FlagSet) *string {
	last := new(string)
	fs.VisitAll(func(f *pflag.Flag) { f.Value = &recordingValue{Value: f.Value, name: f.Name, last: last} })
	return last
}

type recordingValue struct {
	pflag.Value
	name string
	last *string
}

func (r *recordingValue) Set(s string) error {
	*r.last = r.name
	return r.Value.Set(s)
}

// absorbQSArgs gives the words the flag parser stopped at to the flag before
// them, as qs-jwt does: every word after --groups up to the next flag is a
// group, and true or false after --cert-create is its value. Any other word
// is an error. The rest of the line is parsed again after each run of words.
func absorbQSArgs(fs *pflag.FlagSet, args []string, last *string, groups *[]string, certCreate *bool) error {
	for len(args) > 0 {
		n := 0
		switch {
		case *last == "groups":
			for n < len(args) && !strings.HasPrefix(args[n], "-") {
				n++
			}
			for _, g := range args[:n] {
				*groups = append(*groups, splitList(g)...)
			}
		case *last == "cert-create" && (args[0] == "true" || args[0] == "false"):
			*certCreate, n = args[0] == "true", 1
		default:
			return fmt.Errorf("unexpected argument %q: this command takes flags only (see --help)", args[0])
		}
		*last = ""
		if err := fs.Parse(args[n:]); err != nil {
			return err
		}
		args = fs.Args()
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// mint makes, signs and prints one token.
func (a *app) mint(f *mintFlags) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	var quiet, noWarn bool
	switch f.loglevel {
	case "error":
		quiet, noWarn = true, true
	case "warn", "warning":
		quiet = true
	case "info", "verbose", "debug":
	default:
		return fmt.Errorf("unknown --loglevel %q: use error, warn, info, verbose or debug", f.loglevel)
	}
	warn := func(format string, args ...any) {
		if !noWarn {
			fmt.Fprintf(a.stderr, "latchkey: warning: "+format+"\n", args...)
		}
	}
	var missing []string
	for _, r := range []struct{ flag, val string }{
		{"--userdir", f.userdir}, {"--userid", f.userid}, {"--issuer", f.issuer}, {"--keyid", f.keyid}, {"--expires", f.expires},
	} {
		required := r.flag == "--expires" || f.kind == "qseow" && (r.flag == "--userdir" || r.flag == "--userid") ||
			f.kind == "cloud" && (r.flag == "--issuer" || r.flag == "--keyid")
		if required && strings.TrimSpace(r.val) == "" {
			missing = append(missing, r.flag)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		return fmt.Errorf("missing required flag %s (see --help)", missing[0])
	default:
		return fmt.Errorf("missing required flags %s and %s (see --help)", strings.Join(missing[:len(missing)-1], ", "), missing[len(missing)-1])
	}
	expires, err := jwtmint.ParseExpiry(f.expires)
	if err != nil {
		return fmt.Errorf("--expires: %w", err)
	}
	var extra []jwtmint.Claim
	for _, s := range f.claims {
		c, err := jwtmint.ParseClaim(s)
		if err != nil {
			return fmt.Errorf("--claim: %w", err)
		}
		extra = append(extra, c)
	}
	groups := slices.DeleteFunc(slices.Clone(f.groups), func(g string) bool { return strings.TrimSpace(g) == "" })
	if f.alg != "" && !slices.Contains(jwtmint.Algorithms, f.alg) {
		return fmt.Errorf("--alg %q is not one latchkey signs with; use one of %s", f.alg, strings.Join(jwtmint.Algorithms, ", "))
	}

	// Build the claims first: a mistake in them must not leave key files.
	var claims *jwtmint.Claims
	var kid string
	if f.kind == "qseow" {
		claims, err = jwtmint.QSEoW{UserDirectory: f.userdir, UserID: f.userid, Name: f.username, Email: f.useremail,
			Groups: groups, Audience: f.audience, Expires: expires, Extra: extra}.Claims()
	} else {
		verified, perr := strconv.ParseBool(f.emailVerified)
		if perr != nil {
			return fmt.Errorf("--useremail-verified %q: use true or false", f.emailVerified)
		}
		kid = f.keyid
		claims, err = jwtmint.Cloud{Subject: f.userid, SubjectType: f.subType, Name: f.username, Email: f.useremail,
			EmailUnverified: !verified, Groups: groups, Issuer: f.issuer, KeyID: f.keyid, Audience: f.audience,
			Expires: expires, Extra: extra}.Claims()
	}
	if err != nil {
		return err
	}

	key, kp, err := a.signingKey(f)
	if err != nil {
		return err
	}
	alg := f.alg
	if alg == "" {
		alg = jwtmint.AlgorithmFor(key)
	}
	signer, err := jwtmint.NewSigner(alg, key)
	if err != nil {
		return err
	}
	var files *jwtmint.Files
	if kp != nil {
		written, err := kp.WriteFiles(f.certDir, f.certPrefix, f.certOverwrite)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: --cert-overwrite replaces it, and --cert-dir or --cert-file-prefix write elsewhere", strings.TrimSuffix(strings.Split(err.Error(), " already exists")[0], " "))
		}
		if err != nil {
			return err
		}
		for _, p := range []*string{&written.PublicKey, &written.PrivateKey, &written.Certificate} {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
		files = &written
	}
	token, err := signer.Sign(claims, kid)
	if err != nil {
		return err
	}

	switch {
	case f.kind == "qseow" && !strings.HasPrefix(alg, "RS"):
		warn("a QSEoW virtual proxy accepts RS256, RS384 and RS512 only, and this token is signed with %s", alg)
	case f.kind == "cloud" && !strings.HasPrefix(alg, "RS"):
		warn("Qlik Cloud accepts RS256 tokens, and this token is signed with %s", alg)
	}
	if f.kind == "qseow" && f.audience == "" {
		warn("no --audience: the token has no aud claim, and a QSEoW virtual proxy checks it")
	}
	if f.kind == "cloud" {
		if expires > time.Hour {
			warn("Qlik Cloud refuses tokens valid for more than 1h (exp − nbf), and this one is valid for %s", f.expires)
		}
		if f.userid == "" {
			warn("no --userid: sub is random, so Qlik Cloud sees a new user for each token")
		}
		if f.username == "" || f.useremail == "" {
			warn("Qlik Cloud requires the name and email claims not to be empty: give --username and --useremail")
		}
	}

	if f.minimal || quiet && a.output != "json" {
		_, err := fmt.Fprintln(a.stdout, token)
		return err
	}
	header, payload, err := jwtmint.Decode(token)
	if err != nil {
		return err
	}
	exp, _ := claims.GetExpirationTime()
	if a.output == "json" {
		out := map[string]any{"token": token, "header": header, "payload": payload, "expires_at": exp.UTC().Format(time.RFC3339)}
		if files != nil {
			out["files"] = files
			out["certificate"] = map[string]any{"common_name": kp.Certificate.Subject.CommonName,
				"not_before": kp.Certificate.NotBefore.UTC().Format(time.RFC3339), "not_after": kp.Certificate.NotAfter.UTC().Format(time.RFC3339)}
		}
		return printJSON(a.stdout, out)
	}
	w := a.stdout
	if files != nil {
		c := kp.Certificate
		fmt.Fprintf(w, "Created a new %s key pair and self-signed certificate:\n",
			strings.TrimSuffix(strings.TrimPrefix(jwtmint.KeyType(kp.Key), "an "), " key"))
		fmt.Fprintf(w, "  public key:   %s\n  private key:  %s (mode 0600; keep it secret)\n  certificate:  %s\n", files.PublicKey, files.PrivateKey, files.Certificate)
		fmt.Fprintf(w, "Certificate common name %s, valid from %s to %s.\n", c.Subject.CommonName,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		if f.kind == "qseow" {
			fmt.Fprintln(w, "Paste the certificate into the JWT virtual proxy's \"JWT certificate\" setting.")
		} else {
			fmt.Fprintln(w, "Paste the certificate into the JWT identity provider's \"Certificate\" setting.")
		}
		fmt.Fprintln(w)
	}
	if err := printDecoded(w, header, payload); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCreated JWT (%s, expires %s):\n%s\n", alg, exp.UTC().Format(time.RFC3339), token)
	return nil
}

// signingKey returns the key that the flags name, or a new key pair.
func (a *app) signingKey(f *mintFlags) (crypto.Signer, *jwtmint.KeyPair, error) {
	n := 0
	for _, set := range []bool{f.keyFile != "", f.keyPEM != "", f.keyEnv != "", f.keyStdin, f.certCreate} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return nil, nil, errors.New("no signing key: give --cert-privatekey-file, --cert-privatekey, --cert-privatekey-env, --cert-privatekey-stdin, or --cert-create to make a new key pair")
	case n > 1:
		return nil, nil, errors.New("give only one of --cert-privatekey-file, --cert-privatekey, --cert-privatekey-env, --cert-privatekey-stdin and --cert-create")
	}
	if f.certCreate {
		if f.certDays < 1 {
			return nil, nil, fmt.Errorf("--cert-create-expires-days must be at least 1, not %d", f.certDays)
		}
		alg := f.alg
		if alg == "" {
			alg = jwtmint.DefaultAlgorithm
		}
		kp, err := jwtmint.NewKeyPair(alg, jwtmint.KeyPairOptions{RSABits: f.rsaBits, Lifetime: time.Duration(f.certDays) * 24 * time.Hour})
		if err != nil {
			return nil, nil, err
		}
		return kp.Key, kp, nil
	}
	var data []byte
	var from string
	switch {
	case f.keyFile != "":
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read the private key: %w", err)
		}
		data, from = b, f.keyFile
	case f.keyPEM != "":
		data, from = []byte(f.keyPEM), "--cert-privatekey"
	case f.keyEnv != "":
		v := a.getenv(f.keyEnv)
		if v == "" {
			return nil, nil, fmt.Errorf("environment variable %s is empty or not set", f.keyEnv)
		}
		data, from = []byte(v), "environment variable "+f.keyEnv
	case f.keyStdin:
		b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return nil, nil, fmt.Errorf("read the private key from stdin: %w", err)
		}
		data, from = b, "stdin"
	}
	key, err := jwtmint.ParsePrivateKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", from, err)
	}
	return key, nil, nil
}
