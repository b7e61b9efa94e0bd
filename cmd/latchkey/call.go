package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtmint"
)

// callFlags are the flags of "latchkey call".
type callFlags struct {
	method   string
	headers  []string
	data     string
	include  bool
	location bool
	verbose  bool
	maxTime  time.Duration

	cacert, cert, key string
	insecure          bool
	allowPlain        bool
	qlikUser          string
	xrfkey            bool

	bearer                               string
	jwtKey, jwtAlg, expires              string
	userdir, userid, username, useremail string
	groups                               []string
	audience, issuer, keyid              string

	apiKey, apiKeyHeader string
	basic                string
	login, loginURL      string
	origin               string
	jwtLogin             string
	jwtSession           string
}

func (a *app) callCommand() *cobra.Command {
	f := &callFlags{}
	cmd := &cobra.Command{
		Use:   "call [flags] URL",
		Short: "Send a request the way Qlik, Quantamatics and Journyx clients do: Xrfkey, JWT, API key, Basic, login, certificates",
		Long: `Send one HTTP request, curl-like, authenticated with one of the methods that
latchkey (and the APIs it stands in for) accept, and print the response body
(-i: with the status line and headers). The exit status is 1 when the
request fails or the answer is 400 or above; the body is printed all the same.

Credentials (give one of these groups):
  --bearer TOKEN                     a fixed JWT (Qlik Sense Enterprise, Quantamatics)
  --jwt-key FILE --userdir --userid  a QSEoW JWT minted for the request from a
                                     private key (Qlik Sense Enterprise); with --issuer and
                                     --keyid a Qlik Cloud one
  --api-key KEY                      X-Api-Key (Quantamatics)
  --basic USER:PASSWORD              HTTP Basic; the password may be an API key (Journyx)
  --login USER:PASSWORD              log in at --login-url (default /api/v1/login on
                                     the URL's server), send the session cookie, log
                                     out afterwards (Journyx)
  --login EMAIL:PASSWORD --jwt-login URL
                                     log in for a JWT, send it as a bearer (Quantamatics)
  --jwt-session URL                  exchange --bearer's token, or one minted with
                                     --jwt-key (Qlik Cloud claims), for session
                                     cookies; unsafe requests echo the CSRF cookie
                                     in qlik-csrf-token (Qlik Cloud)
and, with any of them or alone:
  --cert FILE --key FILE --cacert FILE   a client certificate, and the CA of the server
  --qlik-user 'UserDirectory=D; UserId=U' (or D\U)   the user a trusted certificate
                                     acts as (Qlik QRS)
  --xrfkey                           a fresh Xrfkey, as parameter and header (Qlik Sense Enterprise, Qlik QRS)

A secret given as "-" (--bearer -, --api-key -), and the password of
--basic USER or --login USER given without ":PASSWORD", is read from the
first line of stdin, which keeps it out of the process list.

TLS is verified (give the server's CA with --cacert; -k turns the check off),
and no credential is sent to an http:// URL without --allow-plain-http.
Redirects are not followed without -L, and never carry the credentials to
another server.`,
		Example: `  # Journyx: log in, then the session cookie
  latchkey call --cacert latchkey-data/tls/server.pem --login apiuser https://127.0.0.1:8443/api/v1/projects < password.txt
  latchkey call --basic "apiuser:$KEY" -X POST -d '{"name": "x"}' https://127.0.0.1:8443/api/v1/projects

  # Qlik Sense Enterprise: a QSEoW virtual proxy, with a JWT minted from a key and an Xrfkey
  latchkey call --xrfkey --jwt-key examples/qlik-sense-enterprise/keys/privatekey.pem --userdir LAB --userid goran --audience abc123 \
      https://127.0.0.1:8443/jwt/qrs/about
  # Qlik Cloud: a JWT exchanged for a session
  latchkey call --jwt-session https://127.0.0.1:8443/login/jwt-session --jwt-key examples/qlik-cloud/keys/privatekey.pem \
      --issuer https://idp.example.com --keyid 0330d3e7-1966-41c4-b3ef-d311d1ff7191 --userid 'auth0|a08D000001' \
      --username "Ann Andersson" --useremail ann@example.com -X POST -d '{"name": "x"}' https://127.0.0.1:8443/api/v1/spaces

  # Quantamatics: log in for a JWT, or an API key
  latchkey call --jwt-login https://127.0.0.1:8443/api/Account/login --login analyst@example.com https://127.0.0.1:8443/api/data/endpoint
  latchkey call --api-key - https://127.0.0.1:8443/api/data/endpoint <<<"$KEY"

  # Qlik QRS: a client certificate and X-Qlik-User, with an Xrfkey
  C=examples/qlik-qrs-certificates/certs
  latchkey call --cert $C/client.pem --key $C/client_key.pem --cacert $C/root.pem \
      --qlik-user 'UserDirectory=INTERNAL; UserId=sa_repository' --xrfkey https://127.0.0.1:4242/qrs/about`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringVarP(&f.method, "request", "X", "", "HTTP `method` (default GET, or POST with --data)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "extra `header` \"Name: value\" (repeatable)")
	fl.StringVarP(&f.data, "data", "d", "", "request body: `DATA`, @FILE, or @- for stdin (Content-Type application/json when it is JSON)")
	fl.BoolVarP(&f.include, "include", "i", false, "print the status line and the response headers before the body")
	fl.BoolVarP(&f.location, "location", "L", false, "follow redirects (credentials only go to the URL's own server)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print each request and response line and headers on stderr, secrets left out")
	fl.DurationVar(&f.maxTime, "max-time", time.Minute, "give up after this `duration` (such as 30s or 2m)")

	fl.BoolVar(&f.xrfkey, "xrfkey", false, "add a fresh Xrfkey as the Xrfkey parameter and the X-Qlik-Xrfkey header")
	fl.StringVar(&f.bearer, "bearer", "", "send the `token` as Authorization: Bearer (- reads it from stdin)")
	fl.StringVar(&f.jwtKey, "jwt-key", "", "mint the bearer token from this PEM private key `file` (privatekey.pem)")
	fl.StringVar(&f.jwtAlg, "jwt-alg", "", "signing `algorithm` of --jwt-key (default: RS256 for RSA, by curve for ECDSA, EdDSA)")
	fl.StringVar(&f.expires, "expires", "5m", "how long a minted token is valid (`time`): 30s, 5m, 1h")
	fl.StringVar(&f.userdir, "userdir", "", "minted QSEoW token: user `directory` (userDirectory claim)")
	fl.StringVar(&f.userid, "userid", "", "minted token: user `id` (QSEoW userId; Qlik Cloud sub)")
	fl.StringVar(&f.username, "username", "", "minted token: display `name` (name claim)")
	fl.StringVar(&f.useremail, "useremail", "", "minted token: `email` (email claim)")
	fl.StringSliceVar(&f.groups, "groups", nil, "minted token: `groups` (group claim), comma-separated")
	fl.StringVar(&f.audience, "audience", "", "minted token: `audience` (aud claim; Qlik Cloud: default qlik.api/login/jwt-session)")
	fl.StringVar(&f.issuer, "issuer", "", "minted Qlik Cloud token: `issuer` (iss claim)")
	fl.StringVar(&f.keyid, "keyid", "", "minted Qlik Cloud token: key `id` (kid header)")
	fl.StringVar(&f.apiKey, "api-key", "", "send the `key` in X-Api-Key (- reads it from stdin)")
	fl.StringVar(&f.apiKeyHeader, "api-key-header", client.DefaultAPIKeyHeader, "the `header` --api-key sends the key in")
	fl.StringVar(&f.basic, "basic", "", "HTTP Basic `user:password` (the password may be an API key; USER alone reads it from stdin)")
	fl.StringVar(&f.login, "login", "", "log in as `user:password` (or email:password with --jwt-login; USER alone reads the password from stdin)")
	fl.StringVar(&f.loginURL, "login-url", "", "the login `URL` of --login (default: /api/v1/login on the URL's server)")
	fl.StringVar(&f.origin, "origin", "", "the `Origin` that --login sends (default: the login URL's origin)")
	fl.StringVar(&f.jwtLogin, "jwt-login", "", "log in with --login at this `URL` for a JWT and send it as a bearer token (Quantamatics)")
	fl.StringVar(&f.jwtSession, "jwt-session", "", "exchange the --bearer or --jwt-key token for session cookies at this `URL` first")
	fl.StringVar(&f.cert, "cert", "", "client certificate PEM `file` (client.pem)")
	fl.StringVar(&f.key, "key", "", "private key PEM `file` of --cert (client_key.pem)")
	fl.StringVar(&f.cacert, "cacert", "", "trust the CA certificates in this PEM `file` (root.pem) instead of the system's")
	fl.StringVar(&f.qlikUser, "qlik-user", "", "send X-Qlik-User naming this `user`: 'UserDirectory=D; UserId=U' or D\\U")
	fl.BoolVarP(&f.insecure, "insecure", "k", false, "do not verify the server's certificate (anyone on the network can read the credentials)")
	fl.BoolVar(&f.allowPlain, "allow-plain-http", false, "let credentials go to an http:// URL (a trusted network only)")
	return cmd
}

// call sends the request and prints the answer.
func (a *app) call(ctx context.Context, f *callFlags, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an http:// or https:// URL", rawURL)
	}
	stdin := &stdinOnce{r: a.stdin}
	body, err := f.body(stdin)
	if err != nil {
		return err
	}
	var rd io.Reader // a bytes.Reader gets GetBody, so a re-login can send it again
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, requestMethod(f.method, body != nil), u.String(), rd)
	if err != nil {
		return err
	}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("-H %q is not \"Name: value\"", h)
		}
		if strings.EqualFold(name, "Host") {
			req.Host = strings.TrimSpace(value)
			continue
		}
		req.Header.Add(name, strings.TrimSpace(value))
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		if json.Valid(body) {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}

	base, err := client.NewTransport(client.Options{CACertFile: f.cacert, CertFile: f.cert, KeyFile: f.key,
		InsecureSkipVerify: f.insecure, AllowPlainHTTP: f.allowPlain})
	if err != nil {
		return unprefixed(err)
	}
	var next http.RoundTripper = base
	if f.verbose {
		next = &verboseTransport{next: base, w: a.stderr, secretHeaders: []string{f.apiKeyHeader}}
		if f.allowPlain {
			next = client.AllowPlainHTTP(next)
		}
	}
	rt, logout, err := f.credentials(u, stdin, next)
	if err != nil {
		return err
	}
	if f.qlikUser != "" {
		dir, user, err := parseQlikUser(f.qlikUser)
		if err != nil {
			return err
		}
		rt = client.QlikUser(dir, user, rt)
	}
	if f.xrfkey {
		rt = client.Xrfkey(rt)
	}

	hc := &http.Client{Transport: rt, Timeout: f.maxTime}
	if !f.location {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := hc.Do(req)
	if ue, ok := errors.AsType[*url.Error](err); ok && strings.HasPrefix(ue.Err.Error(), "client: ") {
		// The package's own errors say what failed, without the URL's noise.
		return unprefixed(ue.Err)
	} else if err != nil {
		return err
	}
	defer resp.Body.Close()
	if f.include {
		fmt.Fprintf(a.stdout, "%s %s\n", resp.Proto, resp.Status)
		for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
			for _, v := range resp.Header[name] {
				fmt.Fprintf(a.stdout, "%s: %s\n", name, v)
			}
		}
		fmt.Fprintln(a.stdout)
	}
	if _, err := io.Copy(a.stdout, resp.Body); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if logout != nil {
		// The session was for this one call: end it, quietly.
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := logout(lctx); err != nil && f.verbose {
			fmt.Fprintf(a.stderr, "latchkey: warning: log out: %v\n", err)
		}
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	return nil
}

