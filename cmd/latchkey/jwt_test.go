package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey/jwtmint"
)

// seed000Token is the QSEoW token of seed 000.
const seed000Token = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOiJnb3JhbiIsInVzZXJEaXJlY3RvcnkiOiJMQUIiLCJuYW1lIjoiR8O2cmFuIFNhbmRlciIsImVtYWlsIjoiIiwiaWF0IjoxNjQ3NjIxMTk2LCJleHAiOjE2NzkxNTcxOTYsImF1ZCI6ImFiYzEyMyJ9.Pr3CEVlP1HI2Pd__mhooJPrngU_yME7LNHMYRdAjVU0UPUbWgGk2ilABl8AI5W3NEPewWx_Ks-q7JRjKLh7pBkENCR0eiNpwAHrt2xvK0ZBa8XPNYdwJ6ZUf9_lZPsGZhgfeZLpcQU-8jQNpEr770NKZMknMLd1bDyDvKLVZuTbx3iAew4T_sTNZsPMPe-zN05CmOgYyjEfExGWN31_iQp3njLiBtCOf5TmjoZmXw2T_BFQKMhyx6B-hE4vjnOH13EqPclwjpHA1ovrjQlwGyZ6Mwgtrb0wIEUVqijWqkLMVmxNIgHsQn7beFaGWVZVnBDe1cvyNuBiUtQ74yineCtl31xOu8qV2Ls2R19FA-JqwHQUq_amddd06HEvxepaXtnvvTnQvyeXbDOU62MsLZwr9wByJvEEFPLCN7ZLFUe3pN7FwyYhy8fZPylUFJH6XfrA8lyMUJBGUCEe3iyONclKKj2ifizxtO5ETdXuZ7w6Q1kPI8y1eD6scYZcmxhEowzEjWgAjFWPGLHhO9sINqRLcGZFhwW9TxeRgUwQd4_2MG4Z3ctip0UvBjseQcO7XrBjVF0h70iXkyOF51okrzK21IB24rGDnoEV2fgUZ_Nz9nN5qJwyzfSLcctg0I80T99VE3YmjcEMZNSZE3mfA6lAGvXuw7yDXOwPvCik8oX4"

