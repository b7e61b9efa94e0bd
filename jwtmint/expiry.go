package jwtmint

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Year is the length of a year in an expiry, 365.25 days, as in qs-jwt
// (which reads expiries with the "ms" package).
const Year = time.Duration(365.25 * 24 * float64(time.Hour))

// MaxExpiry is the longest expiry ParseExpiry accepts.
const MaxExpiry = 100 * Year

var expiryUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"y": Year, "yr": Year, "yrs": Year, "year": Year, "years": Year,
}

// ParseExpiry reads a token lifetime the way qs-jwt's --expires does: a
// number and a unit, such as 30s, 60m, 48h, 365d, 2w or 5y (also 1.5h and
// "2 days"). A year is 365.25 days. The result is whole seconds, from 1s to
// 100 years.
func ParseExpiry(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, expiryError(s)
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	unit, ok := expiryUnits[strings.TrimSpace(t[i:])]
	if err != nil || !ok || math.IsNaN(n) || n <= 0 {
		return 0, expiryError(s)
	}
	if n*float64(unit) > float64(MaxExpiry) {
		return 0, fmt.Errorf("expiry %q is longer than 100 years", s)
	}
	d := time.Duration(n * float64(unit)).Truncate(time.Second)
	if d < time.Second {
		return 0, fmt.Errorf("expiry %q is shorter than 1s", s)
	}
	return d, nil
}

func expiryError(s string) error {
	return fmt.Errorf("expiry %q is not a number and a unit such as 30s, 60m, 48h, 365d or 5y", s)
}
