package gateway

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtverify"
)

// uncachedVerifier is a verifier that checks every token afresh, without
// the memory of verified tokens (jwtverify.Verifier.VerifyUncached).
type uncachedVerifier struct{ v *jwtverify.Verifier }

func (u uncachedVerifier) Verify(ctx context.Context, raw string) (*jwtverify.Result, error) {
	return u.v.VerifyUncached(ctx, raw)
}

// benchRouteDecision times what the router decides for one request on a
// jwt route — authenticate, then authorize — with the qs verifier, cached
// or not, and the token's user in the store.
func benchRouteDecision(b *testing.B, cached bool) {
	f := newFixture(b)
	f.addUser(`LAB\goran`)
	v, err := jwtverify.New(context.Background(), VerifierConfig(bearerVerifierConfig(b, "qs"), testTokenCache(b)), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	var tv TokenVerifier = v
	if !cached {
		tv = uncachedVerifier{v}
	}
	cfg := *f.s.cfg
	cfg.Routes = []config.Route{{Name: "qseow", Prefix: "/jwt/", Upstream: "echo", StripPrefix: true, Auth: []string{"jwt"}, JWTVerifiers: []string{"qs"}}}
	if f.s, err = New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Verifiers: map[string]TokenVerifier{"qs": tv}}); err != nil {
		b.Fatal(err)
	}
	r := request("GET", "/jwt/qrs/about", "", "Authorization", "Bearer "+bearerJWT(b, "qs"))
	rte, _, _ := f.s.routes.match(targetOf(r))
	decide := func() {
		p, err := rte.authenticate(r, f.s.metrics)
		if err == nil {
			err = rte.authorize(p, r)
		}
		if err != nil || p.Username != "goran" {
			b.Fatal(p, err)
		}
	}
	decide() // warm the user cache (and, when cached, the token cache)
	b.ReportAllocs()
	for b.Loop() {
		decide()
	}
}

// BenchmarkJWTUncachedRS256 verifies the RS256 signature on every
// iteration: the verifier is wrapped so that it calls VerifyUncached.
func BenchmarkJWTUncachedRS256(b *testing.B) { benchRouteDecision(b, false) }

// BenchmarkJWTCached repeats the same token: after the first, each is
// answered from the verified-token cache.
func BenchmarkJWTCached(b *testing.B) { benchRouteDecision(b, true) }

// BenchmarkRawRSAVerifyPKCS1v15 is the floor: rsa.VerifyPKCS1v15 of the
// same token's signature (2048-bit key), its SHA-256 digest computed
// beforehand.
func BenchmarkRawRSAVerifyPKCS1v15(b *testing.B) {
	tok := bearerJWT(b, "qs")
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok[:i]))
	pub := &bearerKeys()["qs"].PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
