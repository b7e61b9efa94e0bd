package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var jwtTests = []storeTest{
	{"UseJTIOnce", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		exp := time.Now().Add(time.Hour)
		for _, step := range []struct {
			jti  string
			want bool
		}{{"j1", true}, {"j1", false}, {"j2", true}, {"j1", false}} {
			ok, err := s.UseJTI(ctx, step.jti, exp)
			must(t, err)
			if ok != step.want {
				t.Fatalf("UseJTI(%s) = %v, want %v", step.jti, ok, step.want)
			}
		}
		_, err := s.UseJTI(ctx, "", exp)
		wantCode(t, err, latchkey.EINVALID)
	}},
	{"UseJTIAgainAfterExpiry", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		for _, step := range []struct {
			expires time.Duration
			want    bool
		}{{-time.Minute, true}, {time.Hour, true}, {time.Hour, false}, {2 * time.Hour, false}} {
			ok, err := s.UseJTI(ctx, "j", time.Now().Add(step.expires))
			must(t, err)
			if ok != step.want {
				t.Fatalf("UseJTI expiring in %v = %v, want %v", step.expires, ok, step.want)
			}
		}
	}},
	{"SigningKeys", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		keys, err := s.SigningKeys(ctx)
		must(t, err)
		equal(t, "keys of an empty store", len(keys), 0)
		base := now()
		mk := func(id string, age time.Duration) *latchkey.SigningKey {
			k := &latchkey.SigningKey{ID: id, Algorithm: "EdDSA", PrivateKey: []byte("private " + id),
				PublicKey: []byte("public " + id), CreatedAt: base.Add(-age), ActiveAt: base.Add(-age),
				RetireAt: base.Add(90 * 24 * time.Hour)}
			must(t, s.CreateSigningKey(ctx, k))
			return k
		}
		old, mid, newest := mk("k-old", 2*time.Hour), mk("k-mid", time.Hour), mk("k-new", 0)
		keys, err = s.SigningKeys(ctx)
		must(t, err)
		equal(t, "keys, newest first", keys, []*latchkey.SigningKey{newest, mid, old})

		wantCode(t, s.CreateSigningKey(ctx, &latchkey.SigningKey{ID: "k-mid", Algorithm: "EdDSA",
			PrivateKey: []byte("x"), PublicKey: []byte("y")}), latchkey.ECONFLICT)
		wantCode(t, s.CreateSigningKey(ctx, &latchkey.SigningKey{ID: "k-x", Algorithm: "EdDSA"}), latchkey.EINVALID)
		wantCode(t, s.CreateSigningKey(ctx, &latchkey.SigningKey{Algorithm: "EdDSA",
			PrivateKey: []byte("x"), PublicKey: []byte("y")}), latchkey.EINVALID)

		must(t, s.DeleteSigningKey(ctx, "k-mid"))
		keys, err = s.SigningKeys(ctx)
		must(t, err)
		equal(t, "keys after delete", keys, []*latchkey.SigningKey{newest, old})
		wantCode(t, s.DeleteSigningKey(ctx, "k-mid"), latchkey.ENOTFOUND)
	}},
}
