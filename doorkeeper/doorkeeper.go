// Package doorkeeper decides which credentials latchkey's caches take in: a
// Filter lets a key into a cache the second time it is offered, so
// that a credential presented once — a flood of one-time tokens — costs
// no cache entry, no allocation kept alive and no eviction of the
// credentials that come back.
package doorkeeper

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"
)

// Filter remembers a fixed number of recently offered keys by a 64-bit
// hash each, in one pointer-free array the garbage collector never scans.
// Offer answers whether a key was offered before. It is safe for
// concurrent use and takes no lock.
//
// What it promises: a key offered again is admitted unless another key
// took its slot in between; with m other keys offered in between, its
// slot survives with a chance of about e^(−m/Slots), and a key that lost
// its slot is admitted on a later offer. A key can be admitted on its
// first offer only when another key's 64-bit hash equals its own (a 2⁻⁶⁴
// chance per pair) — harmless for a cache, which then holds one entry it
// did not need.
type Filter struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Uint64
}

// New returns a doorkeeper of at least n slots (a power of two, at least
// 64), each 8 bytes.
func New(n int) *Filter {
	size := 64
	if n > size {
		size = 1 << bits.Len(uint(n-1))
	}
	return &Filter{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]atomic.Uint64, size)}
}

// Slots returns the number of keys the doorkeeper can remember.
func (d *Filter) Slots() int { return len(d.slots) }

// Bytes returns the memory the doorkeeper holds.
func (d *Filter) Bytes() int64 { return int64(len(d.slots)) * 8 }

// OfferString notes s and says whether it was offered before.
func (d *Filter) OfferString(s string) bool { return d.offer(maphash.String(d.seed, s)) }

// OfferComparable is OfferString for a key of any comparable type (a
// pointer hashes by its address).
func OfferComparable[K comparable](d *Filter, k K) bool {
	return d.offer(maphash.Comparable(d.seed, k))
}

func (d *Filter) offer(h uint64) bool {
	h |= 1 // 0 is an empty slot
	return d.slots[h&d.mask].Swap(h) == h
}

// Forget empties the doorkeeper, as when the cache it guards is cleared.
func (d *Filter) Forget() {
	for i := range d.slots {
		d.slots[i].Store(0)
	}
}
