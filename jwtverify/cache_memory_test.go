package jwtverify

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeToken returns a distinct token of about the size of an RS256 one
// (≈ 700 bytes), built afresh (as a request's header is).
func fakeToken(i int) string {
	return "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0." + strings.Repeat("x", 400) + strconv.Itoa(i) + "." + strings.Repeat("s", 342)
}

// fakeResult is a Result as decoding a token makes it: each string its own
// allocation.
func fakeResult(i int) *Result {
	n := strconv.Itoa(i)
	return &Result{
		Directory: strings.Clone("LAB"), Username: "user-" + n, DisplayName: "User Number " + n, Email: "user-" + n + "@example.com",
		Groups: []string{"group-a-" + n, "group-b-" + n}, Subject: "user-" + n, Issuer: strings.Clone("https://idp.example.com"),
		Audience: []string{strings.Clone("qlik.api/login/jwt-session")}, JTI: "jti-" + n, KeyID: strings.Clone("k1"),
		IssuedAt: testNow, NotBefore: testNow, ExpiresAt: testNow.Add(time.Hour),
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCacheMemoryWithinBudget holds the cache to its budget in the heap it
// really takes, not only in its own count: filled with far more distinct
// tokens than fit (each offered twice, so that the doorkeeper admits it),
// the live heap grows by at most 1.25× the budget; and filled below the
// budget, the weights are not so generous that the budget is wasted
// (the heap each entry really takes is at least 0.6× its weight).
func TestCacheMemoryWithinBudget(t *testing.T) {
	now := func() time.Time { return testNow }
	const budget = 16 << 20
	for _, tc := range []struct {
		name   string
		tokens int
	}{{"over the budget", 100_000}, {"within the budget", 8_000}} {
		t.Run(tc.name, func(t *testing.T) {
			before := heapAlloc()
			c := NewCache(budget, now)
			p := c.Part()
			for i := range tc.tokens {
				raw, res := fakeToken(i), fakeResult(i)
				p.Set(raw, res, testNow.Add(time.Hour), 0)
				p.Set(raw, res, testNow.Add(time.Hour), 0)
			}
			c.c.CleanUp()
			growth := heapAlloc() - before
			weights := c.c.WeightedSize() + uint64(c.door.Bytes())
			t.Logf("%d tokens: %d entries, weights %.1f MiB, heap growth %.1f MiB (%.2f× the budget, %.2f× the weights)",
				tc.tokens, c.c.EstimatedSize(), mib(weights), mib(growth), float64(growth)/budget, float64(growth)/float64(weights))
			if float64(growth) > 1.25*budget {
				t.Errorf("heap growth %.1f MiB is more than 1.25× the budget of %.1f MiB", mib(growth), mib(budget))
			}
			if tc.tokens < 10_000 {
				if c.c.EstimatedSize() != tc.tokens {
					t.Fatalf("%d of %d tokens remembered within the budget", c.c.EstimatedSize(), tc.tokens)
				}
				if r := float64(growth) / float64(weights); r < 0.6 || r > 1.1 {
					t.Errorf("the heap an entry takes is %.2f× its weight, not within 0.6 to 1.1", r)
				}
			}
			runtime.KeepAlive(c)
			c.Close()
		})
	}
}

// TestCacheFloodKeepsNothing: a crowd of tokens each presented once keeps
// no entry and no memory, and does not push out a token in use.
func TestCacheFloodKeepsNothing(t *testing.T) {
	now := func() time.Time { return testNow }
	c := NewCache(4<<20, now)
	defer c.Close()
	p := c.Part()
	hot, hotRes := fakeToken(-1), fakeResult(-1)
	p.Set(hot, hotRes, testNow.Add(time.Hour), 0)
	p.Set(hot, hotRes, testNow.Add(time.Hour), 0)
	before := heapAlloc()
	for i := range 50_000 {
		p.Set(fakeToken(i), fakeResult(i), testNow.Add(time.Hour), 0)
		if i%1000 == 0 && p.Get(hot, 0) != hotRes {
			t.Fatalf("after %d one-time tokens, the token in use is forgotten", i)
		}
	}
	c.c.CleanUp()
	if n := c.c.EstimatedSize(); n != 1 {
		t.Errorf("%d entries after a flood of one-time tokens, want the one in use", n)
	}
	if growth := int64(heapAlloc()) - int64(before); growth > 1<<20 {
		t.Errorf("a flood of one-time tokens kept %.1f MiB", mib(uint64(growth)))
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
