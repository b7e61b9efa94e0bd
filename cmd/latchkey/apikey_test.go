package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/testenv"
)

// keyPattern is what an API key looks like: lk_, a 13-character id, _, and a
// 43-character secret.
var keyPattern = regexp.MustCompile(`lk_[a-z2-7]{13}_[A-Za-z0-9_-]{43}`)

// withService opens the store that flags name and a credential service over
// it — a server node, as far as credentials go — and runs fn while both are
// open. Tests make their fixtures through it or through the command line,
// never through the store (TestNoStoreAccessForIdentity).
func withService(t *testing.T, flags []string, fn func(svc *credential.Service)) {
	t.Helper()
	withServiceConfig(t, flags, "", fn)
}

// withServiceConfig is withService with the configuration file given ("" for
// the default).
func withServiceConfig(t *testing.T, flags []string, configFile string, fn func(svc *credential.Service)) {
	t.Helper()
	var logs bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &logs, getenv: func(string) string { return "" },
		configFile: configFile}
	switch flags[0] {
	case "--data-dir":
		a.dataDir = flags[1]
	case "--store-dsn":
		a.storeDSN = flags[1]
	default:
		t.Fatalf("unknown store flags %v", flags)
	}
	err := a.withCredentials(context.Background(), func(svc *credential.Service) error {
		fn(svc)
		return nil
	})
	if err != nil {
		t.Fatalf("open the credential service: %v (log: %s)", err, logs.String())
	}
}

// eventually waits up to five seconds for cond: how long a change may take
// to reach another node is about a second, and nothing but that node's
// answers shows it has.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, what, cond)
}

// mustFail runs a command line that must fail with one line on stderr that
// mentions want.
func mustFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := cli(t, nil, "", args...)
	if code == 0 {
		t.Fatalf("latchkey %s: exit 0, want a failure; stdout %q", strings.Join(args, " "), out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "latchkey: ") || !strings.Contains(strings.ToLower(lines[0]), strings.ToLower(want)) {
		t.Fatalf("latchkey %s: stderr %q; want one line mentioning %q", strings.Join(args, " "), errOut, want)
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v): %q", err, s)
	}
	return v
}

// keyOut is what apikey create, show and rotate print with -o json.
type keyOut struct {
	credential.KeyView
	Replaces string `json:"replaces"`
}

func near(got, want time.Time) bool { d := got.Sub(want); return d > -time.Hour && d < time.Hour }

