package gateway

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/ratelimit"
)

// This file applies the routes' rate limits (docs/rate-limits.md).
//
// A route's limits per route and per client are checked before
// authentication, so that a flood is refused before it costs a password
// check or a store call; those per credential and per user after it, when
// the principal is known (an anonymous request counts by client address).
// The first limit that refuses answers 429 at once, in the route's error
// shape, with Retry-After and the RateLimit-Policy and RateLimit headers of
// draft-ietf-httpapi-ratelimit-headers-10 (Structured Fields); it is not
// held like the 429 of failed sign-ins (holdRefusal): the client was told
// when to come back. A request that passes carries the same headers, for
// the limit with the least remaining. Forward-auth answers alike, since it
// decides through the same admit.
//
// A limit that comes with the credential (an API key's own,
// Principal.RateLimit) is one more check after authentication, after the
// route's: routeLimits.key, whose Limit the principal gives, under the
// policy "key" with the key's id for subject, so that one budget holds for
// the key on every route. The limiter keeps no limit per key
// (ratelimit.Limiter.Allow takes it with each call), so such limits may
// differ from key to key and change; a changed limit applies to the
// budget's time as it stands. RateLimit-Policy then lists it after the
// route's limits, as "key".

// rateLimiting is the gateway's limiter and its metrics (nil: no route has
// limits or takes API keys).
type rateLimiting struct {
	limiter   *ratelimit.Limiter
	clock     func() time.Time // the limiter's clock when a test gave one
	decisions *prometheus.CounterVec
	fallbacks prometheus.Counter
}

// carriesKeys reports whether route r may see a principal that spends an
// API key's budget (Principal.RateLimitID): the key in X-Api-Key or as
// the password of HTTP Basic, or a session or one of latchkey's tokens
// obtained with it.
func carriesKeys(r config.Route) bool {
	return slices.ContainsFunc(r.Auth, func(m string) bool {
		return m == latchkey.MethodAPIKey || m == latchkey.MethodBasic || m == latchkey.MethodSession || m == latchkey.MethodJWT
	})
}

// newRateLimiting builds the limiter of cfg.RateLimits when a route has
// limits or may see API keys (which may have limits of their own); now is
// the clock (nil: time.Now).
func (s *Server) newRateLimiting(cfg *config.Config, now func() time.Time) (*rateLimiting, error) {
	if !slices.ContainsFunc(cfg.Routes, func(r config.Route) bool { return len(r.RateLimits) > 0 || carriesKeys(r) }) {
		return nil, nil
	}
	rl := &rateLimiting{
		clock: now,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_ratelimit_decisions_total",
			Help: "Rate-limit decisions by route, limit (policy) and result (allowed, limited).",
		}, []string{"route", "policy", "result"}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latchkey_ratelimit_fallback_total",
			Help: "Rate-limit decisions that the node made alone because Redis did not answer in time.",
		}),
	}
	o := ratelimit.Options{MaxKeys: cfg.RateLimits.MaxKeys, Now: now, Log: s.log, OnFallback: func() { rl.fallbacks.Inc() }}
	if c := cfg.RateLimits; c.Store == "redis" {
		o.Redis = &ratelimit.RedisOptions{Address: c.Redis.Address, DB: c.Redis.DB, Timeout: c.Redis.Timeout.D(),
			Prefix: c.Redis.KeyPrefix, Batch: c.Redis.Batch, Retry: c.Redis.Retry.D()}
		if c.Redis.PasswordEnv != "" {
			o.Redis.Password = os.Getenv(c.Redis.PasswordEnv)
		}
	}
	var err error
	if rl.limiter, err = ratelimit.New(o); err != nil {
		return nil, fmt.Errorf("rate_limits: %w", err)
	}
	if s.rate != nil { // a clock replaced in a test: keep the registered metrics
		rl.decisions, rl.fallbacks = s.rate.decisions, s.rate.fallbacks
		s.rate.limiter.Close()
	} else {
		s.metrics.reg.MustRegister(rl.decisions, rl.fallbacks)
	}
	return rl, nil
}

func (rl *rateLimiting) close() {
	if rl != nil {
		rl.limiter.Close()
	}
}

// routeLimit is one of a route's limits, ready to check.
type routeLimit struct {
	name    string // in the headers and the metrics
	policy  string // the budget's: the route's name and this name
	per     string
	limit   ratelimit.Limit
	allowed prometheus.Counter
	limited prometheus.Counter
	quoted  string                    // the name as a Structured Fields string
	last    atomic.Pointer[rateValue] // the RateLimit value written last
}

// rateValue is a RateLimit header value, kept so that the next answer with
// the same remaining and reset reuses it instead of formatting it again
// (so an answer well within its limits allocates nothing for it). The
// slice is never changed; one who adds to the header gets a new one.
type rateValue struct {
	remaining int
	reset     int64
	v         []string
}

