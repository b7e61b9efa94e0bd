package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/credential"
)

// withCredentials runs fn with the credential service over the store that
// the flags name, and closes both. Every command that manages users,
// roles, sessions, keys or reads the audit log goes through the service
// alone, acting as operator(): the service checks, changes and audits.
func (a *app) withCredentials(ctx context.Context, fn func(*credential.Service) error) error {
	return a.withConfigStore(ctx, func(cfg *config.Config, st latchkey.Store, log *slog.Logger) error {
		// The operator at the command line never seals a key (keys it
		// makes are shown to it) nor unseals one (only the owner may). On
		// PostgreSQL without LATCHKEY_SEAL_KEY, a throwaway seal key keeps
		// the command from leaving a seal.key that no server uses.
		var key []byte
		if cfg.Store.Driver == "postgres" && a.getenv(envSealKey) == "" {
			key = make([]byte, 32)
			rand.Read(key)
		}
		svc, err := a.newCredentials(ctx, cfg, st, log, key)
		if err != nil {
			return err
		}
		defer svc.Close()
		return fn(svc)
	})
}

// optionalUser is a --directory/--user pair where both may be left out.
type optionalUser struct{ directory, user string }

func (o *optionalUser) addFlags(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&o.directory, "directory", "", "only "+what+" of users in this `directory` (with --user: the user's directory, default "+latchkey.DefaultDirectory+")")
	cmd.Flags().StringVar(&o.user, "user", "", "only "+what+" of this `username`")
}

