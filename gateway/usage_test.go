package gateway

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// TestKeyUsageCounted: requests made with a rate-limited key are counted
// per key, let through and refused, exactly once the counts are flushed,
// and in latchkey_apikey_requests_total; requests without a key are not.
func TestKeyUsageCounted(t *testing.T) {
	f := newFixtureWith(t, func(c *config.Config) {
		c.RateLimits = config.RateLimits{Store: "local", MaxKeys: 1000}
		c.Routes = append(c.Routes,
			config.Route{Name: "open", Prefix: "/open", Upstream: "echo", Auth: []string{"apikey"}, AllowAnonymous: true, Timeout: config.Duration(time.Minute)})
	})
	withClock(t, f.s, newTestClock())
	u := f.addUser("goran", latchkey.RoleAPIKeyUser)
	ctx := t.Context()
	k, err := f.creds.GenerateAPIKey(ctx, nil, credential.KeyRequest{OwnerID: u.ID, RateLimit: &latchkey.RateLimit{Requests: 3, Window: 60}}, "")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range 10 {
		codes[f.serve(request("GET", "/open/x", "", "X-Api-Key", k.Key)).Code]++
	}
	for range 5 {
		f.serve(request("GET", "/open/x", ""))
	}
	if codes[200] != 3 || codes[429] != 7 {
		t.Fatalf("answers %v, want 3 × 200 and 7 × 429", codes)
	}
	f.creds.FlushUsage(ctx)
	if flushes, rows := f.creds.UsageWrites(); flushes != 1 || rows != 1 {
		t.Fatalf("UsageWrites = %d, %d; want one write of one row", flushes, rows)
	}
	v, err := f.creds.APIKeyDetails(ctx, nil, k.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	want := latchkey.APIKeyUsage{RequestsHour: 3, RefusedHour: 7, RequestsDay: 3, RefusedDay: 7}
	if v.Usage == nil || *v.Usage != want {
		t.Fatalf("usage %+v, want %+v", v.Usage, want)
	}
	if a, r := testutil.ToFloat64(f.s.metrics.keyAllowed), testutil.ToFloat64(f.s.metrics.keyRefused); a != 3 || r != 7 {
		t.Fatalf("latchkey_apikey_requests_total: allowed %v, refused %v", a, r)
	}
}
