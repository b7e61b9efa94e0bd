package credential

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/postgres"
	"github.com/latchkey/latchkey/storetest"
)

// newLimitService is newService with rate_limits.key_maximum at 1000 per
// minute.
func newLimitService(t *testing.T, st latchkey.Store) *Service {
	t.Helper()
	svc, err := New(context.Background(), st, password.NewHasher(testParams, 4), slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 50, MaxAddressFailures: 500, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		PasswordMinLength: 10, KeyLimitMaximum: latchkey.RateLimit{Requests: 1000, Window: 60},
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, FlushEvery: 15 * time.Second, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func limitOf(t *testing.T, svc *Service, key string) *latchkey.RateLimit {
	t.Helper()
	p, err := svc.VerifyAPIKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return p.RateLimit
}

// TestKeyLimit: a key's own limit at creation and later, who may set it,
// the maximum, what is refused, and what the principal and the audit log
// say.
func TestKeyLimit(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			svc := newLimitService(t, st)
			op := Operator("tester")
			ctx := t.Context()
			mk := func(name string, roles ...string) (*UserView, *latchkey.Principal) {
				u, err := svc.CreateUser(ctx, op, NewUser{Directory: "LAB", Username: name, Roles: roles}, "local")
				if err != nil {
					t.Fatal(err)
				}
				k, err := svc.GenerateAPIKey(ctx, op, KeyRequest{OwnerID: u.ID}, "local")
				if err != nil {
					t.Fatal(err)
				}
				p, err := svc.VerifyAPIKey(ctx, k.Key)
				if err != nil {
					t.Fatal(err)
				}
				return u, p
			}
			owner, ownerP := mk("goran", latchkey.RoleAPIKeyUser)
			_, otherP := mk("other", latchkey.RoleAPIKeyUser)
			_, keyAdmin := mk("keyadmin", latchkey.RoleAPIKeyAdmin)
			signInOnly := latchkey.Role{Name: "signin-only", Abilities: []string{latchkey.AbilityAPIKeySignIn}}
			if _, err := svc.CreateRole(ctx, op, signInOnly, "local"); err != nil {
				t.Fatal(err)
			}
			_, plainP := mk("plain", "signin-only")

			// At creation.
			three := &latchkey.RateLimit{Requests: 3, Window: 60}
			v, err := svc.GenerateAPIKey(ctx, ownerP, KeyRequest{Name: "ci", RateLimit: three}, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if v.RateLimit == nil || *v.RateLimit != *three {
				t.Fatalf("view of the new key: rate limit %+v, want %+v", v.RateLimit, three)
			}
			if got := limitOf(t, svc, v.Key); got == nil || *got != *three {
				t.Fatalf("principal's limit %+v, want %+v", got, three)
			}
			if ownerP.RateLimit != nil {
				t.Fatalf("a key without a limit yields %+v", ownerP.RateLimit)
			}

			// Later: the owner, and a key manager; others see no such key.
			lim := &latchkey.RateLimit{Requests: 100, Window: 60, Burst: 20}
			got, err := svc.SetAPIKeyLimit(ctx, ownerP, v.ID, lim, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if got.RateLimit == nil || *got.RateLimit != *lim {
				t.Fatalf("view after the change: %+v", got.RateLimit)
			}
			if got := limitOf(t, svc, v.Key); got == nil || *got != *lim {
				t.Fatalf("principal's limit after the change %+v, want %+v", got, lim)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, keyAdmin, v.ID, three, "local"); err != nil {
				t.Fatalf("a key manager: %v", err)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, otherP, v.ID, nil, "local"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				t.Fatalf("another user: %v, want ENOTFOUND", err)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, plainP, plainP.CredentialID, three, "local"); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Fatalf("an owner without %s: %v, want EFORBIDDEN", latchkey.AbilityAPIKeyGenerate, err)
			}
			ro := *ownerP
			ro.ReadOnly = true
			if _, err := svc.SetAPIKeyLimit(ctx, &ro, v.ID, nil, "local"); latchkey.ErrorCode(err) != latchkey.EFORBIDDEN {
				t.Fatalf("a read-only key: %v, want EFORBIDDEN", err)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, op, "nosuchkey2345", three, "local"); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
				t.Fatalf("an unknown key: %v, want ENOTFOUND", err)
			}

			// The maximum, 1000 per minute: on average and at once.
			for _, tc := range []struct {
				l  latchkey.RateLimit
				ok bool
			}{
				{latchkey.RateLimit{Requests: 1000, Window: 60}, true},
				{latchkey.RateLimit{Requests: 16, Window: 1}, true},
				{latchkey.RateLimit{Requests: 500, Window: 60, Burst: 500}, true},
				{latchkey.RateLimit{Requests: 1001, Window: 60}, false},
				{latchkey.RateLimit{Requests: 17, Window: 1}, false},
				{latchkey.RateLimit{Requests: 1000, Window: 60, Burst: 1}, false},
				{latchkey.RateLimit{Requests: 0, Window: 60}, false},
				{latchkey.RateLimit{Requests: 1, Window: 0}, false},
				{latchkey.RateLimit{Requests: 1, Window: 86401}, false},
				{latchkey.RateLimit{Requests: 1, Window: 60, Burst: -1}, false},
			} {
				_, err := svc.SetAPIKeyLimit(ctx, op, v.ID, &tc.l, "local")
				if tc.ok && err != nil || !tc.ok && latchkey.ErrorCode(err) != latchkey.EINVALID {
					t.Errorf("limit %+v: %v", tc.l, err)
				}
				_, err = svc.GenerateAPIKey(ctx, op, KeyRequest{OwnerID: owner.ID, RateLimit: &tc.l}, "local")
				if tc.ok && err != nil || !tc.ok && latchkey.ErrorCode(err) != latchkey.EINVALID {
					t.Errorf("new key with limit %+v: %v", tc.l, err)
				}
			}
			_, err = svc.SetAPIKeyLimit(ctx, op, v.ID, &latchkey.RateLimit{Requests: 2000, Window: 60}, "local")
			if err == nil || !strings.Contains(err.Error(), "1000 requests per 1m") {
				t.Fatalf("above the maximum: %v; want a sentence naming the maximum", err)
			}

			// Rotating keeps the limit; clearing it leaves none.
			if _, err := svc.SetAPIKeyLimit(ctx, op, v.ID, lim, "local"); err != nil {
				t.Fatal(err)
			}
			rot, err := svc.RotateAPIKey(ctx, ownerP, v.ID, "local")
			if err != nil {
				t.Fatal(err)
			}
			if got := limitOf(t, svc, rot.Key); got == nil || *got != *lim {
				t.Fatalf("the rotated key's limit %+v, want %+v", got, lim)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, op, v.ID, nil, "local"); latchkey.ErrorCode(err) != latchkey.ECONFLICT {
				t.Fatalf("a revoked key: %v, want ECONFLICT", err)
			}
			if _, err := svc.SetAPIKeyLimit(ctx, ownerP, rot.ID, nil, "local"); err != nil {
				t.Fatal(err)
			}
			if got := limitOf(t, svc, rot.Key); got != nil {
				t.Fatalf("a cleared limit still yields %+v", got)
			}

			// Each change is in the audit log with the limit.
			events, err := st.AuditEvents(ctx, latchkey.AuditFilter{Action: latchkey.AuditAPIKeyLimit})
			if err != nil {
				t.Fatal(err)
			}
			var details []string
			for _, e := range events {
				if e.Target == v.ID || e.Target == rot.ID {
					details = append(details, e.Actor+" "+e.Detail)
				}
			}
			slices.Sort(details)
			want := []string{`LAB\goran rate limit 100/1m,burst=20`, `LAB\goran rate limit none`, `LAB\keyadmin rate limit 3/1m`,
				"cli:tester rate limit 1000/1m", "cli:tester rate limit 100/1m,burst=20", "cli:tester rate limit 16/1s", "cli:tester rate limit 500/1m,burst=500"}
			slices.Sort(want)
			if !slices.Equal(details, want) {
				t.Fatalf("audit details\n%q\nwant\n%q", details, want)
			}
		})
	}
}

