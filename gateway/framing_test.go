package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
)

// rawRequest sends raw to the server at addr and returns the response and,
// when asked, whether the server then closed the connection.
func rawRequest(t *testing.T, addr, raw string, askClosed bool) (*http.Response, string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !askClosed {
		return resp, string(body), false
	}
	// The connection: closed (EOF, or a reset for what the server left
	// unread) or kept open (the read deadline passes).
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	return resp, string(body), err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// TestRequestFraming: what reaches the upstream is framed once, and a body
// whose framing breaks while it streams is the client's fault.
func TestRequestFraming(t *testing.T) {
	type seen struct {
		cl   int64
		te   []string
		body string
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		got <- seen{r.ContentLength, r.TransferEncoding, string(b)}
	}))
	defer up.Close()
	s := newTestServer(t, config.Route{Name: "up", Prefix: "/up", Upstream: up.URL, Auth: []string{"test"}})
	front := httptest.NewServer(s.Handler())
	defer front.Close()
	addr := front.Listener.Addr().String()
	head := "POST /up/x HTTP/1.1\r\nHost: example.com\r\nAuthorization: Test goran\r\n"

	// A malformed chunked body: 400, and the connection is closed.
	resp, body, closed := rawRequest(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n"+
		strings.Repeat("x", 40000)+"zz\r\n", true)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "chunked encoding") || !closed || !resp.Close {
		t.Errorf("malformed chunked body: %d %s, closed %v; want 400 and the connection closed", resp.StatusCode, body, closed)
	}

	// Both Content-Length and Transfer-Encoding: Go's server drops the
	// Content-Length and reads the chunks (it cannot tell the handler that
	// both were sent), so the upstream gets one request of the chunked
	// body, framed by latchkey, and no second request hides in the first.
	resp, _, _ = rawRequest(t, addr, head+"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\n\r\nGET /up/smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n", false)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Content-Length with chunked: %d", resp.StatusCode)
	}
	select {
	case g := <-got:
		if g.body != "hello" {
			t.Errorf("the upstream got %+v; want the chunked body alone", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream got nothing")
	}
	select {
	case g := <-got:
		t.Errorf("a second request reached the upstream: %+v", g)
	default:
	}
}
