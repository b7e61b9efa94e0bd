package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtissue"
)

// within fails the test unless ch delivers within d: a proxy that buffers
// what it should stream would otherwise hang the test.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing after %v", what, d)
		panic("unreachable")
	}
}

// TestRouteScope routes by host (any case, port ignored), method and
// listener, longest prefix first among the routes whose scope takes the
// request.
func TestRouteScope(t *testing.T) {
	s := newTestServer(t,
		config.Route{Name: "root", Prefix: "/", Upstream: "echo", Host: "example.com"},
		config.Route{Name: "api-read", Prefix: "/api", Upstream: "echo", Methods: []string{"GET"}},
		config.Route{Name: "api-write", Prefix: "/api", Upstream: "echo", Methods: []string{"POST", "PUT"}, Host: "write.example.com"},
		config.Route{Name: "admin", Prefix: "/admin", Upstream: "echo", Listeners: []string{"internal"}},
		config.Route{Name: "admin-any", Prefix: "/admin", Upstream: "echo", Host: "admin.example.com"},
		config.Route{Name: "docs", Prefix: "/api/docs", Upstream: "echo", Host: "docs.example.com"},
	)
	tests := []struct {
		method, host, listener, path string
		status                       int
		route                        string
	}{
		{"GET", "example.com", "", "/x", 200, "root"},
		{"GET", "EXAMPLE.com:8443", "", "/x", 200, "root"},
		{"GET", "example.com.", "", "/x", 200, "root"},
		{"GET", "other.example", "", "/x", 404, ""},
		{"GET", "other.example", "", "/api/v1", 200, "api-read"},
		{"HEAD", "other.example", "", "/api/v1", 200, "api-read"},
		{"POST", "write.example.com", "", "/api/v1", 200, "api-write"},
		{"POST", "other.example", "", "/api/v1", 405, ""},   // only the GET route takes this host
		{"POST", "example.com", "", "/api/v1", 200, "root"}, // a shorter prefix that takes it wins over a 405
		{"GET", "docs.example.com", "", "/api/docs/x", 200, "docs"},
		{"GET", "other.example", "", "/api/docs/x", 200, "api-read"}, // docs is for its host only
		{"GET", "other.example", "internal", "/admin", 200, "admin"},
		{"GET", "other.example", "public", "/admin", 404, ""},
		{"GET", "other.example", "", "/admin", 404, ""}, // no listener: only routes that name none
		{"GET", "admin.example.com", "public", "/admin", 200, "admin-any"},
		{"GET", "admin.example.com", "internal", "/admin", 200, "admin-any"}, // host named: narrower scope first
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "http://"+tt.host+tt.path, nil)
		if tt.listener != "" {
			req = req.WithContext(WithListener(req.Context(), tt.listener))
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Errorf("%s %s%s on %q: status %d, want %d: %s", tt.method, tt.host, tt.path, tt.listener, w.Code, tt.status, w.Body)
			continue
		}
		if tt.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s%s: Allow %q, want GET, HEAD", tt.method, tt.host, tt.path, w.Header().Get("Allow"))
		}
		if tt.status == 200 && tt.method != "HEAD" {
			if e := echoed(t, w); e.Request.Route != tt.route {
				t.Errorf("%s %s%s on %q: route %s, want %s", tt.method, tt.host, tt.path, tt.listener, e.Request.Route, tt.route)
			}
		}
	}
}

