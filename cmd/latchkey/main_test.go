package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storetest"
)

// binary is latchkey built once for the tests that need a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "latchkey-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "latchkey")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build latchkey: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer logsGrew()
	return s.b.Write(p)
}

// grown is closed, and replaced, whenever a syncBuffer is written to, so
// that a test can wait for a line of a log.
var (
	grownMu sync.Mutex
	grown   = make(chan struct{})
)

func logsGrew() {
	grownMu.Lock()
	defer grownMu.Unlock()
	close(grown)
	grown = make(chan struct{})
}

// logsGrown returns a channel closed at the next write to a syncBuffer.
func logsGrown() <-chan struct{} {
	grownMu.Lock()
	defer grownMu.Unlock()
	return grown
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs one command line in-process.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb, getenv)
	return out.String(), errb.String(), code
}

// mustCLI runs a command line that must succeed.
func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, nil, stdin, args...)
	if code != 0 {
		t.Fatalf("latchkey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// backends returns the store flags of each backend the tests can reach.
func backends(t *testing.T) map[string]func(t *testing.T) []string {
	return map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
		"postgres": func(t *testing.T) []string {
			return []string{"--store-dsn", storetest.PostgresDSN(t)}
		},
	}
}

// waitListening reads the serve log (JSON) until the "listening" line of the
// named listener, and returns its URL. It reads the log again after each
// write to it (logs is a syncBuffer's String).
func waitListening(t *testing.T, logs func() string, listener string) string {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		grew := logsGrown()
		sc := bufio.NewScanner(strings.NewReader(logs()))
		for sc.Scan() {
			var rec struct{ Msg, Listener, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" && rec.Listener == listener {
				return rec.URL
			}
		}
		select {
		case <-grew:
		case <-deadline.C:
			t.Fatalf("server did not start listening; its output:\n%s", logs())
		}
	}
}

var insecureClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := insecureClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// freePort returns a loopback address no one listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
