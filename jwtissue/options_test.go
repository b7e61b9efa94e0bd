package jwtissue

import (
	"cmp"
	"context"
	"sync"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// configDefaults are the issuer's options as latchkey's configuration
// gives them when it says nothing of jwt.issuer.
var configDefaults = sync.OnceValue(func() Options {
	c, err := config.Load("", config.Options{AuthMethods: []string{latchkey.MethodSession, latchkey.MethodBasic,
		latchkey.MethodAPIKey, latchkey.MethodJWT, latchkey.MethodCert}})
	if err != nil {
		panic(err)
	}
	j := c.JWT.Issuer
	return Options{Algorithm: j.Algorithm, Issuer: j.Issuer, Audience: j.Audience,
		Lifetime: j.Lifetime.D(), RotateEvery: j.RotateEvery.D()}
})

// configured is o with the signing settings it leaves zero taken from the
// configuration's defaults; its seal keys are kept as they are.
func configured(o Options) Options {
	d := configDefaults()
	o.Algorithm = cmp.Or(o.Algorithm, d.Algorithm)
	o.Issuer = cmp.Or(o.Issuer, d.Issuer)
	o.Audience = cmp.Or(o.Audience, d.Audience)
	o.Lifetime = cmp.Or(o.Lifetime, d.Lifetime)
	o.RotateEvery = cmp.Or(o.RotateEvery, d.RotateEvery)
	return o
}

// TestNewRefusesMissing: New fills nothing in; what the configuration
// always gives must be given.
func TestNewRefusesMissing(t *testing.T) {
	st := openStores(t, 1)[0]
	full := configured(testSeal)
	for name, change := range map[string]func(*Options){
		"algorithm": func(o *Options) { o.Algorithm = "" },
		"issuer":    func(o *Options) { o.Issuer = "" },
		"audience":  func(o *Options) { o.Audience = "" },
		"lifetime":  func(o *Options) { o.Lifetime = 0 },
	} {
		o := full
		change(&o)
		if _, err := New(context.Background(), st, nil, o); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("without %s: %v", name, err)
		}
	}
}
