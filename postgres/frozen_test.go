package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storetest"
)

// storeCalls is one call of every method of latchkey.Store that reaches the
// database, with arguments it accepts.
func storeCalls() []struct {
	name string
	call func(ctx context.Context, s latchkey.Store) error
} {
	now := time.Now()
	later := now.Add(time.Hour)
	hash := make([]byte, 32)
	type call = func(ctx context.Context, s latchkey.Store) error
	calls := []struct {
		name string
		call call
	}{
		{"CreateUser", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateUser(ctx, &latchkey.User{Directory: "LOCAL", Username: "frozen"}, nil)
		}},
		{"User", func(ctx context.Context, s latchkey.Store) error { _, err := s.User(ctx, 1); return err }},
		{"UserByName", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.UserByName(ctx, "LOCAL", "a")
			return err
		}},
		{"UserByEmail", func(ctx context.Context, s latchkey.Store) error { _, err := s.UserByEmail(ctx, "a@b"); return err }},
		{"Users", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.Users(ctx, latchkey.UserFilter{})
			return err
		}},
		{"UpdateUser", func(ctx context.Context, s latchkey.Store) error {
			off := true
			_, err := s.UpdateUser(ctx, 1, latchkey.UserUpdate{Disabled: &off}, nil)
			return err
		}},
		{"Directories", func(ctx context.Context, s latchkey.Store) error { _, err := s.Directories(ctx); return err }},
		{"CreateAbility", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateAbility(ctx, &latchkey.Ability{Name: "frozen.read"}, nil)
		}},
		{"Abilities", func(ctx context.Context, s latchkey.Store) error { _, err := s.Abilities(ctx); return err }},
		{"CreateRole", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateRole(ctx, &latchkey.Role{Name: "frozen"}, nil)
		}},
		{"Role", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.Role(ctx, latchkey.RoleAdmin)
			return err
		}},
		{"Roles", func(ctx context.Context, s latchkey.Store) error { _, err := s.Roles(ctx); return err }},
		{"UpdateRole", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.UpdateRole(ctx, "frozen", latchkey.RoleUpdate{Abilities: &[]string{latchkey.AbilityAuditRead}}, nil)
			return err
		}},
		{"DeleteRole", func(ctx context.Context, s latchkey.Store) error { return s.DeleteRole(ctx, "frozen", nil) }},
		{"DeleteUser", func(ctx context.Context, s latchkey.Store) error { return s.DeleteUser(ctx, 1, nil) }},
		{"DeleteAbility", func(ctx context.Context, s latchkey.Store) error { return s.DeleteAbility(ctx, "frozen.x", nil) }},
		{"GrantRole", func(ctx context.Context, s latchkey.Store) error { return s.GrantRole(ctx, 1, latchkey.RoleAdmin, nil) }},
		{"RevokeRole", func(ctx context.Context, s latchkey.Store) error {
			return s.RevokeRole(ctx, 1, latchkey.RoleAdmin, nil)
		}},
		{"UserAccess", func(ctx context.Context, s latchkey.Store) error { _, _, err := s.UserAccess(ctx, 1); return err }},
		{"CreateAPIKey", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateAPIKey(ctx, &latchkey.APIKey{ID: "frozen", UserID: 1, Hash: hash, ExpiresAt: later})
		}},
		{"APIKey", func(ctx context.Context, s latchkey.Store) error { _, err := s.APIKey(ctx, "k"); return err }},
		{"APIKeyByHash", func(ctx context.Context, s latchkey.Store) error { _, err := s.APIKeyByHash(ctx, hash); return err }},
		{"APIKeys", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.APIKeys(ctx, latchkey.APIKeyFilter{})
			return err
		}},
		{"RevokeAPIKey", func(ctx context.Context, s latchkey.Store) error { return s.RevokeAPIKey(ctx, "k", now) }},
		{"TouchAPIKeys", func(ctx context.Context, s latchkey.Store) error {
			return s.TouchAPIKeys(ctx, map[string]time.Time{"k": now})
		}},
		{"TakeAPIKeyReveal", func(ctx context.Context, s latchkey.Store) error { _, err := s.TakeAPIKeyReveal(ctx, "k"); return err }},
		{"CreateSession", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateSession(ctx, &latchkey.Session{ID: "frozen", UserID: 1, Hash: hash, ExpiresAt: later})
		}},
		{"Session", func(ctx context.Context, s latchkey.Store) error { _, err := s.Session(ctx, "s"); return err }},
		{"SessionByHash", func(ctx context.Context, s latchkey.Store) error { _, err := s.SessionByHash(ctx, hash); return err }},
		{"Sessions", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.Sessions(ctx, latchkey.SessionFilter{})
			return err
		}},
		{"TouchSessions", func(ctx context.Context, s latchkey.Store) error {
			return s.TouchSessions(ctx, map[string]time.Time{"s": now})
		}},
		{"EndSession", func(ctx context.Context, s latchkey.Store) error { return s.EndSession(ctx, "s", now, nil) }},
		{"EndUserSessions", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.EndUserSessions(ctx, 1, now, nil)
			return err
		}},
		{"AppendAudit", func(ctx context.Context, s latchkey.Store) error {
			return s.AppendAudit(ctx, &latchkey.AuditEvent{Action: latchkey.AuditUserCreate, Time: now})
		}},
		{"AuditEvents", func(ctx context.Context, s latchkey.Store) error {
			_, err := s.AuditEvents(ctx, latchkey.AuditFilter{})
			return err
		}},
		{"UseJTI", func(ctx context.Context, s latchkey.Store) error { _, err := s.UseJTI(ctx, "jti", later); return err }},
		{"CreateSigningKey", func(ctx context.Context, s latchkey.Store) error {
			return s.CreateSigningKey(ctx, &latchkey.SigningKey{ID: "frozen", Algorithm: "ES256", PrivateKey: hash, PublicKey: hash,
				ActiveAt: now, RetireAt: later})
		}},
		{"SigningKeys", func(ctx context.Context, s latchkey.Store) error { _, err := s.SigningKeys(ctx); return err }},
		{"DeleteSigningKey", func(ctx context.Context, s latchkey.Store) error { return s.DeleteSigningKey(ctx, "frozen") }},
		{"Ping", func(ctx context.Context, s latchkey.Store) error { return s.Ping(ctx) }},
		{"PurgeExpired", func(ctx context.Context, s latchkey.Store) error { _, err := s.PurgeExpired(ctx, now); return err }},
	}
	return calls
}