// TestRouteListeners checks that Listen tells each request which listener
// it arrived on.
func TestRouteListeners(t *testing.T) {
	cfg := testConfig(
		config.Route{Name: "inside", Prefix: "/", Upstream: "echo", Listeners: []string{"internal"}},
		config.Route{Name: "outside", Prefix: "/", Upstream: "echo", Listeners: []string{"public"}},
	)
	cfg.Listeners = []config.Listener{
		{Name: "public", Address: "127.0.0.1:0", TLS: config.TLS{InsecurePlainHTTP: true}},
		{Name: "internal", Address: "127.0.0.1:0", TLS: config.TLS{InsecurePlainHTTP: true}},
	}
	s, err := New(cfg, Deps{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	serveListening(t, s)
	for name, want := range map[string]string{"public": "outside", "internal": "inside"} {
		resp, err := http.Get("http://" + s.Addrs()[name].String() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		var e echoBody
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if e.Request.Route != want {
			t.Errorf("listener %s: route %q, want %s", name, e.Request.Route, want)
		}
	}
}

// wsAccept is the Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsWrite writes one final text frame, masked as a client must.
func wsWrite(w io.Writer, payload []byte, mask bool) error {
	frame := []byte{0x81, byte(len(payload))} // FIN, text; payloads under 126 bytes
	if mask {
		key := []byte{1, 2, 3, 4}
		frame[1] |= 0x80
		frame = append(frame, key...)
		for i, b := range payload {
			frame = append(frame, b^key[i%4])
		}
	} else {
		frame = append(frame, payload...)
	}
	_, err := w.Write(frame)
	return err
}

// wsRead reads one frame and returns its payload, unmasked.
func wsRead(r io.Reader) ([]byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := int(head[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	var key [4]byte
	masked := head[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, err
		}
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return payload, nil
}

// wsEcho is a WebSocket upstream that echoes one message back, prefixed
// with the user latchkey said the caller was.
func wsEcho(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not a WebSocket upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + wsAccept(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n")
		brw.Flush()
		msg, err := wsRead(brw)
		if err != nil {
			t.Error(err)
			return
		}
		wsWrite(conn, append([]byte(r.Header.Get(HeaderUser)+": "), msg...), false)
	}))
	t.Cleanup(up.Close)
	return up
}

// TestWebSocket upgrades a connection through latchkey to an echo upstream
// and exchanges a message.
func TestWebSocket(t *testing.T) {
	up := wsEcho(t)
	s := newTestServer(t, config.Route{Name: "ws", Prefix: "/ws", Upstream: up.URL, Auth: []string{"test"}})
	front := httptest.NewServer(s.Handler())
	defer front.Close()

	conn, err := net.DialTimeout("tcp", front.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	io.WriteString(conn, "GET /ws/chat HTTP/1.1\r\nHost: example.com\r\nAuthorization: Test goran\r\n"+
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	if err := wsWrite(conn, []byte("hello through latchkey"), true); err != nil {
		t.Fatal(err)
	}
	got, err := wsRead(br)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "goran: hello through latchkey" {
		t.Fatalf("echo = %q", got)
	}

	// An upgrade without credentials is refused like any request.
	c2, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	io.WriteString(c2, "GET /ws/chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c2), nil); err != nil || resp.StatusCode != 401 {
		t.Fatalf("upgrade without credentials: %v %v", resp, err)
	}
}

// TestUploadStreams sends 10 MB through latchkey and checks that the
// upstream receives the first megabyte before the client sends the rest:
// a proxy that read the body whole would never let it.
func TestUploadStreams(t *testing.T) {
	const chunk, total = 1 << 20, 10 << 20
	first := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.ReadFull(r.Body, make([]byte, chunk))
		if err != nil {
			return // the test has failed and cut the upload short
		}
		close(first)
		rest, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			t.Error(err)
		}
		json.NewEncoder(w).Encode(map[string]int64{"bytes": int64(n) + rest})
	}))
	defer up.Close()
	s := newTestServer(t, config.Route{Name: "upload", Prefix: "/upload", Upstream: up.URL, Auth: []string{"test"}})
	front := httptest.NewServer(s.Handler())
	defer front.Close()

	pr, pw := io.Pipe()
	defer pw.CloseWithError(io.ErrUnexpectedEOF) // first, on failure: nothing waits for the rest
	req, _ := http.NewRequest("POST", front.URL+"/upload", pr)
	req.Header.Set("Authorization", "Test goran")
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		done <- result{resp, err}
	}()
	block := bytes.Repeat([]byte("x"), chunk)
	if _, err := pw.Write(block); err != nil {
		t.Fatal(err)
	}
	within(t, first, 10*time.Second, "the upstream's first megabyte")
	for sent := chunk; sent < total; sent += chunk {
		if _, err := pw.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	pw.Close()
	res := within(t, done, 30*time.Second, "the upload's answer")
	if res.err != nil {
		t.Fatal(res.err)
	}
	var got struct{ Bytes int64 }
	json.NewDecoder(res.resp.Body).Decode(&got)
	res.resp.Body.Close()
	if res.resp.StatusCode != 200 || got.Bytes != total {
		t.Fatalf("upload: %d, upstream got %d bytes of %d", res.resp.StatusCode, got.Bytes, total)
	}
}

// TestResponseStreams checks that a streamed answer (chunked, and an event
// stream) reaches the client piece by piece: the upstream sends its second
// piece only after the client has read the first.
func TestResponseStreams(t *testing.T) {
	for _, ct := range []string{"application/x-ndjson", "text/event-stream"} {
		t.Run(ct, func(t *testing.T) {
			next := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, "data: one\n")
				http.NewResponseController(w).Flush()
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "data: two\n")
			}))
			defer up.Close()
			s := newTestServer(t, config.Route{Name: "events", Prefix: "/", Upstream: up.URL})
			front := httptest.NewServer(s.Handler())
			defer front.Close()
			resp, err := http.Get(front.URL + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			lines := make(chan string, 2)
			go func() {
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						close(lines)
						return
					}
					lines <- l
				}
			}()
			if l := within(t, lines, 5*time.Second, "the first piece"); l != "data: one\n" {
				t.Fatalf("first piece %q", l)
			}
			close(next)
			if l := within(t, lines, 5*time.Second, "the second piece"); l != "data: two\n" {
				t.Fatalf("second piece %q", l)
			}
		})
	}
}

