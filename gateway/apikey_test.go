package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

func TestAPIKeyMethod(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	nosignin := f.addUser("nosignin")
	rw, ro := f.key(goran, false), f.key(goran, true)
	revoked := f.key(goran, false)
	if err := f.creds.RevokeAPIKey(ctx, nil, revoked.ID, ""); err != nil {
		t.Fatal(err)
	}
	id, expired, hash := credential.MintAPIKey()
	past := time.Now().Add(-time.Hour)
	if err := f.st.CreateAPIKey(ctx, &latchkey.APIKey{ID: id, UserID: goran.ID, CreatedAt: past.Add(-time.Hour), ExpiresAt: past, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method string
		header       []string
		status       int
		mention      string
	}{
		{"key on a GET", "GET", []string{"X-Api-Key", rw.Key}, 200, ""},
		{"key on a POST: no XHR headers needed", "POST", []string{"X-Api-Key", rw.Key}, 200, ""},
		{"read-only key on a GET", "GET", []string{"X-Api-Key", ro.Key}, 200, ""},
		{"read-only key on HEAD", "HEAD", []string{"X-Api-Key", ro.Key}, 200, ""},
		{"read-only key on a POST", "POST", []string{"X-Api-Key", ro.Key}, 403, "read-only"},
		{"read-only key on a DELETE", "DELETE", xhr("X-Api-Key", ro.Key), 403, "read-only"},
		{"no key", "GET", nil, 401, "credentials"},
		{"empty key", "GET", []string{"X-Api-Key", ""}, 401, "not valid"},
		{"garbage", "GET", []string{"X-Api-Key", "secretkey"}, 401, "not valid"},
		{"tampered", "GET", []string{"X-Api-Key", rw.Key[:len(rw.Key)-2] + "xx"}, 401, "not valid"},
		{"two keys", "GET", []string{"X-Api-Key", rw.Key, "X-Api-Key", ro.Key}, 401, "one X-Api-Key header"},
		{"revoked", "GET", []string{"X-Api-Key", revoked.Key}, 401, "revoked"},
		{"expired", "GET", []string{"X-Api-Key", expired}, 401, "expired"},
		{"owner lacks apikey.signin", "GET", []string{"X-Api-Key", f.key(nosignin, false).Key}, 403, "apikey.signin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, "/keyonly/data", "", tt.header...))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("a route without basic sent WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
			if tt.mention != "" {
				if msg := errorMessage(t, w); !strings.Contains(msg, tt.mention) {
					t.Errorf("message %q does not mention %q", msg, tt.mention)
				}
			} else if tt.method != "HEAD" {
				if e := echoed(t, w); e.Principal.Username != "goran" || e.Principal.Method != latchkey.MethodAPIKey || e.Principal.CredentialID == "" {
					t.Errorf("principal %+v", e.Principal)
				}
			}
		})
	}
}

// TestAPIKeyRevokedAtOnce checks that a key revoked through the API is
// refused on the very next request.
func TestAPIKeyRevokedAtOnce(t *testing.T) {
	f := newFixture(t)
	v := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false)
	if w := f.serve(request("GET", "/api/v1/data", "", "X-Api-Key", v.Key)); w.Code != 200 {
		t.Fatalf("fresh key: %d", w.Code)
	}
	if w := f.serve(request("POST", "/api/v1/api_keys/"+v.ID+"/revoke", "", xhr("X-Api-Key", v.Key)...)); w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := f.serve(request("GET", "/api/v1/data", "", "X-Api-Key", v.Key)); w.Code != 401 {
		t.Fatalf("the request after revoking: %d, want 401", w.Code)
	}
}

// TestAPIKeyHeaderAnyCase sends the header name in lower and odd case over
// a real connection, as clients may write it on the wire.
func TestAPIKeyHeaderAnyCase(t *testing.T) {
	f := newFixture(t)
	v := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false)
	srv := httptest.NewServer(f.s.Handler())
	defer srv.Close()
	for _, name := range []string{"x-api-key", "X-API-KEY", "x-Api-kEy"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET /keyonly HTTP/1.1\r\nHost: x\r\n"+name+": "+v.Key+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp.Body)
		conn.Close()
		if resp.StatusCode != 200 || !strings.Contains(body, `"method": "apikey"`) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}