// keyChanges tells of each change of the key id that st announces. It
// subscribes after the service over st did, so the service has heard a
// change first.
func keyChanges(t *testing.T, st latchkey.Store, id string) <-chan struct{} {
	heard := make(chan struct{}, 16)
	t.Cleanup(st.Subscribe(func(c latchkey.Change) {
		if c.Kind == latchkey.ChangeAPIKey && c.Name == id {
			heard <- struct{}{}
		}
	}))
	return heard
}

// TestKeyLimitReachesOtherNode: a limit set on node A is what node B's
// principal for the key carries within a second, by the change feed.
func TestKeyLimitReachesOtherNode(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	open := func() latchkey.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{Logger: slog.New(slog.DiscardHandler), Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	stA, stB := open(), open()
	svcA, svcB := newLimitService(t, stA), newLimitService(t, stB)
	ctx := t.Context()
	op := Operator("tester")
	u, err := svcA.CreateUser(ctx, op, NewUser{Directory: "LAB", Username: "goran", Roles: []string{latchkey.RoleAPIKeyUser}}, "local")
	if err != nil {
		t.Fatal(err)
	}
	k, err := svcA.GenerateAPIKey(ctx, op, KeyRequest{OwnerID: u.ID}, "local")
	if err != nil {
		t.Fatal(err)
	}
	heard := keyChanges(t, stB, k.ID)
	const tries = 10
	var took []time.Duration
	for i := range tries {
		var want *latchkey.RateLimit
		if i%2 == 0 {
			want = &latchkey.RateLimit{Requests: 3 + i, Window: 60}
		}
		before := limitOf(t, svcB, k.Key) // node B has the key in memory
		if (before == nil) != (want != nil) {
			t.Fatalf("try %d: node B's limit before the change is %+v", i, before)
		}
		start := time.Now()
		if _, err := svcA.SetAPIKeyLimit(ctx, op, k.ID, want, "local"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
		case <-time.After(5 * time.Second):
			t.Fatalf("try %d: node B did not hear the change within 5s", i)
		}
		got := limitOf(t, svcB, k.Key)
		took = append(took, time.Since(start))
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("try %d: node B applies %+v, want %+v", i, got, want)
		}
	}
	slices.Sort(took)
	t.Logf("limit set on node A until node B's principal carries it, %d tries: median %v, slowest %v", tries, took[len(took)/2], took[len(took)-1])
	if took[len(took)-1] > time.Second {
		t.Errorf("slowest %v: node B took longer than a second", took[len(took)-1])
	}
}

