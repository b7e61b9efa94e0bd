package xrfkey

import (
	"math"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewIsValidAndFresh(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := New()
		if !Valid(k) {
			t.Fatalf("New() = %q is not valid", k)
		}
		if seen[k] {
			t.Fatalf("New() repeated %q", k)
		}
		seen[k] = true
	}
}

// TestNewIsUnbiased draws 62×2000 characters and checks each of the 62
// appears about equally often (a chi-squared test far from its critical
// value), and that every character occurs — which the snippets in seed 001,
// which drop letters, would fail.
func TestNewIsUnbiased(t *testing.T) {
	counts := map[rune]int{}
	const keys = 62 * 2000 / Len
	for range keys {
		for _, c := range New() {
			counts[c]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("only %d distinct characters drawn", len(counts))
	}
	expected := float64(keys*Len) / 62
	chi := 0.0
	for _, n := range counts {
		d := float64(n) - expected
		chi += d * d / expected
	}
	// 61 degrees of freedom: p = 0.0001 at about 113.
	if chi > 113 || math.IsNaN(chi) {
		t.Fatalf("chi-squared %.1f: characters are not uniform", chi)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		url, header string
		want        bool
	}{
		{"/qrs/about?Xrfkey=abcdefghij123456", "abcdefghij123456", true},
		{"/qrs/about/?xrfkey=ABCDEFG123456789", "ABCDEFG123456789", true},
		{"/qrs/about?Xrfkey=abcdefghij123456", "abcdefghij123457", false},
		{"/qrs/about?Xrfkey=abcdefghij123456", "", false},
		{"/qrs/about", "abcdefghij123456", false},
		{"/qrs/about?Xrfkey=abcdefghij12345", "abcdefghij12345", false},
		{"/qrs/about?Xrfkey=abcdefghij12345!", "abcdefghij12345!", false},
		{"/qrs/about?Xrfkey=abcdefghij123456&xrfkey=abcdefghij123456", "abcdefghij123456", false},
		{"/qrs/about?XRFKEY=abcdefghij123456", "abcdefghij123456", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.url, nil)
		if tt.header != "" {
			r.Header.Set("x-qlik-xrfkey", tt.header)
		}
		if got := Check(r); got != tt.want {
			t.Errorf("Check(%s, %q) = %v, want %v", tt.url, tt.header, got, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	r := httptest.NewRequest("GET", "/qrs/about?xrfkey=old&a=1", nil)
	k := Set(r)
	if !Check(r) || !strings.Contains(r.URL.RawQuery, "a=1") || r.URL.Query().Get("Xrfkey") != k {
		t.Fatalf("after Set: %s %v", r.URL, r.Header)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("Xrfkey=abcdefghij123456", "abcdefghij123456")
	f.Add("xrfkey=%41%42", "AB")
	f.Fuzz(func(t *testing.T, query, header string) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = query
		r.Header.Set(Header, header)
		if Check(r) && (!Valid(header) || len(header) != Len) {
			t.Fatalf("Check accepted %q / %q", query, header)
		}
	})
}
