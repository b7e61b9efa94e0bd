package gateway

// Whole-request benchmarks: a request through the gateway's handler —
// dispatch, request log, authenticate, authorize, identity headers,
// reverse proxy — to an upstream on loopback, with and without
// authentication. The client side is a ResponseRecorder, so no client TLS
// or HTTP parsing is counted; the upstream's work is.
//
// Run: go test ./gateway -run '^$' -bench Serve -benchmem

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// benchUpstream is the upstream of the serving benchmarks: a short JSON
// answer, as an API gives.
func benchUpstream(b *testing.B) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"upstream":"latchkey benchmark"}`))
	}))
	b.Cleanup(up.Close)
	return up
}

func benchServe(b *testing.B, path string, header ...string) {
	up := benchUpstream(b)
	f := newFixture(b)
	cfg := *f.s.cfg
	cfg.Routes = []config.Route{
		{Name: "off", Prefix: "/off/", Upstream: up.URL},
		{Name: "key", Prefix: "/key/", Upstream: up.URL, Auth: []string{"apikey"}},
	}
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	u := f.addUser("bench", latchkey.RoleAPIKeyUser)
	key := f.key(u, false).Key
	for i := range header {
		if header[i] == "KEY" {
			header[i] = key
		}
	}
	serve := func() {
		r := request("GET", path, "", header...)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	serve()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

func BenchmarkServeAuthOff(b *testing.B) { benchServe(b, "/off/x") }
func BenchmarkServeAPIKey(b *testing.B)  { benchServe(b, "/key/x", "X-Api-Key", "KEY") }
