package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// startServe runs "latchkey serve" in-process until the test ends.
func startServe(t *testing.T, env map[string]string, args ...string) (url string, logs *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--log-format", "json", "--listen", "127.0.0.1:0"}, args...),
			strings.NewReader(""), logs, logs, func(k string) string { return env[k] })
	}()
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not stop within 20s")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return waitListening(t, logs.String, "main"), logs, stop
}

func TestServeDefault(t *testing.T) {
	dir := t.TempDir()
	url, logs, stop := startServe(t, nil, "--data-dir", dir)

	if code, body := get(t, url+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, _ := get(t, url+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	code, body := get(t, url+"/")
	var echo struct {
		Authenticated bool
		Principal     latchkey.Principal
		Request       struct{ Method, Path string }
	}
	if err := json.Unmarshal([]byte(body), &echo); code != 200 || err != nil {
		t.Fatalf("/ = %d %s (%v)", code, body, err)
	}
	if echo.Authenticated || echo.Principal.Method != "anonymous" || echo.Request.Path != "/" {
		t.Errorf("echo = %+v", echo)
	}
	if code, body := get(t, url+"/metrics"); code != 200 || !strings.Contains(body, "latchkey_requests_total") {
		t.Errorf("/metrics = %d", code)
	}
	for _, f := range []string{"latchkey.db", "tls/server.pem", "tls/server_key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir lacks %s: %v", f, err)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `created the first administrator LOCAL\admin`) || !strings.Contains(out, "shown only this once") {
		t.Errorf("first start did not announce the administrator:\n%s", out)
	}
	// The newcomer is told where the pages are, and they are there.
	if want := "latchkey: open " + url + "/ui/ (its certificate is self-signed, so the browser warns first) in a browser and sign in as LOCAL\\admin with that password"; !strings.Contains(out, want) {
		t.Errorf("first start did not say where the pages are (%q):\n%s", want, out)
	}
	if code, body := get(t, url+"/ui/"); code != 200 || !strings.Contains(body, "<h1>Sign in</h1>") {
		t.Errorf("/ui/ = %d %s", code, body)
	}
	if c := stop(); c != 0 {
		t.Fatalf("serve exited %d:\n%s", c, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Error("serve did not log that it stopped")
	}

	// The second start keeps the administrator and prints no password.
	_, logs2, stop2 := startServe(t, nil, "--data-dir", dir)
	stop2()
	if strings.Contains(logs2.String(), "first administrator") {
		t.Errorf("second start created another administrator:\n%s", logs2)
	}
}

func TestServeAdminPasswordFromEnv(t *testing.T) {
	dir := t.TempDir()
	_, logs, stop := startServe(t, map[string]string{"LATCHKEY_ADMIN_PASSWORD": "from the environment"}, "--data-dir", dir)
	stop()
	if out := logs.String(); strings.Contains(out, "from the environment") || strings.Contains(out, "shown only this once") {
		t.Errorf("the password from the environment was printed, or a random one made:\n%s", out)
	}
	var shown struct {
		HasPassword bool `json:"has_password"`
	}
	json.Unmarshal([]byte(mustCLI(t, "", "user", "show", "--data-dir", dir, "--user", "admin", "-o", "json")), &shown)
	if !shown.HasPassword {
		t.Error("the administrator has no password")
	}
	if _, errOut, code := cli(t, map[string]string{"LATCHKEY_ADMIN_PASSWORD": "short"}, "", "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"); code == 0 || !strings.Contains(errOut, "LATCHKEY_ADMIN_PASSWORD") {
		t.Errorf("a short admin password was accepted: %d %s", code, errOut)
	}
}

// TestConfigErrorsBeforeListening checks that a bad configuration stops
// serve with file:line, and that nothing listened.
func TestConfigErrorsBeforeListening(t *testing.T) {
	addr := freePort(t)
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "listeners:\n  - address: " + addr + "\n    colour: blue\n", "bad.yaml:3"},
		{"bad value", "listeners:\n  - address: " + addr + "\nlog:\n  format: xml\n", "bad.yaml:4"},
		{"bad duration", "listeners:\n  - address: " + addr + "\nserver:\n  shutdown_timeout: soon\n", "bad.yaml:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(file, []byte(tt.yaml), 0o600)
			_, errOut, code := cli(t, nil, "", "serve", "--config", file)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want non-zero naming %s", code, errOut, tt.want)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatalf("%s was bound despite the bad configuration: %v", addr, err)
			}
			ln.Close()
		})
	}
}

