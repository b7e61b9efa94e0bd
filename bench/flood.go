package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// floodOptions are the command line's for -flood.
type floodOptions struct {
	tokens      int           // distinct tokens the flood sends
	conns       int           // flood connections
	alg         string        // the flood tokens' algorithm: eddsa or rs256
	exp         time.Duration // the flood tokens' lifetime
	max         time.Duration // the longest phase B lasts
	victimConns int           // connections of each unrelated kind
	victimRate  float64       // requests/s of each unrelated kind; 0: as fast as they go
	idle        time.Duration // RSS sampling after the flood; 0: none
}

// memSnap is the runtime's memory and GC figures at one moment, and VmRSS.
type memSnap struct {
	heapAlloc, heapInuse uint64
	numGC                uint32
	pauseTotal           uint64 // ns
	live                 uint64 // /gc/heap/live:bytes: the heap marked live by the last GC
	markAssist           float64
	markDedicated        float64
	markIdle             float64
	gcTotal              float64                   // /cpu/classes/gc/total:cpu-seconds
	pauses               *metrics.Float64Histogram // /sched/pauses/total/gc:seconds
	rss                  int64                     // kB
}

var snapMetrics = []string{
	"/gc/heap/live:bytes",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
	"/cpu/classes/gc/total:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
}

func snapshot() memSnap {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSnap{heapAlloc: ms.HeapAlloc, heapInuse: ms.HeapInuse, numGC: ms.NumGC, pauseTotal: ms.PauseTotalNs, rss: rssKB()}
	samples := make([]metrics.Sample, len(snapMetrics))
	for i, name := range snapMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	f := func(i int) float64 {
		if samples[i].Value.Kind() != metrics.KindFloat64 {
			return math.NaN()
		}
		return samples[i].Value.Float64()
	}
	if samples[0].Value.Kind() == metrics.KindUint64 {
		s.live = samples[0].Value.Uint64()
	}
	s.markAssist, s.markDedicated, s.markIdle, s.gcTotal = f(1), f(2), f(3), f(4)
	if samples[5].Value.Kind() == metrics.KindFloat64Histogram {
		h := samples[5].Value.Float64Histogram()
		s.pauses = &metrics.Float64Histogram{Counts: slices.Clone(h.Counts), Buckets: slices.Clone(h.Buckets)}
	}
	return s
}

// gcDelta is what the GC did between two snapshots.
type gcDelta struct {
	gcs                                 uint32
	pause                               time.Duration
	maxPause                            time.Duration // the upper bound of the highest pause bucket that gained a count
	markAssist, markDedicated, markIdle float64
	gcTotal                             float64
}

func delta(a, b memSnap) gcDelta {
	d := gcDelta{gcs: b.numGC - a.numGC, pause: time.Duration(b.pauseTotal - a.pauseTotal),
		markAssist: b.markAssist - a.markAssist, markDedicated: b.markDedicated - a.markDedicated,
		markIdle: b.markIdle - a.markIdle, gcTotal: b.gcTotal - a.gcTotal}
	if a.pauses != nil && b.pauses != nil && len(a.pauses.Counts) == len(b.pauses.Counts) {
		for i := len(b.pauses.Counts) - 1; i >= 0; i-- {
			if b.pauses.Counts[i] > a.pauses.Counts[i] {
				up := b.pauses.Buckets[i+1]
				if math.IsInf(up, 1) {
					up = b.pauses.Buckets[i]
				}
				d.maxPause = time.Duration(up * float64(time.Second))
				break
			}
		}
	}
	return d
}

// liveHeap forces a GC and returns the heap left live, then a snapshot
// taken after it (the start of what follows).
func liveHeap() (uint64, memSnap) {
	runtime.GC()
	s := snapshot()
	return s.heapAlloc, s
}