var tokenOnly = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`)

// failCLI runs a command line that must fail with one line on stderr that
// contains want, and nothing on stdout.
func failCLI(t *testing.T, env map[string]string, stdin, want string, args ...string) {
	t.Helper()
	out, errOut, code := cli(t, env, stdin, args...)
	if code != 1 {
		t.Errorf("latchkey %s: exit %d, want 1", strings.Join(args, " "), code)
	}
	if out != "" {
		t.Errorf("latchkey %s: printed %q on stdout", strings.Join(args, " "), out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "latchkey: ") || !strings.Contains(last, want) {
		t.Errorf("latchkey %s: stderr %q, want a line with %q", strings.Join(args, " "), errOut, want)
	}
}

// payloadOf decodes a token's payload.
func payloadOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	_, claims, err := jwtmint.Decode(tok)
	if err != nil {
		t.Fatalf("decode %q: %v", tok, err)
	}
	return claims
}

// tamper returns tok with its payload changed and its signature kept.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), `"userId":"goran"`, `"userId":"admin"`, 1)
	if changed == string(b) {
		t.Fatalf("nothing to tamper with in %s", b)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(changed))
	return strings.Join(parts, ".")
}

// TestJWTCreateQSEoWAndVerify is the round trip: create qseow with a new
// key pair, then verify the token with the public key it wrote.
func TestJWTCreateQSEoWAndVerify(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	out := mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--username", "Göran Sander",
		"--useremail", "", "--groups", "Sales,Finance", "--audience", "abc123", "--expires", "365d",
		"--cert-create", "--cert-dir", dir, "--minimal-output")
	if !tokenOnly.MatchString(out) {
		t.Fatalf("--minimal-output printed %q, want a token and a newline only", out)
	}
	tok := strings.TrimSpace(out)
	for name, mode := range map[string]os.FileMode{"publickey.pem": 0o644, "privatekey.pem": 0o600, "publickey.cer": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s was not written: %v", name, err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	for _, f := range []struct{ name, begin string }{{"publickey.pem", "PUBLIC KEY"}, {"privatekey.pem", "PRIVATE KEY"}, {"publickey.cer", "CERTIFICATE"}} {
		if b, _ := os.ReadFile(filepath.Join(dir, f.name)); !strings.HasPrefix(string(b), "-----BEGIN "+f.begin+"-----\n") {
			t.Errorf("%s does not hold a PEM %s", f.name, f.begin)
		}
	}

	// The header is seed 000's, without kid; the claims are qs-jwt's.
	header, claims, _ := jwtmint.Decode(tok)
	if !reflect.DeepEqual(header, map[string]any{"alg": "RS256", "typ": "JWT"}) {
		t.Errorf("header %v", header)
	}
	exp, _ := claims["exp"].(json.Number).Int64()
	iat, _ := claims["iat"].(json.Number).Int64()
	if claims["userId"] != "goran" || claims["userDirectory"] != "LAB" || claims["name"] != "Göran Sander" ||
		claims["email"] != "" || claims["aud"] != "abc123" || exp-iat != 365*24*3600 ||
		!reflect.DeepEqual(claims["group"], []any{"Sales", "Finance"}) || len(claims) != 8 {
		t.Errorf("claims %v", claims)
	}

	pub := filepath.Join(dir, "publickey.pem")
	out = mustCLI(t, "", "jwt", "verify", tok, "--key-file", pub, "--audience", "abc123")
	for _, want := range []string{`"userId": "goran"`, "Status: valid", `User: LAB\goran (Göran Sander)`, "Groups: Sales, Finance"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	// The certificate works as well, and so do stdin and -o json.
	out = mustCLI(t, tok+"\n", "jwt", "verify", "-", "--key-file", filepath.Join(dir, "publickey.cer"), "--audience", "abc123", "-o", "json")
	var v struct {
		Header       map[string]any
		Payload      map[string]any
		Verification struct{ Status, User, Directory, Algorithm string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify -o json: %v\n%s", err, out)
	}
	if v.Verification.Status != "valid" || v.Verification.User != "goran" || v.Verification.Directory != "LAB" ||
		v.Verification.Algorithm != "RS256" || v.Payload["userId"] != "goran" || v.Header["alg"] != "RS256" {
		t.Errorf("verify -o json: %+v", v)
	}

	failCLI(t, nil, "", "signature is not valid", "jwt", "verify", tamper(t, tok), "--key-file", pub, "--audience", "abc123")
	failCLI(t, nil, "", "audience is not accepted", "jwt", "verify", tok, "--key-file", pub, "--audience", "other")
	failCLI(t, nil, "", `"abc123"`, "jwt", "verify", tok, "--key-file", pub, "--audience", "other")
	failCLI(t, nil, "", "lacks the claim iss", "jwt", "verify", tok, "--key-file", pub, "--issuer", "https://idp.example.com")
	failCLI(t, nil, "", "algorithm RS256 is not accepted", "jwt", "verify", tok, "--key-file", pub, "--alg", "PS256")

	// A token signed by another key is refused.
	other := t.TempDir()
	mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", other, "--minimal-output")
	failCLI(t, nil, "", "not valid", "jwt", "verify", tok, "--key-file", filepath.Join(other, "publickey.pem"))

	// An expired token is refused, with when it expired.
	key, err := jwtmint.ParsePrivateKey(must(os.ReadFile(filepath.Join(dir, "privatekey.pem"))))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := jwtmint.NewSigner("RS256", key)
	expired, _, err := jwtmint.QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "abc123", Expires: time.Hour,
		IssuedAt: time.Now().Add(-2 * time.Hour)}.Mint(signer)
	if err != nil {
		t.Fatal(err)
	}
	failCLI(t, nil, "", "expired", "jwt", "verify", expired, "--key-file", pub)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestJWTCreateOutput is the output without --minimal-output: where the
// files went, the header, the payload and the token; never the private key.
func TestJWTCreateOutput(t *testing.T) {
	dir := t.TempDir()
	out := mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--audience", "abc123",
		"--expires", "60m", "--cert-create", "--cert-dir", dir, "--cert-file-prefix", "qsjwt_", "--claim", "level=3", "--claim", "team=blue")
	for _, want := range []string{
		filepath.Join(dir, "qsjwt_publickey.pem"), filepath.Join(dir, "qsjwt_privatekey.pem") + " (mode 0600",
		filepath.Join(dir, "qsjwt_publickey.cer"), "JWT Header:", `"alg": "RS256"`, "JWT Payload:", `"level": 3`,
		`"team": "blue"`, "Created JWT (RS256, expires ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "BEGIN") {
		t.Errorf("the output shows key material:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	tok := lines[len(lines)-1]
	if !tokenOnly.MatchString(tok + "\n") {
		t.Fatalf("the last line is %q, not the token", tok)
	}
	if c := payloadOf(t, tok); c["level"] != json.Number("3") || c["team"] != "blue" {
		t.Errorf("extra claims %v", c)
	}

	// -o json: one object with the token and the files.
	out = mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "60m",
		"--cert-privatekey-file", filepath.Join(dir, "qsjwt_privatekey.pem"), "-o", "json")
	var j struct {
		Token     string
		Header    map[string]any
		Payload   map[string]any
		ExpiresAt string `json:"expires_at"`
		Files     any
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if !tokenOnly.MatchString(j.Token+"\n") || j.Header["alg"] != "RS256" || j.Payload["userId"] != "goran" || j.ExpiresAt == "" || j.Files != nil {
		t.Errorf("-o json: %+v", j)
	}

	// --loglevel error (qs-jwt's): the token alone, and no warnings.
	stdout, stderr, code := cli(t, nil, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "60m",
		"--cert-privatekey-file", filepath.Join(dir, "qsjwt_privatekey.pem"), "--loglevel", "error")
	if code != 0 || !tokenOnly.MatchString(stdout) || stderr != "" {
		t.Errorf("--loglevel error: %d %q %q", code, stdout, stderr)
	}
	_, stderr, _ = cli(t, nil, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "60m",
		"--cert-privatekey-file", filepath.Join(dir, "qsjwt_privatekey.pem"), "--minimal-output")
	if !strings.Contains(stderr, "warning: no --audience") {
		t.Errorf("no warning about the missing audience: %q", stderr)
	}
}

// TestJWTCreateQSJWTArgs runs qs-jwt's own command lines, from its README.
func TestJWTCreateQSJWTArgs(t *testing.T) {
	dir := t.TempDir()
	out := mustCLI(t, "", "jwt", "create-qseow", "--userdir", "GRUSGRUS", "--userid", "anna", "--username", "Anna Anderson",
		"--useremail", "anna@grusgrus.com", "--audience", "hdJh34wkK", "--cert-create", "true", "--cert-create-expires-days", "400",
		"--cert-file-prefix", "qsjwt_", "--cert-dir", dir, "--groups", "group1", "group 2", "--expires", "365d", "--minimal-output")
	if !tokenOnly.MatchString(out) {
		t.Fatalf("printed %q", out)
	}
	c := payloadOf(t, strings.TrimSpace(out))
	if !reflect.DeepEqual(c["group"], []any{"group1", "group 2"}) || c["userDirectory"] != "GRUSGRUS" || c["email"] != "anna@grusgrus.com" {
		t.Errorf("claims %v", c)
	}
	cert := must(os.ReadFile(filepath.Join(dir, "qsjwt_publickey.cer")))
	if len(cert) == 0 {
		t.Fatal("no certificate")
	}

	key := filepath.Join(dir, "qsjwt_privatekey.pem")
	out = mustCLI(t, "", "jwt", "create-qscloud", "--username", "Anna Anderson", "--useremail", "anna@grusgrus.com",
		"--useremail-verified", "true", "--issuer", "x.eu.qlikcloud.com", "--keyid", "k1", "--expires", "60m",
		"--cert-privatekey", string(must(os.ReadFile(key))), "--groups", "group1", "group 2", "--minimal-output")
	c = payloadOf(t, strings.TrimSpace(out))
	if !reflect.DeepEqual(c["group"], []any{"group1", "group 2"}) || c["email_verified"] != true || c["iss"] != "x.eu.qlikcloud.com" {
		t.Errorf("claims %v", c)
	}
	// Words go to --groups only right after it.
	failCLI(t, nil, "", `unexpected argument "stray"`, "jwt", "create", "qseow", "--userdir", "X", "--userid", "x",
		"--expires", "1m", "stray", "--cert-privatekey-file", key)
	failCLI(t, nil, "", "no signing key", "jwt", "create", "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "false")
	// Help works after a run of groups, too.
	if out := mustCLI(t, "", "jwt", "create", "qseow", "--groups", "a", "b", "--help"); !strings.Contains(out, "Examples:") {
		t.Errorf("help: %s", out)
	}
}

// TestJWTCreateCloudAndVerify makes a Qlik Cloud token and checks it with the
// qlik-cloud profile.
func TestJWTCreateCloudAndVerify(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", dir, "--minimal-output")
	key, cert := filepath.Join(dir, "privatekey.pem"), filepath.Join(dir, "publickey.cer")
	const kid = "0330d3e7-1966-41c4-b3ef-d311d1ff7191"
	args := []string{"jwt", "create", "cloud", "--userid", "auth0|a08D000001", "--username", "Ann Andersson",
		"--useremail", "ann@example.com", "--groups", "Analysts", "--issuer", "https://idp.example.com",
		"--keyid", kid, "--expires", "60m", "--cert-privatekey-file", key, "--minimal-output"}
	stdout, stderr, code := cli(t, nil, "", args...)
	if code != 0 || !tokenOnly.MatchString(stdout) || stderr != "" {
		t.Fatalf("create cloud: %d %q %q", code, stdout, stderr)
	}
	tok := strings.TrimSpace(stdout)
	header, claims, _ := jwtmint.Decode(tok)
	if header["kid"] != kid || header["alg"] != "RS256" {
		t.Errorf("header %v", header)
	}
	nbf, _ := claims["nbf"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	if claims["sub"] != "auth0|a08D000001" || claims["subType"] != "user" || claims["aud"] != "qlik.api/login/jwt-session" ||
		claims["iss"] != "https://idp.example.com" || claims["email_verified"] != true || claims["name"] != "Ann Andersson" ||
		claims["email"] != "ann@example.com" || !reflect.DeepEqual(claims["group"], []any{"Analysts"}) ||
		claims["jti"] == nil || claims["iat"] == nil || exp-nbf != 3600 {
		t.Errorf("claims %v", claims)
	}
	if second := strings.TrimSpace(mustCLI(t, "", args...)); payloadOf(t, second)["jti"] == claims["jti"] {
		t.Error("two tokens share a jti")
	}
	out := mustCLI(t, "", "jwt", "verify", tok, "--key-file", cert, "--kid", kid, "--issuer", "https://idp.example.com", "--profile", "qlik-cloud")
	if !strings.Contains(out, "Status: valid") || !strings.Contains(out, "Key ID: "+kid) {
		t.Errorf("verify: %s", out)
	}
	failCLI(t, nil, "", `kid is "`+kid+`", not "other"`, "jwt", "verify", tok, "--key-file", cert, "--kid", "other")

	// A token longer than Qlik Cloud allows is made, with a warning, and
	// the profile refuses it.
	long := append(clone(args[:len(args)-5]), "--expires", "2h", "--cert-privatekey-file", key, "--minimal-output")
	stdout, stderr, code = cli(t, nil, "", long...)
	if code != 0 || !strings.Contains(stderr, "more than 1h") {
		t.Fatalf("2h token: %d %q", code, stderr)
	}
	failCLI(t, nil, "", "lives longer", "jwt", "verify", strings.TrimSpace(stdout), "--key-file", cert, "--profile", "qlik-cloud")
	// Without --userid, sub is random (as qs-jwt makes it), with a warning.
	stdout, stderr, _ = cli(t, nil, "", "jwt", "create", "cloud", "--issuer", "i", "--keyid", "k", "--expires", "5m", "--cert-privatekey-file", key, "--minimal-output")
	if sub, _ := payloadOf(t, strings.TrimSpace(stdout))["sub"].(string); len(sub) < 40 || !strings.Contains(stderr, "sub is random") {
		t.Errorf("random sub %q, stderr %q", sub, stderr)
	}
}

func clone(s []string) []string { return append([]string(nil), s...) }

// TestJWTCreateKeys signs with keys from each source and of each type.
func TestJWTCreateKeys(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []string{"ES384", "EdDSA", "PS256"} {
		sub := filepath.Join(dir, alg)
		out := mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "5m",
			"--alg", alg, "--cert-create", "--cert-dir", sub, "--minimal-output")
		tok := strings.TrimSpace(out)
		if h, _, _ := jwtmint.Decode(tok); h["alg"] != alg {
			t.Errorf("%s: header %v", alg, h)
		}
		mustCLI(t, "", "jwt", "verify", tok, "--key-file", filepath.Join(sub, "publickey.pem"))
		// The key's own algorithm is the default when --alg is not given.
		pemKey := string(must(os.ReadFile(filepath.Join(sub, "privatekey.pem"))))
		out = mustCLI(t, pemKey, "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "5m",
			"--cert-privatekey-stdin", "--minimal-output")
		want := map[string]string{"ES384": "ES384", "EdDSA": "EdDSA", "PS256": "RS256"}[alg]
		if h, _, _ := jwtmint.Decode(strings.TrimSpace(out)); h["alg"] != want {
			t.Errorf("a %s key from stdin signs with %v, want %s", alg, h["alg"], want)
		}
		out, errOut, code := cli(t, map[string]string{"QSJWTPRIVKEY": pemKey}, "", "jwt", "create", "qseow", "--userdir", "LAB",
			"--userid", "goran", "--expires", "5m", "--cert-privatekey-env", "QSJWTPRIVKEY", "--minimal-output")
		if code != 0 || !tokenOnly.MatchString(out) {
			t.Errorf("key from the environment: %d %s", code, errOut)
		}
	}
}

func TestJWTCreateErrors(t *testing.T) {
	dir := t.TempDir()
	mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", dir, "--minimal-output")
	key := filepath.Join(dir, "privatekey.pem")
	base := []string{"jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran"}
	with := func(args ...string) []string { return append(clone(base), args...) }
	for want, args := range map[string][]string{
		"missing required flag --expires":                            with("--cert-privatekey-file", key),
		"missing required flags --userdir, --userid and --expires":   {"jwt", "create", "qseow", "--cert-create"},
		"missing required flags --issuer and --keyid":                {"jwt", "create", "cloud", "--expires", "1m", "--cert-privatekey-file", key},
		`expiry "10" is not a number and a unit`:                     with("--expires", "10", "--cert-privatekey-file", key),
		"ES256 needs an ECDSA P-256 private key, and this is an RSA": with("--expires", "1m", "--alg", "ES256", "--cert-privatekey-file", key),
		`--alg "HS256" is not one latchkey signs with`:               with("--expires", "1m", "--alg", "HS256", "--cert-privatekey-file", key),
		"give only one of": with("--expires", "1m", "--cert-create", "--cert-privatekey-file", key),
		"no signing key":   with("--expires", "1m"),
		"privatekey.pem already exists: --cert-overwrite replaces it": with("--expires", "1m", "--cert-create", "--cert-dir", dir),
		"holds CERTIFICATE": with("--expires", "1m", "--cert-privatekey-file", filepath.Join(dir, "publickey.cer")),
		"no such file":      with("--expires", "1m", "--cert-privatekey-file", filepath.Join(dir, "missing.pem")),
		`claim "userId" is set by the token builder`: with("--expires", "1m", "--claim", "userId=admin", "--cert-privatekey-file", key),
		`claim "nonsense" is not name=value`:         with("--expires", "1m", "--claim", "nonsense", "--cert-privatekey-file", key),
		"environment variable KEY is empty":          with("--expires", "1m", "--cert-privatekey-env", "KEY"),
		`--useremail-verified "maybe"`:               {"jwt", "create", "cloud", "--issuer", "i", "--keyid", "k", "--expires", "1m", "--useremail-verified", "maybe", "--cert-privatekey-file", key},
		`unknown --loglevel "loud"`:                  with("--expires", "1m", "--loglevel", "loud", "--cert-privatekey-file", key),
		"unknown output format":                      with("--expires", "1m", "-o", "yaml", "--cert-privatekey-file", key),
	} {
		failCLI(t, nil, "", want, args...)
	}
	// A refused --cert-create leaves the key it would have replaced.
	before := must(os.ReadFile(key))
	failCLI(t, nil, "", "already exists", with("--expires", "1m", "--cert-create", "--cert-dir", dir)...)
	if after := must(os.ReadFile(key)); string(after) != string(before) {
		t.Error("the refused --cert-create changed privatekey.pem")
	}
	mustCLI(t, "", with("--expires", "1m", "--cert-create", "--cert-dir", dir, "--cert-overwrite", "--minimal-output")...)
	if after := must(os.ReadFile(key)); string(after) == string(before) {
		t.Error("--cert-overwrite kept the old privatekey.pem")
	}
	// A mistake in the claims writes no files.
	fresh := filepath.Join(t.TempDir(), "k")
	failCLI(t, nil, "", "expiry", with("--expires", "soon", "--cert-create", "--cert-dir", fresh)...)
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("a failed create made %s", fresh)
	}
}

func TestJWTDecode(t *testing.T) {
	wantHeader := map[string]any{"alg": "RS256", "typ": "JWT"}
	wantPayload := map[string]any{"userId": "goran", "userDirectory": "LAB", "name": "Göran Sander", "email": "",
		"iat": 1647621196.0, "exp": 1679157196.0, "aud": "abc123"}
	file := filepath.Join(t.TempDir(), "token.txt")
	os.WriteFile(file, []byte(seed000Token+"\n"), 0o600)
	for name, c := range map[string]struct {
		stdin string
		args  []string
	}{
		"argument":       {"", []string{seed000Token}},
		"stdin with -":   {seed000Token + "\n", []string{"-"}},
		"stdin":          {"Bearer " + seed000Token, nil},
		"--jwt":          {"", []string{"--jwt", seed000Token}},
		"--jwt-file":     {"", []string{"--jwt-file", file}},
		"minimal-output": {"", []string{seed000Token, "--minimal-output"}},
	} {
		args := append([]string{"jwt", "decode", "-o", "json"}, c.args...)
		if name == "minimal-output" {
			args = append([]string{"jwt", "decode"}, c.args...)
		}
		out := mustCLI(t, c.stdin, args...)
		var got struct{ Header, Payload map[string]any }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if !reflect.DeepEqual(got.Header, wantHeader) || !reflect.DeepEqual(got.Payload, wantPayload) {
			t.Errorf("%s: %+v", name, got)
		}
	}
	out := mustCLI(t, "", "jwt", "decode", seed000Token)
	for _, want := range []string{"JWT Header:\n{\n  \"alg\": \"RS256\"", "JWT Payload:", `"exp": "1679157196 (2023-03-18T16:33:16Z)"`, `"name": "Göran Sander"`} {
		if !strings.Contains(out, want) {
			t.Errorf("decode lacks %q:\n%s", want, out)
		}
	}
	failCLI(t, nil, "", "no dots", "jwt", "decode", "notatoken")
	failCLI(t, nil, "", "no token given", "jwt", "decode")
	failCLI(t, nil, "", "give the token once", "jwt", "decode", seed000Token, "--jwt", seed000Token)
	failCLI(t, nil, "", "needs a key", "jwt", "decode", seed000Token, "--expected-audience", "abc123")

	// With a public key, decode checks too (qs-jwt's decode
	// --cert-publickey-file): seed 000's token was signed by another key.
	dir := t.TempDir()
	mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "X", "--userid", "x", "--expires", "1m", "--cert-create", "--cert-dir", dir, "--minimal-output")
	stdout, stderr, code := cli(t, nil, "", "jwt", "decode", seed000Token, "--cert-publickey-file", filepath.Join(dir, "publickey.cer"))
	if code != 1 || !strings.Contains(stdout, "Status: invalid") || !strings.Contains(stderr, "signature") {
		t.Errorf("decode with another key: %d\n%s\n%s", code, stdout, stderr)
	}
	tok := strings.TrimSpace(mustCLI(t, "", "jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--audience", "abc123",
		"--expires", "1m", "--cert-privatekey-file", filepath.Join(dir, "privatekey.pem"), "--minimal-output"))
	out = mustCLI(t, "", "jwt", "decode", "--jwt", tok, "--cert-publickey", string(must(os.ReadFile(filepath.Join(dir, "publickey.pem")))),
		"--expected-audience", "abc123", "--minimal-output")
	var got struct{ Verification map[string]any }
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Verification["status"] != "valid" || got.Verification["integrity"] != true {
		t.Errorf("decode --minimal-output with a key: %v\n%s", err, out)
	}
}

// TestJWTVerifySecret checks an HS256 token against a secret in the
// environment, which never mixes with public keys.
func TestJWTVerifySecret(t *testing.T) {
	secret := strings.Repeat("s3cr3t", 8)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "svc", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SECRET": secret, "WRONG": strings.Repeat("x", 48)}
	out, errOut, code := cli(t, env, "", "jwt", "verify", tok, "--secret-env", "SECRET", "-o", "json")
	if code != 0 || !strings.Contains(out, `"user": "svc"`) {
		t.Fatalf("verify with the secret: %d %s %s", code, out, errOut)
	}
	failCLI(t, env, "", "signature is not valid", "jwt", "verify", tok, "--secret-env", "WRONG")
	failCLI(t, env, "", "never interchangeable", "jwt", "verify", tok, "--secret-env", "SECRET", "--key-file", "x.pem")
	failCLI(t, env, "", "needs an HMAC secret", "jwt", "verify", tok, "--key-file", "x.pem", "--alg", "HS256")
	failCLI(t, env, "", "SECRET2 is empty or not set", "jwt", "verify", tok, "--secret-env", "SECRET2")
	failCLI(t, env, "", "no key to check the token with", "jwt", "verify", tok)
}

// TestJWTVerifyJWKS checks an ES256 token against a JWK Set served over
// HTTP on localhost.
func TestJWTVerifyJWKS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pub := must(key.PublicKey.Bytes()) // 0x04 || X || Y
	jwks := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":%q,"y":%q}]}`, b64(pub[1:33]), b64(pub[33:]))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(jwks))
	}))
	defer srv.Close()
	signer, err := jwtmint.NewSigner("ES256", key)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := jwtmint.Cloud{Subject: "u1", Name: "U", Email: "u@example.com", Issuer: "https://idp.example.com", KeyID: "k1", Expires: time.Hour}.Mint(signer)
	if err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "", "jwt", "verify", tok, "--jwks-url", srv.URL, "--issuer", "https://idp.example.com", "--profile", "qlik-cloud")
	if !strings.Contains(out, "Status: valid") || !strings.Contains(out, `User: LOCAL\u1 (U)`) {
		t.Errorf("verify with a JWKS: %s", out)
	}
	other, _, _ := jwtmint.Cloud{Subject: "u1", Issuer: "i", KeyID: "k2", Expires: time.Hour}.Mint(signer)
	failCLI(t, nil, "", "signing key is not known", "jwt", "verify", other, "--jwks-url", srv.URL)
	failCLI(t, nil, "", "must be an https:// URL", "jwt", "verify", tok, "--jwks-url", "http://idp.example.com/jwks.json")
}

