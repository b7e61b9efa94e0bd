package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/faultproxy"

	"github.com/latchkey/latchkey/testenv"
)

// PostgresEnv names the environment variable that holds the DSN of the
// PostgreSQL server for tests.
const PostgresEnv = "LATCHKEY_TEST_POSTGRES"

// PostgresDSN skips the test when LATCHKEY_TEST_POSTGRES is not set (and
// fails it under CI).
// Otherwise it creates a schema of the test's own (lk_<random hex>), drops it
// with everything in it when the test ends, and returns the DSN with
// search_path set to the schema.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		testenv.Missing(t, "LATCHKEY_TEST_POSTGRES is not set; skipping PostgreSQL tests")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "lk_" + hex.EncodeToString(b)
	admin := func(stmt string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect to %s: %v", PostgresEnv, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	ident := pgx.Identifier{schema}.Sanitize()
	admin("CREATE SCHEMA " + ident)
	t.Cleanup(func() { admin("DROP SCHEMA " + ident + " CASCADE") })
	return WithSearchPath(t, dsn, schema)
}

// WithSearchPath returns dsn, a URL or a keyword/value string, with its
// search_path set to schema.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s is not a URL: %v", PostgresEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// PostgresThroughProxy starts a fault proxy in front of the server of dsn (a
// postgres:// URL) and returns it with dsn rewritten to go through it, so
// that a test can freeze, cut or refuse the store's network. The proxy
// closes when the test ends.
func PostgresThroughProxy(t testing.TB, dsn string) (*faultproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Fatalf("%s must be a postgres:// URL with a host for this test: %v", PostgresEnv, err)
	}
	p, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return p, u.String()
}
