package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/config"
)

func TestBuildVerifiers(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	env := map[string]string{"QS_SECRET": "0123456789abcdef0123456789abcdef"}
	getenv := func(k string) string { return env[k] }
	cfg := &config.Config{JWT: config.JWT{Verifiers: []config.JWTVerifier{
		{Name: "a", Keys: []config.JWTKey{{SecretEnv: "QS_SECRET"}}, Algorithms: []string{"HS256"},
			Claims: config.JWTClaims{User: "sub", DefaultDirectory: "LOCAL"}},
		{Name: "b", Keys: []config.JWTKey{{SecretEnv: "QS_SECRET", KeyID: "k1"}}, Algorithms: []string{"HS512"},
			Claims: config.JWTClaims{User: "sub", DefaultDirectory: "LOCAL"}},
	}}}
	vs, closeAll, err := buildVerifiers(context.Background(), cfg, nil, getenv, log)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if len(vs) != 2 || vs["a"] == nil || vs["b"] == nil {
		t.Fatalf("verifiers %v", vs)
	}

	cfg.JWT.Verifiers = append(cfg.JWT.Verifiers, config.JWTVerifier{Name: "c", Keys: []config.JWTKey{{SecretEnv: "MISSING"}}, Algorithms: []string{"HS256"}})
	if _, _, err := buildVerifiers(context.Background(), cfg, nil, getenv, log); err == nil || !strings.Contains(err.Error(), "jwt verifier c: keys[0]: secret_env: the environment variable MISSING") {
		t.Fatalf("got %v", err)
	}

	vs, closeAll, err = buildVerifiers(context.Background(), &config.Config{}, nil, getenv, log)
	if err != nil || len(vs) != 0 {
		t.Fatalf("%v %v", vs, err)
	}
	closeAll()
}
