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
var scenarioNames = []string{"auth-off", "apikey", "session", "basic-password", "jwt-rs256", "jwt-eddsa", "client-cert"}

// options are the command line's.
type options struct {
	conc     int
	d, warm  time.Duration
	only     string
	rounds   int
	newConns bool
	wrong    int
	keys     int

	cpuProfile string
	memProfile string
	serve      bool
}

func main() {
	var o options
	flag.IntVar(&o.conc, "c", 32, "client goroutines (connections) per scenario")
	flag.DurationVar(&o.d, "d", 3*time.Second, "measured duration of each scenario")
	flag.DurationVar(&o.warm, "warm", 500*time.Millisecond, "unmeasured warm-up before each scenario")
	flag.StringVar(&o.only, "only", "", "run only the scenario with this name (auth-off always runs)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of auth-off and every scenario; the tables show medians over them")
	flag.BoolVar(&o.newConns, "new-conns", false, "also run auth-off and client-cert with a new TLS connection (full handshake) per request")
	flag.IntVar(&o.wrong, "wrong-passwords", 0, "also run N concurrent wrong-password clients against a good Basic user")
	flag.IntVar(&o.keys, "keys", 0, "also measure API key verification with N keys in the store against 1,000")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (client included) to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to this file at the end of the run")
	flag.BoolVar(&o.serve, "serve", false, "only start the upstream and the gateway, print the scenarios, and serve until interrupted (for bench/wrk.sh)")
	flag.Parse()
	if o.rounds < 1 || o.conc < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds and -c must be at least 1")
		os.Exit(2)
	}
	if o.only != "" && !slices.Contains(scenarioNames, o.only) {
		fmt.Fprintf(os.Stderr, "bench: -only %s: no such scenario (%s)\n", o.only, strings.Join(scenarioNames, ", "))
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

	var scenarios []scenario
	for _, sc := range keepAliveScenarios(e) {
		if o.only == "" || sc.name == o.only || sc.name == "auth-off" {
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

// keepAliveScenarios are the scenarios of the main table, in order.
func keepAliveScenarios(e *env) []scenario {
	return []scenario{
		{name: "auth-off", path: "/off/x"},
		{name: "apikey", path: "/apikey/x", header: [2]string{"X-Api-Key", e.apiKey}},
		{name: "session", path: "/session/x", header: [2]string{"Cookie", "wtsession=" + e.session}},
		{name: "basic-password", path: "/basic/x", header: [2]string{"Authorization", basicAuth(`LOCAL\`+benchUser, benchPassword)}},
		{name: "jwt-rs256", path: "/rs256/x", header: [2]string{"Authorization", "Bearer " + e.rsToken}},
		{name: "jwt-eddsa", path: "/eddsa/x", header: [2]string{"Authorization", "Bearer " + e.edToken}},
		{name: "client-cert", path: "/cert/x", cert: true},
	}
}

// serve prints the gateway's address and, one per line, each scenario that
// another load generator can drive (all but client-cert) as
// "scenario NAME PATH [HEADER: VALUE]", then serves until interrupted.
// bench/wrk.sh drives them with wrk.
func serve(ctx context.Context, e *env) error {
	fmt.Printf("base %s\n", e.base)
	for _, sc := range keepAliveScenarios(e) {
		if sc.cert {
			continue
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
