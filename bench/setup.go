package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/jwtverify"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/pki"
	"github.com/latchkey/latchkey/sqlite"
)

// The bench user and its password (LOCAL\bench; INTERNAL\bench for the
// client certificate).
const (
	benchUser     = "bench"
	benchPassword = "correct horse battery staple 42"
	origin        = "bench.local"
)

// env is everything one run builds: the upstream, the gateway and the
// credentials the scenarios send.
type env struct {
	*instance
	dir      string
	upstream *httptest.Server

	apiKey, session, rsToken, edToken string
	clientCert                        tls.Certificate
	rsKey                             *rsa.PrivateKey    // signs the RS256 tokens
	edKey                             ed25519.PrivateKey // signs the EdDSA tokens
	afterStartRSS                     int64              // VmRSS in kB once the gateway listened, before the credentials (argon2id) and any load
	afterSetupRSS                     int64              // the same once the credentials were made (two argon2id runs of 64 MiB)
	fresh                             *tokenPool         // the -fresh scenarios' tokens; nil when none runs
}

// instance is one running gateway with its store and credential service.
type instance struct {
	st        latchkey.Store
	ownsStore bool // opened by start, closed by close
	creds     *credential.Service
	verifiers []*jwtverify.Verifier
	tokens    *jwtverify.Cache // the verifiers' memory of verified tokens
	caches    config.Caches    // its budget, and the principal memos'
	gw        *gateway.Server
	base      string        // https://127.0.0.1:port
	startup   time.Duration // reading the configuration → listening
	cancel    context.CancelFunc
	served    chan error
}

// configYAML is the gateway's configuration: one route per scenario, all to
// the same upstream, on one HTTPS listener that asks for (optional) client
// certificates; forward-auth at its default path, /auth/verify. The flood
// route's verifier takes RS256 and EdDSA, so that the flood's tokens (EdDSA
// by default, cheap to mint) share one token cache with the repeated RS256
// token sent beside them.
const configYAML = `data_dir: %[1]s
log:
  level: error
login:
  allowed_origins: [%[3]s]
certificates:
  identity: cn
  directory: INTERNAL
jwt:
  verifiers:
    - name: rs
      keys: [{file: %[1]s/rs.pem}]
      algorithms: [RS256]
      audience: [bench]
    - name: ed
      keys: [{file: %[1]s/ed.pem}]
      algorithms: [EdDSA]
      audience: [bench]
    - name: flood
      keys: [{file: %[1]s/rs.pem}, {file: %[1]s/ed.pem}]
      algorithms: [RS256, EdDSA]
      audience: [bench]
listeners:
  - name: main
    address: 127.0.0.1:0
    tls:
      client_ca_file: %[1]s/ca.pem
      client_auth: optional
routes:
  - {name: off, prefix: /off/, upstream: "%[2]s", auth: []}
  - {name: apikey, prefix: /apikey/, upstream: "%[2]s", auth: [apikey]}
  - {name: session, prefix: /session/, upstream: "%[2]s", auth: [session]}
  - {name: basic, prefix: /basic/, upstream: "%[2]s", auth: [basic]}
  - {name: rs256, prefix: /rs256/, upstream: "%[2]s", auth: [jwt], jwt_verifiers: [rs]}
  - {name: eddsa, prefix: /eddsa/, upstream: "%[2]s", auth: [jwt], jwt_verifiers: [ed]}
  - {name: cert, prefix: /cert/, upstream: "%[2]s", auth: [cert]}
  - {name: flood, prefix: /flood/, upstream: "%[2]s", auth: [jwt], jwt_verifiers: [flood]}
  - name: apikey-limited
    prefix: /apikey-limited/
    upstream: "%[2]s"
    auth: [apikey]
    rate_limits: # never reached: the cost of checking them
      - {per: route, requests: 1000000000, window: 1s}
      - {per: credential, requests: 1000000000, window: 1s}
%[4]s`

// rateLimitsYAML is the rate_limits section for -redis ADDR: the counts in
// that Redis, under a prefix of the run's own.
const rateLimitsYAML = `rate_limits:
  store: redis
  redis: {address: "%s", key_prefix: "latchkey-bench:%d:"}
`

// benchRedis is -redis: the Redis of the rate limits ("" counts on the node).
var benchRedis string

// upstreamBody is what the upstream answers: small, like an API's JSON.
var upstreamBody = []byte(`{"ok":true,"items":[1,2,3,4,5,6,7,8,9,10]}`)

