package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storetest"
)

// announcer is the output of one serve: it keeps everything written and
// closes listening when the JSON line saying that the main listener listens
// goes by.
type announcer struct {
	mu        sync.Mutex
	all       bytes.Buffer
	line      []byte
	listening chan struct{}
}

func newAnnouncer() *announcer { return &announcer{listening: make(chan struct{})} }

func (a *announcer) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all.Write(p)
	for _, c := range p {
		if c != '\n' {
			a.line = append(a.line, c)
			continue
		}
		var rec struct{ Msg, Listener string }
		if json.Unmarshal(a.line, &rec) == nil && rec.Msg == "listening" && rec.Listener == "main" {
			select {
			case <-a.listening:
			default:
				close(a.listening)
			}
		}
		a.line = a.line[:0]
	}
	return len(p), nil
}

func (a *announcer) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.all.String()
}

// TestConcurrentStart starts three serve at once on one new store, ten times
// per backend: every one must reach listening, exactly one administrator
// must exist, and exactly one of them must have shown its password. On
// SQLite the three share one data directory (and the certificate they leave
// there must be a pair); on PostgreSQL they share one schema and each has a
// data directory (TLS files) of its own. On a new schema the migration lock
// staggers the nodes, which hides the administrator's race most of the
// time; "postgres-migrated" starts them on a schema that a command has
// migrated already, with no user yet, where every trial met it, so five
// trials do. Each trial costs three argon2id hashes, slow under -race.
func TestConcurrentStart(t *testing.T) {
	const nodes = 3
	for _, tc := range []struct {
		backend string
		trials  int
	}{{"sqlite", 10}, {"postgres", 10}, {"postgres-migrated", 5}} {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel() // a trial waits on its database as well as on the processor
			for trial := range tc.trials {
				var flags func() []string
				var dir string
				if tc.backend == "sqlite" {
					dir = t.TempDir()
					flags = func() []string { return []string{"--data-dir", dir} }
				} else {
					dsn := storetest.PostgresDSN(t)
					flags = func() []string { return []string{"--store-dsn", dsn, "--data-dir", t.TempDir()} }
				}
				if tc.backend == "postgres-migrated" {
					mustCLI(t, "", append([]string{"role", "list"}, flags()...)...)
				}
				env := clusterEnv
				if tc.backend == "sqlite" {
					env = nil
				}
				concurrentStart(t, trial, nodes, flags, env)
				if dir != "" { // the next start must be able to read what the three wrote
					tlsDir := filepath.Join(dir, "tls")
					if _, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "server.pem"), filepath.Join(tlsDir, "server_key.pem")); err != nil {
						t.Errorf("trial %d: the development certificate left behind: %v", trial, err)
					}
				}
			}
		})
	}
}

// clusterEnv is the environment of every node over PostgreSQL: one seal key
// for all, as such a cluster needs. On SQLite the nodes have none, and must
// agree on the seal.key that the first of them writes.
var clusterEnv = map[string]string{"LATCHKEY_SEAL_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}

// concurrentStart runs one trial of TestConcurrentStart.
func concurrentStart(t *testing.T, trial, nodes int, flags func() []string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type node struct {
		out  *announcer
		args []string
		done chan int
	}
	all := make([]*node, nodes)
	for i := range all {
		all[i] = &node{out: newAnnouncer(), done: make(chan int, 1),
			args: append([]string{"serve", "--log-format", "json", "--listen", "127.0.0.1:0"}, flags()...)}
	}
	start := make(chan struct{})
	for _, n := range all {
		go func() {
			<-start
			n.done <- run(ctx, n.args, strings.NewReader(""), n.out, n.out, func(k string) string { return env[k] })
		}()
	}
	began := time.Now()
	close(start)
	deadline := time.After(30 * time.Second)
	failed := 0
	for i, n := range all {
		select {
		case <-n.out.listening:
		case code := <-n.done:
			n.done <- code
			failed++
			t.Errorf("trial %d: node %d exited %d before listening:\n%s", trial, i, code, n.out)
		case <-deadline:
			t.Fatalf("trial %d: node %d did not listen within 30s:\n%s", trial, i, n.out)
		}
	}
	listened := time.Since(began)
	cancel()
	shown := 0
	for i, n := range all {
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("trial %d: node %d did not stop within 20s", trial, i)
		}
		if strings.Contains(n.out.String(), "shown only this once") {
			shown++
		}
	}
	if shown != 1 {
		t.Errorf("trial %d: %d of %d nodes showed an administrator's password, want 1", trial, shown, nodes)
	}
	stopped := time.Since(began)
	var users []*latchkey.User
	out := mustCLI(t, "", append([]string{"user", "list", "-o", "json"}, flags()...)...)
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	if len(users) != 1 || users[0].QualifiedName() != `LOCAL\admin` {
		t.Errorf("trial %d: users after the start: %s, want only LOCAL\\admin", trial, out)
	}
	t.Logf("trial %d: %d of %d nodes exited before listening; all listening after %v, stopped after %v",
		trial, failed, nodes, listened.Round(time.Millisecond), stopped.Round(time.Millisecond))
}
