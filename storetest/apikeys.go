package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var apiKeyTests = []storeTest{
	{"RateLimit", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		lim := &latchkey.RateLimit{Requests: 100, Window: 60, Burst: 20}
		k := newKey(t, s, u.ID, "lk_lim", func(k *latchkey.APIKey) { k.RateLimit = lim })
		got, err := s.APIKey(ctx, k.ID)
		must(t, err)
		equal(t, "limit as made", got.RateLimit, lim)
		got, err = s.APIKeyByHash(ctx, k.Hash)
		must(t, err)
		equal(t, "limit by hash", got.RateLimit, lim)
		plain := newKey(t, s, u.ID, "lk_plain", nil)
		got, err = s.APIKey(ctx, plain.ID)
		must(t, err)
		if got.RateLimit != nil {
			t.Fatalf("a key made without a limit has %+v", got.RateLimit)
		}

		// Setting one: the change and its record in one transaction.
		r := Record(t, s)
		rec := &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyLimit, Actor: "cli", Target: plain.ID, SubjectID: u.ID, Detail: "3/1m"}
		three := &latchkey.RateLimit{Requests: 3, Window: 60}
		set, err := s.SetAPIKeyLimit(ctx, plain.ID, three, rec)
		must(t, err)
		equal(t, "the key as set", set.RateLimit, three)
		equal(t, "its id", set.ID, plain.ID)
		if rec.ID == 0 {
			t.Fatalf("the record has no id: %s", show(rec))
		}
		equal(t, "changes", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeAPIKey, Name: plain.ID, UserID: u.ID}})
		keys, err := s.APIKeys(ctx, latchkey.APIKeyFilter{UserID: u.ID})
		must(t, err)
		for _, k := range keys {
			want := map[string]*latchkey.RateLimit{"lk_lim": lim, "lk_plain": three}[k.ID]
			equal(t, "listed limit of "+k.ID, k.RateLimit, want)
		}

		// Clearing it.
		set, err = s.SetAPIKeyLimit(ctx, plain.ID, nil, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyLimit, Target: plain.ID})
		must(t, err)
		if set.RateLimit != nil {
			t.Fatalf("a cleared limit reads %+v", set.RateLimit)
		}
		got, err = s.APIKey(ctx, plain.ID)
		must(t, err)
		if got.RateLimit != nil {
			t.Fatalf("a cleared limit reads %+v", got.RateLimit)
		}
		equal(t, "changes of clearing", r.Take(), []latchkey.Change{{Kind: latchkey.ChangeAPIKey, Name: plain.ID, UserID: u.ID}})

		// What fails changes and records nothing.
		_, err = s.SetAPIKeyLimit(ctx, "lk_nope", three, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyLimit})
		wantCode(t, err, latchkey.ENOTFOUND)
		for _, bad := range []latchkey.RateLimit{{Requests: 0, Window: 60}, {Requests: 1, Window: 0}, {Requests: 1, Window: 60, Burst: -1}} {
			_, err = s.SetAPIKeyLimit(ctx, k.ID, &bad, &latchkey.AuditEvent{Action: latchkey.AuditAPIKeyLimit})
			wantCode(t, err, latchkey.EINVALID)
		}
		wantCode(t, s.CreateAPIKey(ctx, &latchkey.APIKey{ID: "lk_bad", UserID: u.ID, ExpiresAt: now().Add(time.Hour),
			Hash: []byte("hash of lk_bad"), RateLimit: &latchkey.RateLimit{Requests: 0, Window: 60}}), latchkey.EINVALID)
		events, err := s.AuditEvents(ctx, latchkey.AuditFilter{})
		must(t, err)
		equal(t, "audit events", len(events), 2)
		got, err = s.APIKey(ctx, k.ID)
		must(t, err)
		equal(t, "limit after refusals", got.RateLimit, lim)
		equal(t, "no change from refusals", len(r.Take()), 0)
	}},
	{"CreateAndRead", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		k := newKey(t, s, u.ID, "lk_abc", func(k *latchkey.APIKey) {
			k.ReadOnly = true
			k.CreatedAt = time.Date(2030, 1, 2, 3, 4, 5, 6789, time.FixedZone("CET", 3600))
		})
		if want := time.Date(2030, 1, 2, 2, 4, 5, 6000, time.UTC); !k.CreatedAt.Equal(want) || k.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v, want %v", k.CreatedAt, want)
		}
		got, err := s.APIKey(ctx, "lk_abc")
		must(t, err)
		equal(t, "APIKey", got, k)
		got, err = s.APIKeyByHash(ctx, []byte("hash of lk_abc"))
		must(t, err)
		equal(t, "APIKeyByHash", got, k)
		if got.Reveal != nil || got.LastUsedAt != nil || got.RevokedAt != nil {
			t.Fatalf("new key = %s", show(got))
		}
		if !got.Usable(time.Now()) {
			t.Fatal("a new key is not usable")
		}
		dflt := newKey(t, s, u.ID, "lk_now", func(k *latchkey.APIKey) { k.CreatedAt = time.Time{} })
		if time.Since(dflt.CreatedAt) > time.Minute || dflt.CreatedAt.After(time.Now()) {
			t.Fatalf("a zero CreatedAt became %v, want now", dflt.CreatedAt)
		}
	}},
	{"CreateRejects", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		newKey(t, s, u.ID, "lk_a", nil)
		for _, tc := range []struct {
			name string
			edit func(*latchkey.APIKey)
			code string
		}{
			{"same id", func(k *latchkey.APIKey) { k.ID = "lk_a" }, latchkey.ECONFLICT},
			{"same hash", func(k *latchkey.APIKey) { k.Hash = []byte("hash of lk_a") }, latchkey.ECONFLICT},
			{"unknown user", func(k *latchkey.APIKey) { k.UserID = 424242 }, latchkey.ENOTFOUND},
			{"no id", func(k *latchkey.APIKey) { k.ID = "" }, latchkey.EINVALID},
			{"no hash", func(k *latchkey.APIKey) { k.Hash = nil }, latchkey.EINVALID},
			{"no expiry", func(k *latchkey.APIKey) { k.ExpiresAt = time.Time{} }, latchkey.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k := &latchkey.APIKey{ID: "lk_b", UserID: u.ID, ExpiresAt: now().Add(time.Hour), Hash: []byte("hash of lk_b")}
				tc.edit(k)
				wantCode(t, s.CreateAPIKey(ctx, k), tc.code)
			})
		}
		_, err := s.APIKey(ctx, "lk_b")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"NotFound", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		_, err := s.APIKey(ctx, "lk_none")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.APIKeyByHash(ctx, []byte("no such hash"))
		wantCode(t, err, latchkey.ENOTFOUND)
		if bytes.Contains([]byte(err.Error()), []byte("no such hash")) {
			t.Fatalf("the error %q shows the hash", err)
		}
		wantCode(t, s.RevokeAPIKey(ctx, "lk_none", time.Now()), latchkey.ENOTFOUND)
		_, err = s.TakeAPIKeyReveal(ctx, "lk_none")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"ListFilters", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u, v := newUser(t, s, "goran"), newUser(t, s, "anna")
		base := now().Add(-time.Hour)
		at := func(d time.Duration) func(*latchkey.APIKey) {
			return func(k *latchkey.APIKey) { k.CreatedAt = base.Add(d) }
		}
		newKey(t, s, u.ID, "k1", at(1*time.Minute))
		newKey(t, s, u.ID, "k2", at(2*time.Minute))
		newKey(t, s, v.ID, "k3", at(3*time.Minute))
		newKey(t, s, u.ID, "k4", func(k *latchkey.APIKey) { at(4 * time.Minute)(k); k.ExpiresAt = base })
		newKey(t, s, u.ID, "k5", at(5*time.Minute))
		must(t, s.RevokeAPIKey(ctx, "k5", time.Now()))
		for _, tc := range []struct {
			f    latchkey.APIKeyFilter
			want []string
		}{
			{latchkey.APIKeyFilter{}, []string{"k3", "k2", "k1"}},
			{latchkey.APIKeyFilter{UserID: u.ID}, []string{"k2", "k1"}},
			{latchkey.APIKeyFilter{UserID: u.ID, IncludeRevoked: true}, []string{"k5", "k2", "k1"}},
			{latchkey.APIKeyFilter{UserID: u.ID, IncludeExpired: true}, []string{"k4", "k2", "k1"}},
			{latchkey.APIKeyFilter{IncludeExpired: true, IncludeRevoked: true}, []string{"k5", "k4", "k3", "k2", "k1"}},
			{latchkey.APIKeyFilter{UserID: 424242}, []string{}},
		} {
			keys, err := s.APIKeys(ctx, tc.f)
			must(t, err)
			got := []string{}
			for _, k := range keys {
				got = append(got, k.ID)
			}
			equal(t, show(tc.f), got, tc.want)
		}
	}},
	{"Revoke", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		k := newKey(t, s, u.ID, "lk_a", nil)
		at := now()
		must(t, s.RevokeAPIKey(ctx, k.ID, at))
		got, err := s.APIKey(ctx, k.ID)
		must(t, err)
		if got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Fatalf("RevokedAt = %v, want %v", got.RevokedAt, at)
		}
		if got.Usable(time.Now()) {
			t.Fatal("a revoked key is usable")
		}
		wantCode(t, s.RevokeAPIKey(ctx, k.ID, at.Add(time.Minute)), latchkey.ECONFLICT)
		got, err = s.APIKeyByHash(ctx, k.Hash)
		must(t, err)
		if !got.RevokedAt.Equal(at) {
			t.Fatalf("RevokedAt after a second revoke = %v, want %v", got.RevokedAt, at)
		}
	}},
	{"RevealTakenOnce", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		owner, maker := newUser(t, s, "goran"), newUser(t, s, "admin")
		secret := []byte("sealed secret")
		k := newKey(t, s, owner.ID, "lk_a", func(k *latchkey.APIKey) { k.CreatedBy = maker.ID; k.Reveal = secret })
		got, err := s.APIKey(ctx, k.ID)
		must(t, err)
		equal(t, "key with a reveal", got, k)
		revealed, err := s.TakeAPIKeyReveal(ctx, k.ID)
		must(t, err)
		equal(t, "reveal", revealed, secret)
		_, err = s.TakeAPIKeyReveal(ctx, k.ID)
		wantCode(t, err, latchkey.ENOTFOUND)
		got, err = s.APIKey(ctx, k.ID)
		must(t, err)
		if got.Reveal != nil {
			t.Fatal("the reveal is still stored after it was taken")
		}
		plain := newKey(t, s, owner.ID, "lk_b", nil)
		_, err = s.TakeAPIKeyReveal(ctx, plain.ID)
		wantCode(t, err, latchkey.ENOTFOUND)
		revoked := newKey(t, s, owner.ID, "lk_c", func(k *latchkey.APIKey) { k.Reveal = secret })
		must(t, s.RevokeAPIKey(ctx, revoked.ID, time.Now()))
		_, err = s.TakeAPIKeyReveal(ctx, revoked.ID)
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"RevealTakenOnceConcurrently", func(t *testing.T, s latchkey.Store) {
		u := newUser(t, s, "goran")
		newKey(t, s, u.ID, "lk_a", func(k *latchkey.APIKey) { k.Reveal = []byte("sealed") })
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			successes int
		)
		for range 8 {
			wg.Go(func() {
				_, err := s.TakeAPIKeyReveal(t.Context(), "lk_a")
				mu.Lock()
				defer mu.Unlock()
				switch latchkey.ErrorCode(err) {
				case "":
					successes++
				case latchkey.ENOTFOUND:
				default:
					t.Errorf("TakeAPIKeyReveal: %v", err)
				}
			})
		}
		wg.Wait()
		equal(t, "takers that got the reveal", successes, 1)
	}},
	{"TouchKeepsTheLatest", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		newKey(t, s, u.ID, "a", nil)
		newKey(t, s, u.ID, "b", nil)
		t0 := now()
		lastUsed := func(id string) *time.Time {
			k, err := s.APIKey(ctx, id)
			must(t, err)
			return k.LastUsedAt
		}
		must(t, s.TouchAPIKeys(ctx, map[string]time.Time{"a": t0.Add(2 * time.Second), "b": t0, "unknown": t0}))
		must(t, s.TouchAPIKeys(ctx, map[string]time.Time{"a": t0.Add(time.Second), "b": t0.Add(3 * time.Second)}))
		if got := lastUsed("a"); got == nil || !got.Equal(t0.Add(2*time.Second)) {
			t.Fatalf("a: LastUsedAt = %v, want %v (the later)", got, t0.Add(2*time.Second))
		}
		if got := lastUsed("b"); got == nil || !got.Equal(t0.Add(3*time.Second)) {
			t.Fatalf("b: LastUsedAt = %v, want %v", got, t0.Add(3*time.Second))
		}
		must(t, s.TouchAPIKeys(ctx, nil))
	}},
	{"UsageAddsAndSums", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		h := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		past := h.Add(-10 * 24 * time.Hour)
		// Two writes to the same hour add up; many keys in one write.
		must(t, s.AddAPIKeyUsage(ctx, h, map[string]latchkey.APIKeyCount{"a": {Requests: 3, Refused: 1}, "b": {Requests: 5}}, past))
		must(t, s.AddAPIKeyUsage(ctx, h.Add(59*time.Minute), map[string]latchkey.APIKeyCount{"a": {Requests: 2, Refused: 2}}, past))
		// Earlier hours count for the day only; 24 hours back is out.
		must(t, s.AddAPIKeyUsage(ctx, h.Add(-time.Hour), map[string]latchkey.APIKeyCount{"a": {Requests: 10, Refused: 4}}, past))
		must(t, s.AddAPIKeyUsage(ctx, h.Add(-23*time.Hour), map[string]latchkey.APIKeyCount{"a": {Requests: 100}}, past))
		must(t, s.AddAPIKeyUsage(ctx, h.Add(-24*time.Hour), map[string]latchkey.APIKeyCount{"a": {Requests: 1000}}, past))
		// A later hour is not counted for an earlier one.
		must(t, s.AddAPIKeyUsage(ctx, h.Add(time.Hour), map[string]latchkey.APIKeyCount{"a": {Requests: 7}}, past))
		got, err := s.APIKeyUsage(ctx, []string{"a", "b", "none"}, h.Add(30*time.Minute))
		must(t, err)
		equal(t, "usage", got, map[string]latchkey.APIKeyUsage{
			"a": {RequestsHour: 5, RefusedHour: 3, RequestsDay: 115, RefusedDay: 7},
			"b": {RequestsHour: 5, RequestsDay: 5},
		})
		got, err = s.APIKeyUsage(ctx, nil, h)
		must(t, err)
		equal(t, "usage of no keys", len(got), 0)
		must(t, s.AddAPIKeyUsage(ctx, h, nil, past))
	}},
	{"UsageDeletesOldBuckets", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		h := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		old := h.Add(-3 * 24 * time.Hour)
		must(t, s.AddAPIKeyUsage(ctx, old, map[string]latchkey.APIKeyCount{"a": {Requests: 9}}, old.Add(-time.Hour)))
		got, err := s.APIKeyUsage(ctx, []string{"a"}, old)
		must(t, err)
		equal(t, "before the delete", got["a"].RequestsHour, int64(9))
		// The write of a later hour deletes what is older than two days.
		must(t, s.AddAPIKeyUsage(ctx, h, map[string]latchkey.APIKeyCount{"a": {Requests: 1}}, h.Add(-48*time.Hour)))
		got, err = s.APIKeyUsage(ctx, []string{"a"}, old)
		must(t, err)
		equal(t, "after the delete", len(got), 0)
		got, err = s.APIKeyUsage(ctx, []string{"a"}, h)
		must(t, err)
		equal(t, "the new bucket", got["a"], latchkey.APIKeyUsage{RequestsHour: 1, RequestsDay: 1})
	}},
}