func writePEM(name, typ string, der []byte) error {
	return os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// setup builds the upstream and the gateway in dir, with the bench user,
// an API key, a session, two JWTs and a client certificate.
func setup(ctx context.Context, dir string) (_ *env, err error) {
	e := &env{dir: dir}
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(upstreamBody)
	}))
	defer func() {
		if err != nil {
			e.close()
		}
	}()

	// Keys and certificates, outside the measured start.
	rsKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	e.rsKey, e.edKey = rsKey, edKey
	for name, pub := range map[string]any{"rs.pem": &rsKey.PublicKey, "ed.pem": edPub} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, err
		}
		if err := writePEM(filepath.Join(dir, name), "PUBLIC KEY", der); err != nil {
			return nil, err
		}
	}
	ca, err := pki.Issue(pki.Request{Kind: pki.KindCA, CommonName: "bench root"}, nil)
	if err != nil {
		return nil, err
	}
	client, err := pki.Issue(pki.Request{Kind: pki.KindClient, CommonName: benchUser}, ca)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o600); err != nil {
		return nil, err
	}
	keyPEM, err := client.KeyPEM()
	if err != nil {
		return nil, err
	}
	if e.clientCert, err = tls.X509KeyPair(client.CertPEM(), keyPEM); err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "latchkey.yaml")
	rateLimits := ""
	if benchRedis != "" {
		rateLimits = fmt.Sprintf(rateLimitsYAML, benchRedis, os.Getpid())
	}
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, configYAML, dir, e.upstream.URL, origin, rateLimits), 0o600); err != nil {
		return nil, err
	}
	// A first start makes the self-signed certificate, once, where the
	// gateway looks for it (data_dir/tls); the measured start below is the
	// second, like every start after the first.
	if _, _, err := pki.EnsureSelfSigned(filepath.Join(dir, "tls")); err != nil {
		return nil, err
	}

	if e.instance, err = start(ctx, cfgFile, nil); err != nil {
		return nil, err
	}
	e.afterStartRSS = rssKB()

	// The credentials.
	hash, err := password.NewHasher(password.DefaultParams, 0).Hash(ctx, benchPassword)
	if err != nil {
		return nil, err
	}
	var local *latchkey.User
	for _, d := range []string{"LOCAL", "INTERNAL"} {
		u := &latchkey.User{Directory: d, Username: benchUser, PasswordHash: hash, Roles: []string{latchkey.RoleAPIKeyUser}}
		if err := e.st.CreateUser(ctx, u, nil); err != nil {
			return nil, err
		}
		if d == "LOCAL" {
			local = u
		}
	}
	k, err := e.creds.GenerateAPIKey(ctx, nil, credential.KeyRequest{OwnerID: local.ID}, "")
	if err != nil {
		return nil, err
	}
	e.apiKey = k.Key
	if e.session, err = e.login(); err != nil {
		return nil, err
	}
	claims := func() map[string]any {
		return map[string]any{"sub": benchUser, "aud": "bench", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	}
	if e.rsToken, err = signJWT("RS256", rsKey, claims()); err != nil {
		return nil, err
	}
	if e.edToken, err = signJWT("EdDSA", edKey, claims()); err != nil {
		return nil, err
	}
	e.afterSetupRSS = rssKB()
	return e, nil
}

// start does what `latchkey serve` does up to listening, from the
// configuration file cfgFile: config.Load, the SQLite store in data_dir
// (migrations on a new file), the credential service, the JWT verifiers,
// gateway.New and Listen; then it serves until close. Given a store st, the
// gateway runs over st instead, which stays the caller's to close.
func start(ctx context.Context, cfgFile string, st latchkey.Store) (*instance, error) {
	g := &instance{st: st}
	if err := g.start(ctx, cfgFile); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *instance) start(ctx context.Context, cfgFile string) error {
	t0 := time.Now()
	log := slog.New(slog.DiscardHandler)
	cfg, err := config.Load(cfgFile, config.Options{AuthMethods: gateway.MethodNames()})
	if err != nil {
		return err
	}
	if g.st == nil {
		if g.st, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "latchkey.db"), sqlite.Options{Logger: log, Timeout: cfg.Store.Timeout.D()}); err != nil {
			return err
		}
		g.ownsStore = true
	}
	if g.creds, err = credential.New(ctx, g.st, password.NewHasher(password.DefaultParams, 0), log, gateway.CredentialConfig(cfg, make([]byte, 32), nil)); err != nil {
		return err
	}
	verifiers := map[string]gateway.TokenVerifier{}
	g.tokens, g.caches = gateway.TokenCache(cfg.Caches), cfg.Caches
	for _, c := range cfg.JWT.Verifiers {
		v, err := jwtverify.New(ctx, gateway.VerifierConfig(c, g.tokens), os.Getenv, log)
		if err != nil {
			return err
		}
		verifiers[c.Name] = v
		g.verifiers = append(g.verifiers, v)
	}
	if g.gw, err = gateway.New(cfg, gateway.Deps{Store: g.st, Creds: g.creds, Log: log, Verifiers: verifiers}); err != nil {
		return err
	}
	if err := g.gw.Listen(); err != nil {
		return err
	}
	g.startup = time.Since(t0)
	g.base = "https://" + g.gw.Addrs()["main"].String()
	sctx, cancel := context.WithCancel(ctx)
	g.cancel, g.served = cancel, make(chan error, 1)
	go func() { g.served <- g.gw.Serve(sctx, nil) }()
	return nil
}

// close stops serving, then closes the verifiers, the credential service
// and the store if start opened it.
func (g *instance) close() {
	if g.cancel != nil {
		g.cancel()
		<-g.served
	}
	for _, v := range g.verifiers {
		v.Close()
	}
	g.tokens.Close()
	if g.creds != nil {
		g.creds.Close()
	}
	if g.ownsStore && g.st != nil {
		g.st.Close()
	}
}

func (e *env) close() {
	if e.instance != nil {
		e.instance.close()
	}
	e.upstream.Close()
}