// resolve returns the id of the user named, 0 when no --user was given.
func (o *optionalUser) resolve(ctx context.Context, svc *credential.Service) (int64, error) {
	if o.user == "" {
		return 0, nil
	}
	u, err := (&userRef{directory: cmp.Or(o.directory, latchkey.DefaultDirectory), user: o.user}).resolve(ctx, svc)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// inDirectory reports whether a DIR\user name passes a --directory given
// without --user.
func (o *optionalUser) inDirectory(qualified string) bool {
	if o.user != "" || o.directory == "" {
		return true
	}
	dir, _, _ := strings.Cut(qualified, `\`)
	return latchkey.NameKey(dir) == latchkey.NameKey(o.directory)
}

// keyStatus is active, revoked or expired.
func keyStatus(v *credential.KeyView) string {
	switch {
	case v.Revoked:
		return "revoked"
	case v.Expired:
		return "expired"
	}
	return "active"
}

func (a *app) apikeyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Make, list, limit, revoke and rotate API keys",
		Long: `Manage API keys directly in the store.

A key looks like lk_<id>_<secret>: the 13-character id is not secret and names
the key in lists, logs and the audit log; the whole key is shown once, when it
is made, and latchkey keeps only its hash. A revoked or expired key stops
working at once on every node. Using a key needs the ability apikey.signin
(role apikey-user, for one).`,
	}
	cmd.AddCommand(a.apikeyCreate(), a.apikeyList(), a.apikeyShow(), a.apikeyRevoke(), a.apikeyRotate(), a.apikeySetLimit())
	return cmd
}

func (a *app) apikeyCreate() *cobra.Command {
	var ref userRef
	var req credential.KeyRequest
	var limit string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make an API key for a user and print it, this once",
		Long: `Make an API key for a user and print it. This is the only time the key is
shown: copy it now. The key expires after --days days (default: the
configuration's api_keys.default_days; at most api_keys.max_days). Using it
needs the ability apikey.signin (role apikey-user, for one).

--rate-limit gives the key a limit of its own, checked with the routes'
limits on every request made with it: REQUESTS/WINDOW, such as 100/1m (100
requests per minute) or 5000/1h, with ",burst=N" for N more at once
(100/1m,burst=20). The window is 1s to 24h; rate_limits.key_maximum, if set,
bounds the limit. Change it later with "latchkey apikey set-limit".`,
		Example: `  latchkey apikey create --directory LAB --user goran --days 30 --name ci -o json
  latchkey apikey create --user reporter --read-only --days 7
  latchkey apikey create --user reporter --name nightly --rate-limit 100/1m,burst=20`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("days") && req.Days < 1 {
				return fmt.Errorf("--days must be at least 1")
			}
			if limit != "" {
				l, err := parseRateLimit(limit)
				if err != nil {
					return fmt.Errorf("--rate-limit: %w", err)
				}
				req.RateLimit = l
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				u, err := ref.resolve(ctx, svc)
				if err != nil {
					return err
				}
				req.OwnerID = u.ID
				v, err := svc.GenerateAPIKey(ctx, operator(), req, cliRemote)
				if err != nil {
					return err
				}
				return a.printNewKey(v, "")
			})
		},
	}
	ref.addFlags(cmd)
	cmd.Flags().IntVar(&req.Days, "days", 0, "days until the key expires (default: api_keys.default_days, 30 unless configured)")
	cmd.Flags().StringVar(&req.Name, "name", "", "a `name` that tells the key apart from the user's others")
	cmd.Flags().BoolVar(&req.ReadOnly, "read-only", false, "allow only GET, HEAD and OPTIONS requests with the key")
	cmd.Flags().StringVar(&limit, "rate-limit", "", "the key's own rate `limit`, REQUESTS/WINDOW[,burst=N]: 100/1m, 5000/1h,burst=100 (default: none)")
	a.addOutputFlag(cmd)
	return cmd
}

// printNewKey shows a key that was just made, with the key itself.
// replaces names the key it rotated, if any.
func (a *app) printNewKey(v *credential.KeyView, replaces string) error {
	if a.output == "json" {
		if replaces != "" {
			return a.printOut(struct {
				*credential.KeyView
				Replaces string `json:"replaces"`
			}{v, replaces}, nil, nil)
		}
		return a.printOut(v, nil, nil)
	}
	rows := [][]string{
		{"id", v.ID}, {"name", orDash(v.Name)}, {"owner", v.Owner},
		{"created", stamp(v.Created)}, {"expires", stamp(v.Expires)},
		{"read-only", fmt.Sprint(v.ReadOnly)}, {"rate limit", latchkey.LimitText(v.RateLimit)},
	}
	if replaces != "" {
		rows = append(rows, []string{"replaces", replaces + " (now revoked)"})
	}
	rows = append(rows, []string{"key", v.Key})
	if err := a.printOut(v, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(a.stdout, "\nThis key is not shown again: latchkey keeps only its hash. Copy it now.")
	return err
}

func (a *app) apikeyList() *cobra.Command {
	var who optionalUser
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys, revoked and expired ones included",
		Long: `List API keys, newest first: every user's, or one user's with --user. Revoked
and expired keys are listed until the hourly housekeeping of "latchkey serve"
deletes them, 30 days on.`,
		Example: `  latchkey apikey list
  latchkey apikey list --directory LAB --user goran -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				owner, err := who.resolve(ctx, svc)
				if err != nil {
					return err
				}
				all, err := svc.APIKeys(ctx, operator(), owner)
				if err != nil {
					return err
				}
				views := make([]*credential.KeyView, 0, len(all))
				rows := make([][]string, 0, len(all))
				for _, v := range all {
					if !who.inDirectory(v.Owner) {
						continue
					}
					views = append(views, v)
					row := []string{v.ID, orDash(v.Name), v.Owner, stamp(v.Created), stamp(v.Expires),
						stampPtr(v.LastUsed), fmt.Sprint(v.ReadOnly), keyStatus(v), latchkey.LimitText(v.RateLimit)}
					u := usageOf(v)
					rows = append(rows, append(row, fmt.Sprint(u.RequestsHour), fmt.Sprint(u.RequestsDay), fmt.Sprint(u.RefusedDay)))
				}
				return a.printOut(views, []string{"ID", "NAME", "OWNER", "CREATED", "EXPIRES", "LAST USED", "READ-ONLY", "STATUS", "RATE LIMIT",
					"REQUESTS 1H", "REQUESTS 24H", "REFUSED 24H"}, rows)
			})
		},
	}
	who.addFlags(cmd, "keys")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) apikeyShow() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one API key (never the key itself)",
		Long: `Show one API key's details by its id. The key itself is never shown here: a
key made at the command line was shown when it was made, and one made on
behalf of another user is shown once to that user only.`,
		Example: `  latchkey apikey show 3xq7mzk2a4b5c -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				v, err := svc.APIKeyDetails(ctx, operator(), args[0], cliRemote)
				if err != nil {
					return err
				}
				rows := [][]string{
					{"id", v.ID}, {"name", orDash(v.Name)}, {"owner", v.Owner},
					{"created", stamp(v.Created)},
					{"expires", stamp(v.Expires)}, {"last used", stampPtr(v.LastUsed)},
					{"read-only", fmt.Sprint(v.ReadOnly)}, {"status", keyStatus(v)},
					{"rate limit", latchkey.LimitText(v.RateLimit)},
				}
				u := usageOf(v)
				rows = append(rows,
					[]string{"requests, this clock hour", useText(u.RequestsHour, u.RefusedHour)},
					[]string{"requests, last 24 hours", useText(u.RequestsDay, u.RefusedDay)})
				if v.RevokedAt != nil {
					rows = append(rows, []string{"revoked", stamp(*v.RevokedAt)})
				}
				if v.AwaitsReveal {
					rows = append(rows, []string{"key", "made on the owner's behalf; not yet viewed by the owner"})
				}
				return a.printOut(v, []string{"FIELD", "VALUE"}, rows)
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) apikeyRevoke() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key; it stops working on every node at once",
		Long: `Revoke an API key by its id. It stops working at once on every node that
