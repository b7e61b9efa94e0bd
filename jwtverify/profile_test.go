package jwtverify

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// qlikCloud is the qlik-cloud verifier as config.Load fills it.
func qlikCloud(t testing.TB) Config {
	return Config{
		Name:        "qlik-cloud",
		Keys:        []Key{{PEM: pkixPEM(t, &keysOnce().rsa.PublicKey), KeyID: "0330d3e7-1966-41c4-b3ef-d311d1ff7191"}},
		Algorithms:  []string{"RS256"},
		Audience:    []string{config.QlikCloudAudience},
		Issuer:      "https://idp.example.com",
		Leeway:      30 * time.Second,
		MaxLifetime: time.Hour,
		QlikCloud:   true,
		Claims:      Claims{User: "sub", DefaultDirectory: "CLOUD", Name: "name", Email: "email", Groups: []string{"groups"}},
	}
}

func cloudClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://idp.example.com", "aud": config.QlikCloudAudience, "sub": "SomeSampleSeedValue",
		"subType": "user", "name": "Hardcore Harry", "email": "harry@example.com", "email_verified": true,
		"groups": []any{"Administrators", "Sales"}, "jti": "k9GlyMqfsOn6CbB4", "iat": unix(-time.Minute),
		"nbf": unix(-time.Minute), "exp": unix(30 * time.Minute),
	}
}

func TestQlikCloudProfile(t *testing.T) {
	k := keysOnce()
	v := newTest(t, qlikCloud(t), nil)
	const kid = "0330d3e7-1966-41c4-b3ef-d311d1ff7191"
	verify := func(kid string, c jwt.MapClaims) (*Result, error) {
		return v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, kid, c))
	}
	res, err := verify(kid, cloudClaims())
	if err != nil {
		t.Fatal(err)
	}
	if res.Username != "SomeSampleSeedValue" || res.Directory != "CLOUD" || res.JTI != "k9GlyMqfsOn6CbB4" ||
		res.KeyID != kid || res.Email != "harry@example.com" || len(res.Groups) != 2 || res.Issuer != "https://idp.example.com" {
		t.Fatalf("result %+v", res)
	}

	t.Run("each required claim", func(t *testing.T) {
		for _, claim := range qlikCloudClaims {
			for _, empty := range []any{nil, ""} {
				c := cloudClaims()
				if empty == nil {
					delete(c, claim)
				} else {
					c[claim] = empty
				}
				_, err := verify(kid, c)
				want := "The token lacks the claim " + claim + "."
				if claim == "exp" && empty == "" || claim == "iat" && empty == "" || claim == "nbf" && empty == "" {
					want = "The claim " + claim + " must be a number"
				}
				wantCode(t, err, latchkey.EINVALID, want)
			}
		}
	})
	t.Run("kid header", func(t *testing.T) {
		// A key without a kid of its own serves any kid, so that the
		// profile's own rule is what refuses the token.
		c := qlikCloud(t)
		c.Keys[0].KeyID = ""
		anyKid := newTest(t, c, nil)
		_, err := anyKid.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, "", cloudClaims()))
		wantCode(t, err, latchkey.EINVALID, "header lacks kid")
		// With keys that have a kid, the token is incomplete all the same
		// (400), not signed by an unknown key (401).
		_, err = newTest(t, qlikCloud(t), nil).Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, "", cloudClaims()))
		wantCode(t, err, latchkey.EINVALID, "header lacks kid")
	})
	t.Run("email_verified", func(t *testing.T) {
		tests := []struct {
			value      any
			code, want string
		}{
			{true, "", ""},
			{"true", "", ""},
			{false, latchkey.EUNAUTHORIZED, "email is not verified"},
			{"false", latchkey.EUNAUTHORIZED, "email is not verified"},
			{"yes", latchkey.EINVALID, "email_verified must be true"},
			{1, latchkey.EINVALID, "email_verified must be true"},
			{"TRUE", latchkey.EINVALID, "email_verified must be true"},
		}
		for _, tt := range tests {
			_, err := verify(kid, claims(cloudClaims(), "email_verified", tt.value))
			if tt.code == "" && err != nil {
				t.Fatalf("%v: %v", tt.value, err)
			}
			if tt.code != "" {
				wantCode(t, err, tt.code, tt.want)
			}
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		ok := claims(cloudClaims(), "nbf", unix(-time.Minute), "exp", unix(59*time.Minute)) // exactly 1h
		if _, err := verify(kid, ok); err != nil {
			t.Fatal(err)
		}
		long := claims(cloudClaims(), "exp", unix(time.Hour)) // 1h1m after nbf
		_, err := verify(kid, long)
		wantCode(t, err, latchkey.EUNAUTHORIZED, "lives longer")
	})
	t.Run("audience and issuer", func(t *testing.T) {
		_, err := verify(kid, claims(cloudClaims(), "aud", "qlik.api"))
		wantCode(t, err, latchkey.EUNAUTHORIZED, "audience")
		_, err = verify(kid, claims(cloudClaims(), "iss", "https://other.example.com"))
		wantCode(t, err, latchkey.EUNAUTHORIZED, "issuer")
	})
	t.Run("wrong kid", func(t *testing.T) {
		_, err := verify("another-kid", cloudClaims())
		wantCode(t, err, latchkey.EUNAUTHORIZED, "key is not known")
	})
}
