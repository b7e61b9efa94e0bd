package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/xrfkey"
)

var xrfkeyLine = regexp.MustCompile(`^[0-9A-Za-z]{16}$`)

func TestXrfkey(t *testing.T) {
	out := mustCLI(t, "", "xrfkey")
	if !strings.HasSuffix(out, "\n") || !xrfkeyLine.MatchString(strings.TrimSuffix(out, "\n")) {
		t.Fatalf("latchkey xrfkey printed %q, want 16 of [0-9A-Za-z] and a newline", out)
	}
	if !xrfkey.Valid(strings.TrimSpace(out)) {
		t.Errorf("%q is not a valid Xrfkey", out)
	}
	if again := mustCLI(t, "", "xrfkey"); again == out {
		t.Errorf("two runs printed the same key %q", out)
	}

	out = mustCLI(t, "", "xrfkey", "--count", "50")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if !xrfkeyLine.MatchString(l) {
			t.Errorf("line %q is not an Xrfkey", l)
		}
		seen[l] = true
	}
	if len(lines) != 50 || len(seen) != 50 {
		t.Errorf("--count 50 printed %d lines, %d different", len(lines), len(seen))
	}

	var keys []string
	if err := json.Unmarshal([]byte(mustCLI(t, "", "xrfkey", "-n", "3", "-o", "json")), &keys); err != nil || len(keys) != 3 || !xrfkeyLine.MatchString(keys[2]) {
		t.Errorf("-o json: %v %v", keys, err)
	}
	failCLI(t, nil, "", "--count must be 1 to", "xrfkey", "--count", "0")
	failCLI(t, nil, "", "unknown command", "xrfkey", "extra")
}

// TestXrfkeyAlphabet checks that the keys use the whole alphabet: 1000 keys
// are 16000 characters, and each of the 62 should appear (the odds that one
// is missing by chance are below 1e-100).
func TestXrfkeyAlphabet(t *testing.T) {
	out := mustCLI(t, "", "xrfkey", "-n", "1000")
	for _, c := range xrfkey.Alphabet {
		if !strings.ContainsRune(out, c) {
			t.Errorf("no key has %q", c)
		}
	}
}
