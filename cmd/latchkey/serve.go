package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/web"
)

func (a *app) serveCommand() *cobra.Command {
	var listen, logFormat string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway until SIGINT or SIGTERM, then drain in-flight requests and stop.
SIGHUP reloads the listeners' certificates and client CAs from their files.

With no --config it runs on the embedded default: SQLite in ./latchkey-data,
HTTPS on 127.0.0.1:8443 with a self-signed certificate, a built-in echo
upstream at / that shows who the caller is, and the pages for people at
https://127.0.0.1:8443/ui/. On first start it creates an administrator
whose password comes from LATCHKEY_ADMIN_PASSWORD or is printed once: sign
in to the pages as LOCAL\admin with it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig(listen)
			if err != nil {
				return err
			}
			if logFormat != "" {
				cfg.Log.Format = logFormat
			}
			return a.serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "`host:port` of the first listener, overriding the configuration")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "log format: text or json (overrides the configuration)")
	return cmd
}

func (a *app) serve(ctx context.Context, cfg *config.Config) error {
	log, err := newLogger(a.stderr, cfg.Log)
	if err != nil {
		return err
	}
	// SIGHUP reloads the TLS files. Asked for from the start, so that a
	// SIGHUP while starting waits for the listeners instead of ending the
	// process, as it would by default.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// The whole stop shares one deadline: draining requests, writing
	// last-use times, stopping key rotation, closing the store.
	stop := newStopClock(ctx, cfg.Server.ShutdownTimeout.D())
	defer stop.release()
	st, err := openStore(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	var closing []closer // closed in reverse order, within the stop's deadline
	defer func() {
		for i := len(closing) - 1; i >= 0; i-- {
			stop.close(log, closing[i])
		}
		log.Info("stopped")
	}()
	closing = append(closing, closer{"the store", st.Close})
	creds, err := a.newCredentials(ctx, cfg, st, log, nil)
	if err != nil {
		return err
	}
	// Before the store closes: it writes pending last-use times.
	closing = append(closing, closer{"the credential service", func() error { return creds.Shutdown(stop.begin()) }})
	// One memory of verified tokens for every verifier and the issuer,
	// closed after them.
	tokens := gateway.TokenCache(cfg.Caches)
	closing = append(closing, closer{"the token cache", func() error { tokens.Close(); return nil }})
	verifiers, closeVerifiers, err := buildVerifiers(ctx, cfg, tokens, a.getenv, log)
	if err != nil {
		return err
	}
	closing = append(closing, closer{"the JWT verifiers", func() error { closeVerifiers(); return nil }})
	issuer, closeIssuer, err := a.buildIssuer(ctx, cfg, st, tokens, log)
	if err != nil {
		return err
	}
	// Before the store closes: it rotates keys in the background.
	closing = append(closing, closer{"the JWT issuer", func() error { closeIssuer(); return nil }})
	var pages gateway.Pages
	if cfg.UI.Enabled {
		if pages, err = web.New(web.Options{Prefix: cfg.UI.Prefix, Cookie: cfg.Sessions.Cookie, Creds: creds,
			KeyMaxDays: cfg.APIKeys.MaxDays, KeyDefaultDays: cfg.APIKeys.DefaultDays, TrustedOrigins: cfg.Login.AllowedOrigins,
			RefusalDelay: gateway.RefusalDelay, Log: log, Observe: gateway.NotePrincipal}); err != nil {
			return err
		}
	}
	gw, err := gateway.New(cfg, gateway.Deps{Store: st, Creds: creds, Log: log, Verifiers: verifiers, Issuer: issuer, Pages: pages})
	if err != nil {
		return err
	}
	if err := gw.Listen(); err != nil {
		return err
	}
	// Only once the listeners are bound: a start that cannot listen (a busy
	// port) must not create the administrator and print its one-time
	// password, which the next start would not print again.
	if err := a.bootstrapAdmin(ctx, creds, cfg.Admin, pagesURL(cfg, gw.Addrs())); err != nil {
		return err
	}
	go purgeLoop(ctx, st, log)
	stopReloading := reloadOnHangup(ctx, hup, gw.ReloadTLS, log)
	defer stopReloading()
	return gw.Serve(ctx, stop.begin)
}

// reloadOnHangup calls reload at every signal on hup until the returned
// stop is called, which waits for a reload under way.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, reload func() error, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the TLS certificates and client CAs")
				reload() // each failure is logged by the gateway, which keeps what it had
			}
		}
	}()
	return func() { cancel(); <-done }
}

// stopClock is the one deadline of a node's stop: server.shutdown_timeout
// from when the serving context ends, or from when begin is first called
// (the gateway begins draining because a listener failed, or starting
// failed), whichever comes first.
type stopClock struct {
	parent  context.Context
	timeout time.Duration
	unwatch func() bool

	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
}

func newStopClock(ctx context.Context, timeout time.Duration) *stopClock {
	c := &stopClock{parent: context.WithoutCancel(ctx), timeout: timeout}
	c.unwatch = context.AfterFunc(ctx, func() { c.begin() })
	return c
}

