package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// qseow is seed 000's QSEoW verifier: qs-jwt's RS256 tokens without a kid.
func qseow(t testing.TB) Config {
	return Config{
		Name:       "qs-jwt",
		Keys:       []Key{{PEM: certPEM(t, keysOnce().rsa)}},
		Algorithms: []string{"RS256"},
		Audience:   []string{"abc123"},
		Leeway:     30 * time.Second,
		Claims: Claims{User: "userId", Directory: "userDirectory", DefaultDirectory: "LOCAL",
			Name: "name", Email: "email", Groups: []string{"group", "groups"}, Extra: []string{"tenant", "level", "admin"}},
	}
}

// seedClaims are seed 000's claims (with a group added), at testNow.
func seedClaims() jwt.MapClaims {
	return jwt.MapClaims{"userId": "goran", "userDirectory": "LAB", "name": "Göran Sander", "email": "",
		"group": []any{"Sales", "Admins"}, "iat": unix(-time.Minute), "exp": unix(time.Hour), "aud": "abc123"}
}

func TestSeed000QSEoW(t *testing.T) {
	k := keysOnce()
	v := newTest(t, qseow(t), nil)
	res, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, "",
		claims(seedClaims(), "tenant", "t1", "level", 3, "admin", true)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Directory != "LAB" || res.Username != "goran" || res.DisplayName != "Göran Sander" || res.Email != "" ||
		strings.Join(res.Groups, ",") != "Sales,Admins" || res.KeyID != "" ||
		strings.Join(res.Audience, ",") != "abc123" || !res.ExpiresAt.Equal(testNow.Add(time.Hour)) ||
		!res.IssuedAt.Equal(testNow.Add(-time.Minute)) || !res.NotBefore.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if res.Claims["tenant"] != "t1" || res.Claims["level"] != "3" || res.Claims["admin"] != "true" {
		t.Fatalf("extra claims %v", res.Claims)
	}
	// Without the directory claim, the default directory.
	res, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(seedClaims(), "userDirectory", nil, "group", "One")))
	if err != nil || res.Directory != "LOCAL" || strings.Join(res.Groups, ",") != "One" {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestSeed000Token: the seed's own token (signed by a key we do not have,
// and long expired) is a well-formed JWT, refused as unauthorized.
func TestSeed000Token(t *testing.T) {
	const seed = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VySWQiOiJnb3JhbiIsInVzZXJEaXJlY3RvcnkiOiJMQUIiLCJuYW1lIjoiR8O2cmFuIFNhbmRlciIsImVtYWlsIjoiIiwiaWF0IjoxNjQ3NjIxMTk2LCJleHAiOjE2NzkxNTcxOTYsImF1ZCI6ImFiYzEyMyJ9.Pr3CEVlP1HI2Pd__mhooJPrngU_yME7LNHMYRdAjVU0UPUbWgGk2ilABl8AI5W3NEPewWx_Ks-q7JRjKLh7pBkENCR0eiNpwAHrt2xvK0ZBa8XPNYdwJ6ZUf9_lZPsGZhgfeZLpcQU-8jQNpEr770NKZMknMLd1bDyDvKLVZuTbx3iAew4T_sTNZsPMPe-zN05CmOgYyjEfExGWN31_iQp3njLiBtCOf5TmjoZmXw2T_BFQKMhyx6B-hE4vjnOH13EqPclwjpHA1ovrjQlwGyZ6Mwgtrb0wIEUVqijWqkLMVmxNIgHsQn7beFaGWVZVnBDe1cvyNuBiUtQ74yineCtl31xOu8qV2Ls2R19FA-JqwHQUq_amddd06HEvxepaXtnvvTnQvyeXbDOU62MsLZwr9wByJvEEFPLCN7ZLFUe3pN7FwyYhy8fZPylUFJH6XfrA8lyMUJBGUCEe3iyONclKKj2ifizxtO5ETdXuZ7w6Q1kPI8y1eD6scYZcmxhEowzEjWgAjFWPGLHhO9sINqRLcGZFhwW9TxeRgUwQd4_2MG4Z3ctip0UvBjseQcO7XrBjVF0h70iXkyOF51okrzK21IB24rGDnoEV2fgUZ_Nz9nN5qJwyzfSLcctg0I80T99VE3YmjcEMZNSZE3mfA6lAGvXuw7yDXOwPvCik8oX4"
	v := newTest(t, qseow(t), nil)
	_, err := v.Verify(context.Background(), seed)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "signature")
	if strings.Contains(err.Error(), seed[:40]) {
		t.Fatal("the error repeats the token")
	}
}

