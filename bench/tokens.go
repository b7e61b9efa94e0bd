package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// tokenPool holds pre-minted header values (such as "Bearer " and a JWT),
// each a distinct token. Every take returns the next one not yet taken;
// once all are taken it cycles from the first again, and those repeats
// are counted apart: the gateway has seen them, and may have them cached.
type tokenPool struct {
	vals []string
	next atomic.Int64
}

// take returns the next value and whether it had never been taken.
func (p *tokenPool) take() (string, bool) {
	i := p.next.Add(1) - 1
	return p.vals[i%int64(len(p.vals))], i < int64(len(p.vals))
}

// taken is how many takes there have been.
func (p *tokenPool) taken() int64 { return p.next.Load() }

// split says how many of the takes numbered [from, to) returned a value
// for the first time, and how many a repeat.
func (p *tokenPool) split(from, to int64) (fresh, cycled int) {
	n := int64(len(p.vals))
	f := max(0, min(to, n)-min(from, n))
	return int(f), int(to - from - f)
}

// remaining is how many values have not been taken yet.
func (p *tokenPool) remaining() int { return max(0, len(p.vals)-int(p.taken())) }

// mintPool signs n tokens, each "Bearer " and a JWT with its own jti, over
// GOMAXPROCS goroutines; claims gives the claims of the i-th. It returns
// the pool and how long the signing took.
func mintPool(n int, alg string, key any, claims func(i int) map[string]any) (*tokenPool, time.Duration, error) {
	t0 := time.Now()
	vals := make([]string, n)
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n && failed.Load() == nil; i += workers {
				tok, err := signJWT(alg, key, claims(i))
				if err != nil {
					failed.Store(&err)
					return
				}
				vals[i] = "Bearer " + tok
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, 0, fmt.Errorf("minting %s tokens: %w", alg, *err)
	}
	return &tokenPool{vals: vals}, time.Since(t0), nil
}

// poolClaims are the claims of the i-th token of a pool called name: the
// bench user's, with an expiry of lifetime and a jti of its own.
func poolClaims(name string, lifetime time.Duration) func(i int) map[string]any {
	now := time.Now()
	return func(i int) map[string]any {
		return map[string]any{"sub": benchUser, "aud": "bench", "iat": now.Unix(),
			"exp": now.Add(lifetime).Unix(), "jti": fmt.Sprintf("%s-%d", name, i)}
	}
}
