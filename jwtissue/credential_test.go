package jwtissue

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// TestTokenCarriesItsCredential: a token says whether its principal is
// read-only and which credential it came from, and Verify hands both on;
// read_only is written even when false.
func TestTokenCarriesItsCredential(t *testing.T) {
	is := newTestIssuer(t, openStores(t, 1)[0], Options{}, newClock())
	tests := []struct {
		name           string
		readOnly       bool
		method, credID string
	}{
		{"read-only key", true, "apikey", "abcdefghijklm"},
		{"key", false, "apikey", "abcdefghijklm"},
		{"password", false, "password", ""},
		{"read-only session", true, latchkey.MethodSession, "sessionid"},
		{"certificate", false, latchkey.MethodCert, "sha256:00ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := *goran
			p.ReadOnly, p.Method, p.CredentialID = tt.readOnly, tt.method, tt.credID
			raw, _, err := is.Sign(context.Background(), &p)
			if err != nil {
				t.Fatal(err)
			}
			r, err := is.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if r.ReadOnly != tt.readOnly || r.CredentialMethod != tt.method || r.CredentialID != tt.credID {
				t.Errorf("result: read-only %v, credential %q %q", r.ReadOnly, r.CredentialMethod, r.CredentialID)
			}
			tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
			if err != nil {
				t.Fatal(err)
			}
			c := tok.Claims.(jwt.MapClaims)
			if c["read_only"] != tt.readOnly || c["credential_method"] != tt.method {
				t.Errorf("claims %v", c)
			}
			if _, ok := c["credential_id"]; ok != (tt.credID != "") {
				t.Errorf("credential_id in %v", c)
			}
		})
	}
}