// TestRefused lists every token that must be refused, with its code.
func TestRefused(t *testing.T) {
	k := keysOnce()
	base := seedClaims()
	rs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodRS256, k.rsa, "", c) }
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	good := rs(base)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"userId":"admin","userDirectory":"LAB","exp":9999999999,"aud":"abc123"}`)) + "." + parts[2]
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, base).SignedString(jwt.UnsafeAllowNoneSignatureType)

	// Verifiers that a check needs besides the plain QSEoW one.
	lax := qseow(t)
	lax.Algorithms = []string{"RS256", "HS256", "ES256"} // what config validation refuses: HS256 beside an RSA key
	kid := qseow(t)
	kid.Keys[0].KeyID = "k1"
	iss := qseow(t)
	iss.Issuer = "https://idp.example.com"
	short := qseow(t)
	short.MaxLifetime = time.Hour
	verifiers := map[string]Config{"qs": qseow(t), "lax": lax, "kid": kid, "iss": iss, "short": short}

	tests := []struct {
		name, verifier, token, code, msg string
	}{
		{"alg none", "qs", none, latchkey.EUNAUTHORIZED, "algorithm none is not accepted"},
		{"HS256 with the RSA public key as secret, HS256 not allowed", "qs", sign(t, jwt.SigningMethodHS256, pubPEM, "", base), latchkey.EUNAUTHORIZED, "algorithm HS256 is not accepted"},
		{"HS256 with the RSA public key as secret, HS256 allowed", "lax", sign(t, jwt.SigningMethodHS256, pubPEM, "", base), latchkey.EUNAUTHORIZED, "key is not known"},
		{"HS256 with the DER public key as secret", "lax", sign(t, jwt.SigningMethodHS256, pubDER, "", base), latchkey.EUNAUTHORIZED, "key is not known"},
		{"expired", "qs", rs(claims(base, "exp", unix(-time.Minute))), latchkey.EUNAUTHORIZED, "expired"},
		{"not yet valid (nbf)", "qs", rs(claims(base, "nbf", unix(time.Minute))), latchkey.EUNAUTHORIZED, "not valid yet"},
		{"issued in the future (iat)", "qs", rs(claims(base, "iat", unix(time.Minute))), latchkey.EUNAUTHORIZED, "not valid yet"},
		{"wrong audience", "qs", rs(claims(base, "aud", "other")), latchkey.EUNAUTHORIZED, "audience"},
		{"wrong audience in a list", "qs", rs(claims(base, "aud", []any{"x", "y"})), latchkey.EUNAUTHORIZED, "audience"},
		{"wrong issuer", "iss", rs(claims(base, "iss", "https://evil.example.com")), latchkey.EUNAUTHORIZED, "issuer"},
		{"unknown kid", "kid", sign(t, jwt.SigningMethodRS256, k.rsa, "k2", base), latchkey.EUNAUTHORIZED, "key is not known"},
		{"no kid for a kid-bound key", "kid", rs(base), latchkey.EUNAUTHORIZED, "key is not known"},
		{"kid not a string", "kid", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, base)
			tok.Header["kid"] = 7
			s, _ := tok.SignedString(k.rsa)
			return s
		}(), latchkey.EUNAUTHORIZED, "key is not known"},
		{"tampered payload", "qs", tampered, latchkey.EUNAUTHORIZED, "signature"},
		{"signed by another key", "qs", sign(t, jwt.SigningMethodRS256, k.rsa2, "", base), latchkey.EUNAUTHORIZED, "signature"},
		{"disallowed algorithm RS384", "qs", sign(t, jwt.SigningMethodRS384, k.rsa, "", base), latchkey.EUNAUTHORIZED, "RS384 is not accepted"},
		{"disallowed algorithm PS256", "qs", sign(t, jwt.SigningMethodPS256, k.rsa, "", base), latchkey.EUNAUTHORIZED, "PS256 is not accepted"},
		{"ES256 against an RSA key", "lax", sign(t, jwt.SigningMethodES256, k.p256, "", base), latchkey.EUNAUTHORIZED, "key is not known"},
		{"lifetime over max_lifetime", "short", rs(claims(base, "exp", unix(2*time.Hour))), latchkey.EUNAUTHORIZED, "lives longer"},
		{"signature stripped", "qs", parts[0] + "." + parts[1] + ".", latchkey.EUNAUTHORIZED, "signature"},
		{"unknown alg", "qs", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XS256"}`)) + "." + parts[1] + "." + parts[2], latchkey.EUNAUTHORIZED, "algorithm is not accepted"},

		{"not a JWT", "qs", "not-a-token", latchkey.EINVALID, "not a JWT"},
		{"kid with CR LF", "qs", sign(t, jwt.SigningMethodRS256, k.rsa, "k\r\nX-Injected: 1", base), latchkey.EINVALID, "kid must be free of control characters"},
		{"kid with NUL", "qs", sign(t, jwt.SigningMethodRS256, k.rsa, "k\x00", base), latchkey.EINVALID, "kid must be free of control characters"},
		{"three garbage parts", "qs", "a.b.c", latchkey.EINVALID, "not a JWT"},
		{"padded base64", "qs", parts[0] + "=." + parts[1] + "." + parts[2], latchkey.EINVALID, "not a JWT"},
		{"over 16 KiB", "qs", good + strings.Repeat("A", MaxTokenBytes), latchkey.EINVALID, "longer than 16 KiB"},
		{"no exp", "qs", rs(claims(base, "exp", nil)), latchkey.EINVALID, "lacks the claim exp"},
		{"exp a string", "qs", rs(claims(base, "exp", "tomorrow")), latchkey.EINVALID, "claim exp must be a number"},
		{"nbf a string", "qs", rs(claims(base, "nbf", "now")), latchkey.EINVALID, "claim nbf must be a number"},
		{"no aud when configured", "qs", rs(claims(base, "aud", nil)), latchkey.EINVALID, "lacks the claim aud"},
		{"aud a number", "qs", rs(claims(base, "aud", 5)), latchkey.EINVALID, "claim aud must be"},
		{"iss null", "qs", rs(claims(base, "iss", jsonNull{})), latchkey.EINVALID, "claim iss must be a string"},
		{"exp null", "qs", rs(claims(base, "exp", jsonNull{})), latchkey.EINVALID, "claim exp must be a number"},
		{"no iss when configured", "iss", rs(base), latchkey.EINVALID, "lacks the claim iss"},
		{"no user", "qs", rs(claims(base, "userId", nil)), latchkey.EINVALID, "lacks the claim userId"},
		{"user a number", "qs", rs(claims(base, "userId", 42)), latchkey.EINVALID, "claim userId must be a string"},
		{"user with a semicolon", "qs", rs(claims(base, "userId", "a;b")), latchkey.EINVALID, "must not contain"},
		{"directory with a backslash", "qs", rs(claims(base, "userDirectory", `LAB\X`)), latchkey.EINVALID, "must not contain"},
		{"name with a newline", "qs", rs(claims(base, "name", "a\nb")), latchkey.EINVALID, "control characters"},
		{"group an object", "qs", rs(claims(base, "group", map[string]any{"a": 1})), latchkey.EINVALID, "claim group must be"},
		{"group array with a number", "qs", rs(claims(base, "group", []any{"a", 1})), latchkey.EINVALID, "claim group must be"},
		{"no iat or nbf under max_lifetime", "short", rs(claims(base, "iat", nil)), latchkey.EINVALID, "nbf or iat"},
	}
	built := map[string]*Verifier{}
	for name, c := range verifiers {
		built[name] = newTest(t, c, nil)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := built[tt.verifier].Verify(context.Background(), tt.token)
			if res != nil {
				t.Fatalf("verified: %+v", res)
			}
			wantCode(t, err, tt.code, tt.msg)
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token[len(tt.token)-20:]) {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

// jsonNull marshals as null, for claims present with a null value.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// TestAccepted covers each kind of key and the leeway.
func TestAccepted(t *testing.T) {
	k := keysOnce()
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	os.WriteFile(certFile, []byte(certPEM(t, k.rsa)), 0o600)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}))
	base := jwt.MapClaims{"sub": "ann", "exp": unix(time.Hour)}
	tests := []struct {
		name string
		key  Key
		algs []string
		m    jwt.SigningMethod
		priv any
		kid  string
		c    jwt.MapClaims
	}{
		{"RS256 certificate file", Key{File: certFile}, []string{"RS256"}, jwt.SigningMethodRS256, k.rsa, "", base},
		{"RS512 PKCS#1 PEM", Key{PEM: pkcs1}, []string{"RS256", "RS512"}, jwt.SigningMethodRS512, k.rsa, "", base},
		{"PS256 PKIX PEM", Key{PEM: pkixPEM(t, &k.rsa.PublicKey)}, []string{"PS256"}, jwt.SigningMethodPS256, k.rsa, "any", base},
		{"ES256", Key{PEM: pkixPEM(t, &k.p256.PublicKey), KeyID: "e1"}, []string{"ES256"}, jwt.SigningMethodES256, k.p256, "e1", base},
		{"ES384", Key{PEM: pkixPEM(t, &k.p384.PublicKey)}, []string{"ES256", "ES384"}, jwt.SigningMethodES384, k.p384, "", base},
		{"EdDSA", Key{PEM: pkixPEM(t, k.ed.Public())}, []string{"EdDSA"}, jwt.SigningMethodEdDSA, k.ed, "", base},
		{"HS256 secret", Key{SecretEnv: "SECRET"}, []string{"HS256", "HS512"}, jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), "", base},
		{"expired within the leeway", Key{PEM: pkcs1}, []string{"RS256"}, jwt.SigningMethodRS256, k.rsa, "", claims(base, "exp", unix(-10*time.Second))},
		{"nbf within the leeway", Key{PEM: pkcs1}, []string{"RS256"}, jwt.SigningMethodRS256, k.rsa, "", claims(base, "nbf", unix(10*time.Second))},
	}
	env := map[string]string{"SECRET": "0123456789abcdef0123456789abcdef"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTest(t, Config{Name: "x", Keys: []Key{tt.key}, Algorithms: tt.algs,
				Leeway: 30 * time.Second, Claims: Claims{User: "sub", DefaultDirectory: "IDP"}}, env)
			res, err := v.Verify(context.Background(), sign(t, tt.m, tt.priv, tt.kid, tt.c))
			if err != nil {
				t.Fatal(err)
			}
			if res.Username != "ann" || res.Directory != "IDP" || res.Subject != "ann" || res.KeyID != tt.kid {
				t.Fatalf("result %+v", res)
			}
		})
	}
}

