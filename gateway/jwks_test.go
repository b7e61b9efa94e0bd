package gateway

import (
	"encoding/json"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// TestJWKS: the key set is served, cacheable, and verifies a token of the
// JWT login with nothing but golang-jwt.
func TestJWKS(t *testing.T) {
	f := newJWTFixture(t)
	f.addEmailUser("quant", "quant@example.com", latchkey.RoleAPIKeyUser)
	code, body := f.jwtLogin("quant@example.com", "password-quant")
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	var login jwtLoginResponse
	json.Unmarshal([]byte(body), &login)

	w := f.serve(request("GET", "/.well-known/jwks.json", ""))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=300" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("JWKS: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS body: %s", w.Body)
	}
	if k := set.Keys[0]; k.USE != jwkset.UseSig || k.ALG != jwkset.AlgES256 || k.KID == "" || k.D != "" {
		t.Errorf("JWK = %+v", k)
	}
	keys, err := set.JWKSlice()
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(login.Token, claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != keys[0].Marshal().KID {
			return nil, jwt.ErrTokenUnverifiable
		}
		return keys[0].Key(), nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("latchkey"), jwt.WithIssuer("latchkey"))
	if err != nil || claims["sub"] != `LAB\quant` || claims["email"] != "quant@example.com" {
		t.Errorf("verify with the JWKS: %v %v", err, claims)
	}

	if w := f.serve(request("HEAD", "/.well-known/jwks.json", "")); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", w.Code, w.Body)
	}
	if w := f.serve(request("POST", "/.well-known/jwks.json", "")); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %s", w.Code, w.Body)
	}
}
