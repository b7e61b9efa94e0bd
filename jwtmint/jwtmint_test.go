package jwtmint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// seedToken is the QSEoW token of seed 000, made by qs-jwt.
const seedToken = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOiJnb3JhbiIsInVzZXJEaXJlY3RvcnkiOiJMQUIiLCJuYW1lIjoiR8O2cmFuIFNhbmRlciIsImVtYWlsIjoiIiwiaWF0IjoxNjQ3NjIxMTk2LCJleHAiOjE2NzkxNTcxOTYsImF1ZCI6ImFiYzEyMyJ9.Pr3CEVlP1HI2Pd__mhooJPrngU_yME7LNHMYRdAjVU0UPUbWgGk2ilABl8AI5W3NEPewWx_Ks-q7JRjKLh7pBkENCR0eiNpwAHrt2xvK0ZBa8XPNYdwJ6ZUf9_lZPsGZhgfeZLpcQU-8jQNpEr770NKZMknMLd1bDyDvKLVZuTbx3iAew4T_sTNZsPMPe-zN05CmOgYyjEfExGWN31_iQp3njLiBtCOf5TmjoZmXw2T_BFQKMhyx6B-hE4vjnOH13EqPclwjpHA1ovrjQlwGyZ6Mwgtrb0wIEUVqijWqkLMVmxNIgHsQn7beFaGWVZVnBDe1cvyNuBiUtQ74yineCtl31xOu8qV2Ls2R19FA-JqwHQUq_amddd06HEvxepaXtnvvTnQvyeXbDOU62MsLZwr9wByJvEEFPLCN7ZLFUe3pN7FwyYhy8fZPylUFJH6XfrA8lyMUJBGUCEe3iyONclKKj2ifizxtO5ETdXuZ7w6Q1kPI8y1eD6scYZcmxhEowzEjWgAjFWPGLHhO9sINqRLcGZFhwW9TxeRgUwQd4_2MG4Z3ctip0UvBjseQcO7XrBjVF0h70iXkyOF51okrzK21IB24rGDnoEV2fgUZ_Nz9nN5qJwyzfSLcctg0I80T99VE3YmjcEMZNSZE3mfA6lAGvXuw7yDXOwPvCik8oX4"

// keys are generated once per algorithm family: RSA generation is slow.
var (
	keysOnce sync.Once
	keys     map[string]crypto.Signer
)

func testKey(t *testing.T, alg string) crypto.Signer {
	t.Helper()
	keysOnce.Do(func() {
		keys = map[string]crypto.Signer{}
		for _, a := range []string{"RS256", "ES256", "ES384", "ES512", "EdDSA"} {
			k, err := GenerateKey(a, 0)
			if err != nil {
				panic(err)
			}
			keys[a] = k
		}
	})
	switch alg[:2] {
	case "RS", "PS":
		return keys["RS256"]
	}
	return keys[alg]
}

func segment(t *testing.T, tok string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestQSEoWSeed makes seed 000's token again: the same header and the same
// payload, byte for byte (only the key, and so the signature, differ).
func TestQSEoWSeed(t *testing.T) {
	q := QSEoW{UserDirectory: "LAB", UserID: "goran", Name: "Göran Sander", Audience: "abc123",
		Expires: 365 * 24 * time.Hour, IssuedAt: time.Unix(1647621196, 0)}
	s, err := NewSigner("RS256", testKey(t, "RS256"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := q.Mint(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := segment(t, tok, 0), segment(t, seedToken, 0); got != want || strings.Contains(got, "kid") {
		t.Errorf("header %s, want %s", got, want)
	}
	if got, want := segment(t, tok, 1), segment(t, seedToken, 1); got != want {
		t.Errorf("payload\n %s\nwant\n %s", got, want)
	}
	// With groups, "group" is an array after email.
	q.Groups = []string{"Sales", "group 2"}
	q.Email = "g@example.com"
	c, err := q.Claims()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(), ","); got != "userId,userDirectory,name,email,group,iat,exp,aud" {
		t.Errorf("claim order %s", got)
	}
	if g, _ := c.Get("group"); !reflect.DeepEqual(g, []string{"Sales", "group 2"}) {
		t.Errorf("group %v", g)
	}
}

// TestRoundTrip signs with every algorithm and checks the token with
// golang-jwt and the public key, read back from PEM.
func TestRoundTrip(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			key := testKey(t, alg)
			s, err := NewSigner(alg, key)
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := QSEoW{UserDirectory: "LAB", UserID: "goran", Audience: "abc123", Expires: time.Hour,
				Extra: []Claim{{"role", "admin"}}}.Mint(s)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, err := PublicKeyPEM(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(pubPEM)
			pub, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithAudience("abc123"), jwt.WithExpirationRequired())
			if err != nil || !parsed.Valid {
				t.Fatalf("golang-jwt refuses the %s token: %v", alg, err)
			}
			if parsed.Header["alg"] != alg || claims["userId"] != "goran" || claims["role"] != "admin" {
				t.Errorf("header %v claims %v", parsed.Header, claims)
			}
			// A changed payload breaks the signature.
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(segment(t, tok, 1), "goran", "admin", 1)))
			if _, err := jwt.Parse(strings.Join(parts, "."), func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{alg})); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Errorf("tampered %s token: %v", alg, err)
			}
		})
	}
}