// TestAPIKeyLifecycle makes, lists, shows, rotates and revokes keys through
// the command line on each backend, and checks that a running node sees each
// change.
func TestAPIKeyLifecycle(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--directory", "LAB", "--user", "goran", "--role", "apikey-user", "--no-password")...)
			mustCLI(t, "", with("user", "add", "--user", "bob", "--role", "apikey-user", "--no-password")...)

			// create -o json: the key, once, with the settings asked for.
			now := time.Now()
			k1 := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran",
				"--days", "30", "--name", "ci", "-o", "json")...))
			if len(k1.Key) != 60 || !strings.HasPrefix(k1.Key, "lk_") || !keyPattern.MatchString(k1.Key) {
				t.Fatalf("created key %q: want 60 characters lk_<id>_<secret>", k1.Key)
			}
			if k1.Key[3:16] != k1.ID || k1.Name != "ci" || k1.Owner != `LAB\goran` || k1.ReadOnly || k1.Revoked ||
				!near(k1.Expires, now.AddDate(0, 0, 30)) {
				t.Errorf("created key = %+v", k1)
			}

			// Table output shows the key once, with a warning; the default
			// expiry is api_keys.default_days (30).
			table := mustCLI(t, "", with("apikey", "create", "--directory", "LAB", "--user", "goran")...)
			key2 := keyPattern.FindString(table)
			if key2 == "" || !strings.Contains(table, "not shown again") {
				t.Fatalf("create printed %q; want the key and that it is not shown again", table)
			}
			id2 := key2[3:16]

			k3 := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--directory", "lab", "--user", "GORAN",
				"--read-only", "--days", "7", "-o", "json")...))
			if !k3.ReadOnly || !near(k3.Expires, now.AddDate(0, 0, 7)) {
				t.Errorf("read-only key = %+v", k3)
			}
			kb := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--user", "bob", "-o", "json")...))

			// list: every user's, one user's, one directory's.
			ids := func(args ...string) []string {
				t.Helper()
				var out []string
				for _, v := range decode[[]credential.KeyView](t, mustCLI(t, "", with(append([]string{"apikey", "list", "-o", "json"}, args...)...)...)) {
					out = append(out, v.ID)
				}
				slices.Sort(out)
				return out
			}
			sorted := func(s ...string) []string { slices.Sort(s); return s }
			if got, want := ids(), sorted(k1.ID, id2, k3.ID, kb.ID); !slices.Equal(got, want) {
				t.Errorf("apikey list = %v, want %v", got, want)
			}
			if got, want := ids("--directory", "LAB", "--user", "goran"), sorted(k1.ID, id2, k3.ID); !slices.Equal(got, want) {
				t.Errorf("apikey list --user goran = %v, want %v", got, want)
			}
			if got, want := ids("--user", "bob"), []string{kb.ID}; !slices.Equal(got, want) {
				t.Errorf("apikey list --user bob = %v, want %v", got, want)
			}
			if got, want := ids("--directory", "lab"), sorted(k1.ID, id2, k3.ID); !slices.Equal(got, want) {
				t.Errorf("apikey list --directory lab = %v, want %v", got, want)
			}
			list := mustCLI(t, "", with("apikey", "list")...)
			if !strings.HasPrefix(list, "ID ") || !strings.Contains(list, "LAST USED") ||
				!regexp.MustCompile(k1.ID+`\s+ci\s+LAB\\goran\s.*\snever\s+false\s+active`).MatchString(list) {
				t.Errorf("apikey list printed\n%s", list)
			}
			if strings.Contains(list, "lk_") {
				t.Errorf("apikey list shows a key:\n%s", list)
			}

			// show: details, never the key.
			raw := mustCLI(t, "", with("apikey", "show", k1.ID, "-o", "json")...)
			shown := decode[keyOut](t, raw)
			if shown.ID != k1.ID || shown.Owner != `LAB\goran` || shown.Name != "ci" || strings.Contains(raw, `"key"`) {
				t.Errorf("apikey show = %s", raw)
			}
			if out := mustCLI(t, "", with("apikey", "show", k1.ID)...); !regexp.MustCompile(`status\s+active`).MatchString(out) {
				t.Errorf("apikey show printed\n%s", out)
			}

			var k4 keyOut
			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				p, err := svc.VerifyAPIKey(ctx, k1.Key)
				if err != nil || p.QualifiedName() != `LAB\goran` || p.CredentialID != k1.ID {
					t.Fatalf("the created key does not authenticate: %v, %+v", err, p)
				}

				// rotate: a new key with the same settings; the old one is
				// revoked, on this running node too.
				k4 = decode[keyOut](t, mustCLI(t, "", with("apikey", "rotate", k1.ID, "-o", "json")...))
				if k4.ID == k1.ID || len(k4.Key) != 60 || k4.Key[3:16] != k4.ID || k4.Replaces != k1.ID ||
					k4.Name != "ci" || k4.Owner != `LAB\goran` || k4.ReadOnly || !near(k4.Expires, now.AddDate(0, 0, 30)) {
					t.Errorf("rotated key = %+v", k4)
				}
				old := decode[keyOut](t, mustCLI(t, "", with("apikey", "show", k1.ID, "-o", "json")...))
				if !old.Revoked || old.RevokedAt == nil {
					t.Errorf("after rotate the old key is %+v", old)
				}
				eventually(t, "the rotated-out key still authenticates", func() bool {
					_, err := svc.VerifyAPIKey(ctx, k1.Key)
					return latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED
				})
				if _, err := svc.VerifyAPIKey(ctx, k4.Key); err != nil {
					t.Errorf("the new key does not authenticate: %v", err)
				}

				// revoke: stops working at once.
				if out := mustCLI(t, "", with("apikey", "revoke", k4.ID)...); !strings.Contains(out, "revoked API key "+k4.ID+` of LAB\goran`) {
					t.Errorf("apikey revoke printed %q", out)
				}
				eventually(t, "the revoked key still authenticates", func() bool {
					_, err := svc.VerifyAPIKey(ctx, k4.Key)
					return latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED
				})
				if _, err := svc.VerifyAPIKey(ctx, kb.Key); err != nil {
					t.Errorf("an unrelated key stopped working: %v", err)
				}
			})
			if out := mustCLI(t, "", with("apikey", "show", k4.ID, "-o", "json")...); !decode[keyOut](t, out).Revoked {
				t.Errorf("show after revoke: %s", out)
			}
			list = mustCLI(t, "", with("apikey", "list", "--directory", "LAB", "--user", "goran")...)
			if !regexp.MustCompile(k1.ID + `\s.*\srevoked\s+none\s`).MatchString(list) {
				t.Errorf("the rotated-out key is not listed as revoked:\n%s", list)
			}

			// Failures: one sentence, non-zero, nothing made.
			mustFail(t, "revoked already", with("apikey", "revoke", k1.ID)...)
			mustFail(t, "revoked already", with("apikey", "rotate", k1.ID)...)
			mustFail(t, "nosuchkey", with("apikey", "show", "nosuchkey")...)
			mustFail(t, "1 to 365", with("apikey", "create", "--directory", "LAB", "--user", "goran", "--days", "400")...)
			mustFail(t, "at least 1", with("apikey", "create", "--directory", "LAB", "--user", "goran", "--days", "0")...)
			mustFail(t, "nobody", with("apikey", "create", "--user", "nobody")...)
			mustFail(t, "user", with("apikey", "create")...)
			mustFail(t, "table or json", with("apikey", "create", "--directory", "LAB", "--user", "goran", "-o", "yaml")...)
			mustFail(t, "128", with("apikey", "create", "--directory", "LAB", "--user", "goran", "--name", strings.Repeat("n", 129))...)
			mustFail(t, "arg", with("apikey", "revoke")...)
			if got := ids(); len(got) != 5 {
				t.Errorf("after the failures there are %d keys, want 5: %v", len(got), got)
			}
		})
	}
}