func TestJWTHelp(t *testing.T) {
	for _, args := range [][]string{
		{"jwt", "create", "qseow"}, {"jwt", "create", "cloud"}, {"jwt", "decode"}, {"jwt", "verify"}, {"xrfkey"},
	} {
		out := mustCLI(t, "", append(args, "--help")...)
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey "+strings.Join(args, " ")) {
			t.Errorf("%s --help lacks an example:\n%s", strings.Join(args, " "), out)
		}
	}
	out := mustCLI(t, "", "jwt", "create", "qseow", "--help")
	for _, flag := range []string{"--userdir", "--userid", "--username", "--useremail", "--groups", "--audience", "--expires",
		"--cert-privatekey-file", "--cert-privatekey ", "--cert-create ", "--cert-file-prefix", "--cert-create-expires-days", "--minimal-output", "--loglevel"} {
		if !strings.Contains(out, flag) {
			t.Errorf("jwt create qseow lacks qs-jwt's flag %s", flag)
		}
	}
	out = mustCLI(t, "", "jwt", "create", "cloud", "--help")
	for _, flag := range []string{"--useremail-verified", "--issuer", "--keyid"} {
		if !strings.Contains(out, flag) {
			t.Errorf("jwt create cloud lacks qs-jwt's flag %s", flag)
		}
	}
}