func TestCloudClaims(t *testing.T) {
	s, err := NewSigner("RS256", testKey(t, "RS256"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	q := Cloud{Subject: "auth0|123", Name: "Ann", Email: "ann@example.com", Groups: []string{"Analysts"},
		Issuer: "https://idp.example.com", KeyID: "0330d3e7-1966-41c4-b3ef-d311d1ff7191", Expires: time.Hour, IssuedAt: now}
	tok, c, err := q.Mint(s)
	if err != nil {
		t.Fatal(err)
	}
	header, claims, err := Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	if header["kid"] != q.KeyID || header["alg"] != "RS256" || header["typ"] != "JWT" || len(header) != 3 {
		t.Errorf("header %v", header)
	}
	want := map[string]any{
		"sub": "auth0|123", "subType": "user", "name": "Ann", "email": "ann@example.com", "email_verified": true,
		"group": []any{"Analysts"}, "iss": "https://idp.example.com", "aud": QlikCloudAudience,
		"iat": json.Number("1700000000"), "nbf": json.Number("1700000000"), "exp": json.Number("1700003600"),
	}
	jti, _ := claims["jti"].(string)
	delete(claims, "jti")
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims\n %v\nwant\n %v", claims, want)
	}
	if len(jti) < 40 {
		t.Errorf("jti %q is not a long random id", jti)
	}
	if got := strings.Join(c.Names(), ","); got != "jti,sub,subType,name,email,group,email_verified,iat,nbf,exp,aud,iss" {
		t.Errorf("claim order %s", got)
	}
	// Each token has its own jti; without a subject, sub is random too.
	q.Subject, q.EmailUnverified, q.SubjectType = "", true, "service"
	c2, err := q.Claims()
	if err != nil {
		t.Fatal(err)
	}
	jti2, _ := c2.Get("jti")
	sub2, _ := c2.Get("sub")
	ev, _ := c2.Get("email_verified")
	st, _ := c2.Get("subType")
	if jti2 == jti || sub2 == "" || sub2 == "auth0|123" || ev != false || st != "service" {
		t.Errorf("second token: jti %v sub %v email_verified %v subType %v", jti2, sub2, ev, st)
	}
	// kid and iss are required.
	if _, _, err := (Cloud{Issuer: "x", Expires: time.Hour}).Mint(s); err == nil || !strings.Contains(err.Error(), "kid") {
		t.Errorf("no kid: %v", err)
	}
	if _, _, err := (Cloud{KeyID: "k", Expires: time.Hour}).Mint(s); err == nil || !strings.Contains(err.Error(), "iss") {
		t.Errorf("no issuer: %v", err)
	}
}

func TestBuilderErrors(t *testing.T) {
	for name, q := range map[string]QSEoW{
		"no user":      {UserDirectory: "LAB", Expires: time.Hour},
		"no directory": {UserID: "goran", Expires: time.Hour},
		"no expiry":    {UserID: "goran", UserDirectory: "LAB"},
		"extra userId": {UserID: "goran", UserDirectory: "LAB", Expires: time.Hour, Extra: []Claim{{"userId", "admin"}}},
		"extra exp":    {UserID: "goran", UserDirectory: "LAB", Expires: time.Hour, Extra: []Claim{{"exp", 1}}},
	} {
		if _, err := q.Claims(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := (Cloud{Issuer: "i", Expires: time.Hour, Extra: []Claim{{"aud", "x"}}}).Claims(); err == nil {
		t.Error("cloud extra aud: no error")
	}
	// An extra claim of a new name is added before the registered ones.
	c, err := QSEoW{UserID: "goran", UserDirectory: "LAB", Expires: time.Hour, Extra: []Claim{{"iss", "me"}}}.Claims()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Names(), ","); got != "userId,userDirectory,name,email,iss,iat,exp" {
		t.Errorf("claim order %s", got)
	}
}

func TestParseExpiry(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "60m": time.Hour, "48h": 48 * time.Hour, "365d": 365 * day,
		"5y": 5 * Year, "1y": 31557600 * time.Second, "2w": 14 * day, "1.5h": 90 * time.Minute,
		"2 days": 2 * day, " 10M ": 10 * time.Minute, "1 year": Year,
	} {
		got, err := ParseExpiry(in)
		if err != nil || got != want {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "60", "m", "60x", "-5m", "0s", "1e3s", "abc", "5y2d", "0.4s", "101y", "1..5h"} {
		if d, err := ParseExpiry(in); err == nil {
			t.Errorf("ParseExpiry(%q) = %v, want an error", in, d)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseExpiry(%q): error of more than one line", in)
		}
	}
	_, err := ParseExpiry("60x")
	if err == nil || !strings.Contains(err.Error(), "60m") {
		t.Errorf("the error does not show an example: %v", err)
	}
}

func TestCheckKey(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		alg  string
		key  crypto.Signer
		want string
	}{
		{"ES256", testKey(t, "RS256"), "ES256 needs an ECDSA P-256 private key, and this is an RSA 2048-bit key"},
		{"ES384", testKey(t, "ES256"), "ES384 needs an ECDSA P-384 private key, and this is an ECDSA P-256 key"},
		{"RS256", testKey(t, "EdDSA"), "RS256 needs an RSA private key, and this is an Ed25519 key"},
		{"PS512", testKey(t, "ES512"), "PS512 needs an RSA private key"},
		{"EdDSA", testKey(t, "RS256"), "EdDSA needs an Ed25519 private key"},
		{"RS256", small, "1024 bits"},
		{"HS256", testKey(t, "RS256"), "not one latchkey signs with"},
		{"none", testKey(t, "RS256"), "not one latchkey signs with"},
		{"RS256", nil, "no private key"},
	} {
		_, err := NewSigner(c.alg, c.key)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSigner(%s, %s) = %v, want %q", c.alg, KeyType(c.key), err, c.want)
		}
	}
	for _, alg := range Algorithms {
		if _, err := NewSigner(alg, testKey(t, alg)); err != nil {
			t.Errorf("NewSigner(%s): %v", alg, err)
		}
	}
	if s, err := NewSigner("", testKey(t, "RS256")); err != nil || s.Algorithm() != "RS256" {
		t.Errorf("the default algorithm: %v %v", s, err)
	}
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey := testKey(t, "RS256").(*rsa.PrivateKey)
	ecKey := testKey(t, "ES256").(*ecdsa.PrivateKey)
	edKey := testKey(t, "EdDSA")
	pkcs8 := func(k crypto.Signer) []byte {
		b, err := PrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	ecParams := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	cert, err := SelfSignedCertificate(rsaKey, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(CertificatePEM(cert))
	for name, c := range map[string]struct {
		data string
		want crypto.PublicKey
	}{
		"PKCS#8 RSA":               {string(pkcs8(rsaKey)), rsaKey.Public()},
		"PKCS#8 EC":                {string(pkcs8(ecKey)), ecKey.Public()},
		"PKCS#8 Ed25519":           {string(pkcs8(edKey)), edKey.Public()},
		"PKCS#1":                   {string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})), rsaKey.Public()},
		"SEC1 after EC PARAMETERS": {ecParams + string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})), ecKey.Public()},
		"certificate then key":     {certPEM + string(pkcs8(rsaKey)), rsaKey.Public()},
		`escaped \n`:               {strings.ReplaceAll(string(pkcs8(ecKey)), "\n", `\n`), ecKey.Public()},
	} {
		k, err := ParsePrivateKey([]byte(c.data))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(c.want) {
			t.Errorf("%s: another key", name)
		}
	}
	for name, c := range map[string]struct{ data, want string }{
		"empty":            {"", "no PEM data"},
		"garbage":          {"not a key", "no PEM data"},
		"certificate":      {certPEM, "holds CERTIFICATE"},
		"public key":       {string(must(PublicKeyPEM(rsaKey.Public()))), "holds PUBLIC KEY"},
		"encrypted":        {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"},
		"legacy encrypted": {"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", "encrypted"},
		"corrupt":          {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PRIVATE KEY PEM block"},
	} {
		if _, err := ParsePrivateKey([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestWriteFiles(t *testing.T) {
	for _, alg := range []string{"RS256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			kp, err := NewKeyPair(alg, KeyPairOptions{CommonName: "test", Lifetime: 48 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "new")
			f, err := kp.WriteFiles(dir, "qsjwt_", false)
			if err != nil {
				t.Fatal(err)
			}
			want := Files{filepath.Join(dir, "qsjwt_publickey.pem"), filepath.Join(dir, "qsjwt_privatekey.pem"), filepath.Join(dir, "qsjwt_publickey.cer")}
			if f != want {
				t.Errorf("files %+v, want %+v", f, want)
			}
			for name, mode := range map[string]os.FileMode{f.PrivateKey: 0o600, f.PublicKey: 0o644, f.Certificate: 0o644, dir: 0o700 | os.ModeDir} {
				st, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode() != mode {
					t.Errorf("%s has mode %v, want %v", name, st.Mode(), mode)
				}
			}
			priv, err := ParsePrivateKey(must(os.ReadFile(f.PrivateKey)))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(must(os.ReadFile(f.PublicKey)))
			pub, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil || b.Type != "PUBLIC KEY" {
				t.Fatalf("public key file: %s %v", b.Type, err)
			}
			b, _ = pem.Decode(must(os.ReadFile(f.Certificate)))
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil || b.Type != "CERTIFICATE" {
				t.Fatalf("certificate file: %s %v", b.Type, err)
			}
			eq := func(k crypto.PublicKey) bool {
				return kp.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k)
			}
			if !eq(priv.Public()) || !eq(pub) || !eq(cert.PublicKey) {
				t.Error("the files hold different keys")
			}
			if cert.Subject.CommonName != "test" || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil ||
				time.Until(cert.NotAfter) > 48*time.Hour || time.Until(cert.NotAfter) < 47*time.Hour {
				t.Errorf("certificate %s valid until %s", cert.Subject, cert.NotAfter)
			}
			// The files are not replaced unless asked.
			kp2, err := NewKeyPair(alg, KeyPairOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kp2.WriteFiles(dir, "qsjwt_", false); !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("second write: %v", err)
			}
			if k, _ := ParsePrivateKey(must(os.ReadFile(f.PrivateKey))); !eq(k.Public()) {
				t.Error("the refused write changed the private key")
			}
			if _, err := kp2.WriteFiles(dir, "qsjwt_", true); err != nil {
				t.Fatal(err)
			}
			if k, _ := ParsePrivateKey(must(os.ReadFile(f.PrivateKey))); eq(k.Public()) {
				t.Error("overwrite kept the old private key")
			}
		})
	}
	kp, _ := NewKeyPair("ES256", KeyPairOptions{})
	if _, err := kp.WriteFiles(t.TempDir(), "../x", false); err == nil {
		t.Error("a prefix with a path separator is accepted")
	}
}

func TestGenerateKey(t *testing.T) {
	for alg, want := range map[string]string{"PS256": "an RSA 2048-bit key", "ES256": "an ECDSA P-256 key",
		"ES512": "an ECDSA P-521 key", "EdDSA": "an Ed25519 key"} {
		k, err := GenerateKey(alg, 0)
		if err != nil || KeyType(k) != want {
			t.Errorf("GenerateKey(%s) = %s, %v; want %s", alg, KeyType(k), err, want)
		}
	}
	if k, err := GenerateKey("RS512", 3072); err != nil || KeyType(k) != "an RSA 3072-bit key" {
		t.Errorf("3072 bits: %s %v", KeyType(k), err)
	}
	for _, c := range []struct {
		alg  string
		bits int
	}{{"HS256", 0}, {"RS256", 1024}, {"foo", 0}} {
		if _, err := GenerateKey(c.alg, c.bits); err == nil {
			t.Errorf("GenerateKey(%s, %d): no error", c.alg, c.bits)
		}
	}
}

func TestDecode(t *testing.T) {
	header, claims, err := Decode(" " + seedToken + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(header, map[string]any{"alg": "RS256", "typ": "JWT"}) {
		t.Errorf("header %v", header)
	}
	want := map[string]any{"userId": "goran", "userDirectory": "LAB", "name": "Göran Sander", "email": "",
		"iat": json.Number("1647621196"), "exp": json.Number("1679157196"), "aud": "abc123"}
	if !reflect.DeepEqual(claims, want) {
		t.Errorf("claims %v", claims)
	}
	parts := strings.Split(seedToken, ".")
	for name, c := range map[string]struct{ tok, want string }{
		"empty":            {"", "no token"},
		"two parts":        {parts[0] + "." + parts[1], "2 parts"},
		"JWE":              {"a.b.c.d.e", "JWE"},
		"header not b64":   {"!!." + parts[1] + "." + parts[2], "header is not base64url"},
		"payload not JSON": {parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + parts[2], "payload is not a JSON object"},
		"signature":        {parts[0] + "." + parts[1] + ".**", "signature"},
	} {
		if _, _, err := Decode(c.tok); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestParseClaim(t *testing.T) {
	for in, want := range map[string]Claim{
		"role=admin":       {"role", "admin"},
		"level=3":          {"level", json.Number("3")},
		"ok=true":          {"ok", true},
		`id="42"`:          {"id", "42"},
		"zip=01234":        {"zip", "01234"},
		`roles=["a","b"]`:  {"roles", []any{"a", "b"}},
		"empty=":           {"empty", ""},
		"eq=a=b":           {"eq", "a=b"},
		"nothing=null":     {"nothing", nil},
		`obj={"k":1}`:      {"obj", map[string]any{"k": json.Number("1")}},
		"text=hello world": {"text", "hello world"},
		"half=[1,":         {"half", "[1,"},
	} {
		got, err := ParseClaim(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseClaim(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, in := range []string{"noequals", "=value", " =x"} {
		if _, err := ParseClaim(in); err == nil {
			t.Errorf("ParseClaim(%q): no error", in)
		}
	}
}

func TestClaims(t *testing.T) {
	var c Claims
	c.Set("b", 1)
	c.Set("a", "x")
	c.Set("b", 2)
	b, err := json.Marshal(&c)
	if err != nil || string(b) != `{"b":2,"a":"x"}` {
		t.Errorf("%s %v", b, err)
	}
	c.Delete("b")
	c.Delete("missing")
	if b, _ := json.Marshal(&c); string(b) != `{"a":"x"}` {
		t.Errorf("after delete: %s", b)
	}
	var empty Claims
	if b, _ := json.Marshal(&empty); string(b) != `{}` {
		t.Errorf("empty: %s", b)
	}
	c.Set("exp", int64(100))
	c.Set("nbf", json.Number("50"))
	c.Set("iat", 25.0)
	if e, err := c.GetExpirationTime(); err != nil || e.Unix() != 100 {
		t.Errorf("exp %v %v", e, err)
	}
	if n, err := c.GetNotBefore(); err != nil || n.Unix() != 50 {
		t.Errorf("nbf %v %v", n, err)
	}
	if i, err := c.GetIssuedAt(); err != nil || i.Unix() != 25 {
		t.Errorf("iat %v %v", i, err)
	}
	if i, err := empty.GetIssuedAt(); err != nil || i != nil {
		t.Errorf("no iat: %v %v", i, err)
	}
}

// TestAlgorithmFor: the algorithm each kind of key signs with by default.
func TestAlgorithmFor(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  crypto.Signer
		want string
	}{
		{testKey(t, "RS256"), "RS256"},
		{testKey(t, "ES256"), "ES256"},
		{testKey(t, "ES384"), "ES384"},
		{testKey(t, "ES512"), "ES512"},
		{ed, "EdDSA"},
		{&ed, "EdDSA"},
	}
	for _, tt := range tests {
		if got := AlgorithmFor(tt.key); got != tt.want {
			t.Errorf("AlgorithmFor(%T) = %s, want %s", tt.key, got, tt.want)
		}
	}
}