// rssKB is VmRSS in kB, or 0 when unknown.
func rssKB() int64 {
	v, _ := strings.CutSuffix(procStatus("VmRSS"), " kB")
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func mib(b uint64) string     { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func mibKB(kb int64) string   { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
func cpuSec(s float64) string { return fmt.Sprintf("%.3fs", s) }

// loadResult is what one kind of request measured in one phase.
type loadResult struct {
	n, fails int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r loadResult) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

// load sends sc's request from conns keep-alive connections until ctx is
// done. With rate > 0 the connections together send rate requests/s, each
// on its own schedule, and a request's latency counts from when it was
// due (so that a stall delays the requests behind it, as it would delay
// clients that do not wait for each other); with rate 0 each connection
// sends its next request when the last is answered. With measure false
// nothing is recorded.
func (e *env) load(ctx context.Context, sc scenario, conns int, rate float64, measure bool) loadResult {
	client := newClient(conns, nil, true)
	defer client.CloseIdleConnections()
	url := e.base + sc.path
	lats := make([][]time.Duration, conns)
	oks, fails := make([]int, conns), make([]int, conns)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(conns) / rate * float64(time.Second))
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			if measure {
				lats[i] = make([]time.Duration, 0, 8192)
			}
			due := start.Add(interval * time.Duration(i) / time.Duration(conns))
			for ctx.Err() == nil {
				if interval > 0 {
					if w := time.Until(due); w > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(w):
						}
					}
				} else {
					due = time.Now()
				}
				req, _ := http.NewRequest("GET", url, nil)
				if sc.header[0] != "" {
					req.Header.Set(sc.header[0], sc.header[1])
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fails[i]++
					}
					due = due.Add(interval)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					oks[i]++
				} else {
					fails[i]++
				}
				if measure {
					lats[i] = append(lats[i], time.Since(due))
				}
				due = due.Add(interval)
			}
		})
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start)}
	for i := range conns {
		r.n += oks[i]
		r.fails += fails[i]
	}
	all := slices.Concat(lats...)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

// floodResult is what the flood connections did.
type floodResult struct {
	sent, fails int
	elapsed     time.Duration
	exhausted   bool // every token was sent once
}

