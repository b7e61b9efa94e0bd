package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

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
