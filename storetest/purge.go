package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var purgeTests = []storeTest{
	{"PurgeExpired", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		cutoff := now().Add(-time.Hour)
		long, short := cutoff.Add(-time.Hour), cutoff.Add(time.Minute)

		newSession(t, s, u.ID, "s-active", nil)
		newSession(t, s, u.ID, "s-expired", func(ses *latchkey.Session) { ses.ExpiresAt = long })
		newSession(t, s, u.ID, "s-expired-recently", func(ses *latchkey.Session) { ses.ExpiresAt = short })
		newSession(t, s, u.ID, "s-ended", nil)
		must(t, s.EndSession(ctx, "s-ended", long, nil))
		newSession(t, s, u.ID, "s-ended-recently", nil)
		must(t, s.EndSession(ctx, "s-ended-recently", short, nil))

		newKey(t, s, u.ID, "k-active", nil)
		newKey(t, s, u.ID, "k-expired", func(k *latchkey.APIKey) { k.ExpiresAt = long })
		newKey(t, s, u.ID, "k-expired-recently", func(k *latchkey.APIKey) { k.ExpiresAt = short })
		newKey(t, s, u.ID, "k-revoked", nil)
		must(t, s.RevokeAPIKey(ctx, "k-revoked", long))
		newKey(t, s, u.ID, "k-revoked-recently", nil)
		must(t, s.RevokeAPIKey(ctx, "k-revoked-recently", short))

		for jti, exp := range map[string]time.Time{"j-old": long, "j-recent": short, "j-live": now().Add(time.Hour)} {
			ok, err := s.UseJTI(ctx, jti, exp)
			must(t, err)
			if !ok {
				t.Fatalf("UseJTI(%s) = false", jti)
			}
		}

		n, err := s.PurgeExpired(ctx, cutoff)
		must(t, err)
		equal(t, "rows purged", n, int64(5))
		for _, id := range []string{"s-active", "s-expired-recently", "s-ended-recently"} {
			_, err := s.Session(ctx, id)
			must(t, err)
		}
		for _, id := range []string{"s-expired", "s-ended"} {
			_, err := s.Session(ctx, id)
			wantCode(t, err, latchkey.ENOTFOUND)
		}
		for _, id := range []string{"k-active", "k-expired-recently", "k-revoked-recently"} {
			_, err := s.APIKey(ctx, id)
			must(t, err)
		}
		for _, id := range []string{"k-expired", "k-revoked"} {
			_, err := s.APIKey(ctx, id)
			wantCode(t, err, latchkey.ENOTFOUND)
		}
		// j-old went, so it may be used again; j-live stays used.
		for jti, want := range map[string]bool{"j-old": true, "j-live": false} {
			ok, err := s.UseJTI(ctx, jti, now().Add(time.Hour))
			must(t, err)
			if ok != want {
				t.Fatalf("UseJTI(%s) after purge = %v, want %v", jti, ok, want)
			}
		}
		n, err = s.PurgeExpired(ctx, cutoff)
		must(t, err)
		equal(t, "rows purged the second time", n, int64(0))
		// The user and the built-ins stay.
		_, err = s.User(ctx, u.ID)
		must(t, err)
		_, err = s.Role(ctx, latchkey.RoleAdmin)
		must(t, err)
	}},
}