// value is the RateLimit value "name";r=REMAINING;t=RESET.
func (l *routeLimit) value(remaining int, reset int64) []string {
	if c := l.last.Load(); c != nil && c.remaining == remaining && c.reset == reset {
		return c.v
	}
	v := []string{l.quoted + ";r=" + strconv.Itoa(remaining) + ";t=" + strconv.FormatInt(reset, 10)}
	l.last.Store(&rateValue{remaining, reset, v})
	return v
}

// routeLimits are a route's limits, those checked before authentication
// and those after it, and how it writes a refusal.
type routeLimits struct {
	before, after []*routeLimit
	policy        []string // the RateLimit-Policy header, every limit of the route
	body          func(w http.ResponseWriter, status int, code, message string)
	// key is the check of a key's own limit (its limit unused: the
	// principal's is); nil when the route sees no API keys (carriesKeys).
	key *routeLimit
}

// keyPolicy is the policy and the name of the limits of API keys.
const keyPolicy = "key"

func (s *Server) newRouteLimits(c config.Route) routeLimits {
	var rl routeLimits
	switch c.Errors {
	case "qlik-cloud":
		rl.body = writeQlikError
	case "journyx":
		rl.body = writeJournyxError
	default:
		rl.body = writeErrorBody
	}
	if s.rate == nil {
		return rl
	}
	if carriesKeys(c) {
		rl.key = &routeLimit{name: keyPolicy, quoted: strconv.Quote(keyPolicy), policy: keyPolicy, per: keyPolicy,
			allowed: s.rate.decisions.WithLabelValues(c.Name, keyPolicy, "allowed"),
			limited: s.rate.decisions.WithLabelValues(c.Name, keyPolicy, "limited")}
	}
	if len(c.RateLimits) == 0 {
		return rl
	}
	var policy []string
	for _, l := range c.RateLimits {
		lim := ratelimit.Limit{Requests: l.Requests, Window: l.Window.D(), Burst: l.Burst}
		rlim := &routeLimit{name: l.Name, quoted: strconv.Quote(l.Name), policy: c.Name + "\x00" + l.Name, per: l.Per, limit: lim,
			allowed: s.rate.decisions.WithLabelValues(c.Name, l.Name, "allowed"),
			limited: s.rate.decisions.WithLabelValues(c.Name, l.Name, "limited")}
		if l.Per == config.PerRoute || l.Per == config.PerClient {
			rl.before = append(rl.before, rlim)
		} else {
			rl.after = append(rl.after, rlim)
		}
		policy = append(policy, policyItem(l.Name, lim))
	}
	rl.policy = []string{strings.Join(policy, ", ")}
	return rl
}

// policyItem is a limit as a RateLimit-Policy item: the quota q is what
// passes at once from rest (requests + burst), the window w in seconds.
func policyItem(name string, l ratelimit.Limit) string {
	return strconv.Quote(name) + ";q=" + strconv.Itoa(l.Capacity()) + ";w=" + strconv.FormatInt(int64(l.Window/time.Second), 10)
}

// rateState is what a request's limits said so far: the tightest one, its
// limit, and the RateLimit-Policy header.
type rateState struct {
	at     time.Time // when the request came (zero: the limiter reads its clock)
	limit  *routeLimit
	lim    ratelimit.Limit
	d      ratelimit.Decision
	policy []string
}

// checkLimits checks limits for a request with principal p (nil before
// authentication), and then the limit that comes with p's credential,
// if any. It reports false when one refused, having answered.
func (s *Server) checkLimits(w http.ResponseWriter, r *http.Request, rte *route, limits []*routeLimit, p *latchkey.Principal, st *rateState) bool {
	var own *latchkey.RateLimit
	if p != nil && rte.limits.key != nil && p.RateLimitID != "" {
		own = p.RateLimit
	}
	if len(limits) == 0 && own == nil {
		return true
	}
	if st.policy == nil {
		st.policy = rte.limits.policy
	}
	for _, l := range limits {
		if !s.checkLimit(w, r, rte, l, l.key(r, p), l.limit, st) {
			return false
		}
	}
	if own != nil {
		lim := ratelimit.Limit{Requests: own.Requests, Window: own.WindowDuration(), Burst: own.Burst}
		item := policyItem(keyPolicy, lim)
		if len(rte.limits.policy) > 0 {
			item = rte.limits.policy[0] + ", " + item
		}
		st.policy = []string{item}
		k := ratelimit.Key{Policy: keyPolicy, Subject: [2]string{latchkey.MethodAPIKey, p.RateLimitID}} // whichever way the key came
		if lim.Valid() && !s.checkLimit(w, r, rte, rte.limits.key, k, lim, st) {
			return false
		}
	}
	if st.limit != nil {
		setRateHeaders(w.Header(), st.policy, st)
	}
	return true
}

