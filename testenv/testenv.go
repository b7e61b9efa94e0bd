// Package testenv decides what a test does when something it needs from the
// machine (a PostgreSQL server, curl, nginx, Python's requests) is missing:
// on a developer's machine it skips, saying why; under CI (the environment
// variable CI set) it fails, so that a green CI means every test ran. It
// also holds Eventually, the one way tests wait for another process;
// Redis and RedisPrefix, the Redis server tests use; and LogLines, a log
// handler that keeps what was logged.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Missing skips t, or fails it under CI, with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, so this test must run, but: %s", reason)
	}
	t.Skip(reason)
}

// Eventually waits until cond reports true, checking it at once and then
// every poll, and fails t with what when timeout passes first.
//
// It is only for what a test cannot wait on as an event: another process
// coming up (nginx, Caddy, a "latchkey serve" the test started) or a change
// reaching another process through the store's change feed, where nothing
// but the answer of that process shows it. Code that runs in the test's own
// process offers a hook, a channel or an injected clock instead, and tests
// wait on those; they do not poll it with Eventually.
//
// cond runs on the calling goroutine, so it may call t.Fatal.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	const poll = 20 * time.Millisecond
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("after %v: %s", timeout, what)
		case <-tick.C:
		}
	}
}

// Redis returns the address of the Redis server tests use
// (LATCHKEY_TEST_REDIS, else 127.0.0.1:6379, which .ci/run starts), after
// checking that it answers PING; when it does not, t skips, or fails
// under CI.
func Redis(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("LATCHKEY_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Missing(t, "no Redis at %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 7)
	if _, err = c.Write([]byte("PING\r\n")); err == nil {
		_, err = io.ReadFull(c, buf)
	}
	if err != nil || string(buf) != "+PONG\r\n" {
		Missing(t, "Redis at %s does not answer PING (%q, %v)", addr, buf, err)
	}
	return addr
}

// RedisPrefix returns the address of the Redis server (as Redis does) and
// a key prefix of the test's own, so that tests can share one Redis; the
// keys the rate limiter wrote under it ("rate:" + prefix) are deleted when
// the test ends.
func RedisPrefix(t testing.TB) (addr, prefix string) {
	t.Helper()
	addr = Redis(t)
	b := make([]byte, 6)
	rand.Read(b)
	prefix = "latchkey-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, "rate:"+prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return addr, prefix
}
