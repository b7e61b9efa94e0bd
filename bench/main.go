// Command bench is latchkey's load harness. In one run, on loopback
// (127.0.0.1) and in one process, it starts an upstream, a gateway over a
// SQLite store in a temporary directory with one HTTPS route per
// authentication method and one with authentication off, then drives each
// route with the same number of keep-alive client goroutines for the same
// time and prints requests/s, p50, p99 and the ratio to the auth-off run.
// It does so in rounds (auth-off, then every scenario, in each) and prints
// the median of each figure over the rounds.
//
//	go run ./bench                  # every scenario, -c 32, -d 3s, 3 rounds
//	go run ./bench -c 32 -d 3s -wrong-passwords 200 -keys 1000000
//	go run ./bench -new-conns       # also a new TLS connection per request
//	go run ./bench -only fa-jwt-rs256,fa-jwt-rs256-fresh   # forward-auth, repeated and fresh tokens
//	go run ./bench -only auth-off -flood -idle 60s         # a flood of 100,000 distinct tokens
//
// Client and gateway share the machine's cores: the figures compare
// methods with each other on one machine, not latchkey with other servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// scenarioNames are the keep-alive scenarios, in the order they run.
// The fa- ones ask the forward-auth endpoint about a request to the route
// of the scenario of the same name; the -fresh ones send a token never sent
// before with every request (see -fresh-tokens).
var scenarioNames = []string{"auth-off", "apikey", "apikey-limited", "session", "basic-password", "jwt-rs256", "jwt-rs256-fresh", "jwt-eddsa", "client-cert",
	"fa-auth-off", "fa-apikey", "fa-jwt-rs256", "fa-jwt-rs256-fresh"}

// options are the command line's.
type options struct {
	conc     int
	d, warm  time.Duration
	only     string
	rounds   int
	newConns bool
	wrong    int
	keys     int
	fresh    int

	flood   bool
	floodOp floodOptions

	cpuProfile string
	memProfile string
	serve      bool
}

