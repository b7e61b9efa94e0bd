package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// testNow is the clock of every test verifier.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testKeys are generated once per test binary: RSA 2048 is slow to make.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	p256      *ecdsa.PrivateKey
	p384      *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var keysOnce = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	k.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

// pkixPEM is the public half of priv as a PEM "PUBLIC KEY".
func pkixPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// certPEM is a self-signed certificate over priv, as qs-jwt users have.
func certPEM(t testing.TB, priv *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qs-jwt"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// sign makes a token with the method, claims and (when not "") kid.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns a valid claim set at testNow with the changes applied; a
// nil value deletes the claim.
func claims(base jwt.MapClaims, changes ...any) jwt.MapClaims {
	c := jwt.MapClaims{}
	for k, v := range base {
		c[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == nil {
			delete(c, changes[i].(string))
		} else {
			c[changes[i].(string)] = changes[i+1]
		}
	}
	return c
}

func unix(d time.Duration) int64 { return testNow.Add(d).Unix() }

// newTest builds a verifier over c at testNow, without the background
// refresh of JWK Sets unless o says otherwise.
func newTest(t testing.TB, c Config, env map[string]string, o ...options) *Verifier {
	t.Helper()
	opts := defaultOptions
	opts.now = func() time.Time { return testNow }
	opts.httpTimeout = 5 * time.Second
	if len(o) > 0 {
		opts = o[0]
	}
	if c.Cache == nil {
		c.Cache = NewCache(32<<20, opts.now)
		t.Cleanup(c.Cache.Close)
	}
	v, err := newVerifier(context.Background(), c, func(k string) string { return env[k] }, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// wantCode checks err's code and that its message contains want.
func wantCode(t testing.TB, err error, code, want string) {
	t.Helper()
	if latchkey.ErrorCode(err) != code || !strings.Contains(latchkey.ErrorMessage(err), want) {
		t.Fatalf("got %v (code %q), want code %q with %q", err, latchkey.ErrorCode(err), code, want)
	}
}