// TestFrozenEveryCall freezes the network between the store and PostgreSQL
// (connections open, nothing forwarded) and checks that every method of the
// store answers EUNAVAILABLE within its timeout and a fifth, all at once
// (more calls than the pool has connections), that a caller's sooner
// deadline is kept, and that Close does not wait for pgx's cleanup of the
// connections that stopped answering (15 s a connection, unbounded).
func TestFrozenEveryCall(t *testing.T) {
	const timeout = 300 * time.Millisecond
	const bound = timeout + timeout/5
	proxy, proxied := storetest.PostgresThroughProxy(t, storetest.PostgresDSN(t))
	log, _ := newLogs(t)
	db, err := Open(t.Context(), proxied, Options{Logger: log, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	proxy.Freeze()

	calls := storeCalls()
	type result struct {
		err  error
		took time.Duration
	}
	results := make([]result, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			start := time.Now()
			err := c.call(context.Background(), db)
			results[i] = result{err, time.Since(start)}
		})
	}
	wg.Wait()
	var slowest time.Duration
	for i, c := range calls {
		r := results[i]
		slowest = max(slowest, r.took)
		if code := latchkey.ErrorCode(r.err); code != latchkey.EUNAVAILABLE {
			t.Errorf("%s on a frozen store: %v (code %q), want %q", c.name, r.err, code, latchkey.EUNAVAILABLE)
		}
		if r.took > bound {
			t.Errorf("%s on a frozen store took %s, want at most %s", c.name, r.took, bound)
		}
	}
	t.Logf("%d calls at once on a frozen store: the slowest answered after %d ms (timeout %d ms)",
		len(calls), slowest.Milliseconds(), timeout.Milliseconds())
	if msg := latchkey.ErrorMessage(results[0].err); msg != "The database did not answer in time; try again later." {
		t.Errorf("client message %q", msg)
	}

	ctx, cancel := context.WithTimeout(t.Context(), timeout/3)
	defer cancel()
	start := time.Now()
	_, err = db.User(ctx, 1)
	if took := time.Since(start); latchkey.ErrorCode(err) != latchkey.EUNAVAILABLE || took > timeout/3+timeout/5 {
		t.Errorf("with the caller's deadline of %s: %v after %s", timeout/3, err, took)
	}

	start = time.Now()
	db.Close()
	took := time.Since(start)
	t.Logf("Close on a frozen store after timed-out calls: %d ms", took.Milliseconds())
	if took > 2*timeout+timeout/2 {
		t.Errorf("Close took %s, want at most %s (a cancel request and a drain, each bounded by the timeout)", took, 2*timeout+timeout/2)
	}
}

// TestTimeoutLeavesIdleConnections checks that the deadline a new connection
// gets until it is set up does not outlive the setup: the listener and the
// pooled connections stay usable after they have been idle for longer than
// the timeout.
func TestTimeoutLeavesIdleConnections(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	log, l := newLogs(t)
	a, err := Open(ctx, dsn, Options{Logger: log, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := openDSN(t, dsn)
	heard := storetest.Record(t, a)
	pid := a.listenerPID()
	u := newUser(t, b, "ivo")
	if _, err := a.User(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	<-time.After(5 * timeout) // not an assertion: lets the connections idle past the timeout
	if _, err := a.User(ctx, u.ID); err != nil {
		t.Fatalf("a pooled connection after idling: %v", err)
	}
	if _, err := b.EndUserSessions(ctx, u.ID, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	want := []latchkey.Change{{Kind: latchkey.ChangeUserSession, UserID: u.ID}}
	heard.WaitUntil(t, 5*time.Second, fmt.Sprintf("not %+v", want), func(got []latchkey.Change) bool { return slices.Equal(got, want) })
	if a.listenerPID() != pid || len(l.warnings()) != 0 {
		t.Fatalf("the listener reconnected (pid %d, then %d; warnings %v)", pid, a.listenerPID(), l.warnings())
	}
}