// requestMethod is -X, or POST with a body and GET without, as curl does.
func requestMethod(method string, hasBody bool) string {
	switch {
	case method != "":
		return strings.ToUpper(method)
	case hasBody:
		return http.MethodPost
	}
	return http.MethodGet
}

// body reads --data: the text, @FILE, or @- for stdin; nil without it.
func (f *callFlags) body(stdin *stdinOnce) ([]byte, error) {
	switch {
	case f.data == "":
		return nil, nil
	case f.data == "@-":
		return stdin.all("--data @-")
	case strings.HasPrefix(f.data, "@"):
		b, err := os.ReadFile(f.data[1:])
		if err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		return b, nil
	}
	return []byte(f.data), nil
}

// credentials returns the transport of the credential flags over next, and
// for a session login the function that ends the session.
func (f *callFlags) credentials(u *url.URL, stdin *stdinOnce, next http.RoundTripper) (http.RoundTripper, func(context.Context) error, error) {
	claimFlags := f.userdir != "" || f.userid != "" || f.username != "" || f.useremail != "" || len(f.groups) > 0 ||
		f.audience != "" || f.issuer != "" || f.keyid != "" || f.jwtAlg != ""
	if claimFlags && f.jwtKey == "" {
		return nil, nil, errors.New("--userdir, --userid, --username, --useremail, --groups, --audience, --issuer, --keyid and --jwt-alg describe the token that --jwt-key mints: give --jwt-key")
	}
	if f.bearer != "" && f.jwtKey != "" {
		return nil, nil, errors.New("give either --bearer or --jwt-key, not both")
	}
	if f.loginURL != "" && f.login == "" || f.jwtLogin != "" && f.login == "" {
		return nil, nil, errors.New("--login-url and --jwt-login need --login USER:PASSWORD")
	}
	if f.loginURL != "" && f.jwtLogin != "" {
		return nil, nil, errors.New("give either --login-url (a session cookie) or --jwt-login (a JWT), not both")
	}
	if f.origin != "" && (f.login == "" || f.jwtLogin != "") {
		return nil, nil, errors.New("--origin is the Origin of --login with a session cookie")
	}
	var methods []string
	for _, m := range []struct {
		set  bool
		name string
	}{
		{f.bearer != "" || f.jwtKey != "", "--bearer/--jwt-key"}, {f.apiKey != "", "--api-key"},
		{f.basic != "", "--basic"}, {f.login != "", "--login"},
	} {
		if m.set {
			methods = append(methods, m.name)
		}
	}
	if f.jwtSession != "" {
		if f.bearer == "" && f.jwtKey == "" {
			return nil, nil, errors.New("--jwt-session needs the token to exchange: --bearer TOKEN, or --jwt-key FILE with --issuer, --keyid and --userid")
		}
		if len(methods) > 1 {
			return nil, nil, fmt.Errorf("--jwt-session exchanges a JWT; it cannot be combined with %s", strings.Join(methods[1:], ", "))
		}
	} else if len(methods) > 1 {
		return nil, nil, fmt.Errorf("give one way to authenticate, not %s", strings.Join(methods, " and "))
	}
	var minter client.Minter
	if f.jwtKey != "" {
		m, err := f.minter(f.jwtSession != "")
		if err != nil {
			return nil, nil, unprefixed(err)
		}
		minter = m
	}
	bearer, err := stdin.secret("--bearer", f.bearer)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case f.jwtSession != "":
		rt, err := client.JWTSession(client.JWTSessionConfig{URL: f.jwtSession, Minter: minter, Token: bearer}, next)
		return rt, nil, unprefixed(err)
	case minter != nil:
		return client.MintedBearer(minter, next), nil, nil
	case bearer != "":
		return client.Bearer(bearer, next), nil, nil
	case f.apiKey != "":
		key, err := stdin.secret("--api-key", f.apiKey)
		if err != nil {
			return nil, nil, err
		}
		return client.APIKeyHeader(f.apiKeyHeader, key, next), nil, nil
	case f.basic != "":
		user, pw, err := stdin.userPassword("--basic", f.basic)
		if err != nil {
			return nil, nil, err
		}
		return client.Basic(user, pw, next), nil, nil
	case f.login != "":
		user, pw, err := stdin.userPassword("--login", f.login)
		if err != nil {
			return nil, nil, err
		}
		if f.jwtLogin != "" {
			rt, err := client.JWTLogin(client.JWTLoginConfig{URL: f.jwtLogin, Email: user, Password: pw}, next)
			return rt, nil, unprefixed(err)
		}
		loginURL := f.loginURL
		if loginURL == "" {
			loginURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/api/v1/login"}).String()
		}
		lt, err := client.Login(client.LoginConfig{URL: loginURL, Username: user, Password: pw, Origin: f.origin}, next)
		if err != nil {
			return nil, nil, unprefixed(err)
		}
		return lt, lt.Logout, nil
	}
	return next, nil, nil
}

