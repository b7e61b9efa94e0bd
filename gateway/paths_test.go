package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// pathCases are request targets that an upstream may resolve to another
// route than latchkey's match (refused, 400), and ones that every reading
// leaves on the route latchkey matched (admitted). The routes are
// forwardAuthServer's: /public is anonymous, /private needs credentials.
var pathCases = []struct {
	name, uri string
	refused   bool
}{
	{"encoded backslash, lower case", `/public/..%5cprivate/x`, true},
	{"encoded backslash", `/public/..%5Cprivate/x`, true},
	{"backslash", `/public/..\private/x`, true},
	{"backslashes only", `/public\..\private\x`, true},
	{"backslash that leaves the prefix", `/private\x`, true},
	{"empty segment by backslash", `/public/a\\b`, true},
	{"encoded slashes around a dot-segment", `/public%2F..%2Fprivate/x`, true},
	{"encoded dot-segment", `/public/%2e%2e/private/x`, true},
	{"encoded dot-segment, upper case", `/public/.%2E/private/x`, true},
	{"encoded slash that ends the prefix", `/public%2Fx`, true},
	{"path parameter on a dot-segment (Tomcat)", `/public/..;/private/x`, true},
	{"path parameter that ends the prefix", `/private;jsessionid=1/x`, true},
	{"path parameter on a dot, encoded", `/public/.%3B/x`, true},
	{"double-encoded dot-segment", `/public/%252e%252e/private/x`, true},
	{"double-encoded backslash", `/public/..%255cprivate/x`, true},
	{"double-encoded NUL", `/public/x%2500`, true},
	{"NUL", `/public/x%00.html`, true},
	{"line feed", `/public/x%0Ay`, true},
	{"overlong dot (UTF-8)", `/public/%c0%ae%c0%ae/private/x`, true},
	{"invalid UTF-8", `/public/%ff`, true},

	{"plain", `/public/x`, false},
	{"backslash inside a segment of the route", `/public/a\b`, false},
	{"encoded backslash inside the route", `/public/a%5Cb`, false},
	{"encoded slash inside the route", `/public/a%2Fb`, false},
	{"path parameter inside the route", `/public/page;jsessionid=1`, false},
	{"encoded percent", `/public/100%25`, false},
	{"double-encoded space", `/public/a%2520b`, false},
	{"UTF-8", `/public/caf%C3%A9/Göteborg`, false},
	{"dots in a name", `/public/a..b/.c`, false},
}

// TestPathsUpstreamsResolveDifferently sends each path case through the
// whole gateway to the proxy and to forward-auth (as nginx, Traefik and
// Envoy name the original request): a refused path is 400 with a message
// and never reaches the upstream; an admitted one is served anonymously.
func TestPathsUpstreamsResolveDifferently(t *testing.T) {
	s, hits := forwardAuthServer(t)
	for _, tt := range pathCases {
		want := 200
		if tt.refused {
			want = 400
		}
		before := hits.Load()
		r := request("GET", "/", "")
		r.URL, _ = r.URL.Parse("http://example.com" + tt.uri) // keeps the raw path
		r.RequestURI = tt.uri
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		reached := hits.Load() - before
		if w.Code != want || tt.refused == (reached != 0) {
			t.Errorf("%s: proxied %s: %d (upstream reached %d times) %s, want %d", tt.name, tt.uri, w.Code, reached, w.Body, want)
		}
		if tt.refused && w.Code == 400 {
			if msg := errorMessage(t, w); !strings.HasSuffix(msg, ".") || len(msg) < 40 {
				t.Errorf("%s: message %q says too little", tt.name, msg)
			}
		}
		for _, h := range []string{"X-Original-URI", "X-Forwarded-Uri"} {
			w := verify(s, "GET", "/auth/verify", h, tt.uri)
			if w.Code != want {
				t.Errorf("%s: forward-auth by %s: %d %s, want %d", tt.name, h, w.Code, w.Body, want)
			}
		}
		if !strings.Contains(tt.uri, `\`) { // Envoy's path prefix: the original path below /auth/verify
			r := request("GET", "/", "")
			r.URL, _ = r.URL.Parse("http://example.com/auth/verify" + tt.uri)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("%s: forward-auth by path prefix: %d %s, want %d", tt.name, w.Code, w.Body, want)
			}
		}
	}
}
