package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// TestWebSocketOrigin attempts real upgrades through latchkey to a
// WebSocket upstream: one authenticated by the session cookie needs an
// allowed Origin (login.allowed_origins or the request's own), as a
// browser always sends one and a foreign page cannot choose it; one
// authenticated by an API key does not, since no browser adds the key.
func TestWebSocketOrigin(t *testing.T) {
	f := newFixture(t)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	key := f.key(goran, false)
	cookie := "wtsession=" + f.login(`LAB\goran`, "password-goran")
	cfg := *f.s.cfg
	cfg.Routes = []config.Route{{Name: "ws", Prefix: "/ws", Upstream: wsEcho(t).URL, Auth: []string{"session", "apikey"}}}
	cfg.Server.ForwardAuthPath = "/auth/verify"
	s, err := New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(s.Handler())
	defer front.Close()

	tests := []struct {
		name   string
		header string // request header lines
		status int
	}{
		{"cookie, foreign origin", "Cookie: " + cookie + "\r\nOrigin: https://evil.example\r\n", 403},
		{"cookie, no origin", "Cookie: " + cookie + "\r\n", 403},
		{"cookie, null origin", "Cookie: " + cookie + "\r\nOrigin: null\r\n", 403},
		{"cookie, allowed origin as configured", "Cookie: " + cookie + "\r\nOrigin: " + testOrigin + "\r\n", 101},
		{"cookie, allowed origin", "Cookie: " + cookie + "\r\nOrigin: https://app.example.org\r\n", 101},
		{"cookie, the request's own origin", "Cookie: " + cookie + "\r\nOrigin: http://example.com\r\n", 101},
		{"API key, foreign origin", "X-Api-Key: " + key.Key + "\r\nOrigin: https://evil.example\r\n", 101},
	}
	for _, tt := range tests {
		conn, err := net.DialTimeout("tcp", front.Listener.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="
		io.WriteString(conn, "GET /ws/chat HTTP/1.1\r\nHost: example.com\r\n"+tt.header+
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+wsKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %s, want %d", tt.name, resp.Status, tt.status)
		} else if tt.status == 101 {
			if err := wsWrite(conn, []byte("hi"), true); err != nil {
				t.Fatal(err)
			}
			if got, err := wsRead(br); err != nil || string(got) != "goran: hi" {
				t.Errorf("%s: echo %q %v", tt.name, got, err)
			}
		} else if body := readAll(t, resp.Body); len(body) < 40 {
			t.Errorf("%s: refusal says too little: %s", tt.name, body)
		}
		conn.Close()
	}

	// Forward-auth decides the upgrade the front proxy asks about alike.
	for origin, want := range map[string]int{"https://evil.example": 403, "https://app.example.org": 200} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, request("GET", "/auth/verify", "", "X-Original-URI", "/ws/chat", "Cookie", cookie,
			"Origin", origin, "Upgrade", "websocket", "Connection", "Upgrade"))
		if w.Code != want {
			t.Errorf("forward-auth of an upgrade from %s: %d %s, want %d", origin, w.Code, w.Body, want)
		}
	}

	// A cookie-authenticated GET that is no upgrade keeps its old rule: a
	// link from another site may open a page.
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, request("GET", "/ws/page", "", "Cookie", cookie, "Origin", "https://evil.example"))
	if w.Code == 403 {
		t.Errorf("plain GET from another origin: %d %s", w.Code, w.Body)
	}
}

// TestWebSocketOriginJWTSession checks the same rule for a session opened
// with a JWT (Qlik Cloud's exchange), whose cookie a browser sends alike.
func TestWebSocketOriginJWTSession(t *testing.T) {
	f := newJWTFixture(t)
	w := f.exchange(f.cloudToken("ann", nil))
	if w.Code != 200 {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	session, _, _ := strings.Cut(strings.TrimPrefix(w.Header().Values("Set-Cookie")[0], "wtsession="), ";")
	for origin, want := range map[string]int{"https://evil.example": 403, "": 403, "https://app.example.org": 200, "http://example.com": 200} {
		h := []string{"Cookie", "wtsession=" + session, "Upgrade", "websocket", "Connection", "Upgrade"}
		if origin != "" {
			h = append(h, "Origin", origin)
		}
		if w := f.serve(request("GET", "/api/v1/spaces", "", h...)); w.Code != want {
			t.Errorf("upgrade from %q: %d %s, want %d", origin, w.Code, w.Body, want)
		}
	}
}
