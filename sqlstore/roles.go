package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// maxDescription is the longest description of a role or an ability.
const maxDescription = 1024

// CreateAbility stores a new ability, which is never built in.
func (s *Store) CreateAbility(ctx context.Context, a *latchkey.Ability, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := latchkey.ValidateAbilityName(a.Name); err != nil {
		return err
	}
	if len(a.Description) > maxDescription {
		return latchkey.Errorf(latchkey.EINVALID, "The description must be at most %d characters.", maxDescription)
	}
	err := s.tx(ctx, "create ability", rec, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO abilities (name, description, builtin) VALUES ($1, $2, $3)`,
			a.Name, a.Description, false)
		return s.conflict("create ability", err, "The ability "+quote(a.Name)+" exists already.")
	})
	if err != nil {
		return err
	}
	a.BuiltIn = false
	return nil
}

// DeleteAbility removes an ability that is not built in and takes it from
// the roles that grant it; it emits ChangeRole for each of them.
func (s *Store) DeleteAbility(ctx context.Context, name string, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "delete ability", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		var builtIn bool
		err := tx.QueryRowContext(ctx, `SELECT builtin FROM abilities WHERE name = $1`, name).Scan(&builtIn)
		if errors.Is(err, sql.ErrNoRows) {
			return latchkey.Errorf(latchkey.ENOTFOUND, "No ability %q.", name)
		}
		if err != nil {
			return err
		}
		if builtIn {
			return latchkey.Errorf(latchkey.EINVALID, "The built-in ability %q cannot be deleted.", name)
		}
		rows, err := tx.QueryContext(ctx, `SELECT role FROM role_abilities WHERE ability = $1 ORDER BY role`, name)
		if err != nil {
			return err
		}
		roles, err := scanStrings(rows)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM role_abilities WHERE ability = $1`, `DELETE FROM abilities WHERE name = $1`} {
			if _, err := tx.ExecContext(ctx, q, name); err != nil {
				return err
			}
		}
		for _, r := range roles {
			emit(latchkey.Change{Kind: latchkey.ChangeRole, Name: r})
		}
		return nil
	})
}

// Abilities lists every ability by name.
func (s *Store) Abilities(ctx context.Context) ([]*latchkey.Ability, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.read.QueryContext(ctx, `SELECT name, description, builtin FROM abilities ORDER BY name`)
	if err != nil {
		return nil, s.fail("list abilities", err)
	}
	defer rows.Close()
	out := []*latchkey.Ability{}
	for rows.Next() {
		var a latchkey.Ability
		if err := rows.Scan(&a.Name, &a.Description, &a.BuiltIn); err != nil {
			return nil, s.fail("list abilities", err)
		}
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("list abilities", err)
	}
	return out, nil
}

