package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/jwtverify"
)

func (a *app) jwtCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jwt",
		Short: "Create, decode and verify JSON Web Tokens (everything qs-jwt does)",
		Long: `Create JWTs for Qlik Sense Enterprise on Windows (a JWT virtual proxy) and for
Qlik Cloud (/login/jwt-session), with an existing private key or a new key pair
and self-signed certificate; decode a token; verify one against a public key,
a JWK Set or an HMAC secret.

The flags of "jwt create" are those of qs-jwt's create-qseow and create-qscloud,
so scripts written for qs-jwt work with "latchkey jwt create qseow|cloud".`,
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a JWT for Qlik Sense Enterprise on Windows (qseow) or Qlik Cloud (cloud)",
		Example: `  latchkey jwt create qseow --userdir LAB --userid goran --audience abc123 --expires 365d --cert-create
  latchkey jwt create cloud --userid auth0|123 --issuer https://idp.example.com --keyid my-key \
      --expires 60m --cert-privatekey-file privatekey.pem --minimal-output`,
	}
	create.AddCommand(a.jwtCreate("qseow", "qseow", false), a.jwtCreate("cloud", "cloud", false))
	cmd.AddCommand(create, a.jwtDecode(), a.jwtVerify(),
		// qs-jwt's own command names, so that "qs-jwt" can be replaced by
		// "latchkey jwt" in a script.
		a.jwtCreate("qseow", "create-qseow", true), a.jwtCreate("cloud", "create-qscloud", true))
	return cmd
}

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
		alg = defaultAlgorithm(key)
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

// defaultAlgorithm is what a key signs with when --alg is not given: RS256
// for RSA (what Qlik accepts), the algorithm of its curve for ECDSA, EdDSA
// for Ed25519.
func defaultAlgorithm(key crypto.Signer) string {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
		return "ES256"
	case ed25519.PrivateKey:
		return "EdDSA"
	case *rsa.PrivateKey:
	}
	return jwtmint.DefaultAlgorithm
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printDecoded writes a token's header and payload as qs-jwt's decode does:
// indented JSON, with iat, nbf and exp also as dates.
func printDecoded(w io.Writer, header, payload map[string]any) error {
	display := make(map[string]any, len(payload))
	for k, v := range payload {
		display[k] = v
		if k == "iat" || k == "nbf" || k == "exp" {
			if t, ok := unixTime(v); ok {
				display[k] = fmt.Sprintf("%v (%s)", v, t.UTC().Format(time.RFC3339))
			}
		}
	}
	fmt.Fprintln(w, "JWT Header:")
	if err := printJSON(w, header); err != nil {
		return err
	}
	fmt.Fprintln(w, "JWT Payload:")
	return printJSON(w, display)
}

// unixTime reads a NumericDate claim as Decode returns it.
func unixTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// inspectFlags are the flags of "jwt decode" and "jwt verify": where the
// token is, and what checks it.
type inspectFlags struct {
	jwt, jwtFile string

	keyFiles, qsKeyFiles []string
	keyPEM               string
	jwksURLs             []string
	secretEnv            string

	algs                 []string
	audience, qsAudience []string
	issuer, kid          string
	leeway, maxLifetime  time.Duration
	profile              string
	userClaim            string

	minimal bool
}

// hasKey reports whether any key to check the signature was given.
func (f *inspectFlags) hasKey() bool {
	return len(f.keyFiles)+len(f.qsKeyFiles)+len(f.jwksURLs) > 0 || f.keyPEM != "" || f.secretEnv != ""
}

func (f *inspectFlags) addTokenFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.jwt, "jwt", "", "the `token` (qs-jwt's flag; or give it as the argument)")
	cmd.Flags().StringVar(&f.jwtFile, "jwt-file", "", "read the token from a `file`")
}