// unprefixed is err in the words of the command line: without package
// client's "client: ", and naming the flag instead of the option; nil stays
// nil.
func unprefixed(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "client: ")
	return errors.New(strings.Replace(msg, "set Options.AllowPlainHTTP", "give --allow-plain-http", 1))
}

// minter returns the Minter of --jwt-key: Qlik Cloud claims for
// --jwt-session or when --issuer or --keyid is given, else QSEoW claims.
func (f *callFlags) minter(session bool) (client.Minter, error) {
	expires, err := jwtmint.ParseExpiry(f.expires)
	if err != nil {
		return nil, fmt.Errorf("--expires: %w", err)
	}
	signer, err := client.LoadSigner(f.jwtKey, f.jwtAlg)
	if err != nil {
		return nil, err
	}
	if session || f.issuer != "" || f.keyid != "" {
		if f.userdir != "" {
			return nil, errors.New("--userdir is a claim of QSEoW tokens; a Qlik Cloud token (--issuer, --keyid, --jwt-session) has none")
		}
		if f.issuer == "" || f.keyid == "" {
			return nil, errors.New("a Qlik Cloud token needs --issuer and --keyid")
		}
		return client.CloudMinter(signer, jwtmint.Cloud{Subject: f.userid, Name: f.username, Email: f.useremail,
			Groups: f.groups, Issuer: f.issuer, KeyID: f.keyid, Audience: f.audience, Expires: expires})
	}
	if f.userdir == "" || f.userid == "" {
		return nil, errors.New("a QSEoW token needs --userdir and --userid")
	}
	return client.QSEoWMinter(signer, jwtmint.QSEoW{UserDirectory: f.userdir, UserID: f.userid, Name: f.username,
		Email: f.useremail, Groups: f.groups, Audience: f.audience, Expires: expires})
}

