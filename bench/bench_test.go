package main

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestTargetLine(t *testing.T) {
	for _, c := range []struct {
		v     float64
		op    string
		limit float64
		want  string
	}{
		{0.97, atLeast, 0.95, "x 0.970 (target ≥ 0.95): holds"},
		{0.94, atLeast, 0.95, "x 0.940 (target ≥ 0.95): misses"},
		{1.2, atMost, 1.2, "x 1.200 (target ≤ 1.20): holds"},
		{1.3, atMost, 1.2, "x 1.300 (target ≤ 1.20): misses"},
		{math.NaN(), atMost, 1.2, "x n/a (target ≤ 1.20): not measured"},
		{math.Inf(1), atLeast, 0.95, "x n/a (target ≥ 0.95): not measured"},
	} {
		if got := targetLine("x", c.v, c.op, c.limit); got != c.want {
			t.Errorf("targetLine(%v %s %v) = %q, want %q", c.v, c.op, c.limit, got, c.want)
		}
	}
}

func TestTokenPool(t *testing.T) {
	p := &tokenPool{vals: []string{"a", "b", "c"}}
	var got []string
	var fresh []bool
	for range 5 {
		v, f := p.take()
		got, fresh = append(got, v), append(fresh, f)
	}
	if want := []string{"a", "b", "c", "a", "b"}; !slices.Equal(got, want) {
		t.Errorf("takes %v, want %v", got, want)
	}
	if want := []bool{true, true, true, false, false}; !slices.Equal(fresh, want) {
		t.Errorf("fresh %v, want %v", fresh, want)
	}
	for _, c := range []struct{ from, to, fresh, cycled int64 }{{0, 2, 2, 0}, {1, 5, 2, 2}, {3, 5, 0, 2}, {0, 0, 0, 0}} {
		if f, cy := p.split(c.from, c.to); int64(f) != c.fresh || int64(cy) != c.cycled {
			t.Errorf("split(%d, %d) = %d, %d; want %d, %d", c.from, c.to, f, cy, c.fresh, c.cycled)
		}
	}
	if p.remaining() != 0 {
		t.Errorf("remaining %d, want 0", p.remaining())
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3}
	if got := percentile(lat, 0.5); got != 3 {
		t.Errorf("p50 %v, want 3", got)
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("p99 of none %v, want 0", got)
	}
}