// TestKill9KeepsCommittedState kills a real server with SIGKILL while the
// command line writes to its store, restarts it, and checks that every
// committed user and role is still there.
func TestKill9KeepsCommittedState(t *testing.T) {
	dir := t.TempDir()
	start := func() (*exec.Cmd, *syncBuffer) {
		logs := &syncBuffer{}
		cmd := exec.Command(binary, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-format", "json")
		cmd.Stdout, cmd.Stderr = logs, logs
		cmd.Env = append(os.Environ(), "LATCHKEY_ADMIN_PASSWORD=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(t, logs.String, "main")
		return cmd, logs
	}
	latchkeyCLI := func(stdin string, args ...string) string {
		cmd := exec.Command(binary, append(args, "--data-dir", dir)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("latchkey %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	server, _ := start()
	latchkeyCLI("", "ability", "add", "reports.read")
	latchkeyCLI("", "role", "add", "reporting", "--ability", "reports.read")
	for _, u := range []string{"ann", "bob", "cid"} {
		latchkeyCLI("password for "+u+"\n", "user", "add", "--directory", "LAB", "--user", u, "--role", "reporting", "--password-stdin")
	}
	latchkeyCLI("", "role", "grant", "--directory", "LAB", "--user", "bob", "--role", "apikey-user")
	if err := server.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	server.Wait()

	server, logs := start()
	url := waitListening(t, logs.String, "main")
	if code, _ := get(t, url+"/readyz"); code != 200 {
		t.Errorf("restarted server not ready: %d", code)
	}
	var users []*latchkey.User
	if err := json.Unmarshal([]byte(latchkeyCLI("", "user", "list", "-o", "json")), &users); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, u := range users {
		got[u.QualifiedName()] = u.Roles
	}
	want := map[string][]string{
		`LOCAL\admin`: {"admin"},
		`LAB\ann`:     {"reporting"},
		`LAB\bob`:     {"apikey-user", "reporting"},
		`LAB\cid`:     {"reporting"},
	}
	for name, roles := range want {
		if !slices.Equal(got[name], roles) {
			t.Errorf("after kill -9 and restart, %s has roles %v, want %v", name, got[name], roles)
		}
	}
	if strings.Contains(logs.String(), "first administrator") {
		t.Error("restart created a second first administrator")
	}
	server.Process.Signal(syscall.SIGTERM)
	if err := server.Wait(); err != nil {
		t.Errorf("SIGTERM: exit %v\n%s", err, logs.String())
	}
}

// TestServeBusyPortKeepsTheAdminPassword: a first start that cannot bind its
// listener exits before it creates the administrator, so the one-time
// password is printed by the start that works, not lost with the one that
// failed.
func TestServeBusyPortKeepsTheAdminPassword(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	var out syncBuffer
	code := run(t.Context(), []string{"serve", "--data-dir", dir, "--listen", busy.Addr().String()},
		strings.NewReader(""), &out, &out, func(string) string { return "" })
	if code == 0 {
		t.Fatalf("serve on a busy port exited 0:\n%s", out.String())
	}
	if strings.Contains(out.String(), "administrator") || strings.Contains(out.String(), "password") {
		t.Fatalf("the failed start spoke of the administrator:\n%s", out.String())
	}
	_, logs, _ := startServe(t, nil, "--data-dir", dir)
	if s := logs.String(); !strings.Contains(s, `created the first administrator LOCAL\admin`) || !strings.Contains(s, "shown only this once") {
		t.Errorf("the next start did not create and announce the administrator:\n%s", s)
	}
}

// TestSealKeyMadeOnce: nodes starting together on a new data directory all
// end up with the one seal key that the first of them wrote.
func TestSealKeyMadeOnce(t *testing.T) {
	for trial := range 20 {
		file := filepath.Join(t.TempDir(), "seal.key")
		got := make([][]byte, 8)
		errs := make([]error, len(got))
		var wg sync.WaitGroup
		for i := range got {
			wg.Go(func() {
				k := make([]byte, 32)
				k[0] = byte(i + 1)
				got[i], errs[i] = createOnce(file, k)
			})
		}
		wg.Wait()
		onDisk, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if errs[i] != nil || !bytes.Equal(got[i], onDisk) {
				t.Fatalf("trial %d: node %d got %x (%v), the file holds %x", trial, i, got[i], errs[i], onDisk)
			}
		}
		if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
			t.Fatalf("trial %d: left %d files, want seal.key alone", trial, len(entries))
		}
	}
}