// begin starts the clock, unless it runs already, and returns the context
// that ends when it runs out.
func (c *stopClock) begin() context.Context {
	c.once.Do(func() { c.ctx, c.cancel = context.WithTimeout(c.parent, c.timeout) })
	return c.ctx
}

// release frees the clock's timer once the stop is over.
func (c *stopClock) release() {
	c.unwatch()
	c.begin()
	c.cancel()
}

// closer is something serve closes as it stops.
type closer struct {
	what  string
	close func() error
}

// close runs cl and waits for it until the clock runs out. What has not
// finished by then is left to finish, or not, as the process exits: the
// stop takes shutdown_timeout at most, whatever the database does.
func (c *stopClock) close(log *slog.Logger, cl closer) {
	ctx := c.begin()
	done := make(chan error, 1)
	go func() { done <- cl.close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Error("closing "+cl.what, "err", err)
		}
	case <-ctx.Done():
		log.Warn("the shutdown timeout ran out; not waiting for "+cl.what+" to close", "timeout", c.timeout.String())
	}
}

// Housekeeping: what can never be used again is deleted once it is older
// than purgeAge (revoked and expired keys stay listable until then).
const (
	purgeEvery = time.Hour
	purgeAge   = 30 * 24 * time.Hour
)

func purgeLoop(ctx context.Context, st latchkey.Store, log *slog.Logger) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := st.PurgeExpired(ctx, now.Add(-purgeAge))
			if err != nil && ctx.Err() == nil {
				log.Warn("purging expired rows", "err", err)
			} else if n > 0 {
				log.Info("purged expired rows", "rows", n)
			}
		}
	}
}

func newLogger(w interface{ Write([]byte) (int, error) }, c config.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// bootstrapAdmin creates the first administrator when the store has no user
// at all (credential.Service.FirstAdministrator). Its password comes from
// LATCHKEY_ADMIN_PASSWORD or is random, and is printed once on stderr, never
// logged.
//
// Nodes started together may all find no user: the store's unique name then
// lets exactly one of them create it, and the others start normally and
// print nothing.
//
// pages, when not "", is where the pages are, which the message points the
// newcomer to.
func (a *app) bootstrapAdmin(ctx context.Context, creds *credential.Service, c config.Admin, pages string) error {
	// Most starts find users: they neither check the password from the
	// environment nor pay for hashing one.
	if some, err := creds.Users(ctx, operator(), credential.UserQuery{Limit: 1}); err != nil || len(some.Items) > 0 {
		return err
	}
	pw, generated := a.getenv(config.EnvAdminPassword), false
	if pw == "" {
		pw, generated = password.Random(), true
	} else if err := creds.ValidatePassword(pw); err != nil {
		return fmt.Errorf("%s: %s", config.EnvAdminPassword, latchkey.ErrorMessage(err))
	}
	hash, err := hasher().Hash(ctx, pw)
	if err != nil {
		return err
	}
	created, err := creds.FirstAdministrator(ctx, c.Directory, c.Username, hash)
	if err != nil || !created {
		return err
	}
	name := c.Directory + `\` + c.Username
	fmt.Fprintf(a.stderr, "latchkey: created the first administrator %s\n", name)
	which := "that password"
	if generated {
		fmt.Fprintf(a.stderr, "latchkey: its password, shown only this once: %s\n", pw)
	} else {
		fmt.Fprintln(a.stderr, "latchkey: its password is the one in "+config.EnvAdminPassword)
		which = "the password in " + config.EnvAdminPassword
	}
	if pages != "" {
		fmt.Fprintf(a.stderr, "latchkey: open %s in a browser and sign in as %s with %s\n", pages, name, which)
	}
	return nil
}

// pagesURL is where a browser on this machine opens the pages: the first
// listener that serves them, at its bound address ("0.0.0.0" and "::" as
// the loopback address), with a word on a self-signed certificate; "" when
// the pages are off.
func pagesURL(cfg *config.Config, addrs map[string]net.Addr) string {
	if !cfg.UI.Enabled {
		return ""
	}
	for _, l := range cfg.Listeners {
		if len(cfg.UI.Listeners) > 0 && !slices.Contains(cfg.UI.Listeners, l.Name) {
			continue
		}
		addr, ok := addrs[l.Name]
		if !ok {
			continue
		}
		host, port, err := net.SplitHostPort(addr.String())
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip.To4() == nil {
				host = "::1"
			}
		}
		scheme, note := "https", ""
		switch {
		case l.TLS.InsecurePlainHTTP:
			scheme = "http"
		case l.TLS.CertFile == "":
			note = " (its certificate is self-signed, so the browser warns first)"
		}
		return scheme + "://" + net.JoinHostPort(host, port) + cfg.UI.Prefix + note
	}
	return ""
}

// hasher is the password hasher of the command line and the first start.
func hasher() *password.Hasher { return password.NewHasher(password.DefaultParams, 0) }