// TestNewRefuses covers the configurations New refuses.
func mustRSA1024(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewRefuses(t *testing.T) {
	k := keysOnce()
	small := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&mustRSA1024(t).PublicKey)}))
	priv := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}))
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"empty secret", Config{Keys: []Key{{SecretEnv: "NOPE"}}, Algorithms: []string{"HS256"}}, "NOPE is empty"},
		{"alg none", Config{Keys: []Key{{PEM: pkixPEM(t, &k.rsa.PublicKey)}}, Algorithms: []string{"none"}}, `"none" is not an algorithm`},
		{"no algorithms", Config{Keys: []Key{{PEM: pkixPEM(t, &k.rsa.PublicKey)}}}, "algorithms"},
		{"no keys", Config{Algorithms: []string{"RS256"}}, "at least one key"},
		{"key serves no listed algorithm", Config{Keys: []Key{{PEM: pkixPEM(t, &k.p256.PublicKey)}}, Algorithms: []string{"RS256", "ES384"}}, "ECDSA P-256 key serves none"},
		{"private key", Config{Keys: []Key{{PEM: priv}}, Algorithms: []string{"RS256"}}, "private key"},
		{"RSA 1024", Config{Keys: []Key{{PEM: small}}, Algorithms: []string{"RS256"}}, "1024 bits"},
		{"not PEM", Config{Keys: []Key{{PEM: "hello"}}, Algorithms: []string{"RS256"}}, "no PEM block"},
		{"missing file", Config{Keys: []Key{{File: "/nonexistent/key.pem"}}, Algorithms: []string{"RS256"}}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Name = "x"
			_, err := New(context.Background(), tt.c, func(string) string { return "" }, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
