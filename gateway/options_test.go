package gateway

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/jwtverify"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlite"
)

// defaultIssuer is jwt.issuer as the configuration gives it when it says
// nothing of it.
var defaultIssuer = sync.OnceValue(func() config.JWTIssuer {
	c, err := config.Load("", config.Options{AuthMethods: MethodNames()})
	if err != nil {
		panic(err)
	}
	return c.JWT.Issuer
})

// testTokenCache is a cache of verified tokens of the configuration's
// default budget, closed when t ends.
func testTokenCache(t testing.TB) *jwtverify.Cache {
	c := TokenCache(config.Caches{TokensMiB: 32})
	t.Cleanup(c.Close)
	return c
}

// TestCredentialConfig: every value the credential service takes comes
// from the configuration, and the built-in configuration's are accepted.
func TestCredentialConfig(t *testing.T) {
	c, err := config.Load("", config.Options{AuthMethods: MethodNames()})
	if err != nil {
		t.Fatal(err)
	}
	c.Store.LastUseFlush = config.Duration(20 * time.Second)
	c.Passwords.CacheTTL = config.Duration(3 * time.Minute)
	c.Caches.CredentialEntries = 5000
	c.RateLimits.KeyMaximum = config.KeyMaximum{Requests: 100, Window: config.Duration(time.Hour)}
	got := CredentialConfig(c, make([]byte, 32), nil)
	if got.FlushEvery != 20*time.Second || got.PasswordCacheTTL != 3*time.Minute || got.CacheSize != 5000 ||
		got.UsageFlushEvery != c.APIKeys.UsageFlush.D() || got.PasswordMinLength != c.Passwords.MinLength ||
		got.KeyLimitMaximum != (latchkey.RateLimit{Requests: 100, Window: 3600}) || got.DefaultDirectory != latchkey.DefaultDirectory {
		t.Fatalf("CredentialConfig = %+v", got)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "latchkey.db"), sqlite.Options{Logger: quietLog(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := credential.New(context.Background(), st, password.NewHasher(testParams, 4), quietLog(), got)
	if err != nil {
		t.Fatalf("credential.New refuses the configuration's values: %v", err)
	}
	svc.Close()
}
