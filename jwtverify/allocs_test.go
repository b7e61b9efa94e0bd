//go:build !race

// Allocation bounds are built without -race only: the race detector's
// sync.Pool drops what it holds at random, so its counts are not
// latchkey's. .ci/run runs them in a pass without -race.

package jwtverify

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyAllocs bounds what an uncached RS256 verification allocates
// (golang-jwt's parsing and crypto/rsa's verification are most of it).
func TestVerifyAllocs(t *testing.T) {
	v := newTest(t, qseow(t), nil)
	tok := sign(t, jwt.SigningMethodRS256, keysOnce().rsa, "", seedClaims())
	n := testing.AllocsPerRun(50, func() {
		if _, err := v.VerifyUncached(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%v allocations per verification", n)
	if n > 48 {
		t.Fatalf("%v allocations per verification, want at most 48", n)
	}
}
