package gateway

import (
	"net/http"
	"slices"
	"testing"

	"github.com/latchkey/latchkey/config"
)

// TestFixedPathsAgree: the paths that config keeps server.forward_auth_path
// away from are the ones the gateway serves of its own accord.
func TestFixedPathsAgree(t *testing.T) {
	for _, p := range []string{JWKSPath, OpenAPIPath} {
		if !slices.Contains(config.FixedPaths, p) {
			t.Errorf("config.FixedPaths %v lacks %s", config.FixedPaths, p)
		}
	}
	f := newFixture(t)
	for _, p := range config.FixedPaths {
		if p == JWKSPath {
			continue // served only with an issuer
		}
		if w := f.serve(request(http.MethodGet, p, "")); w.Code == http.StatusNotFound || w.Code == http.StatusBadGateway {
			t.Errorf("GET %s = %d; config.FixedPaths names a path the gateway does not serve", p, w.Code)
		}
	}
}
