package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func TestBasicMethod(t *testing.T) {
	f := newFixture(t)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	f.addUser(`LOCAL\apiuser`, latchkey.RoleAPIKeyUser)
	key := f.key(goran, false).Key
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, method, auth string
		status             int
		user, by, mention  string
	}{
		{"password", "GET", basic(`LAB\goran`, "password-goran"), 200, "goran", "", ""},
		{"password again, from the cache", "GET", basic(`LAB\goran`, "password-goran"), 200, "goran", "", ""},
		{"names in any case", "GET", basic(`lab\GORAN`, "password-goran"), 200, "goran", "", ""},
		{"bare name: default directory", "GET", basic("apiuser", "password-apiuser"), 200, "apiuser", "", ""},
		{"scheme in any case", "GET", "bAsIc " + b64(`LAB\goran:password-goran`), 200, "goran", "", ""},
		{"API key as the password", "GET", basic(`LAB\goran`, key), 200, "goran", "key", ""},
		{"password with a colon", "GET", basic(`LAB\goran`, "password-goran:x"), 401, "", "", "not correct"},
		{"wrong password", "GET", basic(`LAB\goran`, "wrong"), 401, "", "", "The username or password is not correct."},
		{"unknown user: the same answer", "GET", basic(`LAB\nobody`, "wrong"), 401, "", "", "The username or password is not correct."},
		{"someone else's key", "GET", basic("apiuser", key), 401, "", "", "not correct"},
		{"not base64", "GET", "Basic !!!", 401, "", "", "base64 of username:password"},
		{"no colon", "GET", "Basic " + b64("goran"), 401, "", "", "base64 of username:password"},
		{"empty username", "GET", "Basic " + b64(":pw"), 401, "", "", "base64 of username:password"},
		{"scheme alone", "GET", "Basic", 401, "", "", "base64 of username:password"},
		{"another scheme is not Basic", "GET", "Bearer abc", 401, "", "", "needs credentials"},
		{"read-write POST needs no XHR headers", "POST", basic(`LAB\goran`, "password-goran"), 200, "goran", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, "/api/v1/projects", "", "Authorization", tt.auth))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 401 {
				if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="latchkey", charset="UTF-8"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.mention) {
					t.Errorf("message %q does not mention %q", msg, tt.mention)
				}
				return
			}
			e := echoed(t, w)
			if e.Principal.Username != tt.user || e.Principal.Method != latchkey.MethodBasic {
				t.Errorf("principal %s by %s, want %s by basic", e.Principal.Username, e.Principal.Method, tt.user)
			}
			if (tt.by == "key") != (e.Principal.CredentialID != "") {
				t.Errorf("credential id %q; signed in with a key: %v", e.Principal.CredentialID, tt.by == "key")
			}
		})
	}
}