// floodLoad sends a distinct token of pool per request, to the flood
// route, from conns connections at full speed until every token is sent
// once (then it calls done) or ctx is done.
func (e *env) floodLoad(ctx context.Context, pool *tokenPool, conns int, done func()) floodResult {
	client := newClient(conns, nil, true)
	defer client.CloseIdleConnections()
	url := e.base + "/flood/x"
	var sent, fails atomic.Int64
	var exhausted atomic.Bool
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				tok, fresh := pool.take()
				if !fresh {
					exhausted.Store(true)
					done()
					return
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", tok)
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					fails.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					fails.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return floodResult{sent: int(sent.Load()), fails: int(fails.Load()), elapsed: time.Since(start), exhausted: exhausted.Load()}
}

// flood measures requests unrelated to a flood of distinct valid tokens:
// a repeated RS256 token on the flood route (the same verifier, so the
// same token cache, as the flood) and auth-off requests, first alone for
// d (phase A), then beside the flood until every flood token is sent once
// (phase B); and the process's heap, GC and RSS in both, and, with
// fo.idle, RSS while idle after the flood.
func (e *env) flood(fo floodOptions, d, warm time.Duration) error {
	key, alg := any(e.edKey), "EdDSA"
	if fo.alg == "rs256" {
		key, alg = e.rsKey, "RS256"
	}
	pool, took, err := mintPool(fo.tokens, alg, key, poolClaims("flood", fo.exp))
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(pool)
	var tokenBytes uint64
	for _, v := range pool.vals {
		tokenBytes += uint64(len(v))
	}
	rate := "as fast as each goes (closed loop)"
	if fo.victimRate > 0 {
		rate = fmt.Sprintf("paced at %.0f requests/s per kind, latency counted from when each request was due", fo.victimRate)
	}
	fmt.Printf("\nFlood: %d distinct valid %s tokens (minted in %s over %d goroutines; %s of token text, held by the client)\n"+
		"from %d connections at full speed to /flood/ (verifier \"flood\": RS256 and EdDSA keys, one token cache); beside them\n"+
		"%d connections of each unrelated kind, %s:\n"+
		"  repeated-token: one RS256 token on /flood/ (the flood's verifier and cache); auth-off: /off/\n"+
		"Phase A: the unrelated kinds alone for -d %s; phase B: the same beside the flood, until every flood token\n"+
		"is sent once (at most -flood-max %s). Client and gateway are one process: heap, GC and RSS include the client.\n\n",
		fo.tokens, alg, took.Round(time.Millisecond), runtime.GOMAXPROCS(0), mib(tokenBytes), fo.conns, fo.victimConns, rate, d, fo.max)

	repeated := scenario{name: "repeated-token", path: "/flood/x", header: [2]string{"Authorization", "Bearer " + e.rsToken}}
	off := scenario{name: "auth-off", path: "/off/x"}
	victims := func(ctx context.Context, measure bool) (loadResult, loadResult) {
		var a, b loadResult
		var wg sync.WaitGroup
		wg.Go(func() { a = e.load(ctx, repeated, fo.victimConns, fo.victimRate, measure) })
		wg.Go(func() { b = e.load(ctx, off, fo.victimConns, fo.victimRate, measure) })
		wg.Wait()
		return a, b
	}
	// Warm-up: connections, the repeated token's cache entry.
	wctx, cancel := context.WithTimeout(context.Background(), warm)
	victims(wctx, false)
	cancel()

	live0, s0 := liveHeap() // after minting: the tokens are in it
	actx, cancel := context.WithTimeout(context.Background(), d)
	repA, offA := victims(actx, true)
	cancel()
	endA := snapshot()
	liveA, s1 := liveHeap()

	bctx, cancel := context.WithTimeout(context.Background(), fo.max)
	var peakHeap uint64
	var peakRSS int64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				metrics.Read(sample)
				if sample[0].Value.Kind() == metrics.KindUint64 {
					peakHeap = max(peakHeap, sample[0].Value.Uint64())
				}
				peakRSS = max(peakRSS, rssKB())
			}
		}
	})
	var fl floodResult
	var repB, offB loadResult
	var wg sync.WaitGroup
	wg.Go(func() { fl = e.floodLoad(bctx, pool, fo.conns, cancel) })
	wg.Go(func() { repB, offB = victims(bctx, true) })
	wg.Wait()
	cancel()
	close(stopSampling)
	sampler.Wait()
	endB := snapshot()
	liveB, _ := liveHeap()
	floodEnd := time.Now()

	how := "every flood token sent once"
	if !fl.exhausted {
		how = fmt.Sprintf("cut at -flood-max; %d of %d flood tokens sent", fl.sent, fo.tokens)
	}
	fmt.Printf("Phase A %s; phase B %s (%s)\n\n", repA.elapsed.Round(time.Millisecond), fl.elapsed.Round(time.Millisecond), how)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\treq/s A\treq/s B\tB/A\tp50 A\tp50 B\tp99 A\tp99 B\tB/A\tnon-200 A\tnon-200 B\t")
	for _, r := range []struct {
		name string
		a, b loadResult
	}{{"repeated-token", repA, repB}, {"auth-off", offA, offB}} {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.3f\t%s\t%s\t%s\t%s\t%.3f\t%d\t%d\t\n", r.name, r.a.rps(), r.b.rps(), r.b.rps()/r.a.rps(),
			ms(r.a.p50), ms(r.b.p50), ms(r.a.p99), ms(r.b.p99), float64(r.b.p99)/float64(r.a.p99), r.a.fails, r.b.fails)
	}
	fmt.Fprintf(tw, "flood (distinct tokens)\t\t%.0f\t\t\t\t\t\t\t\t%d\t\n", float64(fl.sent)/fl.elapsed.Seconds(), fl.fails)
	tw.Flush()

	ga, gb := delta(s0, endA), delta(s1, endB)
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GC\tphase A\tphase B\t")
	row := func(name, a, b string) { fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, a, b) }
	row("GC cycles", fmt.Sprint(ga.gcs), fmt.Sprint(gb.gcs))
	row("GC cycles/s", fmt.Sprintf("%.1f", float64(ga.gcs)/repA.elapsed.Seconds()), fmt.Sprintf("%.1f", float64(gb.gcs)/fl.elapsed.Seconds()))
	row("stop-the-world pause, total", ms(ga.pause), ms(gb.pause))
	row("longest pause (histogram bucket bound)", ms(ga.maxPause), ms(gb.maxPause))
	row("mark CPU: assist", cpuSec(ga.markAssist), cpuSec(gb.markAssist))
	row("mark CPU: dedicated", cpuSec(ga.markDedicated), cpuSec(gb.markDedicated))
	row("mark CPU: idle", cpuSec(ga.markIdle), cpuSec(gb.markIdle))
	row("GC CPU, total", cpuSec(ga.gcTotal), cpuSec(gb.gcTotal))
	row("GC CPU share of the phase's CPU capacity", pct(ga.gcTotal, repA.elapsed), pct(gb.gcTotal, fl.elapsed))
	row("HeapAlloc / HeapInuse at the end", mib(endA.heapAlloc)+" / "+mib(endA.heapInuse), mib(endB.heapAlloc)+" / "+mib(endB.heapInuse))
	row("heap objects, peak sampled every 100 ms", "", mib(peakHeap))
	row("VmRSS at the end (peak sampled in B)", mibKB(endA.rss), fmt.Sprintf("%s (%s)", mibKB(endB.rss), mibKB(peakRSS)))
	tw.Flush()

	// What a flood of tokens may fill: the token cache, and the JWT
	// method's principal memo.
	budget := uint64(e.caches.TokensMiB+e.caches.PrincipalsMiB) << 20
	growth := int64(liveB) - int64(liveA)
	fmt.Printf("\nLive heap after a forced GC: after minting %s (the flood tokens included), after A %s, after B %s;\n"+
		"growth during B %s. Budget: %s (caches.tokens_mib %d + caches.principals_mib %d, the JWT method's memo).\n",
		mib(live0), mib(liveA), mib(liveB), signedMiB(growth), mib(budget), e.caches.TokensMiB, e.caches.PrincipalsMiB)

	fmt.Println("\nTargets (phase B against phase A of this run):")
	fmt.Println(" ", targetLine("repeated-token requests/s ratio", repB.rps()/repA.rps(), atLeast, 0.95))
	fmt.Println(" ", targetLine("auth-off requests/s ratio", offB.rps()/offA.rps(), atLeast, 0.95))
	fmt.Println(" ", targetLine("repeated-token p99 ratio", float64(repB.p99)/float64(repA.p99), atMost, 1.2))
	fmt.Println(" ", targetLine("auth-off p99 ratio", float64(offB.p99)/float64(offA.p99), atMost, 1.2))
	fmt.Println(" ", targetLine("heap growth / cache budget", float64(growth)/float64(budget), atMost, 1.25))
	if interval := time.Duration(float64(fo.victimConns) / fo.victimRate * float64(time.Second)); fo.victimRate > 0 && max(repB.p50, offB.p50) > interval {
		fmt.Printf("  (a p50 in B above %s, the interval between one connection's requests: the connections fell behind\n"+
			"  their schedule, and the latencies include that backlog; more -flood-victim-conns separates the two)\n", ms(interval))
	}
	if fo.tokens < 100000 || !fl.exhausted {
		fmt.Printf("  (the targets are for a flood of 100,000 distinct tokens; this one sent %d)\n", min(fl.sent, fo.tokens))
	}
	if fo.victimRate == 0 {
		fmt.Println("  (closed loop: the flood takes a share of the cores from the unrelated requests by design; on a\n" +
			"  machine without spare cores the throughput ratio measures that share, not interference)")
	}
	if fo.idle > 0 {
		e.idle(fo, floodEnd)
	}
	return nil
}