// TestKeyLimitFollowsSessions: a session opened with an API key (the
// Journyx login with the key as the password) spends the key's budget
// under the key's limit as it is now: set, changed and taken away after
// the session was opened. A session opened with a password has none.
func TestKeyLimitFollowsSessions(t *testing.T) {
	for _, b := range manageBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			st := b.open(t)
			svc := newLimitService(t, st)
			ctx := t.Context()
			op := Operator("tester")
			u, err := svc.CreateUser(ctx, op, NewUser{Directory: "LAB", Username: "goran", Roles: []string{latchkey.RoleAPIKeyUser}}, "local")
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.SetPassword(ctx, op, u.ID, "password-goran", "local"); err != nil {
				t.Fatal(err)
			}
			five := &latchkey.RateLimit{Requests: 5, Window: 60}
			k, err := svc.GenerateAPIKey(ctx, op, KeyRequest{OwnerID: u.ID, RateLimit: five}, "local")
			if err != nil {
				t.Fatal(err)
			}
			heard := keyChanges(t, st, k.ID)
			_, keyToken, _, err := svc.Login(ctx, `LAB\goran`, k.Key, "192.0.2.1:5", "test")
			if err != nil {
				t.Fatal(err)
			}
			_, pwToken, _, err := svc.Login(ctx, `LAB\goran`, "password-goran", "192.0.2.1:5", "test")
			if err != nil {
				t.Fatal(err)
			}
			session := func(token string) *latchkey.Principal {
				t.Helper()
				p, _, err := svc.VerifySession(ctx, token)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			if p := session(keyToken); p.RateLimitID != k.ID || p.RateLimit == nil || *p.RateLimit != *five {
				t.Fatalf("the key's session: limit %+v of %q, want %+v of %q", p.RateLimit, p.RateLimitID, five, k.ID)
			}
			if p := session(pwToken); p.RateLimitID != "" || p.RateLimit != nil {
				t.Fatalf("the password's session: limit %+v of %q, want none", p.RateLimit, p.RateLimitID)
			}
			for _, want := range []*latchkey.RateLimit{{Requests: 9, Window: 60}, nil, five} {
				if _, err := svc.SetAPIKeyLimit(ctx, op, k.ID, want, "local"); err != nil {
					t.Fatal(err)
				}
				select {
				case <-heard:
				case <-time.After(5 * time.Second):
					t.Fatal("the change of the key was not heard within 5s")
				}
				p := session(keyToken)
				if got := p.RateLimit; (got == nil) != (want == nil) || got != nil && *got != *want {
					t.Fatalf("after setting %+v, the key's session has %+v", want, got)
				}
				if p.RateLimitID != k.ID {
					t.Fatalf("the key's session spends %q's budget", p.RateLimitID)
				}
			}
			if err := svc.RevokeAPIKey(ctx, op, k.ID, "local"); err != nil {
				t.Fatal(err)
			}
			<-heard
			if _, _, err := svc.VerifySession(ctx, keyToken); err == nil {
				t.Fatal("the session of a revoked key still works")
			}
		})
	}
}
