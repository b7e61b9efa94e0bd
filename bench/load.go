package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func signJWT(alg string, key any, claims map[string]any) (string, error) {
	return jwt.NewWithClaims(jwt.GetSigningMethod(alg), jwt.MapClaims(claims)).SignedString(key)
}

// newClient is an HTTPS client for loopback (the gateway's certificate is
// self-signed), with up to conns connections, presenting cert when given.
// With keepAlive false every request opens a new connection, and, with no
// session cache, makes a full TLS handshake: no resumption.
func newClient(conns int, cert *tls.Certificate, keepAlive bool) *http.Client {
	tc := &tls.Config{InsecureSkipVerify: true} // loopback, self-signed
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tc, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		IdleConnTimeout: time.Minute, DisableKeepAlives: !keepAlive,
	}}
}

// login signs in through the JSON endpoint and returns the session token.
func (e *env) login() (string, error) {
	body, _ := json.Marshal(map[string]string{"username": `LOCAL\` + benchUser, "password": benchPassword})
	req, _ := http.NewRequest("POST", e.base+"/api/v1/login", bytes.NewReader(body))
	for k, v := range map[string]string{"Origin": origin, "Accept": "application/json",
		"X-Requested-With": "XMLHttpRequest", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	resp, err := newClient(1, nil, true).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	tok := resp.Header.Get("X-Session-Id")
	if resp.StatusCode != 200 || tok == "" {
		return "", fmt.Errorf("login: %s", resp.Status)
	}
	return tok, nil
}

// scenario is one kind of request the load sends.
type scenario struct {
	name    string
	base    string // the gateway, https://host:port; "" for the main one
	path    string
	header  [2]string   // name, value; empty for none
	extra   [][2]string // more headers, the same on every request (forward-auth's)
	cert    bool        // present the client certificate
	newConn bool        // a new connection, with a full TLS handshake, per request
	// next, when set, gives the header's value for every measured request
	// (the warm-up sends header[1]); false when there is none left, which
	// ends the measurement early.
	next func() (string, bool)
	// pool, when set, gives the header's value for every measured request,
	// a token never sent before while there are any (see tokenPool).
	pool *tokenPool
}

// result is what one scenario measured.
type result struct {
	name     string
	n, fails int
	// fresh and cycled count the measured requests that took a token from
	// the scenario's pool: never sent before, or sent before (cycled).
	fresh, cycled int
	elapsed       time.Duration
	p50, p99      time.Duration
	status        map[int]int
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

// drive sends sc's request from conc goroutines for d after a warm-up of
// warm, and measures each request.
func (e *env) drive(sc scenario, conc int, d, warm time.Duration) result {
	var cert *tls.Certificate
	if sc.cert {
		cert = &e.clientCert
	}
	client := newClient(conc, cert, !sc.newConn)
	defer client.CloseIdleConnections()
	url := cmp.Or(sc.base, e.base) + sc.path
	// one sends one request; false when sc.next has no value left.
	one := func(lat *[]time.Duration, status map[int]int) bool {
		req, _ := http.NewRequest("GET", url, nil)
		if sc.header[0] != "" {
			v := sc.header[1]
			if lat != nil && sc.next != nil {
				var ok bool
				if v, ok = sc.next(); !ok {
					return false
				}
			} else if lat != nil && sc.pool != nil {
				v, _ = sc.pool.take()
			}
			req.Header.Set(sc.header[0], v)
		}
		for _, h := range sc.extra {
			req.Header.Set(h[0], h[1])
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			status[0]++
			return true
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if lat != nil {
			*lat = append(*lat, time.Since(t0))
		}
		status[resp.StatusCode]++
		return true
	}
	run := func(d time.Duration, measure bool) ([]time.Duration, map[int]int, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		lats := make([][]time.Duration, conc)
		stats := make([]map[int]int, conc)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range conc {
			stats[i] = map[int]int{}
			wg.Go(func() {
				var lat *[]time.Duration
				if measure {
					l := make([]time.Duration, 0, 4096)
					lats[i], lat = l, &lats[i]
				}
				for ctx.Err() == nil && one(lat, stats[i]) {
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		all, status := slices.Concat(lats...), map[int]int{}
		for _, s := range stats {
			for k, v := range s {
				status[k] += v
			}
		}
		return all, status, elapsed
	}
	run(warm, false)
	var taken int64
	if sc.pool != nil {
		taken = sc.pool.taken()
	}
	lat, status, elapsed := run(d, true)
	r := result{name: sc.name, elapsed: elapsed, status: status}
	if sc.pool != nil {
		r.fresh, r.cycled = sc.pool.split(taken, sc.pool.taken())
	}
	for code, n := range status {
		if code == 200 {
			r.n += n
		} else {
			r.fails += n
		}
	}
	r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return r
}

// percentile returns the q-th quantile of lat (sorted in place).
func percentile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	i := int(q * float64(len(lat)-1))
	return lat[i]
}
