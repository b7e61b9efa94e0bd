package gateway

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

func TestRequiredHeaders(t *testing.T) {
	h := newRequiredHeaders(config.Login{AllowedOrigins: []string{
		"example.apps.journyx.com", "https://app.example.org", "https://bad.example/with/path"}})
	all := func(origin string, more ...string) []string {
		return append([]string{"Origin", origin, "Accept", "application/json", "X-Requested-With", "XMLHttpRequest"}, more...)
	}
	tests := []struct {
		name, method string
		header       []string
		missing      []string // what the message must name; nil: allowed
	}{
		{"GET needs nothing", "GET", nil, nil},
		{"HEAD needs nothing", "HEAD", nil, nil},
		{"OPTIONS needs nothing", "OPTIONS", nil, nil},
		{"seed 004's scheme-less origin", "POST", all("example.apps.journyx.com"), nil},
		{"a configured origin with scheme", "PUT", all("https://app.example.org"), nil},
		{"... from a browser that says cross-site", "PUT", all("https://app.example.org", "Sec-Fetch-Site", "cross-site"), nil},
		{"an entry that is no origin still matches exactly", "POST", all("https://bad.example/with/path"), nil},
		{"the request's own origin", "DELETE", all("https://example.com"), nil},
		{"same-origin by Sec-Fetch-Site", "POST", all("https://example.com", "Sec-Fetch-Site", "same-origin"), nil},
		{"nothing", "POST", nil, []string{"Origin header is required", "Accept", "X-Requested-With"}},
		{"a custom unsafe method", "PROPFIND", nil, []string{"Origin header is required"}},
		{"foreign origin", "POST", all("https://evil.example"), []string{`Origin "https://evil.example" is not allowed`}},
		{"origin differs in scheme only from a scheme-less entry", "POST", all("https://example.apps.journyx.com"), []string{"not allowed"}},
		{"own host, but the browser says cross-site", "POST", all("https://example.com", "Sec-Fetch-Site", "cross-site"), []string{"not allowed"}},
		{"null origin", "PATCH", all("null"), []string{`"null" is not allowed`}},
		{"no Accept", "POST", []string{"Origin", "example.apps.journyx.com", "X-Requested-With", "XMLHttpRequest"}, []string{"Accept header is required"}},
		{"wrong X-Requested-With", "POST", []string{"Origin", "example.apps.journyx.com", "Accept", "*/*", "X-Requested-With", "fetch"},
			[]string{"The X-Requested-With header must be XMLHttpRequest."}},
		{"no X-Requested-With", "DELETE", []string{"Origin", "example.apps.journyx.com", "Accept", "*/*"},
			[]string{"The X-Requested-With header must be XMLHttpRequest."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.check(request(tt.method, "/x", "", tt.header...))
			if tt.missing == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Fatalf("check = %v, want forbidden", err)
			}
			for _, m := range tt.missing {
				if !strings.Contains(latchkey.ErrorMessage(err), m) {
					t.Errorf("message %q does not name %q", latchkey.ErrorMessage(err), m)
				}
			}
		})
	}
}

func TestRequiredHeadersAnswer(t *testing.T) {
	f := newFixture(t)
	w := f.serve(request("POST", "/api/v1/login", `{"username":"a","password":"b"}`,
		"Origin", testOrigin, "Accept", "application/json", "Content-Type", "application/json"))
	if w.Code != 403 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("login without X-Requested-With: %d %s %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if msg := errorMessage(t, w); !strings.Contains(msg, "The X-Requested-With header must be XMLHttpRequest.") {
		t.Errorf("message %q", msg)
	}
}
