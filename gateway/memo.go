package gateway

import (
	"crypto/x509"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtverify"
)

// principalMemo remembers the principal made for a credential that was
// checked without the store — a verified token, a client certificate — so
// that the credential seen again costs one map lookup: no user lookup, no
// allocation. Its invariants:
//
//   - Freshness: an entry holds while the credential service's access
//     generation is unchanged (no user, role or ability changed on any
//     node), and at most until the credential expires, memoMaxAge passes
//     or, for a user the store does not hold, credential.AbsentFor passes
//     (a user created meanwhile, which the change feed does not announce,
//     is then found). The generation is read before the user (generation
//     and set), so a change that lands meanwhile is never hidden.
//   - Memory: entries are weighed by the heap they keep alive — the
//     principal, and the key (a verified token's Result, a certificate)
//     — and their weights stay within the memo's budget (caches.principals_mib;
//     0 remembers nothing).
//   - Admission is the caller's: the JWT method sets only Results its
//     verifier's cache remembers (jwtverify.Result.Remembered, a token
//     seen twice), so a flood of one-time tokens keeps nothing here; a
//     client certificate is set on its connection's first request (a
//     connection is the unit a certificate comes back on).
type principalMemo[K comparable] struct {
	c     *otter.Cache[K, memoEntry] // nil: remembers nothing
	start time.Time                  // entries' times count from here (a monotonic clock read)
	gen   func() uint64              // the access generation
}

type memoEntry struct {
	p     *latchkey.Principal
	gen   uint64
	until time.Duration // since start
}

const (
	memoMaxAge = 10 * time.Minute
	// memoEntryBytes is an entry's node in the cache, its table slot and
	// policy structures (as jwtverify's entryBytes).
	memoEntryBytes = 160
)

// newPrincipalMemo returns a memo of at most budget bytes (≤ 0: one that
// remembers nothing) that follows creds' access generation.
func newPrincipalMemo[K comparable](creds *credential.Service, budget int64) *principalMemo[K] {
	gen := func() uint64 { return 0 }
	if creds != nil {
		gen = creds.AccessGeneration
	}
	m := &principalMemo[K]{start: time.Now(), gen: gen}
	if budget <= 0 {
		return m
	}
	m.c = otter.Must(&otter.Options[K, memoEntry]{
		MaximumWeight: uint64(budget),
		Weigher: func(k K, e memoEntry) uint32 {
			return uint32(memoEntryBytes + keyBytes(k) + principalBytes(e.p))
		},
	})
	return m
}

// get returns the principal remembered for k, or nil.
func (m *principalMemo[K]) get(k K) *latchkey.Principal {
	if m.c == nil {
		return nil
	}
	e, ok := m.c.GetIfPresent(k)
	if !ok || e.gen != m.gen() || time.Since(m.start) >= e.until {
		return nil
	}
	return e.p
}

// generation is what to pass to set for a principal about to be made: read
// it before reading the user, so that a change meanwhile is not hidden.
func (m *principalMemo[K]) generation() uint64 { return m.gen() }

// set remembers p for k; found says whether the store held its user.
func (m *principalMemo[K]) set(k K, p *latchkey.Principal, gen uint64, found bool) {
	age := memoMaxAge
	if !found {
		age = credential.AbsentFor
	}
	if !p.ExpiresAt.IsZero() {
		age = min(age, time.Until(p.ExpiresAt))
	}
	if age > 0 && m.c != nil {
		m.c.Set(k, memoEntry{p: p, gen: gen, until: time.Since(m.start) + age})
	}
}

// keyBytes is the heap a memo key keeps alive: a verified token's Result,
// or a certificate (its parsed form is a few times its DER).
func keyBytes(k any) int {
	switch k := k.(type) {
	case *jwtverify.Result:
		return k.HeapBytes()
	case certKey:
		return 4*len(k.leaf.Raw) + int(unsafe.Sizeof(x509.Certificate{})) + len(k.as)
	}
	return int(unsafe.Sizeof(k))
}

// principalBytes is the heap p takes: itself, its strings and slices. Some
// of them are shared with the credential's Result or the user's cached
// record; counting them here errs on the side of more.
func principalBytes(p *latchkey.Principal) int {
	n := int(unsafe.Sizeof(*p)) + 16
	for _, s := range [...]string{p.Directory, p.Username, p.DisplayName, p.Email, p.CredentialID} {
		n += len(s) + 16
	}
	for _, ss := range [...][]string{p.Groups, p.Roles, p.Abilities} {
		n += cap(ss)*16 + 16
		for _, s := range ss {
			n += len(s) + 16
		}
	}
	for k, v := range p.Claims {
		n += 64 + len(k) + len(v)
	}
	return n
}
