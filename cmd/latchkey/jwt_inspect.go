package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtmint"
	"github.com/latchkey/latchkey/jwtverify"
)

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
	v, err := jwtverify.New(cmd.Context(), gateway.VerifierConfig(cfg, nil), a.getenv, log)
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
		switch fam := config.AlgorithmFamily(alg); {
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
	c.Claims = config.JWTClaims{User: f.userClaim, DefaultDirectory: latchkey.DefaultDirectory, Name: "name", Email: "email", Groups: []string{"group", "groups"}}
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
