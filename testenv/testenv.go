// Package testenv decides what a test does when something it needs from the
// machine (a PostgreSQL server, curl, nginx, Python's requests) is missing:
// on a developer's machine it skips, saying why; under CI (the environment
// variable CI set) it fails, so that a green CI means every test ran.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Missing skips t, or fails it under CI, with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, so this test must run, but: %s", reason)
	}
	t.Skip(reason)
}
