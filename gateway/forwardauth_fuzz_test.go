package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzForwardAuthHeaders sends forward-auth requests with arbitrary
// X-Forwarded-Method, X-Forwarded-Uri, X-Original-URI and X-Forwarded-Host
// and no credentials. latchkey must never fail (5xx), and when it lets the
// request through (200), the request that each given URI header names must
// pass when sent to latchkey directly: no header the client or proxy chose
// gets a decision that the original request would not.
func FuzzForwardAuthHeaders(f *testing.F) {
	f.Add("", "/public/x", "", "", "")
	f.Add("GET", "/private/x", "/public/x", "", "")
	f.Add("POST", "", "/public/..%5cprivate/x", "api.example.com", "")
	f.Add("", "", "", "", "/public/a?b=c")
	f.Add("DELETE", "/hosted/x", "", "api.example.com, evil", "")
	s, _ := forwardAuthServer(f)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, fwdURI, origURI, host, suffix string) {
		target := "/auth/verify"
		if strings.HasPrefix(suffix, "/") {
			target += suffix
		}
		r, err := http.NewRequest("GET", "http://example.com"+target, nil)
		if err != nil {
			return
		}
		r.RemoteAddr = "192.0.2.1:1234"
		for name, v := range map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": fwdURI,
			"X-Original-Uri": origURI, "X-Forwarded-Host": host} {
			if v != "" {
				r.Header[name] = []string{v}
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("forward-auth answered %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			return
		}
		m := method
		if m == "" {
			m = http.MethodGet
		}
		hostName, _, _ := strings.Cut(host, ",")
		for _, u := range []string{fwdURI, origURI} {
			if u == "" {
				continue
			}
			pu, err := url.ParseRequestURI(u)
			if err != nil {
				t.Fatalf("forward-auth let %q through, which is no request URI", u)
			}
			d := &http.Request{Method: m, URL: pu, RequestURI: u, Header: http.Header{}, Host: "example.com",
				RemoteAddr: "192.0.2.1:1234", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody}
			if hn := strings.TrimSpace(hostName); hn != "" {
				d.Host = hn
			}
			dw := httptest.NewRecorder()
			h.ServeHTTP(dw, d.WithContext(r.Context()))
			if dw.Code >= 300 {
				t.Fatalf("forward-auth let %s %q (host %q) through, but sent directly it gets %d", m, u, d.Host, dw.Code)
			}
		}
	})
}