// parseQlikUser reads --qlik-user: the header's form, or DIRECTORY\user.
func parseQlikUser(s string) (dir, user string, err error) {
	if d, u, ok := strings.Cut(s, `\`); ok && !strings.ContainsAny(s, "=;") {
		if d == "" || u == "" {
			return "", "", fmt.Errorf("--qlik-user %q: give DIRECTORY\\user or 'UserDirectory=D; UserId=U'", s)
		}
		return d, u, nil
	}
	dir, user, err = gateway.ParseQlikUser(s)
	if err != nil {
		// A plain error: printError would show only the message of a latchkey.Error.
		//lint:ignore ST1005 the message is sentences for the user, as every message latchkey prints
		return "", "", fmt.Errorf("--qlik-user %q: %s Give 'UserDirectory=D; UserId=U' or D\\U.", s, latchkey.ErrorMessage(err))
	}
	return dir, user, nil
}

// stdinOnce hands stdin to one flag only.
type stdinOnce struct {
	r    io.Reader
	used string
}

func (s *stdinOnce) take(flag string) error {
	if s.used != "" {
		return fmt.Errorf("%s and %s both read stdin; give one of them another way", s.used, flag)
	}
	s.used = flag
	return nil
}

func (s *stdinOnce) all(flag string) ([]byte, error) {
	if err := s.take(flag); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(s.r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: read stdin: %w", flag, err)
	}
	return b, nil
}

// line reads the first line of stdin, for a secret.
func (s *stdinOnce) line(flag string) (string, error) {
	b, err := s.all(flag)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: stdin is empty", flag)
	}
	return line, nil
}

// secret is v, or the first line of stdin when v is "-".
func (s *stdinOnce) secret(flag, v string) (string, error) {
	if v == "-" {
		return s.line(flag)
	}
	return v, nil
}

// userPassword splits USER:PASSWORD; USER alone reads the password from
// stdin.
func (s *stdinOnce) userPassword(flag, v string) (string, string, error) {
	user, pw, ok := strings.Cut(v, ":")
	if user == "" {
		return "", "", fmt.Errorf("%s: give USER:PASSWORD, or USER with the password on stdin", flag)
	}
	if !ok {
		var err error
		if pw, err = s.line(flag); err != nil {
			return "", "", err
		}
	}
	return user, pw, nil
}

// verboseTransport prints each request and answer, as curl -v does, with
// the values of the headers that carry secrets left out.
type verboseTransport struct {
	next          http.RoundTripper
	w             io.Writer
	secretHeaders []string
}

func (v *verboseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	fmt.Fprintf(v.w, "> %s %s\n", r.Method, r.URL.Redacted())
	v.headers(">", r.Header)
	resp, err := v.next.RoundTrip(r)
	if err != nil {
		fmt.Fprintf(v.w, "* %v\n", err)
		return nil, err
	}
	fmt.Fprintf(v.w, "< %s %s\n", resp.Proto, resp.Status)
	v.headers("<", resp.Header)
	return resp, nil
}

func (v *verboseTransport) CloseIdleConnections() {
	if c, ok := v.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (v *verboseTransport) headers(dir string, h http.Header) {
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, val := range h[name] {
			if v.secret(name) {
				val = "<redacted>"
			}
			fmt.Fprintf(v.w, "%s %s: %s\n", dir, name, val)
		}
	}
}

func (v *verboseTransport) secret(name string) bool {
	for _, s := range append([]string{"Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Session-Id",
		client.DefaultCSRFHeader, "Proxy-Authorization"}, v.secretHeaders...) {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}