// TestUpstreamTimeout checks that an upstream that does not answer within
// the route's timeout gets the client a 504 JSON error: the route's
// transport waits for the route's timeout, not the default, and the
// gateway gives up on the upstream, which never answers on its own.
func TestUpstreamTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	release := make(chan struct{})
	abandoned := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			abandoned <- struct{}{}
		}
	}))
	defer up.Close()
	defer close(release)
	s := newTestServer(t, config.Route{Name: "slow", Prefix: "/", Upstream: up.URL, Timeout: config.Duration(timeout)})
	for k, tr := range s.routes.upstreams.m {
		if tr.ResponseHeaderTimeout != timeout {
			t.Errorf("the transport to %s waits %v for an answer, want the route's %v", k.host, tr.ResponseHeaderTimeout, timeout)
		}
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/slow", nil))
	within(t, abandoned, 10*time.Second, "the upstream's request was not given up")
	var e errorBody
	if w.Code != http.StatusGatewayTimeout || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code != "gateway_timeout" {
		t.Fatalf("status %d body %s; want 504 gateway_timeout", w.Code, w.Body)
	}
}

// issuerFixture is a fixture whose gateway has latchkey's real token
// issuer, over the fixture's store, and the given routes.
func issuerFixture(t *testing.T, routes ...config.Route) (*fixture, *jwtissue.Issuer) {
	t.Helper()
	f := newFixture(t)
	is, err := jwtissue.New(context.Background(), f.st, quietLog(), IssuerOptions(defaultIssuer(), make([]byte, 32), nil, testTokenCache(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close() })
	cfg := *f.s.cfg
	cfg.Routes = routes
	cfg.Server.ForwardAuthPath = "/auth/verify"
	if f.s, err = New(&cfg, Deps{Store: f.st, Creds: f.creds, Log: quietLog(), Issuer: is}); err != nil {
		t.Fatal(err)
	}
	return f, is
}

// TestUpstreamJWT checks that a route with upstream_jwt passes the caller
// on as a short-lived token that latchkey's issuer verifies, that a client
// cannot send its own, and that anonymous callers get none.
func TestUpstreamJWT(t *testing.T) {
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer up.Close()
	f, is := issuerFixture(t, config.Route{Name: "api", Prefix: "/", Upstream: up.URL,
		Auth: []string{"apikey"}, AllowAnonymous: true, UpstreamJWT: true})
	k := f.key(f.addUser("goran", latchkey.RoleAPIKeyUser), false)
	front := httptest.NewServer(f.s.Handler())
	defer front.Close()

	send := func(header ...string) {
		t.Helper()
		req, _ := http.NewRequest("GET", front.URL+"/data", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /data: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	send("X-Api-Key", k.Key, HeaderJWT, "forged")
	tok := got.Get(HeaderJWT)
	res, err := is.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("the upstream JWT %q does not verify: %v", tok, err)
	}
	if res.Username != "goran" || res.Directory != "LAB" {
		t.Errorf("the upstream JWT names %s\\%s", res.Directory, res.Username)
	}
	if left := time.Until(res.ExpiresAt); left <= 0 || left > upstreamJWTLifetime {
		t.Errorf("the upstream JWT is valid for %v more, want at most %v", left, upstreamJWTLifetime)
	}

	send(HeaderJWT, "forged")
	if v, ok := got[HeaderJWT]; ok {
		t.Errorf("an anonymous request reached the upstream with %s %q", HeaderJWT, v)
	}
	if got.Get(HeaderMethod) != latchkey.MethodAnonymous {
		t.Errorf("anonymous request's method header %q", got.Get(HeaderMethod))
	}

	// Forward-auth hands the proxy in front the same token.
	w := f.serve(request("GET", "/auth/verify", "", "X-Forwarded-Uri", "/data", "X-Api-Key", k.Key))
	if _, err := is.Verify(context.Background(), w.Header().Get(HeaderJWT)); w.Code != 200 || err != nil {
		t.Errorf("forward-auth: %d, token %v", w.Code, err)
	}
}

// TestUpstreamJWTNeedsIssuer checks that a gateway without an issuer
// refuses a route with upstream_jwt.
func TestUpstreamJWTNeedsIssuer(t *testing.T) {
	_, err := New(testConfig(config.Route{Name: "r", Prefix: "/", Upstream: "echo", UpstreamJWT: true}), Deps{Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), "upstream_jwt") {
		t.Fatalf("New = %v, want an upstream_jwt error", err)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com", "example.com:8443": "example.com", "Example.COM.": "Example.COM",
		"example.com.:443": "example.com", "[::1]:8443": "::1", "[::1]": "::1", "::1": "::1",
		"127.0.0.1:80": "127.0.0.1", "": "",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUpstreamTransports checks that routes to one upstream with one
// timeout share a connection pool, and that the timeout is the route's.
func TestUpstreamTransports(t *testing.T) {
	s := newTestServer(t,
		config.Route{Name: "a", Prefix: "/a", Upstream: "http://api.internal:8080/a", Timeout: config.Duration(time.Minute)},
		config.Route{Name: "b", Prefix: "/b", Upstream: "http://api.internal:8080/b", Timeout: config.Duration(time.Minute)},
		config.Route{Name: "c", Prefix: "/c", Upstream: "http://api.internal:8080", Timeout: config.Duration(5 * time.Second)},
		config.Route{Name: "d", Prefix: "/d", Upstream: "https://api.internal:8080", Timeout: config.Duration(time.Minute)},
	)
	if n := len(s.routes.upstreams.m); n != 3 {
		t.Fatalf("%d transports, want 3 (a and b share one)", n)
	}
	for k, tr := range s.routes.upstreams.m {
		if tr.ResponseHeaderTimeout != k.timeout || k.timeout != time.Minute && k.timeout != 5*time.Second {
			t.Errorf("%v: ResponseHeaderTimeout %v", k, tr.ResponseHeaderTimeout)
		}
	}
}
