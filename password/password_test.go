package password

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/latchkey/latchkey"
)

// testParams keeps the tests fast; the algorithm is the same.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h := NewHasher(testParams, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	enc2, _ := h.Hash(ctx, "correct horse")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"correct horse", true},
		{"correct hors", false},
		{"Correct horse", false},
		{"", false},
		{"correct horse" + strings.Repeat("x", MaxLength), false},
	}
	for _, tt := range tests {
		got, err := h.Verify(ctx, enc, tt.pw)
		if err != nil || got != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, got, err, tt.want)
		}
	}
}

func TestVerifyUsesStoredParams(t *testing.T) {
	old := NewHasher(Params{Memory: 128, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 1)
	enc, _ := old.Hash(context.Background(), "a long password")
	ok, err := NewHasher(testParams, 1).Verify(context.Background(), enc, "a long password")
	if !ok || err != nil {
		t.Fatalf("hash made with other params did not verify: %v %v", ok, err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, enc := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,x=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5",
	} {
		if _, _, _, err := Parse(enc); err == nil {
			t.Errorf("Parse(%q) accepted a malformed hash", enc)
		} else if strings.Contains(err.Error(), "c2FsdH") {
			t.Errorf("error repeats the hash: %v", err)
		}
	}
}

func TestValidate(t *testing.T) {
	for pw, ok := range map[string]bool{"short": false, "eightchr": true, strings.Repeat("a", MaxLength+1): false} {
		if err := Validate(pw); (err == nil) != ok {
			t.Errorf("Validate(len %d) = %v", len(pw), err)
		} else if err != nil && latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("code = %s", latchkey.ErrorCode(err))
		}
	}
}

func TestConcurrencyBound(t *testing.T) {
	h := NewHasher(testParams, 1)
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "password1"); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE {
		t.Fatalf("Hash with no free slot = %v, want EUNAVAILABLE", err)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "password1"); err != nil {
		t.Fatal(err)
	}
}

func TestRandom(t *testing.T) {
	a, b := Random(), Random()
	if a == b || len(a) < 22 || Validate(a) != nil {
		t.Fatalf("Random() = %q, %q", a, b)
	}
}

func FuzzParse(f *testing.F) {
	h := NewHasher(testParams, 1)
	enc, _ := h.Hash(context.Background(), "seed password")
	f.Add(enc)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := Parse(s)
		if err != nil {
			return
		}
		if p.Memory > maxMemory || p.Time > maxTime || len(salt) > maxSaltLen || len(key) > maxKeyLen {
			t.Fatalf("Parse accepted out-of-range params %+v", p)
		}
	})
}

// TestQueueBounded: with every slot taken and WaitingPerSlot checks per
// slot waiting, one more check is refused at once (429), and the waiting
// ones ask admit before they hash. It runs in a synctest bubble: Wait
// returns once the checks are blocked, and the bubble's clock, which moves
// only while every goroutine waits, shows that the refusal waited for
// nothing.
func TestQueueBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(testParams, 1)
		ctx := context.Background()
		enc, err := h.Hash(ctx, "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		h.slots <- struct{}{} // the one slot is busy
		refused := latchkey.Errorf(latchkey.ERATELIMITED, "refused by admit")
		results := make(chan error, WaitingPerSlot)
		for range WaitingPerSlot {
			go func() {
				_, err := h.VerifyAdmitted(ctx, enc, "correct horse", func() error { return refused })
				results <- err
			}()
		}
		synctest.Wait() // every check is blocked, waiting for the slot
		if n := h.waiting.Load(); n != WaitingPerSlot {
			t.Fatalf("%d waiting, want %d", n, WaitingPerSlot)
		}
		start := time.Now()
		_, err = h.Verify(ctx, enc, "correct horse")
		if latchkey.ErrorCode(err) != latchkey.ERATELIMITED || !strings.Contains(latchkey.ErrorMessage(err), "waiting") {
			t.Fatalf("a check beyond the queue: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("the refusal took %s", d)
		}
		<-h.slots // the slot frees: the waiting checks run, and admit refuses each
		for range WaitingPerSlot {
			if err := <-results; err != refused {
				t.Fatalf("a waiting check: %v, want admit's refusal", err)
			}
		}
		if ok, err := h.VerifyAdmitted(ctx, enc, "correct horse", func() error { return nil }); !ok || err != nil {
			t.Fatalf("admitted: %v %v", ok, err)
		}
	})
}

// TestDecoy: a decoy has the hasher's parameters, a salt and key of their
// lengths, differs each time, and matches no password.
func TestDecoy(t *testing.T) {
	h := NewHasher(testParams, 1)
	a, b := h.Decoy(), h.Decoy()
	if a == b {
		t.Fatal("two decoys are the same")
	}
	p, salt, key, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if p.Memory != testParams.Memory || p.Time != testParams.Time || p.Threads != testParams.Threads ||
		len(salt) != int(testParams.SaltLen) || len(key) != int(testParams.KeyLen) {
		t.Fatalf("decoy %s has params %+v, salt %d and key %d bytes; want %+v", a, p, len(salt), len(key), testParams)
	}
	for _, pw := range []string{"", "password", a} {
		if ok, err := h.Verify(context.Background(), a, pw); ok || err != nil {
			t.Fatalf("Verify(decoy, %q) = %v, %v", pw, ok, err)
		}
	}
}