func main() {
	var o options
	flag.IntVar(&o.conc, "c", 32, "client goroutines (connections) per scenario")
	flag.DurationVar(&o.d, "d", 3*time.Second, "measured duration of each scenario")
	flag.DurationVar(&o.warm, "warm", 500*time.Millisecond, "unmeasured warm-up before each scenario")
	flag.StringVar(&o.only, "only", "", "run only the scenarios with these names, comma-separated (auth-off always runs)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of auth-off and every scenario; the tables show medians over them")
	flag.BoolVar(&o.newConns, "new-conns", false, "also run auth-off and client-cert with a new TLS connection (full handshake) per request")
	flag.IntVar(&o.wrong, "wrong-passwords", 0, "also run N concurrent wrong-password clients against a good Basic user")
	flag.IntVar(&o.keys, "keys", 0, "also measure API key verification with N keys in the store against 1,000")
	flag.IntVar(&o.fresh, "fresh-tokens", 20000, "RS256 tokens minted for the -fresh scenarios, one per request, cycled when all are used")
	flag.BoolVar(&o.flood, "flood", false, "also measure repeated-token and auth-off requests without and beside a flood of distinct valid tokens")
	flag.IntVar(&o.floodOp.tokens, "flood-tokens", 100000, "distinct valid tokens the flood sends, each once")
	flag.IntVar(&o.floodOp.conns, "flood-conns", 8, "flood connections, each at full speed")
	flag.StringVar(&o.floodOp.alg, "flood-alg", "eddsa", "the flood tokens' algorithm: eddsa (about 20 µs to mint) or rs256 (about 1 ms)")
	flag.DurationVar(&o.floodOp.exp, "flood-exp", time.Hour, "lifetime of the flood tokens (from minting)")
	flag.DurationVar(&o.floodOp.max, "flood-max", 2*time.Minute, "the longest the flood phase lasts")
	flag.IntVar(&o.floodOp.victimConns, "flood-victim-conns", 8, "connections of each unrelated kind (repeated token, auth-off) in -flood")
	flag.Float64Var(&o.floodOp.victimRate, "flood-victim-rate", 500, "requests/s of each unrelated kind in -flood; 0: closed loop, as fast as they go")
	flag.DurationVar(&o.floodOp.idle, "idle", 0, "after -flood, sample RSS while idle for this long (0: skip)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (client included) to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to this file at the end of the run")
	flag.StringVar(&benchRedis, "redis", "", "count apikey-limited's rate limits in the Redis at this host:port (default: on the node)")
	flag.BoolVar(&o.serve, "serve", false, "only start the upstream and the gateway, print the scenarios, and serve until interrupted (for bench/wrk.sh)")
	flag.Parse()
	if o.rounds < 1 || o.conc < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds and -c must be at least 1")
		os.Exit(2)
	}
	for name := range strings.SplitSeq(o.only, ",") {
		if o.only != "" && !slices.Contains(scenarioNames, name) {
			fmt.Fprintf(os.Stderr, "bench: -only %s: no such scenario (%s)\n", name, strings.Join(scenarioNames, ", "))
			os.Exit(2)
		}
	}
	if o.fresh < 1 || o.floodOp.tokens < 1 || o.floodOp.conns < 1 || o.floodOp.victimConns < 1 || o.floodOp.victimRate < 0 {
		fmt.Fprintln(os.Stderr, "bench: -fresh-tokens, -flood-tokens, -flood-conns and -flood-victim-conns must be at least 1, -flood-victim-rate at least 0")
		os.Exit(2)
	}
	if o.floodOp.alg != "eddsa" && o.floodOp.alg != "rs256" {
		fmt.Fprintln(os.Stderr, "bench: -flood-alg is eddsa or rs256")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "latchkey-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e, err := setup(ctx, dir)
	if err != nil {
		return err
	}
	defer e.close()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.memProfile != "" {
		defer func() {
			if f, err := os.Create(o.memProfile); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	if o.serve {
		return serve(ctx, e)
	}
	medians := ""
	if o.rounds > 1 {
		medians = fmt.Sprintf("; figures are medians of %d rounds (non-200 summed)", o.rounds)
	}
	fmt.Printf("latchkey load: %d cores (GOMAXPROCS %d), %s, -c %d, -d %s; start (config → listening) %s%s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), o.conc, o.d, e.startup.Round(time.Microsecond), medians)

	selected := func(name string) bool {
		return o.only == "" || name == "auth-off" || slices.Contains(strings.Split(o.only, ","), name)
	}
	if selected("jwt-rs256-fresh") || selected("fa-jwt-rs256-fresh") {
		pool, took, err := mintPool(o.fresh, "RS256", e.rsKey, poolClaims("fresh", time.Hour))
		if err != nil {
			return err
		}
		e.fresh = pool
		fmt.Printf("-fresh scenarios: %d RS256 tokens minted in %s over %d goroutines, before any load\n\n",
			o.fresh, took.Round(time.Millisecond), runtime.GOMAXPROCS(0))
	}
	var scenarios []scenario
	for _, sc := range keepAliveScenarios(e) {
		if selected(sc.name) {
			scenarios = append(scenarios, sc)
		}
	}
	// With -new-conns, each round also runs these after the keep-alive
	// scenarios; the first is their baseline.
	newConns := []scenario{
		{name: "auth-off-newconn", path: "/off/x", newConn: true},
		{name: "client-cert-newconn", path: "/cert/x", cert: true, newConn: true},
	}
	var keepAlive, fresh table
	for round := range o.rounds {
		if o.rounds > 1 {
			fmt.Fprintf(os.Stderr, "round %d of %d\n", round+1, o.rounds)
		}
		keepAlive.round(e, scenarios, o)
		if o.newConns {
			fresh.round(e, newConns, o)
		}
	}
	keepAlive.print(os.Stdout)
	keepAlive.freshReport(os.Stdout, e.fresh)
	if o.newConns {
		fmt.Printf("\nA new connection per request (no keep-alive, no TLS session resumption: a full handshake\n" +
			"each, with the client chain verified for client-cert); ratio and p99 added against auth-off-newconn:\n\n")
		fresh.print(os.Stdout)
	}
	if o.wrong > 0 {
		if err := e.wrongPasswords(o.wrong, o.conc, o.d); err != nil {
			return err
		}
	}
	if o.keys > 0 {
		if err := e.manyKeys(ctx, o.keys, o.conc, o.d, o.warm); err != nil {
			return err
		}
	}
	if o.flood {
		if err := e.flood(o.floodOp, o.d, o.warm); err != nil {
			return err
		}
	}
	return nil
}

// table gathers what each scenario measured, round after round; the first
// scenario of a round is the baseline of that round's ratios.
type table struct {
	names []string
	runs  map[string][]measured
}

// measured is one scenario in one round, with its figures against the
// round's baseline.
type measured struct {
	result
	ratio float64       // requests/s over the baseline's
	added time.Duration // p99 minus the baseline's
}

// round drives every scenario once, the baseline (the first) first.
func (t *table) round(e *env, scenarios []scenario, o options) {
	if t.runs == nil {
		t.runs = map[string][]measured{}
	}
	var base result
	for i, sc := range scenarios {
		r := e.drive(sc, o.conc, o.d, o.warm)
		if i == 0 {
			base = r
		}
		if _, ok := t.runs[sc.name]; !ok {
			t.names = append(t.names, sc.name)
		}
		t.runs[sc.name] = append(t.runs[sc.name], measured{result: r, ratio: r.rps() / base.rps(), added: r.p99 - base.p99})
	}
}

// print writes one line per scenario: the medians over the rounds, and the
// non-200 answers of all rounds.
func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests/s\tp50\tp99\tratio\tp99 added\tnon-200\t")
	for _, name := range t.names {
		runs := t.runs[name]
		fails := 0
		for _, m := range runs {
			fails += m.fails
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.3f\t%s\t%d\t\n", name,
			median(runs, func(m measured) float64 { return m.rps() }),
			ms(median(runs, func(m measured) time.Duration { return m.p50 })),
			ms(median(runs, func(m measured) time.Duration { return m.p99 })),
			median(runs, func(m measured) float64 { return m.ratio }),
			ms(median(runs, func(m measured) time.Duration { return m.added })), fails)
	}
	tw.Flush()
}

// median returns the median of f over runs: the middle value, or the mean
// of the two middle ones for an even count.
func median[T ~int64 | ~float64](runs []measured, f func(measured) T) T {
	xs := make([]T, len(runs))
	for i, m := range runs {
		xs[i] = f(m)
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// freshReport says, for each -fresh scenario, how many requests took a
// token never sent before and how many a cycled one, and compares the
// fresh-token p99 with the repeated-token p99 of the same mode.
func (t *table) freshReport(w io.Writer, pool *tokenPool) {
	if pool == nil {
		return
	}
	printed := false
	for _, pair := range [][2]string{{"fa-jwt-rs256-fresh", "fa-jwt-rs256"}, {"jwt-rs256-fresh", "jwt-rs256"}} {
		runs, ok := t.runs[pair[0]]
		if !ok {
			continue
		}
		if !printed {
			fmt.Fprintf(w, "\nFresh tokens (a pool of %d, shared by the -fresh scenarios and rounds; %d left unsent):\n", len(pool.vals), pool.remaining())
			printed = true
		}
		fresh, cycled := 0, 0
		for _, m := range runs {
			fresh, cycled = fresh+m.fresh, cycled+m.cycled
		}
		fmt.Fprintf(w, "  %s: %d measured requests with a token never sent before, %d with a cycled one", pair[0], fresh, cycled)
		if cycled > 0 {
			fmt.Fprint(w, " (cycled tokens may be cached: its figures flatter it; raise -fresh-tokens or lower -d/-rounds)")
		}
		fmt.Fprintln(w)
		base, ok := t.runs[pair[1]]
		if !ok {
			fmt.Fprintf(w, "  (run %s too for its ratio)\n", pair[1])
			continue
		}
		ratio := float64(median(runs, func(m measured) time.Duration { return m.p99 })) /
			float64(median(base, func(m measured) time.Duration { return m.p99 }))
		if pair[0] == "fa-jwt-rs256-fresh" {
			fmt.Fprintln(w, " ", targetLine("fresh-token forward-auth p99 / repeated-token p99", ratio, atMost, 1.5))
		} else {
			fmt.Fprintf(w, "  fresh-token proxy p99 / repeated-token p99 %.3f (no target; for comparison)\n", ratio)
		}
	}
}

// forwarded are the headers a front proxy adds when it asks the
// forward-auth endpoint about a GET of uri.
func forwarded(uri string) [][2]string {
	return [][2]string{{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Uri", uri}, {"X-Forwarded-Host", "127.0.0.1"}}
}

// forwardAuthPath is where the gateway serves forward-auth: the default of
// server.forward_auth_path, which configYAML leaves alone.
const forwardAuthPath = "/auth/verify"

// keepAliveScenarios are the scenarios of the main table, in order; the
// -fresh ones only when e.fresh is minted.
func keepAliveScenarios(e *env) []scenario {
	rs := [2]string{"Authorization", "Bearer " + e.rsToken}
	all := []scenario{
		{name: "auth-off", path: "/off/x"},
		{name: "apikey", path: "/apikey/x", header: [2]string{"X-Api-Key", e.apiKey}},
		{name: "apikey-limited", path: "/apikey-limited/x", header: [2]string{"X-Api-Key", e.apiKey}},
		{name: "session", path: "/session/x", header: [2]string{"Cookie", "wtsession=" + e.session}},
		{name: "basic-password", path: "/basic/x", header: [2]string{"Authorization", basicAuth(`LOCAL\`+benchUser, benchPassword)}},
		{name: "jwt-rs256", path: "/rs256/x", header: rs},
		{name: "jwt-rs256-fresh", path: "/rs256/x", header: rs, pool: e.fresh},
		{name: "jwt-eddsa", path: "/eddsa/x", header: [2]string{"Authorization", "Bearer " + e.edToken}},
		{name: "client-cert", path: "/cert/x", cert: true},
		{name: "fa-auth-off", path: forwardAuthPath, extra: forwarded("/off/x")},
		{name: "fa-apikey", path: forwardAuthPath, header: [2]string{"X-Api-Key", e.apiKey}, extra: forwarded("/apikey/x")},
		{name: "fa-jwt-rs256", path: forwardAuthPath, header: rs, extra: forwarded("/rs256/x")},
		{name: "fa-jwt-rs256-fresh", path: forwardAuthPath, header: rs, extra: forwarded("/rs256/x"), pool: e.fresh},
	}
	return slices.DeleteFunc(all, func(sc scenario) bool { return strings.HasSuffix(sc.name, "-fresh") && sc.pool == nil })
}

// serve prints the gateway's address and, one per line, each scenario that
// another load generator can drive (one header, the same every time: not
// client-cert, forward-auth or the -fresh ones) as
// "scenario NAME PATH [HEADER: VALUE]", then serves until interrupted.
// bench/wrk.sh drives them with wrk.
func serve(ctx context.Context, e *env) error {
	fmt.Printf("base %s\n", e.base)
	for _, sc := range keepAliveScenarios(e) {
		if sc.cert || sc.extra != nil || sc.pool != nil {
			continue // wrk sends one header, the same each time, and no certificate
		}
		line := fmt.Sprintf("scenario %s %s", sc.name, sc.path)
		if sc.header[0] != "" {
			line += fmt.Sprintf(" %s: %s", sc.header[0], sc.header[1])
		}
		fmt.Println(line)
	}
	fmt.Println("ready")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