func TestBasicThrottled(t *testing.T) {
	f := newFixture(t)
	f.addUser("ann")
	for range 5 {
		f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\ann`, "wrong")))
	}
	start := time.Now()
	w := f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\ann`, "password-ann")))
	if w.Code != 429 {
		t.Fatalf("after 5 failures: %d, want 429", w.Code)
	}
	if d := time.Since(start); d < testRefusalDelay {
		t.Fatalf("the 429 came after %s, want at least %s", d, testRefusalDelay)
	}
	// A client that gives up is not waited for.
	f.s.refusalDelay = time.Hour
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if w := f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\ann`, "password-ann")).WithContext(ctx)); w.Code != 429 {
		t.Fatalf("after 5 failures, with a deadline: %d, want 429", w.Code)
	}
}

func TestParseBasic(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		header, user, secret string
		err                  error // ErrNoCredentials, errBasicShape or nil
	}{
		{"", "", "", ErrNoCredentials},
		{"Bearer x", "", "", ErrNoCredentials},
		{"Basically " + b64("a:b"), "", "", ErrNoCredentials},
		{"Basic " + b64("apiuser:secretkey"), "apiuser", "secretkey", nil},
		{"Basic YXBpdXNlcjpzZWNyZXRrZXk=", "apiuser", "secretkey", nil}, // seed 004's example
		{"BASIC " + b64(`LAB\goran:p:w`), `LAB\goran`, "p:w", nil},
		{"basic  " + b64("a:") + " ", "a", "", nil},
		{"Basic " + b64("Göran:pässword"), "Göran", "pässword", nil},
		{"Basic", "", "", errBasicShape},
		{"Basic ", "", "", errBasicShape},
		{"Basic " + b64("nocolon"), "", "", errBasicShape},
		{"Basic " + b64(":x"), "", "", errBasicShape},
		{"Basic " + strings.TrimRight(b64("ab:c"), "="), "", "", errBasicShape},
		{"Basic ***", "", "", errBasicShape},
	}
	for _, tt := range tests {
		user, secret, err := parseBasic(tt.header)
		if user != tt.user || secret != tt.secret || !errors.Is(err, tt.err) {
			t.Errorf("parseBasic(%q) = %q, %q, %v; want %q, %q, %v", tt.header, user, secret, err, tt.user, tt.secret, tt.err)
		}
	}
}

// FuzzParseBasic checks that any header parses without panicking into
// either no credentials, a 401, or a non-empty username without ':' whose
// encoding parses back the same; and that every username:secret that can be
// sent round-trips.
func FuzzParseBasic(f *testing.F) {
	f.Add("Basic YXBpdXNlcjpzZWNyZXRrZXk=", "apiuser", "secretkey")
	f.Add("basic "+base64.StdEncoding.EncodeToString([]byte(`LAB\goran:a:b`)), `LAB\goran`, "a:b")
	f.Add("Basic", "", "")
	f.Add("Bearer x", "x:y", "")
	f.Fuzz(func(t *testing.T, header, user, secret string) {
		u, s, err := parseBasic(header)
		switch {
		case errors.Is(err, ErrNoCredentials), errors.Is(err, errBasicShape):
			if u != "" || s != "" {
				t.Fatalf("parseBasic(%q) failed but returned %q, %q", header, u, s)
			}
		case err != nil:
			t.Fatalf("parseBasic(%q) returned an unexpected error %v", header, err)
		case u == "" || strings.Contains(u, ":"):
			t.Fatalf("parseBasic(%q) returned the username %q", header, u)
		default:
			u2, s2, err := parseBasic(basic(u, s))
			if err != nil || u2 != u || s2 != s {
				t.Fatalf("%q: re-encoding %q, %q parsed as %q, %q, %v", header, u, s, u2, s2, err)
			}
		}
		if user == "" || strings.Contains(user, ":") {
			return
		}
		u, s, err = parseBasic(basic(user, secret))
		if err != nil || u != user || s != secret {
			t.Fatalf("basic(%q, %q) parsed as %q, %q, %v", user, secret, u, s, err)
		}
	})
}

// TestFailedSignInLogNamesDirectory checks that the log line of a failed
// Basic or login sign-in says which directory a bare name was looked up in
// (LAB\goran exists; "goran" means LOCAL\goran), never the secret, while the
// client's answer stays the same as for a user who does not exist.
func TestFailedSignInLogNamesDirectory(t *testing.T) {
	f := newFixture(t)
	f.addUser(`LAB\goran`)
	var buf bytes.Buffer
	f.s.log = slog.New(slog.NewJSONHandler(&buf, nil))
	type line struct {
		Status       int
		User         string
		SigninFailed string `json:"signin_failed"`
	}
	lastLine := func() line {
		t.Helper()
		lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
		var l line
		if err := json.Unmarshal(lines[len(lines)-1], &l); err != nil {
			t.Fatalf("log %s: %v", buf.Bytes(), err)
		}
		return l
	}
	body := func(user string) string {
		b, _ := json.Marshal(loginRequest{Username: user, Password: "password-goran"})
		return string(b)
	}
	for _, tc := range []struct {
		name string
		req  func(user string) *http.Request
	}{
		{"basic", func(user string) *http.Request {
			return request("GET", "/optional/x", "", "Authorization", basic(user, "password-goran"))
		}},
		{"login", func(user string) *http.Request { return request("POST", "/api/v1/login", body(user), xhr()...) }},
	} {
		buf.Reset()
		bare := f.serve(tc.req("goran"))
		if bare.Code != http.StatusUnauthorized {
			t.Fatalf("%s as goran: %d %s", tc.name, bare.Code, bare.Body)
		}
		if l := lastLine(); l.SigninFailed != `LOCAL\goran` || l.User != "" || l.Status != 401 {
			t.Errorf("%s as goran: log line %s", tc.name, buf.Bytes())
		}
		if strings.Contains(buf.String(), "password-goran") {
			t.Errorf("%s: the log holds the password: %s", tc.name, buf.Bytes())
		}
		nobody := f.serve(tc.req("nobody"))
		if nobody.Code != bare.Code || nobody.Body.String() != bare.Body.String() {
			t.Errorf("%s: goran answered %d %s, nobody %d %s", tc.name, bare.Code, bare.Body, nobody.Code, nobody.Body)
		}
		buf.Reset()
		if w := f.serve(tc.req(`LAB\goran`)); w.Code != http.StatusOK {
			t.Fatalf(`%s as LAB\goran: %d %s`, tc.name, w.Code, w.Body)
		}
		if l := lastLine(); l.SigninFailed != "" || l.User != `LAB\goran` {
			t.Errorf(`%s as LAB\goran: log line %s`, tc.name, buf.Bytes())
		}
	}
}
