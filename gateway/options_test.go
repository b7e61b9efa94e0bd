package gateway

import (
	"sync"

	"github.com/latchkey/latchkey/config"
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
