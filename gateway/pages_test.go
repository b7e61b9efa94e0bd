package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
)

// stubPages answers every path under /ui/ with 299, so that a test sees
// which requests reach it.
type stubPages struct{ seen []string }

func (p *stubPages) Owns(path string) bool { return strings.HasPrefix(path, "/ui/") || path == "/ui" }

func (p *stubPages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.seen = append(p.seen, r.URL.Path)
	w.WriteHeader(299)
}

// TestPagesMounted: the pages get the clean paths they own, on the
// listeners ui.listeners names (every listener when it names none), before
// the routes; elsewhere and when off, those paths go to the routes.
func TestPagesMounted(t *testing.T) {
	tests := []struct {
		name      string
		ui        config.UI
		listener  string
		path      string
		wantPages bool
	}{
		{"every listener", config.UI{Enabled: true, Prefix: "/ui/"}, "main", "/ui/", true},
		{"no listener name", config.UI{Enabled: true, Prefix: "/ui/"}, "", "/ui/admin/users", true},
		{"the prefix without its slash", config.UI{Enabled: true, Prefix: "/ui/"}, "main", "/ui", true},
		{"a listener it names", config.UI{Enabled: true, Prefix: "/ui/", Listeners: []string{"admin"}}, "admin", "/ui/", true},
		{"a listener it does not name", config.UI{Enabled: true, Prefix: "/ui/", Listeners: []string{"admin"}}, "main", "/ui/", false},
		{"off", config.UI{Enabled: false, Prefix: "/ui/"}, "main", "/ui/", false},
		{"not its path", config.UI{Enabled: true, Prefix: "/ui/"}, "main", "/uix", false},
		{"an unclean path", config.UI{Enabled: true, Prefix: "/ui/"}, "main", "/ui/../api/v1/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := &stubPages{}
			f := newFixtureWith(t, func(c *config.Config) { c.UI = tt.ui })
			s, err := New(f.s.cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Pages: pages})
			if err != nil {
				t.Fatal(err)
			}
			r := request(http.MethodGet, tt.path, "")
			r = r.WithContext(WithListener(r.Context(), tt.listener))
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			if got := len(pages.seen) == 1; got != tt.wantPages {
				t.Fatalf("GET %s on %q: pages served it: %v, want %v (status %d)", tt.path, tt.listener, got, tt.wantPages, w.Code)
			}
			if !tt.wantPages && w.Code == 299 {
				t.Fatal("the pages answered")
			}
		})
	}
}
