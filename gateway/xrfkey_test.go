package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/xrfkey"
)

// xrfkeyRoutes guard with Xrfkey: one keeps the parameter, one strips it;
// neither needs credentials, so that the guard alone decides.
var xrfkeyRoutes = []config.Route{
	{Name: "keep", Prefix: "/keep/", Upstream: "echo", Xrfkey: true},
	{Name: "strip", Prefix: "/strip", Upstream: "echo", StripPrefix: true, Xrfkey: true, StripXrfkey: true},
	{Name: "open", Prefix: "/open", Upstream: "echo"},
}

// wantXrfkeyRefusal checks Qlik's answer to a failed check, byte for byte.
func wantXrfkeyRefusal(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != 403 || w.Body.String() != "XSRF prevention check failed. Possible XSRF discovered." ||
		w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("%d %q %v", w.Code, w.Body, w.Header())
	}
}

func TestXrfkeyGuard(t *testing.T) {
	s, err := New(testConfig(xrfkeyRoutes...), Deps{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, target string, header ...string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, request(method, target, "", header...))
		return w
	}
	const other = "ABCDEFGHIJ654321"
	tests := []struct {
		name, target string
		header       []string
		ok           bool
	}{
		{"seed 000", "/keep/qrs/about?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, true},
		{"lower-case parameter", "/keep/qrs/about?xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, true},
		{"header in any case", "/keep/qrs/about?Xrfkey=" + xrf, []string{"x-qlik-xrfkey", xrf}, true},
		{"prefix without its slash", "/keep?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, true},
		{"trailing slash", "/keep/qrs/about/?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, true},
		{"missing header", "/keep/qrs/about?Xrfkey=" + xrf, nil, false},
		{"missing parameter", "/keep/qrs/about", []string{"X-Qlik-Xrfkey", xrf}, false},
		{"both missing", "/keep/qrs/about", nil, false},
		{"different values", "/keep/qrs/about?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", other}, false},
		{"values differing in case", "/keep/qrs/about?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", "ABCDEFGHIJ123456"}, false},
		{"too short", "/keep/qrs/about?Xrfkey=abcdefghij12345", []string{"X-Qlik-Xrfkey", "abcdefghij12345"}, false},
		{"too long", "/keep/qrs/about?Xrfkey=abcdefghij1234567", []string{"X-Qlik-Xrfkey", "abcdefghij1234567"}, false},
		{"bad characters", "/keep/qrs/about?Xrfkey=abcdefghij12345-", []string{"X-Qlik-Xrfkey", "abcdefghij12345-"}, false},
		{"escaped space", "/keep/qrs/about?Xrfkey=abcdefghij12345%20", []string{"X-Qlik-Xrfkey", "abcdefghij12345 "}, false},
		{"parameter twice", "/keep/qrs/about?Xrfkey=" + xrf + "&xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, false},
		{"header twice", "/keep/qrs/about?Xrfkey=" + xrf, []string{"X-Qlik-Xrfkey", xrf, "X-Qlik-Xrfkey", xrf}, false},
		{"other spelling of the parameter", "/keep/qrs/about?XRFKEY=" + xrf, []string{"X-Qlik-Xrfkey", xrf}, false},
		{"empty", "/keep/qrs/about?Xrfkey=", []string{"X-Qlik-Xrfkey", ""}, false},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "POST", "DELETE", "OPTIONS"} {
			t.Run(tt.name+" "+method, func(t *testing.T) {
				w := serve(method, tt.target, tt.header...)
				if !tt.ok {
					wantXrfkeyRefusal(t, w)
					return
				}
				if w.Code != 200 {
					t.Fatalf("%d %s", w.Code, w.Body)
				}
			})
		}
	}

	t.Run("routes without the guard ignore it", func(t *testing.T) {
		if w := serve("GET", "/open/x"); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("kept", func(t *testing.T) {
		e := echoed(t, serve("GET", "/keep/x?a=1&Xrfkey="+xrf+"&b=%20x", "X-Qlik-Xrfkey", xrf))
		if e.Request.Query != "a=1&Xrfkey="+xrf+"&b=%20x" {
			t.Fatalf("query %q", e.Request.Query)
		}
	})
	t.Run("stripped", func(t *testing.T) {
		for target, want := range map[string]string{
			"/strip/qrs/about?Xrfkey=" + xrf:                 "",
			"/strip/qrs/about?a=1&xrfkey=" + xrf + "&b=%20x": "a=1&b=%20x",
			"/strip?%58rfkey=" + xrf + "&c=3":                "c=3",
			"/strip/?z=9&Xrfkey=" + xrf:                      "z=9",
		} {
			e := echoed(t, serve("GET", target, "X-Qlik-Xrfkey", xrf))
			if e.Request.Query != want {
				t.Fatalf("%s: query %q, want %q", target, e.Request.Query, want)
			}
		}
	})
}

// TestXrfkeyBeforeAuthentication: the guard answers before any method
// looks at credentials, so a request without them gets 403, not 401.
func TestXrfkeyBeforeAuthentication(t *testing.T) {
	f := newBearerFixture(t)
	w := f.serve(request("GET", "/jwt/qrs/about", ""))
	wantXrfkeyRefusal(t, w)
	w = f.serve(request("GET", "/jwt/qrs/about?Xrfkey="+xrf, "", "X-Qlik-Xrfkey", xrf))
	if w.Code != 401 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// FuzzXrfkeyGuard: for any query and header, the guarded route lets the
// request through exactly when the parameter (once, either spelling) and
// the header (once) are equal and valid, refuses it with Qlik's answer
// otherwise, and a stripping route passes no Xrfkey parameter on.
func FuzzXrfkeyGuard(f *testing.F) {
	s, err := New(testConfig(xrfkeyRoutes...), Deps{Log: quietLog()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Xrfkey="+xrf, xrf, true)
	f.Add("xrfkey="+xrf+"&a=b", xrf, false)
	f.Add("Xrfkey="+xrf+"&Xrfkey="+xrf, xrf, true)
	f.Add("%58rfkey="+xrf, xrf, true)
	f.Add("Xrfkey=abc;d=1", "abc", false)
	f.Add("Xrfkey=%zz", "", false)
	f.Fuzz(func(t *testing.T, query, header string, strip bool) {
		path := "/keep/x"
		if strip {
			path = "/strip/x"
		}
		r := httptest.NewRequest("GET", path, nil)
		r.URL.RawQuery = query
		r.Header.Set(xrfkey.Header, header)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)

		q, _ := url.ParseQuery(query)
		vals := append(q["Xrfkey"], q["xrfkey"]...)
		pass := len(vals) == 1 && vals[0] == header && xrfkey.Valid(header)
		if !pass {
			wantXrfkeyRefusal(t, w)
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("query %q header %q: %d %s", query, header, w.Code, w.Body)
		}
		if strip {
			got, _ := url.ParseQuery(echoed(t, w).Request.Query)
			if got.Has("Xrfkey") || got.Has("xrfkey") {
				t.Fatalf("query %q reached the upstream as %q", query, echoed(t, w).Request.Query)
			}
		}
	})
}
