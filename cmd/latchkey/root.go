package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/gateway"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/sqlite"
)

// app holds what every command shares: its streams, environment and the
// flags that say where the store is.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	configFile string
	dataDir    string
	storeDSN   string
	output     string

	// createStore lets the command make the SQLite store when the data
	// directory holds none: serve and user add (the first steps in the
	// docs) do; every other command refuses, so that a mistyped --data-dir
	// does not make a new store and seal key.
	createStore bool
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "latchkey",
		Short: "One gateway for every way an API client proves who it is",
		Long: `latchkey is a self-hosted gateway for JWT bearer tokens, sessions, API keys,
HTTP Basic and client certificates, with roles, abilities and an audit log.

Run "latchkey serve" to start it. The user, role, ability, apikey, session and
audit commands manage its store, through the same rules and audit log as the
admin API; every command that prints takes -o json.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// --version (and -v) prints what "latchkey version" prints.
		Version: latchkey.Version,
		// An unknown -o is refused before anything is changed.
		PersistentPreRunE: func(*cobra.Command, []string) error { return a.checkOutput() },
	}
	root.SetVersionTemplate("latchkey {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "configuration `file` (default: the embedded default)")
	pf.StringVar(&a.dataDir, "data-dir", "", "data `directory` holding the SQLite store and TLS files (default ./latchkey-data)")
	pf.StringVar(&a.storeDSN, "store-dsn", "", "PostgreSQL `DSN` to use instead of SQLite (or set LATCHKEY_STORE_DSN)")
	root.AddCommand(a.serveCommand(), a.userCommand(), a.roleCommand(), a.abilityCommand(), a.apikeyCommand(),
		a.sessionCommand(), a.auditCommand(), a.versionCommand(), a.jwtCommand(), a.xrfkeyCommand(), a.certCommand(), a.callCommand())
	return root
}

// addOutputFlag adds -o/--output to a command that prints (output.go).
func (a *app) addOutputFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&a.output, "output", "o", "table", "output format: table or json")
}

// loadConfig reads the configuration with the command line's overrides.
func (a *app) loadConfig(listen string) (*config.Config, error) {
	return config.Load(a.configFile, config.Options{
		DataDir:     a.dataDir,
		Listen:      listen,
		StoreDSN:    a.storeDSN,
		Getenv:      a.getenv,
		AuthMethods: gateway.MethodNames(),
	})
}

// openStore opens the configured store and applies its migrations. Every
// call to it, and connecting, is bounded by store.timeout. Unless create is
// true, a SQLite store must exist already: nothing is made in the data
// directory when it does not.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger, create bool) (latchkey.Store, error) {
	timeout := cfg.Store.Timeout.D()
	if cfg.Store.Driver == "postgres" {
		return postgres.Open(ctx, cfg.Store.DSN, postgres.Options{Logger: log, Timeout: timeout})
	}
	file := filepath.Join(cfg.DataDir, "latchkey.db")
	if !create {
		if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
			return nil, errNoStore(file)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return sqlite.Open(ctx, file, sqlite.Options{Logger: log, Timeout: timeout})
}

// errNoStore is the error of a command that needs an existing SQLite store
// at file.
func errNoStore(file string) error {
	return fmt.Errorf("no store at %s: start the gateway once (latchkey serve) or add a user (latchkey user add) "+
		"to create it, or give the --data-dir or --config it uses", absPath(file))
}

// withConfigStore runs fn with the configuration, the store it names and a
// logger for warnings, and closes the store. The SQLite store must exist
// unless a.createStore is set.
func (a *app) withConfigStore(ctx context.Context, fn func(*config.Config, latchkey.Store, *slog.Logger) error) error {
	cfg, err := a.loadConfig("")
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	file := filepath.Join(cfg.DataDir, "latchkey.db")
	_, statErr := os.Stat(file)
	st, err := openStore(ctx, cfg, log, a.createStore)
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.Store.Driver != "postgres" && errors.Is(statErr, fs.ErrNotExist) {
		// Made by user add: say so, in case the data directory was mistyped.
		fmt.Fprintf(a.stderr, "latchkey: created a new store at %s\n", absPath(file))
	}
	return fn(cfg, st, log)
}

// printError writes err as one sentence on stderr: the client message of a
// latchkey error (with its cause when the fault is not the caller's), or the
// error itself.
func (a *app) printError(err error) {
	msg := err.Error()
	if e, ok := errors.AsType[*latchkey.Error](err); ok {
		msg = latchkey.ErrorMessage(err)
		if e.Err != nil && (e.Code == latchkey.EINTERNAL || e.Code == latchkey.EUNAVAILABLE) {
			msg += " (" + e.Err.Error() + ")"
		}
	}
	fmt.Fprintln(a.stderr, "latchkey: "+strings.TrimSpace(msg))
}
