package doorkeeper

import (
	"strconv"
	"sync"
	"testing"
)

func TestFilterAdmitsOnSecondOffer(t *testing.T) {
	d := New(1000)
	if d.Slots() != 1024 || d.Bytes() != 8192 {
		t.Fatalf("slots %d, bytes %d", d.Slots(), d.Bytes())
	}
	if d.OfferString("token-a") {
		t.Fatal("a key was admitted on its first offer")
	}
	if !d.OfferString("token-a") {
		t.Fatal("a key was not admitted on its second offer")
	}
	// A crowd of one-time keys: almost none admitted (a slot shared with
	// an equal 64-bit hash is the only way).
	admitted := 0
	for i := range 100_000 {
		if d.OfferString("once-" + strconv.Itoa(i)) {
			admitted++
		}
	}
	if admitted != 0 {
		t.Fatalf("%d one-time keys admitted", admitted)
	}
	d.Forget()
	if d.OfferString("token-a") {
		t.Fatal("a forgotten key was admitted")
	}
}

func TestFilterComparable(t *testing.T) {
	d := New(0)
	type key struct {
		p *int
		s string
	}
	a, b := new(int), new(int)
	if OfferComparable(d, key{a, "x"}) || !OfferComparable(d, key{a, "x"}) {
		t.Fatal("a comparable key is not admitted on its second offer")
	}
	if OfferComparable(d, key{b, "x"}) {
		t.Fatal("another pointer was taken for the first")
	}
}

// TestFilterConcurrent offers from many goroutines under -race: every
// goroutine's own repeated key is admitted by its second offer, whatever
// the others do, when the doorkeeper has room for all of them.
func TestFilterConcurrent(t *testing.T) {
	d := New(1 << 16)
	var wg sync.WaitGroup
	misses := make([]int, 8)
	for g := range misses {
		wg.Go(func() {
			for i := range 2000 {
				k := strconv.Itoa(g) + "/" + strconv.Itoa(i)
				d.OfferString(k)
				if !d.OfferString(k) {
					misses[g]++
				}
			}
		})
	}
	wg.Wait()
	for g, m := range misses {
		// 16k keys in 64k slots: another goroutine's key may take the
		// slot between the two offers, rarely.
		if m > 20 {
			t.Errorf("goroutine %d: %d of 2000 repeated keys not admitted", g, m)
		}
	}
}

func BenchmarkOffer(b *testing.B) {
	d := New(1 << 16)
	tok := string(make([]byte, 800))
	b.ReportAllocs()
	for b.Loop() {
		d.OfferString(tok)
	}
}
