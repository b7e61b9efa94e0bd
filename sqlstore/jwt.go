package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchkey/latchkey"
)

// UseJTI records a JWT id as used until expires, in one statement. It
// returns false when the id is recorded already and has not expired; an
// expired record is replaced.
func (s *Store) UseJTI(ctx context.Context, jti string, expires time.Time) (bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if jti == "" || len(jti) > 256 {
		return false, latchkey.Errorf(latchkey.EINVALID, "The JWT id must be 1 to 256 characters.")
	}
	n, err := execCount(ctx, s.write, `INSERT INTO used_jtis (jti, expires) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires = excluded.expires WHERE used_jtis.expires <= $3`,
		jti, micros(expires), micros(s.now()))
	if err != nil {
		return false, s.fail("use JWT id", err)
	}
	return n > 0, nil
}

// CreateSigningKey stores a signing key and emits ChangeSigningKey. A zero
// CreatedAt becomes now; times are kept to the microsecond, and k's are
// rounded so.
func (s *Store) CreateSigningKey(ctx context.Context, k *latchkey.SigningKey) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	switch {
	case k.ID == "" || len(k.ID) > 128:
		return latchkey.Errorf(latchkey.EINVALID, "The signing key id must be 1 to 128 characters.")
	case k.Algorithm == "":
		return latchkey.Errorf(latchkey.EINVALID, "The signing key has no algorithm.")
	case len(k.PrivateKey) == 0 || len(k.PublicKey) == 0:
		return latchkey.Errorf(latchkey.EINVALID, "The signing key needs a private and a public key.")
	}
	created := k.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	err := s.tx(ctx, "create signing key", nil, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (id, algorithm, private_key, public_key, created,
			active, retire) VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.ID, k.Algorithm, k.PrivateKey, k.PublicKey,
			micros(created), micros(k.ActiveAt), micros(k.RetireAt))
		if err != nil {
			return s.conflict("insert signing key", err, "A signing key "+quote(k.ID)+" exists already.")
		}
		emit(latchkey.Change{Kind: latchkey.ChangeSigningKey, Name: k.ID})
		return nil
	})
	if err != nil {
		return err
	}
	k.CreatedAt, k.ActiveAt, k.RetireAt = norm(created), norm(k.ActiveAt), norm(k.RetireAt)
	return nil
}

// SigningKeys lists every stored signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]*latchkey.SigningKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.read.QueryContext(ctx, `SELECT id, algorithm, private_key, public_key, created, active, retire
		FROM signing_keys ORDER BY created DESC, id DESC`)
	if err != nil {
		return nil, s.fail("list signing keys", err)
	}
	defer rows.Close()
	out := []*latchkey.SigningKey{}
	for rows.Next() {
		var (
			k                       latchkey.SigningKey
			created, active, retire int64
		)
		if err := rows.Scan(&k.ID, &k.Algorithm, &k.PrivateKey, &k.PublicKey, &created, &active, &retire); err != nil {
			return nil, s.fail("list signing keys", err)
		}
		k.CreatedAt, k.ActiveAt, k.RetireAt = fromMicros(created), fromMicros(active), fromMicros(retire)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list signing keys", err)
	}
	return out, nil
}

// DeleteSigningKey removes a signing key and emits ChangeSigningKey.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "delete signing key", nil, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		n, err := execCount(ctx, tx, `DELETE FROM signing_keys WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return latchkey.Errorf(latchkey.ENOTFOUND, "No signing key %q.", id)
		}
		emit(latchkey.Change{Kind: latchkey.ChangeSigningKey, Name: id})
		return nil
	})
}
