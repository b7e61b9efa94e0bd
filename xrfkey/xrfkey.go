// Package xrfkey makes and checks Qlik's Xrfkey values: 16 characters of
// [0-9A-Za-z], sent both as the Xrfkey query parameter and as the
// X-Qlik-Xrfkey header so that a forged cross-site request, which cannot set
// the header, fails the comparison.
package xrfkey

import (
	"crypto/rand"
	"net/http"
	"net/url"
)

// Len is the length of an Xrfkey.
const Len = 16

// Alphabet holds the 62 characters an Xrfkey is made of.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Header is the header that carries the key (any case on the wire).
const Header = "X-Qlik-Xrfkey"

// New returns a fresh key: each character drawn uniformly from Alphabet by
// rejection sampling over a CSPRNG (bytes of 248 and above are dropped, so
// that no character is likelier than another).
func New() string {
	var out [Len]byte
	var buf [32]byte
	n := 0
	for n < Len {
		rand.Read(buf[:])
		for _, b := range buf {
			if b >= 248 { // 248 = 4 × 62: the largest multiple of 62 that fits
				continue
			}
			out[n] = Alphabet[b%62]
			if n++; n == Len {
				break
			}
		}
	}
	return string(out[:])
}

// Valid reports whether s is 16 characters of [0-9A-Za-z].
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// FromQuery returns the Xrfkey query parameter, spelled Xrfkey or xrfkey,
// and whether it was given exactly once.
func FromQuery(q url.Values) (string, bool) {
	a, b := q["Xrfkey"], q["xrfkey"]
	if len(a)+len(b) != 1 {
		return "", false
	}
	return append(a, b...)[0], true
}

// Check reports whether the request carries a valid Xrfkey in both the
// query and the header, and the two are equal.
func Check(r *http.Request) bool {
	q, ok := FromQuery(r.URL.Query())
	h := r.Header.Values(Header)
	return ok && len(h) == 1 && Valid(q) && h[0] == q
}

// Set adds a fresh key to a request, as parameter and header, replacing any
// there was, and returns it.
func Set(r *http.Request) string {
	k := New()
	q := r.URL.Query()
	q.Del("xrfkey")
	q.Set("Xrfkey", k)
	r.URL.RawQuery = q.Encode()
	r.Header.Set(Header, k)
	return k
}
