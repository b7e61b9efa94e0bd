package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey"
)

// metrics are the gateway's Prometheus series. Label values come from the
// configuration and fixed sets only, never from credentials or raw paths.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	auth     *prometheus.HistogramVec
	// tlsReloads counts reloads of the listeners' TLS files (tlsreload.go).
	tlsReloads *prometheus.CounterVec
	// authBy holds each method's observers (ok, unauthorized, error), looked
	// up once when the gateway is built: the request path then costs a map
	// read instead of a label lookup. Read-only after New.
	authBy map[string]*[3]prometheus.Observer
	// byRequest holds the series of each (route, method, status) seen, so
	// that a request costs one lock-free lookup, not two label lookups
	// under the vectors' locks and a status formatted as text.
	byRequest *otter.Cache[requestLabels, requestSeries]
	// keyAllowed and keyRefused count requests made with API keys, let
	// through and refused by a rate limit; no key is a label.
	keyAllowed, keyRefused prometheus.Counter
}

type requestLabels struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_requests_total",
			Help: "Requests by route, HTTP method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_request_duration_seconds",
			Help:    "Time from request to response, upstream included, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route"}),
		auth: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_auth_duration_seconds",
			Help:    "Time to authenticate a request, by method and outcome (ok, unauthorized, error).",
			Buckets: prometheus.ExponentialBuckets(0.000001, 4, 12),
		}, []string{"method", "outcome"}),
		tlsReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_tls_reloads_total",
			Help: "Reloads of a listener's certificate and client CAs, by listener and result (ok, error).",
		}, []string{"listener", "result"}),
	}
	// Bounded by routes × methods × statuses; the bound guards memory only.
	keys := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "latchkey_apikey_requests_total",
		Help: "Requests made with an API key, by result (allowed, refused by a rate limit); per key in the key list.",
	}, []string{"result"})
	m.keyAllowed, m.keyRefused = keys.WithLabelValues("allowed"), keys.WithLabelValues("refused")
	m.reg.MustRegister(keys)
	m.byRequest = otter.Must(&otter.Options[requestLabels, requestSeries]{MaximumSize: 10_000})
	m.reg.MustRegister(m.requests, m.duration, m.auth, m.tlsReloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerUsage adds the series of the credential service's usage writes.
func (m *metrics) registerUsage(writes func() (flushes, rows uint64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latchkey_apikey_usage_flushes_total",
			Help: "Writes of API key usage counts to the store (one per flush interval with anything counted).",
		}, func() float64 { f, _ := writes(); return float64(f) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "latchkey_apikey_usage_rows_total",
			Help: "Key rows written by the API key usage flushes.",
		}, func() float64 { _, r := writes(); return float64(r) }),
	)
}

// Registry returns the registry, for collectors that other packages add
// (cache hit rates, for one).
func (s *Server) Registry() prometheus.Registerer { return s.metrics.reg }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// prepareAuth looks up the observers of each method once.
func (m *metrics) prepareAuth(methods []string) {
	m.authBy = make(map[string]*[3]prometheus.Observer, len(methods))
	for _, name := range methods {
		m.authBy[name] = &[3]prometheus.Observer{
			m.auth.WithLabelValues(name, "ok"),
			m.auth.WithLabelValues(name, "unauthorized"),
			m.auth.WithLabelValues(name, "error"),
		}
	}
}

func (m *metrics) observeAuth(method string, err error, d time.Duration) {
	outcome := 0 // ok
	switch latchkey.ErrorCode(err) {
	case "":
	case latchkey.EUNAUTHORIZED, latchkey.EFORBIDDEN, latchkey.EINVALID, latchkey.ERATELIMITED:
		outcome = 1
	default:
		outcome = 2
	}
	if obs, ok := m.authBy[method]; ok {
		obs[outcome].Observe(d.Seconds())
		return
	}
	m.auth.WithLabelValues(method, [3]string{"ok", "unauthorized", "error"}[outcome]).Observe(d.Seconds())
}

var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
	"DELETE": true, "OPTIONS": true, "CONNECT": true, "TRACE": true,
}

func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	k := requestLabels{route, method, status}
	series, ok := m.byRequest.GetIfPresent(k)
	if !ok {
		series = requestSeries{m.requests.WithLabelValues(route, method, strconv.Itoa(status)), m.duration.WithLabelValues(route)}
		m.byRequest.Set(k, series)
	}
	series.count.Inc()
	series.duration.Observe(d.Seconds())
}
