package gateway

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
)

// FuzzRouteMatch checks, for any request path, that the router never panics,
// that a clean path maps to a clean upstream path below the route's prefix,
// and that a stripped path is what followed the prefix.
func FuzzRouteMatch(f *testing.F) {
	s, err := New(testConfig(
		config.Route{Name: "root", Prefix: "/", Upstream: "echo"},
		config.Route{Name: "jwt", Prefix: "/jwt/", Upstream: "echo", StripPrefix: true},
		config.Route{Name: "about", Prefix: "/qrs/about", Upstream: "echo"},
	), Deps{Log: quietLog()})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/", "/jwt", "/jwt/", "/jwt/qrs/about/", "/jwtx", "/qrs/about/", "/a/../b", "//", ""} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !cleanPath(p) {
			return
		}
		r, up, _ := s.routes.match(target{method: "GET", path: p})
		if r == nil {
			t.Fatalf("no route for %q despite a root route", p)
		}
		if !strings.HasPrefix(up, "/") || !cleanPath(up) {
			t.Fatalf("match(%q) gave unclean upstream path %q", p, up)
		}
		if r.strip && !strings.HasSuffix(p, strings.TrimPrefix(up, "/")) {
			t.Fatalf("match(%q) stripped to %q, which is not what followed the prefix", p, up)
		}
		if !r.strip && up != p {
			t.Fatalf("match(%q) changed the path to %q on a route that does not strip", p, up)
		}
	})
}
