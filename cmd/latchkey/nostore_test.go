package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
)

// TestNoStoreIsNotMade runs the commands that manage an existing store on a
// data directory that is missing, and on one that holds no store: each
// refuses, naming the file it looked for, and makes nothing. user add makes
// the store, and says so; then the others work on it.
func TestNoStoreIsNotMade(t *testing.T) {
	commands := [][]string{
		{"user", "list", "-o", "json"},
		{"user", "show", "--user", "admin"},
		{"user", "delete", "--user", "admin", "--yes"},
		{"role", "list"},
		{"ability", "list"},
		{"apikey", "list"},
		{"session", "list"},
		{"audit"},
	}
	parent := t.TempDir()
	missing := filepath.Join(parent, "mistyped")
	empty := t.TempDir()
	for _, dir := range []string{missing, empty} {
		for _, args := range commands {
			out, errOut, code := cli(t, nil, "", append(args, "--data-dir", dir)...)
			want := "latchkey: no store at " + filepath.Join(dir, "latchkey.db") + ": start the gateway once (latchkey serve)"
			if code == 0 || out != "" || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("latchkey %s on %s: exit %d, stdout %q, stderr %q; want an error starting %q",
					strings.Join(args, " "), dir, code, out, errOut, want)
			}
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the missing data directory: %v; want it still missing", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("the empty data directory holds %d files, want none", len(entries))
	}

	// user add makes the store, in a data directory that did not exist.
	_, errOut, code := cli(t, nil, "", "user", "add", "--data-dir", missing, "--user", "ann", "--no-password")
	if code != 0 || !strings.Contains(errOut, "created a new store at "+filepath.Join(missing, "latchkey.db")) {
		t.Fatalf("user add on a new data directory: exit %d, stderr %q", code, errOut)
	}
	for _, f := range []string{"latchkey.db", "seal.key"} {
		if _, err := os.Stat(filepath.Join(missing, f)); err != nil {
			t.Errorf("after user add: %v", err)
		}
	}
	_, errOut, code = cli(t, nil, "", "user", "add", "--data-dir", missing, "--user", "bob", "--no-password")
	if code != 0 || errOut != "" {
		t.Fatalf("user add on the store: exit %d, stderr %q; want no message", code, errOut)
	}
	for _, args := range [][]string{{"user", "show", "--user", "ann"}, {"role", "list"}, {"audit"}} {
		mustCLI(t, "", append(args, "--data-dir", missing)...)
	}
	var users []*latchkey.User
	if err := json.Unmarshal([]byte(mustCLI(t, "", "user", "list", "-o", "json", "--data-dir", missing)), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 {
		t.Fatalf("user list on the store = %+v, want ann and bob", users)
	}
}
