package config

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestJWTConfig(t *testing.T) {
	c, err := Load("testdata/jwt.yaml", opts())
	if err != nil {
		t.Fatal(err)
	}
	q, cloud := c.JWT.Verifiers[0], c.JWT.Verifiers[1]
	if q.Keys[0].File != filepath.Join("testdata", "certs", "publickey.pem") {
		t.Errorf("key file not resolved against the config's directory: %s", q.Keys[0].File)
	}
	if q.Claims.User != "userId" || q.Claims.Directory != "userDirectory" || q.Claims.Name != "name" ||
		!slices.Equal(q.Claims.Groups, []string{"group", "groups"}) || q.Leeway.D() != 30*time.Second || q.MaxLifetime != 0 {
		t.Errorf("qseow verifier defaults: %+v", q)
	}
	if !slices.Equal(cloud.Audience, []string{QlikCloudAudience}) || cloud.MaxLifetime.D() != time.Hour {
		t.Errorf("qlik-cloud profile defaults: audience %v max_lifetime %s", cloud.Audience, cloud.MaxLifetime)
	}
	if c.JWT.Session.Directory != "QLIKCLOUD" || c.JWT.Session.CSRFHeader != "qlik-csrf-token" || c.JWT.Issuer.Algorithm != "ES256" {
		t.Errorf("jwt session/issuer defaults: %+v %+v", c.JWT.Session, c.JWT.Issuer)
	}
	r := c.Routes[0]
	if !r.Xrfkey || !slices.Equal(r.JWTVerifiers, []string{"qseow"}) {
		t.Errorf("route: %+v", r)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	_, err := Load("testdata/jwt_invalid.yaml", opts())
	got := map[string]bool{}
	for _, e := range problems(t, err) {
		got[e.Key] = true
	}
	for _, key := range []string{
		"jwt.verifiers[0].name", "jwt.verifiers[0].keys", "jwt.verifiers[0].algorithms[0]",
		"jwt.verifiers[1].keys[1]", "jwt.verifiers[1].algorithms[1]",
		"jwt.verifiers[2].algorithms[0]", "jwt.verifiers[2].profile",
		"jwt.issuer.algorithm", "jwt.session.verifier",
		"routes[0].jwt_verifiers", "routes[0].jwt_verifiers[0]", "routes[0].strip_xrfkey",
	} {
		if !got[key] {
			t.Errorf("no problem reported for %s; got %v", key, got)
		}
	}
}
