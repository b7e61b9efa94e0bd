package gateway

import (
	"sync"
	"testing"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/jwtverify"
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