func pct(cpu float64, wall time.Duration) string {
	return fmt.Sprintf("%.1f%%", 100*cpu/(wall.Seconds()*float64(runtime.GOMAXPROCS(0))))
}

func signedMiB(b int64) string {
	if b < 0 {
		return "−" + mib(uint64(-b))
	}
	return "+" + mib(uint64(b))
}

// idle samples VmRSS every 5 s (every second under 10 s) for fo.idle
// after the flood, without forcing anything, then once after
// debug.FreeOSMemory, and compares them with the RSS after start.
func (e *env) idle(fo floodOptions, floodEnd time.Time) {
	every := 5 * time.Second
	if fo.idle < 10*time.Second {
		every = time.Second
	}
	fmt.Printf("\nIdle after the flood, -idle %s: VmRSS every %s, nothing forced (the one GC that measured the heap\n"+
		"after B aside). RSS after start (the gateway listening; before the bench user's argon2id hash and any load): %s;\n"+
		"after the setup's argon2id hash and sign-in (64 MiB each), for reference: %s.\n",
		fo.idle, every, mibKB(e.afterStartRSS), mibKB(e.afterSetupRSS))
	fmt.Printf("The flood's tokens stay in the token cache until evicted or expired (-flood-exp %s, plus the verifier's\n"+
		"leeway): the harness has no way to empty the cache, so the budget is freed only if they expire within -idle.\n", fo.exp)
	var last int64
	atEnd := snapshot()
	for t := every; t <= fo.idle; t += every {
		time.Sleep(time.Until(floodEnd.Add(t)))
		sn := snapshot()
		last = sn.rss
		fmt.Printf("  +%-6s %s (%.2f×); live heap at the last GC %s, GC cycles since the flood %d\n", t, mibKB(last),
			float64(last)/float64(e.afterStartRSS), mib(sn.live), sn.numGC-atEnd.numGC)
	}
	debug.FreeOSMemory()
	freed := rssKB()
	fmt.Printf("  after debug.FreeOSMemory: %s (%.2f×)\n", mibKB(freed), float64(freed)/float64(e.afterStartRSS))
	fmt.Println(" ", targetLine(fmt.Sprintf("idle RSS / after-start RSS, +%s, by the runtime alone", fo.idle.Truncate(every)),
		float64(last)/float64(e.afterStartRSS), atMost, 1.5))
}

const (
	atLeast = "≥"
	atMost  = "≤"
)

// targetLine writes a figure and its target, and whether it holds:
// "NAME 0.970 (target ≥ 0.95): holds". A figure that could not be
// measured (NaN, ±Inf) is "n/a".
func targetLine(name string, v float64, op string, limit float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%s n/a (target %s %.2f): not measured", name, op, limit)
	}
	ok := v >= limit
	if op == atMost {
		ok = v <= limit
	}
	verdict := "misses"
	if ok {
		verdict = "holds"
	}
	return fmt.Sprintf("%s %.3f (target %s %.2f): %s", name, v, op, limit, verdict)
}
