package gateway

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// pathServer has routes that a reading of a path could move between.
func pathServer(tb testing.TB) *Server {
	s, err := New(testConfig(
		config.Route{Name: "root", Prefix: "/", Upstream: "echo"},
		config.Route{Name: "public", Prefix: "/public", Upstream: "echo"},
		config.Route{Name: "admin", Prefix: "/admin", Upstream: "echo"},
		config.Route{Name: "deep", Prefix: "/public/admin", Upstream: "echo"},
		config.Route{Name: "jwt", Prefix: "/jwt/", Upstream: "echo", StripPrefix: true},
	), Deps{Log: quietLog()})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzPathCheck checks, for any request target, that checkPath never
// panics, refuses only with EINVALID and a message, and admits a path only
// when each way an upstream may read it, computed here by other means, is
// clean, free of control characters and invalid UTF-8, and selects the
// route latchkey's match selects.
func FuzzPathCheck(f *testing.F) {
	s := pathServer(f)
	for _, c := range pathCases {
		f.Add(c.uri)
	}
	for _, p := range []string{"/", "/admin", "/public/admin%2Fx", "/public%5cadmin", "/public;x/admin", "/%2561dmin",
		"/jwt/a%2F..%2Fb", "/public/%3B/x", "/public/a%252F..%252F..%252Fadmin"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil || u.Opaque != "" || u.Host != "" {
			return
		}
		tg := target{method: "GET", path: u.Path}
		if err := s.routes.checkPath(tg, u); err != nil {
			if latchkey.ErrorCode(err) != latchkey.EINVALID || latchkey.ErrorMessage(err) == "" {
				t.Fatalf("checkPath(%q) = %v", raw, err)
			}
			return
		}
		want, _, _ := s.routes.match(tg)
		if want == nil {
			t.Fatalf("no route for admitted %q despite a root route", raw)
		}
		if strings.ContainsFunc(u.Path, func(c rune) bool { return c < 0x20 || c == 0x7f }) || !utf8.ValidString(u.Path) {
			t.Fatalf("admitted %q, whose path %q has control characters or invalid UTF-8", raw, u.Path)
		}
		twice, err := url.PathUnescape(u.Path)
		if err != nil {
			twice = u.Path
		}
		var segs []string // split at the raw '/', each segment decoded, its own '/' escaped again
		for _, seg := range strings.Split(u.EscapedPath(), "/") {
			d, err := url.PathUnescape(seg)
			if err != nil {
				t.Fatalf("admitted %q, whose escaped path does not decode: %v", raw, err)
			}
			segs = append(segs, strings.ReplaceAll(d, "/", "%2F"))
		}
		bases := map[string]string{"decoded": u.Path, "decoded twice": twice, "%2F kept": strings.Join(segs, "/")}
		for bname, base := range bases {
			for _, backslash := range []bool{false, true} {
				for _, params := range []bool{false, true} {
					v := base
					if backslash {
						v = strings.ReplaceAll(v, `\`, "/")
					}
					if params {
						parts := strings.Split(v, "/")
						for i := range parts {
							parts[i], _, _ = strings.Cut(parts[i], ";")
						}
						v = strings.Join(parts, "/")
					}
					if bname == "decoded twice" && (strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 || c == 0x7f }) || !utf8.ValidString(v)) {
						t.Fatalf("admitted %q, which %s has control characters or invalid UTF-8: %q", raw, bname, v)
					}
					vt := tg
					vt.path = v
					got, _, _ := s.routes.match(vt)
					if !cleanPath(v) || got != want {
						name := func(r *route) string {
							if r == nil {
								return "none"
							}
							return r.name
						}
						t.Fatalf("admitted %q for route %s, but %s (backslash %v, params %v) it is %q, route %s",
							raw, name(want), bname, backslash, params, v, name(got))
					}
				}
			}
		}
	})
}

// TestCleanPathCostsNothing checks that checkPath allocates nothing for a
// path with nothing to read otherwise, escaped or not.
func TestCleanPathCostsNothing(t *testing.T) {
	s := pathServer(t)
	for _, raw := range []string{"/public/x/y.json", "/admin/a%20b", "/public/caf%C3%A9"} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		tg := target{method: "GET", path: u.Path}
		if n := testing.AllocsPerRun(100, func() { _ = s.routes.checkPath(tg, u) }); n != 0 {
			t.Errorf("checkPath(%q) allocates %v times", raw, n)
		}
	}
}

// BenchmarkRouteCheckPath is the path check of clean paths: plain ASCII,
// and escaped UTF-8.
func BenchmarkRouteCheckPath(b *testing.B) {
	s := pathServer(b)
	for name, raw := range map[string]string{"ascii": "/public/reports/2026-12-01.json", "utf8": "/public/reports/caf%C3%A9/2026-12-01.json"} {
		u, _ := url.ParseRequestURI(raw)
		tg := target{method: "GET", path: u.Path}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.routes.checkPath(tg, u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
