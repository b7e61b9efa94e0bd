package jwtverify

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

func TestCache(t *testing.T) {
	k := keysOnce()
	var now atomic.Pointer[time.Time]
	now.Store(&testNow)
	o := defaultOptions
	o.now = func() time.Time { return *now.Load() }
	v := newTest(t, qseow(t), nil, o)
	ctx := context.Background()
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(seedClaims(), "exp", unix(10*time.Minute)))

	// Seen once, a token is only noted; seen again, it is remembered.
	once, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if v.cache.Get(tok, 0) != nil {
		t.Fatal("a token seen once is remembered")
	}
	first, err := v.Verify(ctx, tok)
	if err != nil || first == once {
		t.Fatalf("a token seen once was answered from memory: %v", err)
	}
	if v.cache.Get(tok, 0) != first {
		t.Fatal("a token verified twice is not remembered")
	}
	second, err := v.Verify(ctx, tok)
	if err != nil || second != first {
		t.Fatalf("a repeated token was verified again: %p %p %v", first, second, err)
	}
	if fresh, err := v.VerifyUncached(ctx, tok); err != nil || fresh == first {
		t.Fatalf("VerifyUncached answered from memory: %v", err)
	}

	// A result set at one generation (the keys it was checked with) is
	// never returned at another, even when it was set after the change:
	// the order of a check racing a key change.
	c := NewCache(1<<20, o.now)
	defer c.Close()
	p, other := c.Part(), c.Part()
	p.Set(tok, first, testNow.Add(time.Hour), 1)
	p.Set(tok, first, testNow.Add(time.Hour), 1)
	if p.Get(tok, 2) != nil {
		t.Fatal("a result of older keys was returned")
	}
	if p.Get(tok, 1) != first {
		t.Fatal("a result was not returned at its own generation")
	}
	// Another part of the cache (another verifier) never gets it.
	if other.Get(tok, 1) != nil || other.Get(tok, 0) != nil {
		t.Fatal("a result was returned to another part")
	}
	var none Part
	none.Set(tok, first, testNow.Add(time.Hour), 0)
	if none.Get(tok, 0) != nil || (*Cache)(nil).Part().Get(tok, 0) != nil {
		t.Fatal("the Part of no cache remembered")
	}

	// Refused tokens are not remembered.
	bad := tok[:len(tok)-4] + "AAAA"
	for range 2 {
		_, err := v.Verify(ctx, bad)
		wantCode(t, err, latchkey.EUNAUTHORIZED, "signature")
	}
	if v.cache.Get(bad, 0) != nil {
		t.Fatal("a refused token is remembered")
	}

	// A remembered token still expires: within the leeway it passes, past
	// it the answer from memory is refused.
	later := testNow.Add(10*time.Minute + 20*time.Second)
	now.Store(&later)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	later = testNow.Add(11 * time.Minute)
	now.Store(&later)
	_, err = v.Verify(ctx, tok)
	wantCode(t, err, latchkey.EUNAUTHORIZED, "expired")
	_, err = v.Verify(ctx, tok) // and again, now verified afresh
	wantCode(t, err, latchkey.EUNAUTHORIZED, "expired")
}

// TestMutations: no change of one character makes a token verify.
func TestMutations(t *testing.T) {
	v := newTest(t, qseow(t), nil)
	tok := sign(t, jwt.SigningMethodRS256, keysOnce().rsa, "", seedClaims())
	for i := range len(tok) {
		for _, c := range []byte{'A', 'B', 'Q', 'g', '_', '-', '.', '0'} {
			if tok[i] == c {
				continue
			}
			m := tok[:i] + string(c) + tok[i+1:]
			if res, err := v.VerifyUncached(context.Background(), m); err == nil {
				t.Fatalf("mutated at %d to %q, verified: %+v", i, c, res)
			}
		}
	}
}

// FuzzVerify: no input panics, and none verifies but the token signed.
func FuzzVerify(f *testing.F) {
	k := keysOnce()
	v := newTest(f, qseow(f), nil)
	good := sign(f, jwt.SigningMethodRS256, k.rsa, "", seedClaims())
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + "." + parts[1])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(good + "A")
	f.Add("eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiJnb3JhbiIsImV4cCI6OTk5OTk5OTk5OX0.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("...")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		res, err := v.Verify(context.Background(), s)
		if err == nil && s != good {
			t.Fatalf("%q verified: %+v", s, res)
		}
		if err != nil && (res != nil || latchkey.ErrorCode(err) != latchkey.EINVALID && latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED) {
			t.Fatalf("%q: %+v, %v", s, res, err)
		}
	})
}
