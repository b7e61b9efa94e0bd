// Command bench is latchkey's load harness. In one run, on loopback
// (127.0.0.1) and in one process, it starts an upstream, a gateway over a
// SQLite store in a temporary directory with one HTTPS route per
// authentication method and one with authentication off, then drives each
// route with the same number of keep-alive client goroutines for the same
// time and prints requests/s, p50, p99 and the ratio to the auth-off run.
//
//	go run ./bench                  # every scenario, -c 32, -d 3s
//	go run ./bench -c 32 -d 3s -wrong-passwords 200 -keys 1000000
//
// Client and gateway share the machine's cores: the figures compare
// methods with each other on one machine, not latchkey with other servers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"text/tabwriter"
	"time"
)

func main() {
	conc := flag.Int("c", 32, "client goroutines (keep-alive connections) per scenario")
	dur := flag.Duration("d", 3*time.Second, "measured duration of each scenario")
	warm := flag.Duration("warm", 500*time.Millisecond, "unmeasured warm-up before each scenario")
	only := flag.String("only", "", "run only the scenario with this name (auth-off always runs)")
	wrong := flag.Int("wrong-passwords", 0, "also run N concurrent wrong-password clients against a good Basic user")
	keys := flag.Int("keys", 0, "also measure API key verification with N keys in the store against 1,000")
	flag.Parse()
	if err := run(*conc, *dur, *warm, *only, *wrong, *keys); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(conc int, d, warm time.Duration, only string, wrong, keys int) error {
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
	fmt.Printf("latchkey load: %d cores (GOMAXPROCS %d), %s, -c %d, -d %s; start (config → listening) %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), conc, d, e.startup.Round(time.Microsecond))

	scenarios := []scenario{
		{name: "auth-off", path: "/off/x"},
		{name: "apikey", path: "/apikey/x", header: [2]string{"X-Api-Key", e.apiKey}},
		{name: "session", path: "/session/x", header: [2]string{"Cookie", "wtsession=" + e.session}},
		{name: "basic-password", path: "/basic/x", header: [2]string{"Authorization", basicAuth(`LOCAL\`+benchUser, benchPassword)}},
		{name: "jwt-rs256", path: "/rs256/x", header: [2]string{"Authorization", "Bearer " + e.rsToken}},
		{name: "jwt-eddsa", path: "/eddsa/x", header: [2]string{"Authorization", "Bearer " + e.edToken}},
		{name: "client-cert", path: "/cert/x", cert: true},
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests/s\tp50\tp99\tratio\tp99 added\tnon-200\t")
	var off result
	for _, sc := range scenarios {
		if only != "" && sc.name != only && sc.name != "auth-off" {
			continue
		}
		r := e.drive(sc, conc, d, warm)
		if sc.name == "auth-off" {
			off = r
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.3f\t%s\t%d\t\n", r.name, r.rps(), ms(r.p50), ms(r.p99),
			r.rps()/off.rps(), ms(r.p99-off.p99), r.fails)
	}
	tw.Flush()
	if wrong > 0 {
		if err := e.wrongPasswords(wrong, conc, d); err != nil {
			return err
		}
	}
	if keys > 0 {
		if err := e.manyKeys(ctx, keys); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }
