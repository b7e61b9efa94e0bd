package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// trustingFixture is a fixture whose gateway trusts the proxies given; the
// test requests come from 192.0.2.1.
func trustingFixture(t *testing.T, proxies ...string) *fixture {
	return newFixtureWith(t, func(c *config.Config) { c.Server.TrustedProxies = proxies })
}

// TestClientAddressThroughHandler sends requests with forwarding headers
// through the whole gateway and checks the address the echo upstream and
// the reverse proxy's X-Forwarded-For see.
func TestClientAddressThroughHandler(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		header  []string
		want    string
	}{
		{"no setting: spoofed X-Forwarded-For ignored", nil, []string{"X-Forwarded-For", "203.0.113.9"}, "192.0.2.1:1234"},
		{"untrusted peer: X-Forwarded-For ignored", []string{"10.0.0.0/8"}, []string{"X-Forwarded-For", "203.0.113.9"}, "192.0.2.1:1234"},
		{"untrusted peer: Forwarded ignored", []string{"10.0.0.0/8"}, []string{"Forwarded", "for=203.0.113.9"}, "192.0.2.1:1234"},
		{"trusted peer: X-Forwarded-For used", []string{"192.0.2.1"}, []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"trusted peer: client's own prefix skipped", []string{"192.0.2.0/24"}, []string{"X-Forwarded-For", "6.6.6.6, 203.0.113.9, 192.0.2.7"}, "203.0.113.9"},
		{"trusted peer: several lines", []string{"192.0.2.0/24"}, []string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"trusted peer: Forwarded used", []string{"192.0.2.1"}, []string{"Forwarded", `for="[2001:db8::9]:4711";proto=https`}, "2001:db8::9"},
		{"trusted peer: garbage stops the walk", []string{"192.0.2.0/24"}, []string{"X-Forwarded-For", "203.0.113.9, nonsense, 192.0.2.8"}, "192.0.2.8"},
		{"trusted peer: headers that disagree give the peer", []string{"192.0.2.1"}, []string{"X-Forwarded-For", "203.0.113.9", "Forwarded", "for=198.51.100.3"}, "192.0.2.1:1234"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := trustingFixture(t, tc.trusted...)
			w := f.serve(request("GET", "/optional/x", "", tc.header...))
			if e := echoed(t, w); e.Request.RemoteAddr != tc.want {
				t.Errorf("remote address %q, want %q", e.Request.RemoteAddr, tc.want)
			}
		})
	}
}

