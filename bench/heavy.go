package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlite"
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
		if err := e.st.CreateUser(ctx, u); err != nil {
			return err
		}
	}
	fmt.Printf("\n%d concurrent wrong passwords (one user each) against the good user's Basic route, %s:\n", n, d)
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
	good := e.drive(scenario{name: "good", path: "/basic/x",
		header: [2]string{"Authorization", basicAuth(`LOCAL\`+benchUser, benchPassword)}}, min(goodConc, 8), d-200*time.Millisecond, 0)
	a := <-attack
	close(stop)
	wg.Wait()
	fmt.Printf("  wrong-password answers by status: %v\n", a.status)
	fmt.Printf("  good user: %d ok, %d other (%v), p50 %s, p99 %s\n", good.n, good.fails, good.status, ms(good.p50), ms(good.p99))
	fmt.Printf("  RSS after: %s (peak %s; sampled peak %s)\n", procStatus("VmRSS"), procStatus("VmHWM"), rssPeak)
	return nil
}

// manyKeys measures uncached API key verification (credential service, no
// HTTP) with 1,000 keys in a store, then with n: for each, 2,000 keys
// never verified before, chosen at random, one after another.
func (e *env) manyKeys(ctx context.Context, n int) error {
	fmt.Printf("\nAPI key verification, uncached, 1,000 keys vs %d keys in the store:\n", n)
	var p99s []time.Duration
	for _, size := range []int{1000, n} {
		p50, p99, fill, err := e.keyStore(ctx, size)
		if err != nil {
			return err
		}
		p99s = append(p99s, p99)
		fmt.Printf("  %9d keys: fill %s, verify p50 %s, p99 %s\n", size, fill.Round(time.Millisecond), ms(p50), ms(p99))
	}
	fmt.Printf("  p99 ratio: %.2f×\n", float64(p99s[1])/float64(p99s[0]))
	return nil
}

// keyStore makes a store with size keys of one user, written directly, and
// times verifications of keys not yet cached.
func (e *env) keyStore(ctx context.Context, size int) (p50, p99, fill time.Duration, err error) {
	dir, err := os.MkdirTemp(e.dir, "keys-")
	if err != nil {
		return 0, 0, 0, err
	}
	st, err := sqlite.Open(ctx, dir+"/latchkey.db", slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, 0, 0, err
	}
	defer st.Close()
	h := password.NewHasher(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0)
	creds, err := credential.New(ctx, st, h, slog.New(slog.DiscardHandler), credential.Config{SessionIdle: time.Hour, SessionLifetime: time.Hour,
		KeyMaxDays: 365, KeyDefaultDays: 30, MaxFailures: 10, MaxAddressFailures: 100, FailureWindow: time.Minute, SealKey: make([]byte, 32)})
	if err != nil {
		return 0, 0, 0, err
	}
	defer creds.Close()
	u := &latchkey.User{Directory: "LOCAL", Username: "owner", Roles: []string{latchkey.RoleAPIKeyUser}}
	if err := st.CreateUser(ctx, u); err != nil {
		return 0, 0, 0, err
	}
	const sample = 2000
	every := max(size/sample, 1)
	var secrets []string
	start, now := time.Now(), time.Now()
	for i := range size {
		id, secret, hash := credential.MintAPIKey()
		k := &latchkey.APIKey{ID: id, UserID: u.ID, Name: fmt.Sprintf("k%d", i), CreatedBy: u.ID,
			CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), Hash: hash}
		if err := st.CreateAPIKey(ctx, k); err != nil {
			return 0, 0, 0, err
		}
		if i%every == 0 {
			secrets = append(secrets, secret)
		}
	}
	fill = time.Since(start)
	rand.Shuffle(len(secrets), func(i, j int) { secrets[i], secrets[j] = secrets[j], secrets[i] })
	lat := make([]time.Duration, 0, len(secrets))
	for _, s := range secrets {
		t0 := time.Now()
		if _, err := creds.VerifyAPIKey(ctx, s); err != nil {
			return 0, 0, 0, err
		}
		lat = append(lat, time.Since(t0))
	}
	return percentile(lat, 0.5), percentile(lat, 0.99), fill, nil
}