func TestAPIKeyHelp(t *testing.T) {
	for _, sub := range []string{"create", "list", "show", "revoke", "rotate", "set-limit"} {
		out := mustCLI(t, "", "apikey", sub, "--help")
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey apikey "+sub) {
			t.Errorf("apikey %s --help lacks an example:\n%s", sub, out)
		}
	}
}

// TestAPIKeyRateLimit gives keys their own rate limits at the command line,
// at creation and later, within rate_limits.key_maximum, and checks that
// list, show and -o json say it and a running node applies it.
func TestAPIKeyRateLimit(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--user", "goran", "--role", "apikey-user", "--no-password")...)

			k := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--user", "goran", "--rate-limit", "100/1m,burst=20", "-o", "json")...))
			if l := k.RateLimit; l == nil || *l != (latchkey.RateLimit{Requests: 100, Window: 60, Burst: 20}) {
				t.Fatalf("created key's limit %+v", l)
			}
			plain := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--user", "goran", "-o", "json")...))
			if plain.RateLimit != nil {
				t.Fatalf("a key made without --rate-limit has %+v", plain.RateLimit)
			}
			list := mustCLI(t, "", with("apikey", "list")...)
			if !strings.Contains(list, "RATE LIMIT") || !regexp.MustCompile(k.ID+`\s.*\sactive\s+100/1m,burst=20\s+0\s+0\s+0\n`).MatchString(list) ||
				!regexp.MustCompile(plain.ID+`\s.*\sactive\s+none\s+0\s+0\s+0\n`).MatchString(list) {
				t.Errorf("apikey list printed\n%s", list)
			}
			if out := mustCLI(t, "", with("apikey", "show", k.ID)...); !regexp.MustCompile(`rate limit\s+100/1m,burst=20`).MatchString(out) {
				t.Errorf("apikey show printed\n%s", out)
			}

			withService(t, store, func(svc *credential.Service) {
				ctx := context.Background()
				limitOf := func() *latchkey.RateLimit {
					p, err := svc.VerifyAPIKey(ctx, plain.Key)
					if err != nil {
						t.Fatal(err)
					}
					return p.RateLimit
				}
				if limitOf() != nil {
					t.Fatal("the running node has a limit for a key without one")
				}
				out := mustCLI(t, "", with("apikey", "set-limit", plain.ID, "5000/1h")...)
				if !strings.Contains(out, "rate limit 5000/1h") {
					t.Errorf("set-limit printed %q", out)
				}
				eventually(t, "the running node does not apply the new limit", func() bool {
					l := limitOf()
					return l != nil && *l == latchkey.RateLimit{Requests: 5000, Window: 3600}
				})
				v := decode[keyOut](t, mustCLI(t, "", with("apikey", "set-limit", plain.ID, "--none", "-o", "json")...))
				if v.ID != plain.ID || v.RateLimit != nil {
					t.Errorf("set-limit --none -o json: %+v", v)
				}
				eventually(t, "the running node still applies the limit taken away", func() bool { return limitOf() == nil })
			})
			if v := decode[keyOut](t, mustCLI(t, "", with("apikey", "show", k.ID, "-o", "json")...)); v.RateLimit == nil || v.RateLimit.Burst != 20 {
				t.Errorf("show -o json: %+v", v.RateLimit)
			}

			// The maximum, and what does not parse.
			capped := filepath.Join(t.TempDir(), "capped.yaml")
			if err := os.WriteFile(capped, []byte("rate_limits:\n  key_maximum:\n    requests: 1000\n    window: 1m\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			mustFail(t, "1000 requests per 1m", with("apikey", "set-limit", k.ID, "2000/1m", "--config", capped)...)
			mustFail(t, "1000 requests per 1m", with("apikey", "create", "--user", "goran", "--rate-limit", "1000/1m,burst=1", "--config", capped)...)
			mustCLI(t, "", with("apikey", "set-limit", k.ID, "1000/1m", "--config", capped)...)
			mustFail(t, "REQUESTS/WINDOW", with("apikey", "set-limit", k.ID, "100")...)
			mustFail(t, "at least 1 request", with("apikey", "set-limit", k.ID, "0/1m")...)
			mustFail(t, "1s to 24h", with("apikey", "set-limit", k.ID, "1/48h")...)
			mustFail(t, "burst", with("apikey", "create", "--user", "goran", "--rate-limit", "1/1m,burst=-1")...)
			mustFail(t, "--none", with("apikey", "set-limit", k.ID)...)
			mustFail(t, "not both", with("apikey", "set-limit", k.ID, "1/1m", "--none")...)
			mustFail(t, "nosuchkey", with("apikey", "set-limit", "nosuchkey", "1/1m")...)
		})
	}
}

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]latchkey.RateLimit{
		"100/1m": {Requests: 100, Window: 60}, "100/m": {Requests: 100, Window: 60}, "5000/1h,burst=100": {Requests: 5000, Window: 3600, Burst: 100},
		"3/90s": {Requests: 3, Window: 90}, " 10 / 1s , burst=0": {Requests: 10, Window: 1}, "1/24h": {Requests: 1, Window: 86400},
	} {
		got, err := parseRateLimit(in)
		if err != nil || *got != want {
			t.Errorf("parseRateLimit(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "100", "/1m", "x/1m", "0/1m", "1/0s", "1/1.5s", "1/25h", "1/1m,20", "1/1m,burst=x", "1/1m,burst=-1", "1/1d"} {
		if got, err := parseRateLimit(in); err == nil {
			t.Errorf("parseRateLimit(%q) = %+v, want an error", in, got)
		}
	}
}

// TestAPIKeyUsageShown checks that list, show and -o json report a key's
// use as a node wrote it: requests let through and refused, in the current
// clock hour and the last 24.
func TestAPIKeyUsageShown(t *testing.T) {
	for name, flags := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := flags(t)
			with := func(args ...string) []string { return append(args, store...) }
			mustCLI(t, "", with("user", "add", "--user", "goran", "--role", "apikey-user", "--no-password")...)
			used := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--user", "goran", "-o", "json")...))
			idle := decode[keyOut](t, mustCLI(t, "", with("apikey", "create", "--user", "goran", "-o", "json")...))

			withService(t, store, func(svc *credential.Service) {
				for range 3 {
					svc.CountAPIKeyUse(used.ID, false)
				}
				for range 2 {
					svc.CountAPIKeyUse(used.ID, true)
				}
				svc.FlushUsage(context.Background())
			})

			list := mustCLI(t, "", with("apikey", "list")...)
			if !strings.Contains(list, "REQUESTS 1H") || !regexp.MustCompile(used.ID+`\s.*\snone\s+3\s+3\s+2\n`).MatchString(list) ||
				!regexp.MustCompile(idle.ID+`\s.*\snone\s+0\s+0\s+0\n`).MatchString(list) {
				t.Errorf("apikey list printed\n%s", list)
			}
			show := mustCLI(t, "", with("apikey", "show", used.ID)...)
			for _, want := range []string{`requests, this clock hour\s+3 let through, 2 refused by a rate limit`, `requests, last 24 hours\s+3 let through, 2 refused by a rate limit`} {
				if !regexp.MustCompile(want).MatchString(show) {
					t.Errorf("apikey show does not match %q:\n%s", want, show)
				}
			}
			want := latchkey.APIKeyUsage{RequestsHour: 3, RefusedHour: 2, RequestsDay: 3, RefusedDay: 2}
			if v := decode[credential.KeyView](t, mustCLI(t, "", with("apikey", "show", used.ID, "-o", "json")...)); v.Usage == nil || *v.Usage != want {
				t.Errorf("apikey show -o json: usage %+v, want %+v", v.Usage, want)
			}
			for _, v := range decode[[]credential.KeyView](t, mustCLI(t, "", with("apikey", "list", "-o", "json")...)) {
				if v.ID == used.ID && (v.Usage == nil || *v.Usage != want) {
					t.Errorf("apikey list -o json: usage %+v, want %+v", v.Usage, want)
				}
			}
		})
	}
}