shares the store, and so do the sessions that were opened with it. With
-o json it prints the key as it is now (revoked), never the key itself.`,
		Example: `  latchkey apikey revoke 3xq7mzk2a4b5c`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				op := operator()
				if err := svc.RevokeAPIKey(ctx, op, args[0], cliRemote); err != nil {
					return err
				}
				v, err := svc.APIKeyDetails(ctx, op, args[0], cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(v, "revoked API key %s of %s", v.ID, v.Owner)
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) apikeyRotate() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace an API key with a new one and revoke the old",
		Long: `Make a new key with the same owner, name, read-only flag, lifetime and rate
limit as the key ID, print it (this once), and revoke the old key.`,
		Example: `  latchkey apikey rotate 3xq7mzk2a4b5c -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				v, err := svc.RotateAPIKey(ctx, operator(), args[0], cliRemote)
				if err != nil {
					return err
				}
				return a.printNewKey(v, args[0])
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) apikeySetLimit() *cobra.Command {
	var none bool
	cmd := &cobra.Command{
		Use:   "set-limit ID [REQUESTS/WINDOW[,burst=N]]",
		Short: "Give an API key its own rate limit, or take it away",
		Long: `Give the key ID a rate limit of its own, checked with the routes' limits on
every request made with it: REQUESTS/WINDOW, such as 100/1m (100 requests per
minute) or 5000/1h, with ",burst=N" for N more at once (100/1m,burst=20). The
window is 1s to 24h; rate_limits.key_maximum, if set, bounds the limit. With
--none the key has no limit of its own any more. Every node applies the
change within about a second.`,
		Example: `  latchkey apikey set-limit 3xq7mzk2a4b5c 100/1m
  latchkey apikey set-limit 3xq7mzk2a4b5c 100/1m,burst=20 -o json
  latchkey apikey set-limit 3xq7mzk2a4b5c --none`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var limit *latchkey.RateLimit
			switch {
			case none && len(args) == 2:
				return fmt.Errorf("give a limit or --none, not both")
			case !none && len(args) == 1:
				return fmt.Errorf("give a limit such as 100/1m, or --none")
			case !none:
				l, err := parseRateLimit(args[1])
				if err != nil {
					return err
				}
				limit = l
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				v, err := svc.SetAPIKeyLimit(ctx, operator(), args[0], limit, cliRemote)
				if err != nil {
					return err
				}
				if limit == nil {
					return a.printDone(v, "API key %s of %s has no rate limit of its own", v.ID, v.Owner)
				}
				return a.printDone(v, "API key %s of %s: rate limit %s", v.ID, v.Owner, limit)
			})
		},
	}
	cmd.Flags().BoolVar(&none, "none", false, "take the key's own limit away")
	a.addOutputFlag(cmd)
	return cmd
}

// usageOf is the key's counted use, zero when the service gave none.
func usageOf(v *credential.KeyView) latchkey.APIKeyUsage {
	if v.Usage == nil {
		return latchkey.APIKeyUsage{}
	}
	return *v.Usage
}

// useText is "120 let through, 3 refused by a rate limit".
func useText(requests, refused int64) string {
	return fmt.Sprintf("%d let through, %d refused by a rate limit", requests, refused)
}

// parseRateLimit reads REQUESTS/WINDOW[,burst=N]: 100/1m, 5000/1h,burst=100.
// The window is a duration in whole seconds (90s, 1m, 1h) or a bare unit
// (s, m, h).
func parseRateLimit(s string) (*latchkey.RateLimit, error) {
	bad := fmt.Errorf("the rate limit %q is not REQUESTS/WINDOW[,burst=N], such as 100/1m or 100/1m,burst=20", s)
	rate, burst, hasBurst := strings.Cut(strings.TrimSpace(s), ",")
	reqs, window, ok := strings.Cut(rate, "/")
	if !ok {
		return nil, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(reqs))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("the rate limit %q must allow at least 1 request per window", s)
	}
	window = strings.TrimSpace(window)
	if window == "s" || window == "m" || window == "h" {
		window = "1" + window
	}
	d, err := time.ParseDuration(window)
	if err != nil {
		return nil, bad
	}
	if d < time.Second || d > 24*time.Hour || d%time.Second != 0 {
		return nil, fmt.Errorf("the window of the rate limit %q must be whole seconds, 1s to 24h", s)
	}
	l := &latchkey.RateLimit{Requests: n, Window: int(d / time.Second)}
	if hasBurst {
		v, ok := strings.CutPrefix(strings.TrimSpace(burst), "burst=")
		if !ok {
			return nil, bad
		}
		if l.Burst, err = strconv.Atoi(v); err != nil || l.Burst < 0 {
			return nil, fmt.Errorf("the burst of the rate limit %q must be a number, 0 or more", s)
		}
	}
	return l, nil
}
