package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

func basicAuth(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// procStatus returns a field of /proc/self/status (such as VmRSS or VmHWM)
// as written there ("123456 kB"), or "?".
func procStatus(field string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// wrongPasswords sends Basic with wrong passwords from n goroutines (each
// for its own user, so that argon2id runs unless a limit refuses first)
// while goodConc goroutines of the good user send the right one, for d. It
// prints the status counts of both, the good user's p50 and p99, and the
// process's RSS and its peak (client included: one process).
func (e *env) wrongPasswords(n, goodConc int, d time.Duration) error {
	ctx := context.Background()
	hash, err := password.NewHasher(password.DefaultParams, 0).Hash(ctx, benchPassword)
	if err != nil {
		return err
	}
	for i := range n {
		u := &latchkey.User{Directory: "LOCAL", Username: fmt.Sprintf("victim%d", i), PasswordHash: hash}
		if err := e.st.CreateUser(ctx, u, nil); err != nil {
			return err
		}
	}
	goodConc = min(goodConc, 8)
	goodScenario := scenario{name: "good", path: "/basic/x",
		header: [2]string{"Authorization", basicAuth(`LOCAL\`+benchUser, benchPassword)}}
	alone := e.drive(goodScenario, goodConc, d-200*time.Millisecond, 0)
	fmt.Printf("\n%d concurrent wrong passwords (one user each) against the good user's Basic route, %s:\n", n, d)
	fmt.Printf("  good user alone first (%d connections): %d ok, p50 %s, p99 %s\n", goodConc, alone.n, ms(alone.p50), ms(alone.p99))
	fmt.Printf("  RSS before: %s (peak %s)\n", procStatus("VmRSS"), procStatus("VmHWM"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	attack := make(chan result, 1)
	wg.Go(func() {
		// Every wrong-password goroutine has its own user; scenario
		// supports one header, so each goroutine drives its own.
		var mu sync.Mutex
		total := result{status: map[int]int{}}
		var inner sync.WaitGroup
		for i := range n {
			inner.Go(func() {
				sc := scenario{name: "wrong", path: "/basic/x",
					header: [2]string{"Authorization", basicAuth(fmt.Sprintf(`LOCAL\victim%d`, i), "wrong password")}}
				r := e.drive(sc, 1, d, 0)
				mu.Lock()
				for k, v := range r.status {
					total.status[k] += v
				}
				mu.Unlock()
			})
		}
		inner.Wait()
		attack <- total
	})
	var rssPeak string
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rssPeak = procStatus("VmHWM")
			}
		}
	})
	time.Sleep(200 * time.Millisecond) // let the attack start
	good := e.drive(goodScenario, goodConc, d-200*time.Millisecond, 0)
	a := <-attack
	close(stop)
	wg.Wait()
	fmt.Printf("  wrong-password answers by status: %v\n", a.status)
	fmt.Printf("  good user during the attack: %d ok, %d other (%v), p50 %s, p99 %s (p99 added by the attack: %s)\n",
		good.n, good.fails, good.status, ms(good.p50), ms(good.p99), ms(good.p99-alone.p99))
	fmt.Printf("  RSS after: %s (peak %s; sampled peak %s)\n", procStatus("VmRSS"), procStatus("VmHWM"), rssPeak)
	return nil
}