// TestAddressLimitBehindTrustedProxy fails sign-ins from one client behind
// a trusted proxy until its address is refused: another client behind the
// same proxy still signs in, and the first one stays refused however it
// spells X-Forwarded-For's prefix. Without the setting both are the
// proxy's address and share the limit.
func TestAddressLimitBehindTrustedProxy(t *testing.T) {
	f := trustingFixture(t, "192.0.2.0/24")
	f.addUser("quant", latchkey.RoleAPIKeyUser)
	const attacker, other = "203.0.113.66", "203.0.113.77"
	code := 0
	for i := range 60 { // login.max_address_failures is 50 in the fixture
		w := f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(fmt.Sprintf("LAB\\nobody%d", i), "wrong"),
			"X-Forwarded-For", attacker))
		code = w.Code
	}
	if code != 429 {
		t.Fatalf("attacker never refused by address: last %d", code)
	}
	w := f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\quant`, "password-quant"), "X-Forwarded-For", other))
	if w.Code != 200 {
		t.Errorf("other client behind the proxy: %d %s, want 200", w.Code, w.Body)
	}
	w = f.serve(request("GET", "/api/v1/x", "", "Authorization", basic(`LAB\quant`, "password-quant"), "X-Forwarded-For", other+", "+attacker))
	if w.Code != 429 {
		t.Errorf("attacker with a prefix of its own: %d, want 429", w.Code)
	}
}

// TestAuditRemoteBehindTrustedProxy signs in through a trusted proxy and
// from an untrusted peer that sends X-Forwarded-For: the audit rows record
// the client and the peer.
func TestAuditRemoteBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		want    string
	}{
		{"trusted", "192.0.2.1", "203.0.113.5"},
		{"untrusted", "10.0.0.1", "192.0.2.1:1234"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := trustingFixture(t, tc.trusted)
			f.addUser("quant", latchkey.RoleAPIKeyUser)
			body, _ := json.Marshal(loginRequest{Username: `LAB\quant`, Password: "password-quant"})
			w := f.serve(request("POST", "/api/v1/login", string(body), xhr("X-Forwarded-For", "203.0.113.5")...))
			if w.Code != 200 {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			evs, err := f.st.AuditEvents(context.Background(), latchkey.AuditFilter{Action: "login."})
			if err != nil || len(evs) == 0 {
				t.Fatalf("audit: %v %v", evs, err)
			}
			if evs[0].RemoteAddr != tc.want {
				t.Errorf("audit remote %q, want %q", evs[0].RemoteAddr, tc.want)
			}
		})
	}
}

// TestUpstreamXForwardedFor checks the X-Forwarded-For that the reverse
// proxy sends the upstream: the peer alone from an untrusted peer (whatever
// the client sent), and behind a trusted proxy the chain from the client to
// the peer, without the hops the client wrote itself.
func TestUpstreamXForwardedFor(t *testing.T) {
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- strings.Join(r.Header.Values("X-Forwarded-For"), "|") + " " + r.Header.Get("Forwarded")
	}))
	defer up.Close()
	tests := []struct {
		name    string
		trusted string
		header  []string
		want    string
	}{
		{"untrusted peer", "10.0.0.0/8", []string{"X-Forwarded-For", "203.0.113.9", "Forwarded", "for=1.2.3.4"}, "192.0.2.1 "},
		{"trusted peer", "192.0.2.0/24", []string{"X-Forwarded-For", "6.6.6.6, 203.0.113.9, 192.0.2.7"}, "203.0.113.9, 192.0.2.7, 192.0.2.1 "},
		{"trusted peer, Forwarded", "192.0.2.0/24", []string{"Forwarded", `for=6.6.6.6, for="[2001:db8::9]:80", for=192.0.2.7`}, "2001:db8::9, 192.0.2.7, 192.0.2.1 "},
		{"trusted peer, no header", "192.0.2.0/24", nil, "192.0.2.1 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureWith(t, func(c *config.Config) {
				c.Server.TrustedProxies = []string{tc.trusted}
				c.Routes = append(c.Routes, config.Route{Name: "up", Prefix: "/up", Upstream: up.URL,
					Auth: []string{"session"}, AllowAnonymous: true})
			})
			if w := f.serve(request("GET", "/up/x", "", tc.header...)); w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if g := within(t, got, 5*time.Second, "upstream"); g != tc.want {
				t.Errorf("upstream saw %q, want %q", g, tc.want)
			}
		})
	}
}

// TestForwardedClient walks header values directly.
func TestForwardedClient(t *testing.T) {
	trusted, err := newTrustedProxies([]string{"10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		peer     string
		xff, fwd []string
		want     string
	}{
		{"192.0.2.1:1", []string{"203.0.113.1"}, nil, "203.0.113.1"},
		{"[::ffff:192.0.2.1]:1", []string{"203.0.113.1:8080"}, nil, "203.0.113.1"},
		{"192.0.2.1:1", []string{"203.0.113.1, 10.1.1.1,10.2.2.2"}, nil, "203.0.113.1"},
		{"192.0.2.1:1", []string{"10.1.1.1, 10.2.2.2"}, nil, "10.1.1.1"},
		{"192.0.2.1:1", []string{"[2001:db8::5]:99, [2001:db8:ffff::1]"}, nil, "2001:db8::5"},
		{"192.0.2.1:1", []string{"2001:db8::5"}, nil, "2001:db8::5"},
		{"192.0.2.1:1", []string{"203.0.113.1,,"}, nil, "203.0.113.1"},
		{"192.0.2.1:1", []string{"unknown"}, nil, "192.0.2.1:1"},
		{"192.0.2.1:1", []string{"fe80::1%eth0"}, nil, "192.0.2.1:1"},
		{"192.0.2.1:1", []string{"203.0.113.1:99999"}, nil, "192.0.2.1:1"},
		{"192.0.2.1:1", []string{"[2001:db8::5"}, nil, "192.0.2.1:1"},
		{"192.0.2.1:1", []string{"203.0.113.1, 10.0.0.1, junk, 10.0.0.2"}, nil, "10.0.0.2"},
		{"192.0.2.1:1", nil, []string{`for=unknown`}, "192.0.2.1:1"},
		{"192.0.2.1:1", nil, []string{`for=_hidden, for=10.0.0.3`}, "10.0.0.3"},
		{"192.0.2.1:1", nil, []string{`For="203.0.113.1:_port";by=10.0.0.1`}, "203.0.113.1"},
		{"192.0.2.1:1", nil, []string{`proto=https;for="[2001:db8::7]"`}, "2001:db8::7"},
		{"192.0.2.1:1", nil, []string{`by=10.0.0.1`}, "192.0.2.1:1"},
		{"192.0.2.1:1", nil, []string{`for="a,b", for=203.0.113.1`}, "203.0.113.1"},
		{"192.0.2.1:1", nil, []string{`for="203.0.113.1`}, "192.0.2.1:1"},
		{"192.0.2.2:1", []string{"203.0.113.1"}, nil, "192.0.2.2:1"},
		{"garbage", []string{"203.0.113.1"}, nil, "garbage"},
		{"192.0.2.1:1", []string{"203.0.113.1"}, []string{"for=203.0.113.1"}, "203.0.113.1"},
		{"192.0.2.1:1", []string{"203.0.113.1"}, []string{"for=203.0.113.2"}, "192.0.2.1:1"},
	}
	for _, tc := range tests {
		h := http.Header{"X-Forwarded-For": tc.xff, "Forwarded": tc.fwd}
		if tc.xff == nil {
			delete(h, "X-Forwarded-For")
		}
		if tc.fwd == nil {
			delete(h, "Forwarded")
		}
		if got, _, _ := trusted.clientAddress(tc.peer, h); got != tc.want {
			t.Errorf("%s %q %q: %q, want %q", tc.peer, tc.xff, tc.fwd, got, tc.want)
		}
	}
}

