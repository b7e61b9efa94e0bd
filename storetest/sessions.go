package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var sessionTests = []storeTest{
	{"CreateAndRead", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		ses := newSession(t, s, u.ID, "s1", func(ses *latchkey.Session) {
			ses.Method, ses.CredentialID, ses.ReadOnly = "apikey", "lk_abc", true
		})
		got, err := s.Session(ctx, "s1")
		must(t, err)
		equal(t, "Session", got, ses)
		got, err = s.SessionByHash(ctx, []byte("hash of s1"))
		must(t, err)
		equal(t, "SessionByHash", got, ses)
		if !got.Active(time.Now()) {
			t.Fatal("a new session is not active")
		}
		dflt := newSession(t, s, u.ID, "s2", func(ses *latchkey.Session) { ses.CreatedAt, ses.LastSeenAt = time.Time{}, time.Time{} })
		if time.Since(dflt.CreatedAt) > time.Minute || !dflt.LastSeenAt.Equal(dflt.CreatedAt) {
			t.Fatalf("zero times became %v and %v, want now", dflt.CreatedAt, dflt.LastSeenAt)
		}
	}},
	{"CreateRejects", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		newSession(t, s, u.ID, "s1", nil)
		for _, tc := range []struct {
			name string
			edit func(*latchkey.Session)
			code string
		}{
			{"same id", func(ses *latchkey.Session) { ses.ID = "s1" }, latchkey.ECONFLICT},
			{"same hash", func(ses *latchkey.Session) { ses.Hash = []byte("hash of s1") }, latchkey.ECONFLICT},
			{"unknown user", func(ses *latchkey.Session) { ses.UserID = 424242 }, latchkey.ENOTFOUND},
			{"no id", func(ses *latchkey.Session) { ses.ID = "" }, latchkey.EINVALID},
			{"no hash", func(ses *latchkey.Session) { ses.Hash = nil }, latchkey.EINVALID},
			{"no expiry", func(ses *latchkey.Session) { ses.ExpiresAt = time.Time{} }, latchkey.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ses := &latchkey.Session{ID: "s2", UserID: u.ID, ExpiresAt: now().Add(time.Hour), Hash: []byte("hash of s2")}
				tc.edit(ses)
				wantCode(t, s.CreateSession(ctx, ses), tc.code)
			})
		}
		_, err := s.Session(ctx, "s2")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"NotFound", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		_, err := s.Session(ctx, "none")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.SessionByHash(ctx, []byte("none"))
		wantCode(t, err, latchkey.ENOTFOUND)
		wantCode(t, s.EndSession(ctx, "none", time.Now(), nil), latchkey.ENOTFOUND)
	}},
	{"ListFilters", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u, v := newUser(t, s, "goran"), newUser(t, s, "anna")
		base := now().Add(-time.Hour)
		at := func(d time.Duration) func(*latchkey.Session) {
			return func(ses *latchkey.Session) { ses.CreatedAt, ses.LastSeenAt = base.Add(d), base.Add(d) }
		}
		newSession(t, s, u.ID, "s1", at(1*time.Minute))
		newSession(t, s, v.ID, "s2", at(2*time.Minute))
		newSession(t, s, u.ID, "s3", func(ses *latchkey.Session) { at(3 * time.Minute)(ses); ses.ExpiresAt = base })
		newSession(t, s, u.ID, "s4", at(4*time.Minute))
		must(t, s.EndSession(ctx, "s4", time.Now(), nil))
		newSession(t, s, u.ID, "s5", at(5*time.Minute))
		for _, tc := range []struct {
			f    latchkey.SessionFilter
			want []string
		}{
			{latchkey.SessionFilter{}, []string{"s5", "s2", "s1"}},
			{latchkey.SessionFilter{UserID: u.ID}, []string{"s5", "s1"}},
			{latchkey.SessionFilter{UserID: u.ID, IncludeEnded: true}, []string{"s5", "s4", "s3", "s1"}},
			{latchkey.SessionFilter{IncludeEnded: true}, []string{"s5", "s4", "s3", "s2", "s1"}},
			{latchkey.SessionFilter{UserID: 424242}, []string{}},
		} {
			list, err := s.Sessions(ctx, tc.f)
			must(t, err)
			got := []string{}
			for _, ses := range list {
				got = append(got, ses.ID)
			}
			equal(t, show(tc.f), got, tc.want)
		}
	}},
	{"TouchKeepsTheLatest", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		a := newSession(t, s, u.ID, "a", nil)
		newSession(t, s, u.ID, "b", nil)
		t0 := a.LastSeenAt
		must(t, s.TouchSessions(ctx, map[string]time.Time{"a": t0.Add(2 * time.Second), "b": t0.Add(-time.Hour), "x": t0}))
		must(t, s.TouchSessions(ctx, map[string]time.Time{"a": t0.Add(time.Second), "b": t0.Add(3 * time.Second)}))
		for id, want := range map[string]time.Time{"a": t0.Add(2 * time.Second), "b": t0.Add(3 * time.Second)} {
			got, err := s.Session(ctx, id)
			must(t, err)
			if !got.LastSeenAt.Equal(want) {
				t.Fatalf("%s: LastSeenAt = %v, want %v", id, got.LastSeenAt, want)
			}
		}
		must(t, s.TouchSessions(ctx, map[string]time.Time{}))
	}},
	{"EndSession", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran")
		newSession(t, s, u.ID, "s1", nil)
		at := now()
		must(t, s.EndSession(ctx, "s1", at, nil))
		got, err := s.Session(ctx, "s1")
		must(t, err)
		if got.EndedAt == nil || !got.EndedAt.Equal(at) || got.Active(time.Now()) {
			t.Fatalf("ended session = %s", show(got))
		}
		wantCode(t, s.EndSession(ctx, "s1", at.Add(time.Second), nil), latchkey.ECONFLICT)
		got, err = s.Session(ctx, "s1")
		must(t, err)
		if !got.EndedAt.Equal(at) {
			t.Fatalf("EndedAt after a second end = %v, want %v", got.EndedAt, at)
		}
	}},
	{"EndUserSessions", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u, v := newUser(t, s, "goran"), newUser(t, s, "anna")
		for _, id := range []string{"a1", "a2", "a3"} {
			newSession(t, s, u.ID, id, nil)
		}
		idle := newSession(t, s, u.ID, "idle", func(ses *latchkey.Session) { ses.LastSeenAt = now().Add(-2 * time.Hour) })
		newSession(t, s, u.ID, "ended", nil)
		must(t, s.EndSession(ctx, "ended", now(), nil))
		newSession(t, s, u.ID, "expired", func(ses *latchkey.Session) { ses.ExpiresAt = now().Add(-time.Minute) })
		newSession(t, s, v.ID, "other", nil)

		at := now()
		n, err := s.EndUserSessions(ctx, u.ID, at, nil)
		must(t, err)
		// An idle session is ended too: its last activity may not have
		// reached the store yet.
		equal(t, "sessions ended", n, 4)
		for _, id := range []string{"a1", "a2", "a3", idle.ID} {
			got, err := s.Session(ctx, id)
			must(t, err)
			if got.EndedAt == nil || !got.EndedAt.Equal(at) {
				t.Fatalf("%s: EndedAt = %v, want %v", id, got.EndedAt, at)
			}
		}
		other, err := s.Session(ctx, "other")
		must(t, err)
		if other.EndedAt != nil {
			t.Fatal("another user's session ended")
		}
		n, err = s.EndUserSessions(ctx, u.ID, now(), nil)
		must(t, err)
		equal(t, "sessions ended the second time", n, 0)
		n, err = s.EndUserSessions(ctx, 424242, now(), nil)
		must(t, err)
		equal(t, "sessions of an unknown user", n, 0)
	}},
}
