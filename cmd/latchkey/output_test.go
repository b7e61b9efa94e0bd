package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey/credential"
)

// notPrinting are the commands without -o: serve logs, call prints what the
// server answered, completion prints a shell script and help prints help.
var notPrinting = []string{"serve", "call", "help", "completion"}

// TestJSONOutputEverywhere runs every command that prints with -o json, on
// each backend, and checks that stdout holds exactly one JSON value. It also
// checks that no command is missing from the table: every command but those
// of notPrinting must take -o and be run here.
func TestJSONOutputEverywhere(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			dir := t.TempDir()
			const pw = "goran's long password"
			mustCLI(t, "", with("user", "add", "--user", "root", "--role", "admin", "--no-password")...)
			mustCLI(t, pw+"\n", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--password-stdin")...)
			var sessionID string
			withService(t, store, func(svc *credential.Service) {
				_, _, s, err := svc.Login(context.Background(), `LAB\goran`, pw, "192.0.2.7:5555", "test")
				if err != nil {
					t.Fatal(err)
				}
				sessionID = s.ID
			})
			var keyID, token string
			jwtDir := filepath.Join(dir, "jwt")

			type step struct {
				args  []string
				stdin string
				env   map[string]string
				then  func(out string) // reads what the step printed
			}
			goran := []string{"--directory", "LAB", "--user", "goran"}
			steps := []step{
				{args: []string{"version"}},
				{args: []string{"xrfkey", "--count", "2"}},
				{args: []string{"cert", "ca", "--out", filepath.Join(dir, "certs")}},
				{args: []string{"cert", "server", "--out", filepath.Join(dir, "certs")}},
				{args: []string{"cert", "client", "--out", filepath.Join(dir, "certs"), "--cn", "reports"}},
				{args: []string{"jwt", "create", "qseow", "--userdir", "LAB", "--userid", "goran", "--audience", "a", "--expires", "1h",
					"--cert-create", "--cert-dir", jwtDir},
					then: func(out string) { token = decode[struct{ Token string }](t, out).Token }},
				{args: []string{"jwt", "create", "cloud", "--userid", "goran", "--username", "G", "--useremail", "g@example.com",
					"--issuer", "https://idp.example.com", "--keyid", "k1", "--expires", "1h",
					"--cert-privatekey-file", filepath.Join(jwtDir, "privatekey.pem")}},
				{args: []string{"jwt", "create-qseow", "--userdir", "LAB", "--userid", "goran", "--expires", "1h",
					"--cert-privatekey-file", filepath.Join(jwtDir, "privatekey.pem")}},
				{args: []string{"jwt", "create-qscloud", "--userid", "goran", "--username", "G", "--useremail", "g@example.com",
					"--issuer", "https://idp.example.com", "--keyid", "k1", "--expires", "1h",
					"--cert-privatekey-file", filepath.Join(jwtDir, "privatekey.pem")}},
				{args: []string{"jwt", "decode", "{token}"}},
				{args: []string{"jwt", "verify", "{token}", "--key-file", filepath.Join(jwtDir, "publickey.pem"), "--audience", "a"}},

				{args: with("user", "add", "--user", "cid", "--no-password")},
				{args: with("user", "list")},
				{args: with("user", "list", "--limit", "1")},
				{args: with(append([]string{"user", "show"}, goran...)...)},
				{args: with(append([]string{"user", "update", "--name", "Göran"}, goran...)...)},
				{args: with("user", "passwd", "--user", "cid", "--password-env", "PW"), env: map[string]string{"PW": "cid's long password"}},
				{args: with("user", "disable", "--user", "cid")},
				{args: with("user", "enable", "--user", "cid")},
				{args: with("ability", "add", "reports.read")},
				{args: with("ability", "list")},
				{args: with("role", "add", "reporting", "--ability", "reports.read")},
				{args: with("role", "list")},
				{args: with("role", "show", "reporting")},
				{args: with("role", "set-abilities", "reporting", "--ability", "reports.read", "--ability", "apikey.signin")},
				{args: with("role", "update", "reporting", "--description", "Reads reports")},
				{args: with(append([]string{"role", "grant", "--role", "reporting"}, goran...)...)},
				{args: with(append([]string{"role", "revoke", "--role", "reporting"}, goran...)...)},
				{args: with(append([]string{"apikey", "create"}, goran...)...), then: func(out string) { keyID = decode[keyOut](t, out).ID }},
				{args: with("apikey", "list")},
				{args: with("apikey", "show", "{key}")},
				{args: with("apikey", "set-limit", "{key}", "100/1m,burst=20")},
				{args: with("apikey", "set-limit", "{key}", "--none")},
				{args: with("apikey", "rotate", "{key}"), then: func(out string) { keyID = decode[keyOut](t, out).ID }},
				{args: with("apikey", "revoke", "{key}")},
				{args: with("session", "list", "--all")},
				{args: with("session", "show", "{session}")},
				{args: with("session", "revoke", "{session}")},
				{args: with(append([]string{"session", "end-all"}, goran...)...)},
				{args: with("audit", "--limit", "5")},
				{args: with("role", "delete", "reporting", "--yes")},
				{args: with("ability", "delete", "reports.read", "--yes")},
				{args: with("user", "delete", "--user", "cid", "--yes")},
			}
			ran := map[string]bool{}
			for _, s := range steps {
				args := slices.Clone(s.args)
				for i, a := range args {
					args[i] = strings.NewReplacer("{token}", token, "{key}", keyID, "{session}", sessionID).Replace(a)
				}
				args = append(args, "-o", "json")
				out, errOut, code := cli(t, s.env, s.stdin, args...)
				if code != 0 {
					t.Errorf("latchkey %s: exit %d: %s", strings.Join(args, " "), code, errOut)
					continue
				}
				if err := oneJSONValue(out); err != nil {
					t.Errorf("latchkey %s -o json: %v:\n%s", strings.Join(args, " "), err, out)
					continue
				}
				if s.then != nil {
					s.then(out)
				}
				cmd, _, _ := (&app{}).rootCommand().Find(args)
				ran[strings.TrimPrefix(cmd.CommandPath(), "latchkey ")] = true
			}

			// Every command that prints was run above.
			var walk func(c *cobra.Command)
			walk = func(c *cobra.Command) {
				for _, sub := range c.Commands() {
					walk(sub)
				}
				path := strings.TrimPrefix(c.CommandPath(), "latchkey ")
				if !c.Runnable() || c.Hidden || slices.Contains(notPrinting, strings.Fields(path)[0]) {
					return
				}
				if c.Flags().Lookup("output") == nil {
					t.Errorf("latchkey %s has no -o json", path)
				}
				if !ran[path] {
					t.Errorf("latchkey %s is not run with -o json by this test", path)
				}
			}
			root := (&app{}).rootCommand()
			root.InitDefaultCompletionCmd()
			walk(root)
		})
	}
}

// oneJSONValue reports whether s is one JSON value and nothing more.
func oneJSONValue(s string) error {
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value")
	}
	if v == nil {
		return errors.New("null")
	}
	return nil
}

// TestVersion prints the version both ways.
func TestVersion(t *testing.T) {
	if out := mustCLI(t, "", "version"); !strings.HasPrefix(out, "latchkey ") {
		t.Errorf("version printed %q", out)
	}
	var v struct{ Version string }
	if err := json.NewDecoder(bytes.NewReader([]byte(mustCLI(t, "", "version", "-o", "json")))).Decode(&v); err != nil || v.Version == "" {
		t.Errorf("version -o json: %v %+v", err, v)
	}
	want := mustCLI(t, "", "version")
	for _, flag := range []string{"--version", "-v"} {
		if out := mustCLI(t, "", flag); out != want {
			t.Errorf("latchkey %s printed %q, latchkey version %q", flag, out, want)
		}
	}
}
