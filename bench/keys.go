package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlite"
)

// keysConfigYAML is the configuration of the gateway over a store of many
// API keys: one HTTPS listener and one API key route to the upstream.
const keysConfigYAML = `data_dir: %[1]s
log:
  level: error
listeners:
  - name: main
    address: 127.0.0.1:0
    tls: {}
routes:
  - {name: apikey, prefix: /apikey/, upstream: "%[2]s", auth: [apikey]}
`

// How many keys of a store are timed: verifySample with VerifyAPIKey and
// httpSample over HTTP, each key once, the two sets apart.
const (
	verifySample = 2000
	httpSample   = 20000
)

// keysResult is what one store of keys measured.
type keysResult struct {
	size                 int
	fill                 time.Duration
	verifyN              int
	verifyP50, verifyP99 time.Duration
	http                 result
	reused               bool // HTTP sent the keys VerifyAPIKey had verified: too few for two sets
}

// manyKeys measures uncached API key verification with 1,000 keys in a
// store, then with n: directly (credential.Service.VerifyAPIKey, no HTTP)
// and through a gateway over the same store, each key once and never
// verified before.
func (e *env) manyKeys(ctx context.Context, n, conc int, d, warm time.Duration) error {
	fmt.Printf("\nAPI keys in the store, uncached verification (each key used once, never before: a store read each):\n")
	fmt.Printf("  verify: credential.Service.VerifyAPIKey on up to %d keys at random, one after another (no HTTP)\n", verifySample)
	fmt.Printf("  HTTP: up to %d other keys at random, a new one per request, on an /apikey/ route of a gateway over\n"+
		"  the same store; -c %d keep-alive connections, for -d %s or until the keys run out\n\n", httpSample, conc, d)
	var rs []keysResult
	for _, size := range []int{1000, n} {
		r, err := e.keyStore(ctx, size, conc, d, warm)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "keys\tfill\tverify n\tverify p50\tverify p99\tHTTP n\tHTTP req/s\tHTTP p50\tHTTP p99\tnon-200\t")
	for _, r := range rs {
		httpN := fmt.Sprint(r.http.n + r.http.fails)
		if r.reused {
			httpN += "*"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t\n", r.size, r.fill.Round(time.Millisecond),
			r.verifyN, ms(r.verifyP50), ms(r.verifyP99), httpN, r.http.rps(), ms(r.http.p50), ms(r.http.p99), r.http.fails)
	}
	tw.Flush()
	for _, r := range rs {
		if r.reused {
			fmt.Printf("  * %d keys: HTTP sent the keys verify had verified (too few in the store for two sets);\n"+
				"    the gateway's credential service had not seen them\n", r.size)
			break
		}
	}
	fmt.Printf("  p99 ratio (%d keys / 1,000): verify %.2f×, HTTP %.2f×\n", n,
		float64(rs[1].verifyP99)/float64(rs[0].verifyP99), float64(rs[1].http.p99)/float64(rs[0].http.p99))
	return nil
}

// keyStore makes a store with size keys of one user, written directly
// (credential.MintAPIKey, Store.CreateAPIKey: one insert each, as the
// store offers no batch), keeping the secrets of a random sample. It times
// VerifyAPIKey on part of the sample, then starts a gateway over the store
// and sends the rest over HTTP, each key once.
func (e *env) keyStore(ctx context.Context, size, conc int, d, warm time.Duration) (r keysResult, err error) {
	r.size = size
	dir, err := os.MkdirTemp(e.dir, "keys-")
	if err != nil {
		return r, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "latchkey.db"), sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return r, err
	}
	defer st.Close()
	h := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	cfg, err := config.Load("", config.Options{AuthMethods: gateway.MethodNames()}) // the built-in defaults
	if err != nil {
		return r, err
	}
	creds, err := credential.New(ctx, st, h, slog.New(slog.DiscardHandler), gateway.CredentialConfig(cfg, make([]byte, 32), nil))
	if err != nil {
		return r, err
	}
	closeCreds := sync.OnceFunc(func() { creds.Close() })
	defer closeCreds()
	u := &latchkey.User{Directory: "LOCAL", Username: "owner", Roles: []string{latchkey.RoleAPIKeyUser}}
	if err := st.CreateUser(ctx, u, nil); err != nil {
		return r, err
	}

	// Fill, keeping a uniform random sample of the secrets (reservoir):
	// one key for the HTTP warm-up, then the verify and HTTP sets.
	sample := make([]string, 0, min(size, 1+verifySample+httpSample))
	began, now := time.Now(), time.Now()
	for i := range size {
		id, secret, hash := credential.MintAPIKey()
		k := &latchkey.APIKey{ID: id, UserID: u.ID, Name: fmt.Sprintf("k%d", i), CreatedBy: u.ID,
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), Hash: hash}
		if err := st.CreateAPIKey(ctx, k); err != nil {
			return r, err
		}
		if len(sample) < cap(sample) {
			sample = append(sample, secret)
		} else if j := rand.IntN(i + 1); j < len(sample) {
			sample[j] = secret
		}
	}
	r.fill = time.Since(began)
	rand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	warmKey, verify := sample[0], sample[1:1+min(verifySample, len(sample)-1)]
	sent := sample[1+len(verify):]
	if len(sent) < 1000 {
		sent, r.reused = sample[1:], true
	}

	lat := make([]time.Duration, 0, len(verify))
	for _, s := range verify {
		t0 := time.Now()
		if _, err := creds.VerifyAPIKey(ctx, s); err != nil {
			return r, err
		}
		lat = append(lat, time.Since(t0))
	}
	r.verifyN, r.verifyP50, r.verifyP99 = len(lat), percentile(lat, 0.5), percentile(lat, 0.99)
	// Its last-use times are written now, not during the HTTP run.
	closeCreds()

	cfgFile := filepath.Join(dir, "latchkey.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, keysConfigYAML, dir, e.upstream.URL), 0o600); err != nil {
		return r, err
	}
	g, err := start(ctx, cfgFile, st)
	if err != nil {
		return r, err
	}
	defer g.close()
	var next atomic.Int64
	r.http = e.drive(scenario{name: fmt.Sprintf("apikey-%d", size), base: g.base, path: "/apikey/x",
		header: [2]string{"X-Api-Key", warmKey},
		next: func() (string, bool) {
			i := next.Add(1) - 1
			if i >= int64(len(sent)) {
				return "", false
			}
			return sent[i], true
		}}, conc, d, warm)
	return r, nil
}
