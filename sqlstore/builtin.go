package sqlstore

import (
	"context"
	"database/sql"
	"slices"

	"github.com/latchkey/latchkey"
)

// ensureBuiltIns inserts the built-in abilities and roles that are missing,
// marks them built in, and sets the abilities of each built-in role to
// exactly latchkey's. Statements are idempotent, so that nodes that open the
// same database at once do not trip over each other. A built-in role whose
// abilities changed emits ChangeRole, for nodes that run an older version.
func (s *Store) ensureBuiltIns(ctx context.Context) error {
	now := micros(s.now())
	return s.tx(ctx, "ensure built-in roles", nil, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		for _, a := range latchkey.BuiltInAbilities {
			if _, err := tx.ExecContext(ctx, `INSERT INTO abilities (name, description, builtin) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET description = excluded.description, builtin = excluded.builtin`,
				a.Name, a.Description, true); err != nil {
				return err
			}
		}
		for _, r := range latchkey.BuiltInRoles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO roles (name, description, builtin, created) VALUES ($1, $2, $3, $4)
				ON CONFLICT (name) DO UPDATE SET description = excluded.description, builtin = excluded.builtin`,
				r.Name, r.Description, true, now); err != nil {
				return err
			}
			rows, err := tx.QueryContext(ctx, `SELECT ability FROM role_abilities WHERE role = $1`, r.Name)
			if err != nil {
				return err
			}
			have, err := scanStrings(rows)
			if err != nil {
				return err
			}
			changed := false
			for _, a := range have {
				if !slices.Contains(r.Abilities, a) {
					changed = true
					if _, err := tx.ExecContext(ctx, `DELETE FROM role_abilities WHERE role = $1 AND ability = $2`, r.Name, a); err != nil {
						return err
					}
				}
			}
			for _, a := range r.Abilities {
				if !slices.Contains(have, a) {
					changed = true
					if _, err := tx.ExecContext(ctx, `INSERT INTO role_abilities (role, ability) VALUES ($1, $2)
						ON CONFLICT (role, ability) DO NOTHING`, r.Name, a); err != nil {
						return err
					}
				}
			}
			if changed && len(have) > 0 {
				emit(latchkey.Change{Kind: latchkey.ChangeRole, Name: r.Name})
			}
		}
		return nil
	})
}