// FuzzForwardedClient feeds arbitrary X-Forwarded-For and Forwarded values:
// the address found is the peer's, or a valid address that appears in the
// headers, is not in a trusted network unless every hop to its right is,
// and the upstream chain starts with it.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"203.0.113.1", "10.0.0.1, 203.0.113.1", `for="[2001:db8::1]:80";proto=https`,
		"unknown", `for="a,b\"c"`, "[::1]:80, junk", "fe80::1%x", ",,", `for=_x;by=1.2.3.4, for=10.1.2.3`} {
		f.Add(s, s)
	}
	trusted, _ := newTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1", "::1"})
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		const peer = "192.0.2.1:1234"
		for _, h := range []http.Header{{"X-Forwarded-For": {xff}}, {"Forwarded": {fwd}}, {"X-Forwarded-For": {xff}, "Forwarded": {fwd}}} {
			got, hop, fromXFF := trusted.clientAddress(peer, h)
			if got == peer {
				continue
			}
			a, err := netip.ParseAddr(got)
			if err != nil || a != hop.addr || a.Zone() != "" || a.Is4In6() {
				t.Fatalf("%q %q: client %q (%v)", xff, fwd, got, err)
			}
			chain := trustedChain(h, hop, fromXFF, peer)
			if !strings.HasPrefix(chain, got+", ") || !strings.HasSuffix(chain, "192.0.2.1") {
				t.Fatalf("%q %q: client %q, chain %q", xff, fwd, got, chain)
			}
			for _, c := range strings.Split(chain, ", ")[1:] {
				if ca, err := netip.ParseAddr(c); err != nil || !trusted.contains(ca) {
					t.Fatalf("%q %q: chain %q holds untrusted %q", xff, fwd, chain, c)
				}
			}
		}
	})
}

// TestRequestLogRemoteBehindTrustedProxy checks the request log line's
// remote address behind a trusted proxy.
func TestRequestLogRemoteBehindTrustedProxy(t *testing.T) {
	f := trustingFixture(t, "192.0.2.1")
	var buf bytes.Buffer
	f.s.log = slog.New(slog.NewJSONHandler(&buf, nil))
	f.serve(request("GET", "/optional/x", "", "X-Forwarded-For", "203.0.113.5"))
	var line struct{ Remote string }
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.Remote != "203.0.113.5" {
		t.Errorf("log line %s: remote %q (%v)", buf.Bytes(), line.Remote, err)
	}
}
