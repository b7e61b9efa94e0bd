package gateway

import (
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// principalMemo remembers the principal made for a credential that was
// checked without the store — a verified token, a client certificate — so
// that the credential seen again costs one map lookup: no user lookup, no
// allocation. An entry holds while the credential service's access
// generation is unchanged (no user, role or ability changed on any node),
// and at most until the credential expires, memoMaxAge passes or, for a
// user the store does not hold, credential.AbsentFor passes (a user created
// meanwhile, which the change feed does not announce, is then found).
type principalMemo[K comparable] struct {
	c     *otter.Cache[K, memoEntry]
	start time.Time     // entries' times count from here (a monotonic clock read)
	gen   func() uint64 // the access generation
}

type memoEntry struct {
	p     *latchkey.Principal
	gen   uint64
	until time.Duration // since start
}

const (
	memoSize   = 20_000
	memoMaxAge = 10 * time.Minute
)

func newPrincipalMemo[K comparable](creds *credential.Service) *principalMemo[K] {
	gen := func() uint64 { return 0 }
	if creds != nil {
		gen = creds.AccessGeneration
	}
	return &principalMemo[K]{c: otter.Must(&otter.Options[K, memoEntry]{MaximumSize: memoSize}),
		start: time.Now(), gen: gen}
}

// get returns the principal remembered for k, or nil.
func (m *principalMemo[K]) get(k K) *latchkey.Principal {
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
	if age > 0 {
		m.c.Set(k, memoEntry{p: p, gen: gen, until: time.Since(m.start) + age})
	}
}
