package config

import (
	"fmt"
	"strings"
	"time"
)

// The range of a rate limit's window, and of the Redis deadline.
const (
	MinRateWindow       = time.Second
	MaxRateWindow       = 24 * time.Hour
	MaxRateRequests     = 1_000_000_000
	MinRateRedisTimeout = time.Millisecond
	MaxRateRedisTimeout = 10 * time.Second
)

// routeRateLimits checks a route's rate_limits and errors.
func (v *validator) routeRateLimits(p string, r Route) {
	v.oneOf(p+".errors", r.Errors, ErrorShapes...)
	names := map[string]int{}
	for j, l := range r.RateLimits {
		q := fmt.Sprintf("%s.rate_limits[%d]", p, j)
		v.oneOf(q+".per", l.Per, PerRoute, PerCredential, PerUser, PerClient)
		v.rateLimit(q, l.Requests, l.Window, l.Burst)
		switch k, dup := names[l.Name]; {
		case !rateLimitName(l.Name):
			v.add(q+".name", "%q must be 1 to 64 of a-z, 0-9, '.', '_' and '-'", l.Name)
		case dup:
			v.add(q+".name", "%q is also the name of rate_limits[%d]; give each limit of a route its own name (the name defaults to per)", l.Name, k)
		default:
			names[l.Name] = j
		}
	}
}

func (v *validator) rateLimit(q string, requests int, window Duration, burst int) {
	if requests < 1 || requests > MaxRateRequests {
		v.add(q+".requests", "%d is out of range; use 1 to %d", requests, MaxRateRequests)
	}
	if d := window.D(); d < MinRateWindow || d > MaxRateWindow {
		v.add(q+".window", "%s is out of range; use 1s to 24h (the default is 1m)", d)
	}
	if burst < 0 || burst > MaxRateRequests {
		v.add(q+".burst", "%d is out of range; use 0 to %d", burst, MaxRateRequests)
	}
}

// rateLimitName reports whether s can name a limit in the RateLimit
// headers (a Structured Fields string that needs no escaping).
func rateLimitName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// rateLimits checks the top-level rate_limits.
func (v *validator) rateLimits(rl RateLimits) {
	v.oneOf("rate_limits.store", rl.Store, "local", "redis")
	if rl.MaxKeys < 1 || rl.MaxKeys > 100_000_000 {
		v.add("rate_limits.max_keys", "%d is out of range; use 1 to 100000000 (the default is 100000)", rl.MaxKeys)
	}
	r := rl.Redis
	if rl.Store == "redis" {
		if msg := checkAddress(r.Address); msg != "" {
			v.add("rate_limits.redis.address", "%s (store is redis)", msg)
		}
	} else if r.Address != "" {
		v.add("rate_limits.redis.address", "is only for store: redis; remove it, or set rate_limits.store: redis")
	}
	if d := r.Timeout.D(); d < MinRateRedisTimeout || d > MaxRateRedisTimeout {
		v.add("rate_limits.redis.timeout", "%s is out of range; use 1ms to 10s (the default is 50ms)", d)
	}
	if r.DB < 0 || r.DB > 15 {
		v.add("rate_limits.redis.db", "%d is out of range; use 0 to 15", r.DB)
	}
	if r.Batch < 1 || r.Batch > 1000 {
		v.add("rate_limits.redis.batch", "%d is out of range; use 1 (ask Redis for every request) to 1000 (the default is 64)", r.Batch)
	}
	if d := r.Retry.D(); d < 10*time.Millisecond || d > time.Minute {
		v.add("rate_limits.redis.retry", "%s is out of range; use 10ms to 1m (the default is 1s)", d)
	}
	if r.PasswordEnv != "" && strings.IndexFunc(r.PasswordEnv, func(c rune) bool {
		return c != '_' && (c < 'A' || c > 'Z') && (c < '0' || c > '9')
	}) >= 0 {
		v.add("rate_limits.redis.password_env", "%q must be the name of an environment variable: A-Z, 0-9 and '_'", r.PasswordEnv)
	}
	if m := rl.KeyMaximum; m.Requests != 0 {
		v.rateLimit("rate_limits.key_maximum", m.Requests, m.Window, 0)
	} else if d := m.Window.D(); d < MinRateWindow || d > MaxRateWindow {
		v.add("rate_limits.key_maximum.window", "%s is out of range; use 1s to 24h (the default is 1m)", d)
	}
}