// checkLimit spends one request of budget k of l, with limit lim. It
// reports false when the limit refused, having answered.
func (s *Server) checkLimit(w http.ResponseWriter, r *http.Request, rte *route, l *routeLimit, k ratelimit.Key, lim ratelimit.Limit, st *rateState) bool {
	at := st.at
	if s.rate.clock != nil { // a test's clock: the request's time is not on it
		at = time.Time{}
	}
	d := s.rate.limiter.AllowAt(r.Context(), k, lim, at)
	if !d.Allowed {
		l.limited.Inc()
		st.limit, st.lim, st.d = l, lim, d
		s.refuseLimited(w, r, rte, st)
		return false
	}
	l.allowed.Inc()
	if st.limit == nil || d.Remaining < st.d.Remaining {
		st.limit, st.lim, st.d = l, lim, d
	}
	return true
}

// key is the budget of l that request r with principal p spends.
func (l *routeLimit) key(r *http.Request, p *latchkey.Principal) ratelimit.Key {
	k := ratelimit.Key{Policy: l.policy}
	switch {
	case l.per == config.PerRoute:
	case l.per == config.PerClient || p.IsAnonymous():
		k.Subject[1] = clientHost(r.RemoteAddr) // [0] "" is no method or directory
	case l.per == config.PerUser:
		k.Subject = [2]string{p.Directory, p.Username}
	case p.CredentialID != "":
		k.Subject = [2]string{p.Method, p.CredentialID}
	default: // a password: the credential is the user's
		k.Subject = [2]string{p.Method + ":" + p.Directory, p.Username}
	}
	return k
}

// clientHost is the address of RemoteAddr without its port, if it has one
// ("192.0.2.1:1234", "[2001:db8::1]:1234"; one taken from X-Forwarded-For
// has none). It allocates nothing.
func clientHost(addr string) string {
	if strings.HasPrefix(addr, "[") {
		if i := strings.IndexByte(addr, ']'); i > 0 {
			return addr[1:i]
		}
		return addr
	}
	if i := strings.IndexByte(addr, ':'); i >= 0 && strings.LastIndexByte(addr, ':') == i {
		return addr[:i]
	}
	return addr
}

// setRateHeaders writes RateLimit-Policy (every limit of the route) and
// RateLimit (the tightest so far): "name";r=REMAINING;t=SECONDS, t being
// the time until the budget is full again.
func setRateHeaders(h http.Header, policy []string, st *rateState) {
	h["Ratelimit-Policy"] = policy
	h["Ratelimit"] = st.limit.value(st.d.Remaining, ceilSeconds(st.d.Reset))
}

// ceilSeconds is d in whole seconds, rounded up.
func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// refuseLimited answers 429 for the limit of st, in the route's shape, at
// once.
func (s *Server) refuseLimited(w http.ResponseWriter, r *http.Request, rte *route, st *rateState) {
	retry := max(ceilSeconds(st.d.RetryAfter), 1)
	h := w.Header()
	setRateHeaders(h, st.policy, st)
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
	s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "code", latchkey.ERATELIMITED,
		"route", rte.name, "limit", st.limit.name)
	l := st.lim
	msg := fmt.Sprintf("Too many requests: the limit %q of this route allows %d per %s; try again in %d s.",
		st.limit.name, l.Requests, l.Window, retry)
	if st.limit == rte.limits.key {
		msg = fmt.Sprintf("Too many requests: the limit of this API key allows %d per %s; try again in %d s.",
			l.Requests, l.Window, retry)
	}
	rte.limits.body(w, http.StatusTooManyRequests, latchkey.ERATELIMITED, msg)
}

// journyxError is an error in the shape of Journyx's answers, which say
// "success": latchkey's error object with "success": false.
type journyxError struct {
	Success bool `json:"success"`
	Error   struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJournyxError(w http.ResponseWriter, status int, code, message string) {
	var body journyxError
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

// countKeyUse counts a request made with an API key (in X-Api-Key, as the
// password of HTTP Basic, or through a session or one of latchkey's tokens
// obtained with it: Principal.RateLimitID names the key) after the
// rate-limit decision: for the key's usage, which the credential service
// writes in batches, and in latchkey_apikey_requests_total.
func (s *Server) countKeyUse(p *latchkey.Principal, allowed bool) {
	if p == nil || p.RateLimitID == "" {
		return
	}
	if allowed {
		s.metrics.keyAllowed.Inc()
	} else {
		s.metrics.keyRefused.Inc()
	}
	if s.creds != nil {
		s.creds.CountAPIKeyUse(p.RateLimitID, !allowed)
	}
}