// CreateRole stores a new custom role with its abilities, which must exist.
func (s *Store) CreateRole(ctx context.Context, r *latchkey.Role, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := latchkey.ValidateName("role", r.Name); err != nil {
		return err
	}
	if len(r.Description) > maxDescription {
		return latchkey.Errorf(latchkey.EINVALID, "The description must be at most %d characters.", maxDescription)
	}
	abilities, err := abilitySet(r.Abilities)
	if err != nil {
		return err
	}
	now := norm(s.now())
	err = s.tx(ctx, "create role", rec, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		if err := checkAbilities(ctx, tx, abilities); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (name, description, builtin, created) VALUES ($1, $2, $3, $4)`,
			r.Name, r.Description, false, micros(now))
		if err != nil {
			return s.conflict("insert role", err, "The role "+quote(r.Name)+" exists already.")
		}
		return insertRoleAbilities(ctx, tx, r.Name, abilities)
	})
	if err != nil {
		return err
	}
	r.Abilities, r.BuiltIn, r.CreatedAt = abilities, false, now
	return nil
}

// Role returns the role with the name.
func (s *Store) Role(ctx context.Context, name string) (*latchkey.Role, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.role(ctx, name)
}

// role is Role within the caller's deadline.
func (s *Store) role(ctx context.Context, name string) (*latchkey.Role, error) {
	roles, err := s.queryRoles(ctx, ` WHERE r.name = $1`, name)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No role %q.", name)
	}
	return roles[0], nil
}

// Roles lists every role by name.
func (s *Store) Roles(ctx context.Context) ([]*latchkey.Role, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.queryRoles(ctx, "")
}

// queryRoles reads the roles that where selects, with their abilities.
func (s *Store) queryRoles(ctx context.Context, where string, args ...any) ([]*latchkey.Role, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT r.name, r.description, r.builtin, r.created, ra.ability
		FROM roles r LEFT JOIN role_abilities ra ON ra.role = r.name`+where+` ORDER BY r.name, ra.ability`, args...)
	if err != nil {
		return nil, s.fail("read roles", err)
	}
	defer rows.Close()
	out := []*latchkey.Role{}
	for rows.Next() {
		var (
			r       latchkey.Role
			created int64
			ability sql.NullString
		)
		if err := rows.Scan(&r.Name, &r.Description, &r.BuiltIn, &created, &ability); err != nil {
			return nil, s.fail("read roles", err)
		}
		if n := len(out); n == 0 || out[n-1].Name != r.Name {
			r.CreatedAt, r.Abilities = fromMicros(created), []string{}
			out = append(out, &r)
		}
		if ability.Valid {
			last := out[len(out)-1]
			last.Abilities = append(last.Abilities, ability.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("read roles", err)
	}
	return out, nil
}

// UpdateRole changes the description and the abilities of a role where upd
// says, and emits ChangeRole when the abilities change. A built-in role may
// gain abilities but keeps its built-in ones.
func (s *Store) UpdateRole(ctx context.Context, name string, upd latchkey.RoleUpdate, rec *latchkey.AuditEvent) (*latchkey.Role, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if upd.Description != nil && len(*upd.Description) > maxDescription {
		return nil, latchkey.Errorf(latchkey.EINVALID, "The description must be at most %d characters.", maxDescription)
	}
	var set []string
	if upd.Abilities != nil {
		var err error
		if set, err = abilitySet(*upd.Abilities); err != nil {
			return nil, err
		}
		if b := latchkey.BuiltInRole(name); b != nil {
			var missing []string
			for _, a := range b.Abilities {
				if !slices.Contains(set, a) {
					missing = append(missing, a)
				}
			}
			if len(missing) > 0 {
				return nil, latchkey.Errorf(latchkey.EINVALID,
					"The built-in role %q always keeps %s; other abilities may be added to it.", name, strings.Join(missing, ", "))
			}
		}
	}
	err := s.tx(ctx, "update role", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		if err := roleExists(ctx, tx, name); err != nil {
			return err
		}
		if upd.Description != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE roles SET description = $2 WHERE name = $1`, name, *upd.Description); err != nil {
				return err
			}
		}
		if upd.Abilities == nil {
			return nil
		}
		if err := checkAbilities(ctx, tx, set); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM role_abilities WHERE role = $1`, name); err != nil {
			return err
		}
		if err := insertRoleAbilities(ctx, tx, name, set); err != nil {
			return err
		}
		emit(latchkey.Change{Kind: latchkey.ChangeRole, Name: name})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.role(ctx, name)
}

// DeleteRole removes a custom role and its grants, and emits ChangeRole.
func (s *Store) DeleteRole(ctx context.Context, name string, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "delete role", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		builtIn, err := roleBuiltIn(ctx, tx, name)
		if err != nil {
			return err
		}
		if builtIn {
			return latchkey.Errorf(latchkey.EINVALID, "The built-in role %q cannot be deleted.", name)
		}
		for _, q := range []string{
			`DELETE FROM user_roles WHERE role = $1`,
			`DELETE FROM role_abilities WHERE role = $1`,
			`DELETE FROM roles WHERE name = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, name); err != nil {
				return err
			}
		}
		emit(latchkey.Change{Kind: latchkey.ChangeRole, Name: name})
		return nil
	})
}

// GrantRole gives the user the role and emits ChangeUserRoles; granting a
// role the user holds is ECONFLICT.
func (s *Store) GrantRole(ctx context.Context, userID int64, role string, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "grant role", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		if err := userExists(ctx, tx, userID); err != nil {
			return err
		}
		if err := roleExists(ctx, tx, role); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, userID, role)
		if err != nil {
			return s.conflict("insert grant", err, "The user holds the role "+quote(role)+" already.")
		}
		emit(latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: userID})
		return nil
	})
}

// RevokeRole takes the role from the user and emits ChangeUserRoles; ENOTFOUND
// when the user does not hold it. Revoking admin from the last enabled user
// who holds it is ECONFLICT.
func (s *Store) RevokeRole(ctx context.Context, userID int64, role string, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "revoke role", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		if role == latchkey.RoleAdmin {
			if err := lockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		n, err := execCount(ctx, tx, `DELETE FROM user_roles WHERE user_id = $1 AND role = $2`, userID, role)
		if err != nil {
			return err
		}
		if n == 0 {
			if err := userExists(ctx, tx, userID); err != nil {
				return err
			}
			if err := roleExists(ctx, tx, role); err != nil {
				return err
			}
			return latchkey.Errorf(latchkey.ENOTFOUND, "The user does not hold the role %q.", role)
		}
		if role == latchkey.RoleAdmin {
			var disabled bool
			if err := tx.QueryRowContext(ctx, `SELECT disabled FROM users WHERE id = $1`, userID).Scan(&disabled); err != nil {
				return err
			}
			if !disabled {
				if err := keepAnAdmin(ctx, tx, []string{role}); err != nil {
					return err
				}
			}
		}
		emit(latchkey.Change{Kind: latchkey.ChangeUserRoles, UserID: userID})
		return nil
	})
}

// UserAccess returns the user's roles and the union of their abilities, both
// sorted, in one query.
func (s *Store) UserAccess(ctx context.Context, userID int64) (roles, abilities []string, err error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.read.QueryContext(ctx, `SELECT ur.role, ra.ability FROM users u
		LEFT JOIN user_roles ur ON ur.user_id = u.id
		LEFT JOIN role_abilities ra ON ra.role = ur.role
		WHERE u.id = $1`, userID)
	if err != nil {
		return nil, nil, s.fail("read user access", err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		found = true
		var role, ability sql.NullString
		if err := rows.Scan(&role, &ability); err != nil {
			return nil, nil, s.fail("read user access", err)
		}
		if role.Valid {
			roles = append(roles, role.String)
		}
		if ability.Valid {
			abilities = append(abilities, ability.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail("read user access", err)
	}
	if !found {
		return nil, nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user with id %d.", userID)
	}
	return sortedSet(roles), sortedSet(abilities), nil
}

// abilitySet validates ability names and returns them sorted, without
// duplicates.
func abilitySet(names []string) ([]string, error) {
	for _, a := range names {
		if err := latchkey.ValidateAbilityName(a); err != nil {
			return nil, err
		}
	}
	return sortedSet(names), nil
}

// checkAbilities returns EINVALID naming the first ability that does not
// exist.
func checkAbilities(ctx context.Context, q querier, names []string) error {
	for _, a := range names {
		var one int
		err := q.QueryRowContext(ctx, `SELECT 1 FROM abilities WHERE name = $1`, a).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return latchkey.Errorf(latchkey.EINVALID, "The ability %q does not exist.", a)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// insertRoleAbilities adds abilities to a role.
func insertRoleAbilities(ctx context.Context, tx *sql.Tx, role string, abilities []string) error {
	for _, a := range abilities {
		if _, err := tx.ExecContext(ctx, `INSERT INTO role_abilities (role, ability) VALUES ($1, $2)`, role, a); err != nil {
			return err
		}
	}
	return nil
}

// roleBuiltIn reports whether the role is built in; ENOTFOUND when there is
// no such role.
func roleBuiltIn(ctx context.Context, q querier, name string) (bool, error) {
	var builtIn bool
	err := q.QueryRowContext(ctx, `SELECT builtin FROM roles WHERE name = $1`, name).Scan(&builtIn)
	if errors.Is(err, sql.ErrNoRows) {
		return false, latchkey.Errorf(latchkey.ENOTFOUND, "No role %q.", name)
	}
	return builtIn, err
}

// roleExists returns ENOTFOUND when there is no such role.
func roleExists(ctx context.Context, q querier, name string) error {
	_, err := roleBuiltIn(ctx, q, name)
	return err
}

// userExists returns ENOTFOUND when there is no user with the id.
func userExists(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "No user with id %d.", id)
	}
	return err
}