func (a *app) jwtDecode() *cobra.Command {
	f := &inspectFlags{}
	cmd := &cobra.Command{
		Use:   "decode [TOKEN|-]",
		Short: "Show a JWT's header and payload (and check it, given a public key)",
		Long: `Show a JWT's header and payload, WITHOUT checking it, as "qs-jwt decode" does.
The token is the argument, --jwt, the contents of --jwt-file, or stdin (with
"-" or no argument); a "Bearer " before it is ignored.

Given --cert-publickey-file or --cert-publickey (a certificate or public key
in PEM), the signature, times and --expected-audience are checked too, and
the command exits 1 when the token is not valid. "latchkey jwt verify" checks
more (JWKS URLs, HMAC secrets, issuer, profiles).

-o json (or --minimal-output, as in qs-jwt) prints one JSON object:
{"header":…,"payload":…} and, with a key, "verification".`,
		Example: `  latchkey jwt decode eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOi…
  echo "$TOKEN" | latchkey jwt decode -o json | jq .payload.userId
  latchkey jwt decode --jwt-file token.txt --cert-publickey-file publickey.cer --expected-audience abc123`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.inspect(cmd, f, args, false)
		},
	}
	f.addTokenFlags(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.qsKeyFiles, "cert-publickey-file", nil, "check the signature with the certificate or public key in this PEM `file`")
	fl.StringVar(&f.keyPEM, "cert-publickey", "", "check the signature with this certificate or public key (`PEM` text)")
	fl.StringSliceVar(&f.qsAudience, "expected-audience", nil, "the `audience` the token must have (needs a key)")
	fl.BoolVar(&f.minimal, "minimal-output", false, "print one JSON object only (as -o json)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) jwtVerify() *cobra.Command {
	f := &inspectFlags{}
	cmd := &cobra.Command{
		Use:   "verify [TOKEN|-] (--key-file PEM | --jwks-url URL | --secret-env VAR)",
		Short: "Check a JWT's signature, times, audience and issuer, as latchkey's gateway does",
		Long: `Check a JWT the way a latchkey JWT verifier does: the signature against a
certificate or public key (--key-file, --key), a JWK Set (--jwks-url) or an
HMAC secret (--secret-env); the algorithm against --alg; exp (required), nbf
and iat with --leeway; --audience, --issuer, --max-lifetime; and with
--profile qlik-cloud everything Qlik Cloud requires (kid, jti, sub, subType,
name, email, email_verified, nbf; aud qlik.api/login/jwt-session; at most 1h).

The token is the argument, --jwt, the contents of --jwt-file, or stdin (with
"-" or no argument). The user is read from userId and userDirectory when the
token has userId (QSEoW), else from sub; --user-claim names another claim.

A valid token exits 0 and prints its header, payload and who it names (-o json:
{"header","payload","verification"}); an invalid one exits 1 with the reason on
stderr and prints nothing on stdout.`,
		Example: `  latchkey jwt verify "$TOKEN" --key-file publickey.pem --audience abc123
  latchkey jwt create qseow … --minimal-output | latchkey jwt verify - --key-file publickey.cer
  latchkey jwt verify "$TOKEN" --jwks-url https://idp.example.com/.well-known/jwks.json --issuer https://idp.example.com
  latchkey jwt verify "$TOKEN" --key-file publickey.cer --kid 0330d3e7 --issuer https://idp.example.com --profile qlik-cloud
  SECRET=… latchkey jwt verify "$TOKEN" --secret-env SECRET --alg HS256 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.hasKey() {
				return errors.New("no key to check the token with: give --key-file, --key, --jwks-url or --secret-env")
			}
			return a.inspect(cmd, f, args, true)
		},
	}
	f.addTokenFlags(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keyFiles, "key-file", nil, "certificate or public key `file` (PEM) to check the signature with (repeatable)")
	fl.StringArrayVar(&f.qsKeyFiles, "cert-publickey-file", nil, "the same as --key-file (qs-jwt's name)")
	fl.StringVar(&f.keyPEM, "key", "", "certificate or public key as `PEM` text")
	fl.StringArrayVar(&f.jwksURLs, "jwks-url", nil, "`URL` of a JWK Set (https://, or http:// on localhost; repeatable)")
	fl.StringVar(&f.secretEnv, "secret-env", "", "environment `variable` holding an HMAC secret (for HS256, HS384, HS512)")
	fl.StringSliceVar(&f.algs, "alg", nil, "accepted `algorithms` (default: those of the key: RS*, PS*, ES*, EdDSA, or HS* for a secret)")
	fl.StringSliceVar(&f.audience, "audience", nil, "an `audience` the token's aud must contain (repeatable)")
	fl.StringSliceVar(&f.qsAudience, "expected-audience", nil, "the same as --audience (qs-jwt's name)")
	fl.StringVar(&f.issuer, "issuer", "", "the `issuer` the token's iss must equal")
	fl.StringVar(&f.kid, "kid", "", "the key `id` the token's kid header must equal")
	fl.DurationVar(&f.leeway, "leeway", 30*time.Second, "allowed clock skew on exp, nbf and iat (at most 10m)")
	fl.DurationVar(&f.maxLifetime, "max-lifetime", 0, "refuse tokens whose exp lies further than this after nbf (or iat)")
	fl.StringVar(&f.profile, "profile", "", "qlik-cloud: require Qlik Cloud's claims (audience qlik.api/login/jwt-session, max lifetime 1h)")
	fl.StringVar(&f.userClaim, "user-claim", "", "`claim` holding the user id (default: userId when the token has it, else sub)")
	a.addOutputFlag(cmd)
	fl.Lookup("cert-publickey-file").Hidden = true
	fl.Lookup("expected-audience").Hidden = true
	return cmd
}

// readToken returns the token from the argument, --jwt, --jwt-file or stdin.
func (a *app) readToken(f *inspectFlags, args []string) (string, error) {
	var sources []string
	if len(args) == 1 {
		sources = append(sources, "the argument")
	}
	if f.jwt != "" {
		sources = append(sources, "--jwt")
	}
	if f.jwtFile != "" {
		sources = append(sources, "--jwt-file")
	}
	if len(sources) > 1 {
		return "", fmt.Errorf("give the token once, not in %s", strings.Join(sources, " and "))
	}
	var raw string
	switch {
	case len(args) == 1 && args[0] != "-":
		raw = args[0]
	case f.jwt != "":
		raw = f.jwt
	case f.jwtFile != "":
		b, err := os.ReadFile(f.jwtFile)
		if err != nil {
			return "", fmt.Errorf("read the token: %w", err)
		}
		raw = string(b)
	default:
		b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
		if err != nil {
			return "", fmt.Errorf("read the token from stdin: %w", err)
		}
		raw = string(b)
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return "", errors.New("no token given: pass it as the argument, with --jwt or --jwt-file, or on stdin")
	}
	return raw, nil
}

// verification is what a check found, in the shape of qs-jwt's decode
// --minimal-output, with who the token names.
type verification struct {
	Status        string   `json:"status"` // valid or invalid
	Algorithm     any      `json:"algorithm"`
	Integrity     bool     `json:"integrity"`
	KeyID         string   `json:"keyId,omitempty"`
	IssuedAt      string   `json:"issuedAt,omitempty"`
	NotBefore     string   `json:"notBefore,omitempty"`
	ExpiresAt     string   `json:"expiresAt,omitempty"`
	Audience      []string `json:"audience,omitempty"`
	Issuer        string   `json:"issuer,omitempty"`
	Directory     string   `json:"directory,omitempty"`
	User          string   `json:"user,omitempty"`
	Name          string   `json:"name,omitempty"`
	Email         string   `json:"email,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	reasonForExit string
}

// inspect decodes a token and, given keys, checks it; strict (jwt verify)
// prints nothing on stdout for an invalid token.
func (a *app) inspect(cmd *cobra.Command, f *inspectFlags, args []string, strict bool) error {
	if err := a.checkOutput(); err != nil {
		return err
	}
	raw, err := a.readToken(f, args)
	if err != nil {
		return err
	}
	header, payload, err := jwtmint.Decode(raw)
	if err != nil {
		return fmt.Errorf("the token cannot be decoded: %w", err)
	}
	if !f.hasKey() && len(f.qsAudience)+len(f.audience) > 0 {
		return errors.New("--expected-audience needs a key to check the token with: give --cert-publickey-file or --cert-publickey")
	}
	var ver *verification
	if f.hasKey() {
		if ver, err = a.check(cmd, f, raw, header, payload); err != nil {
			return err
		}
	}
	if strict && ver.Status != "valid" {
		return errors.New(ver.reasonForExit)
	}
	if a.output == "json" || f.minimal {
		out := map[string]any{"header": header, "payload": payload}
		if ver != nil {
			out["verification"] = ver
		}
		if err := printJSON(a.stdout, out); err != nil {
			return err
		}
	} else {
		if err := printDecoded(a.stdout, header, payload); err != nil {
			return err
		}
		if ver != nil {
			printVerification(a.stdout, ver)
		}
	}
	if ver != nil && ver.Status != "valid" {
		return errors.New(ver.reasonForExit)
	}
	return nil
}

func printVerification(w io.Writer, v *verification) {
	fmt.Fprintln(w, "\nSignature Verification:")
	if v.Status != "valid" {
		fmt.Fprintf(w, "  Status: invalid\n  Reason: %s\n", v.Reason)
		return
	}
	fmt.Fprintln(w, "  Status: valid")
	fmt.Fprintf(w, "  Algorithm: %v (verified)\n", v.Algorithm)
	if v.KeyID != "" {
		fmt.Fprintf(w, "  Key ID: %s\n", v.KeyID)
	}
	fmt.Fprintln(w, "  Integrity: the token has not been tampered with")
	user := v.Directory + `\` + v.User
	if v.Name != "" {
		user += " (" + v.Name + ")"
	}
	fmt.Fprintf(w, "  User: %s\n", user)
	if v.Email != "" {
		fmt.Fprintf(w, "  Email: %s\n", v.Email)
	}
	if len(v.Groups) > 0 {
		fmt.Fprintf(w, "  Groups: %s\n", strings.Join(v.Groups, ", "))
	}
	fmt.Fprintln(w, "  Validity:")
	for _, t := range []struct{ label, val string }{{"Issued", v.IssuedAt}, {"Not before", v.NotBefore}, {"Expires", v.ExpiresAt}} {
		if t.val != "" {
			fmt.Fprintf(w, "    %s: %s\n", t.label, t.val)
		}
	}
	if len(v.Audience) > 0 {
		fmt.Fprintf(w, "  Audience: %s\n", strings.Join(v.Audience, ", "))
	}
	if v.Issuer != "" {
		fmt.Fprintf(w, "  Issuer: %s\n", v.Issuer)
	}
}

// check verifies raw with a jwtverify.Verifier built from the flags.
func (a *app) check(cmd *cobra.Command, f *inspectFlags, raw string, header, payload map[string]any) (*verification, error) {
	cfg, keyNames, err := f.verifierConfig(payload)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	v, err := jwtverify.New(cmd.Context(), cfg, a.getenv, log)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "jwt verifier "+cfg.Name+": ")
		for i, name := range keyNames {
			if p := fmt.Sprintf("keys[%d]: ", i); strings.HasPrefix(msg, p) {
				msg = name + ": " + strings.TrimPrefix(msg, p)
			}
		}
		return nil, errors.New(msg)
	}
	defer v.Close()
	ver := &verification{Algorithm: header["alg"]}
	kid, _ := header["kid"].(string)
	if f.kid != "" && kid != f.kid {
		ver.Status = "invalid"
		ver.Reason = fmt.Sprintf("The token's kid is %q, not %q.", kid, f.kid)
		ver.reasonForExit = ver.Reason
		return ver, nil
	}
	res, err := v.Verify(cmd.Context(), raw)
	if err != nil {
		ver.Status = "invalid"
		ver.Reason = latchkey.ErrorMessage(err) + hint(err, cfg, header, payload)
		ver.reasonForExit = ver.Reason
		return ver, nil
	}
	ver.Status, ver.Integrity, ver.KeyID = "valid", true, res.KeyID
	ver.Audience, ver.Issuer = res.Audience, res.Issuer
	ver.Directory, ver.User, ver.Name, ver.Email, ver.Groups = res.Directory, res.Username, res.DisplayName, res.Email, res.Groups
	for _, t := range []struct {
		t   time.Time
		dst *string
	}{{res.IssuedAt, &ver.IssuedAt}, {res.NotBefore, &ver.NotBefore}, {res.ExpiresAt, &ver.ExpiresAt}} {
		if !t.t.IsZero() {
			*t.dst = t.t.UTC().Format(time.RFC3339)
		}
	}
	return ver, nil
}

// hint adds to a verifier's message what the token said, when that helps
// to see why it was refused.
func hint(err error, cfg config.JWTVerifier, header, payload map[string]any) string {
	msg := latchkey.ErrorMessage(err)
	show := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	switch {
	case strings.Contains(msg, "expired"):
		if t, ok := unixTime(payload["exp"]); ok {
			return fmt.Sprintf(" It expired at %s.", t.UTC().Format(time.RFC3339))
		}
	case strings.Contains(msg, "not valid yet"):
		if t, ok := unixTime(payload["nbf"]); ok {
			return fmt.Sprintf(" It is valid from %s.", t.UTC().Format(time.RFC3339))
		}
	case strings.Contains(msg, "audience"):
		return fmt.Sprintf(" The token's aud is %s; accepted: %s.", show(payload["aud"]), strings.Join(cfg.Audience, ", "))
	case strings.Contains(msg, "issuer"):
		return fmt.Sprintf(" The token's iss is %s; accepted: %s.", show(payload["iss"]), cfg.Issuer)
	case strings.Contains(msg, "algorithm"):
		return fmt.Sprintf(" The token's alg is %s; accepted: %s.", show(header["alg"]), strings.Join(cfg.Algorithms, ", "))
	}
	return ""
}

// verifierConfig is the configuration of a verifier that the flags
// describe, and a name for each of its keys.
func (f *inspectFlags) verifierConfig(payload map[string]any) (config.JWTVerifier, []string, error) {
	c := config.JWTVerifier{Name: "cli", Issuer: f.issuer, Leeway: config.Duration(f.leeway),
		MaxLifetime: config.Duration(f.maxLifetime), Profile: f.profile}
	var names []string
	add := func(k config.JWTKey, name string) {
		c.Keys = append(c.Keys, k)
		names = append(names, name)
	}
	for _, file := range append(slices.Clone(f.keyFiles), f.qsKeyFiles...) {
		add(config.JWTKey{File: file, KeyID: f.kid}, file)
	}
	if f.keyPEM != "" {
		add(config.JWTKey{PEM: f.keyPEM, KeyID: f.kid}, "the PEM key")
	}
	for _, u := range f.jwksURLs {
		p, err := url.Parse(u)
		local := err == nil && (p.Hostname() == "localhost" || strings.HasPrefix(p.Hostname(), "127.") || p.Hostname() == "::1")
		if err != nil || p.Host == "" || p.Scheme != "https" && !(p.Scheme == "http" && local) {
			return c, nil, fmt.Errorf("--jwks-url %q must be an https:// URL (http:// only for localhost)", u)
		}
		add(config.JWTKey{JWKSURL: u}, u)
	}
	if f.secretEnv != "" {
		if len(c.Keys) > 0 {
			return c, nil, errors.New("--secret-env cannot be combined with public keys: an HMAC secret and a public key are never interchangeable")
		}
		add(config.JWTKey{SecretEnv: f.secretEnv, KeyID: f.kid}, "--secret-env "+f.secretEnv)
	}
	c.Algorithms = slices.Clone(f.algs)
	if len(c.Algorithms) == 0 {
		if f.secretEnv != "" {
			c.Algorithms = slices.Clone(config.JWTAlgorithms["HMAC"])
		} else {
			c.Algorithms = slices.Concat(config.JWTAlgorithms["RSA"], config.JWTAlgorithms["ECDSA"], config.JWTAlgorithms["EdDSA"])
		}
	}
	for _, alg := range c.Algorithms {
		switch fam := algorithmFamily(alg); {
		case fam == "":
			return c, nil, fmt.Errorf("--alg %q is not an algorithm latchkey verifies; use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384 or HS512", alg)
		case fam == "HMAC" && f.secretEnv == "":
			return c, nil, fmt.Errorf("--alg %s needs an HMAC secret (--secret-env), not a public key", alg)
		case fam != "HMAC" && f.secretEnv != "":
			return c, nil, fmt.Errorf("--alg %s needs a public key, not an HMAC secret", alg)
		}
	}
	c.Audience = append(slices.Clone(f.audience), f.qsAudience...)
	if f.leeway < 0 || f.leeway > 10*time.Minute {
		return c, nil, fmt.Errorf("--leeway %s: use 0 to 10m", f.leeway)
	}
	if f.maxLifetime < 0 {
		return c, nil, errors.New("--max-lifetime must not be negative")
	}
	switch f.profile {
	case "":
	case config.ProfileQlikCloud:
		if len(c.Audience) == 0 {
			c.Audience = []string{config.QlikCloudAudience}
		}
		if c.MaxLifetime == 0 {
			c.MaxLifetime = config.Duration(time.Hour)
		}
	default:
		return c, nil, fmt.Errorf("--profile %q: the only profile is %s", f.profile, config.ProfileQlikCloud)
	}
	c.Claims = config.JWTClaims{User: f.userClaim, Name: "name", Email: "email", Groups: []string{"group", "groups"}}
	if c.Claims.User == "" {
		c.Claims.User = "sub"
		if _, ok := payload["userId"]; ok {
			c.Claims.User = "userId"
		}
	}
	if c.Claims.User == "userId" {
		c.Claims.Directory = "userDirectory"
	}
	return c, names, nil
}

// algorithmFamily is the family of a verification algorithm, "" for an
// unknown one.
func algorithmFamily(alg string) string {
	for fam, algs := range config.JWTAlgorithms {
		if slices.Contains(algs, alg) {
			return fam
		}
	}
	return ""
}
