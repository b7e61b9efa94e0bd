package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// userCols are the columns scanUsers reads, followed by one role name.
const userCols = `u.id, u.directory, u.username, u.display_name, u.email, u.groups_json,
	u.disabled, u.password_hash, u.created, u.updated`

// userSelect reads users with their roles, one row per user and role.
const userSelect = `SELECT ` + userCols + `, ur.role FROM users u
	LEFT JOIN user_roles ur ON ur.user_id = u.id`

// CreateUser stores u, sets its ID and times, and grants u.Roles, which must
// exist, in the same transaction.
func (s *Store) CreateUser(ctx context.Context, u *latchkey.User, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := u.Validate(); err != nil {
		return err
	}
	roles := sortedSet(u.Roles)
	for _, r := range roles {
		if err := latchkey.ValidateName("role", r); err != nil {
			return err
		}
	}
	groups, err := encodeList(u.Groups)
	if err != nil {
		return s.fail("encode groups", err)
	}
	now := norm(s.now())
	var id int64
	err = s.tx(ctx, "create user", rec, func(tx *sql.Tx, _ func(latchkey.Change)) error {
		for _, r := range roles {
			if err := roleExists(ctx, tx, r); err != nil {
				if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
					return latchkey.Errorf(latchkey.EINVALID, "The role %q does not exist.", r)
				}
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO users (directory, username, dir_key, user_key,
			display_name, email, email_key, groups_json, disabled, password_hash, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id`,
			u.Directory, u.Username, latchkey.NameKey(u.Directory), latchkey.NameKey(u.Username),
			u.DisplayName, u.Email, latchkey.NameKey(u.Email), groups, u.Disabled, u.PasswordHash,
			micros(now)).Scan(&id)
		if err != nil {
			return s.conflict("insert user", err, "A user "+u.QualifiedName()+" exists already.")
		}
		for _, r := range roles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, id, r); err != nil {
				return err
			}
		}
		if rec != nil && rec.SubjectID == 0 {
			rec.SubjectID = id
		}
		return nil
	})
	if err != nil {
		return err
	}
	u.ID, u.CreatedAt, u.UpdatedAt, u.Roles = id, now, now, roles
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return nil
}

// User returns the user with the id.
func (s *Store) User(ctx context.Context, id int64) (*latchkey.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	u, err := userByID(ctx, s.read, id)
	if err != nil {
		return nil, s.fail("read user", err)
	}
	return u, nil
}

// userByID reads one user, ENOTFOUND when there is none.
func userByID(ctx context.Context, q querier, id int64) (*latchkey.User, error) {
	users, err := queryUsers(ctx, q, userSelect+` WHERE u.id = $1 ORDER BY ur.role`, id)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user with id %d.", id)
	}
	return users[0], nil
}

// UserByName finds a user by directory and username, case-insensitively.
func (s *Store) UserByName(ctx context.Context, directory, username string) (*latchkey.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	users, err := queryUsers(ctx, s.read, userSelect+` WHERE u.dir_key = $1 AND u.user_key = $2 ORDER BY ur.role`,
		latchkey.NameKey(directory), latchkey.NameKey(username))
	if err != nil {
		return nil, s.fail("read user by name", err)
	}
	if len(users) == 0 {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user %s\\%s.", directory, username)
	}
	return users[0], nil
}

// UserByEmail finds the one user with the email, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (*latchkey.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if email == "" {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user has an empty email.")
	}
	users, err := queryUsers(ctx, s.read, userSelect+` WHERE u.email_key = $1 ORDER BY u.id, ur.role`,
		latchkey.NameKey(email))
	if err != nil {
		return nil, s.fail("read user by email", err)
	}
	switch len(users) {
	case 0:
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user has the email %s.", email)
	case 1:
		return users[0], nil
	default:
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "More than one user has the email %s.", email)
	}
}

// Users lists users by directory, username and id, compared
// case-insensitively, from f.After on.
func (s *Store) Users(ctx context.Context, f latchkey.UserFilter) ([]*latchkey.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var c conds
	if f.Directory != "" {
		c.add("dir_key = " + c.arg(latchkey.NameKey(f.Directory)))
	}
	if f.Search != "" {
		p := c.arg("%" + likeEscape(latchkey.NameKey(f.Search)) + "%")
		c.add("(user_key LIKE " + p + " ESCAPE '\\' OR email_key LIKE " + p +
			" ESCAPE '\\' OR LOWER(display_name) LIKE " + p + " ESCAPE '\\')")
	}
	if f.Role != "" {
		c.add("id IN (SELECT user_id FROM user_roles WHERE role = " + c.arg(f.Role) + ")")
	}
	if f.Disabled != nil {
		c.add("disabled = " + c.arg(*f.Disabled))
	}
	if a := f.After; a != nil {
		d, u, id := c.arg(latchkey.NameKey(a.Directory)), c.arg(latchkey.NameKey(a.Username)), c.arg(a.ID)
		c.add("(dir_key > " + d + " OR dir_key = " + d + " AND (user_key > " + u + " OR user_key = " + u + " AND id > " + id + "))")
	}
	query := `SELECT ` + userCols + `, ur.role FROM (SELECT * FROM users` + c.clause() +
		` ORDER BY dir_key, user_key, id` + c.page(f.Limit) + `) u
		LEFT JOIN user_roles ur ON ur.user_id = u.id ORDER BY u.dir_key, u.user_key, u.id, ur.role`
	users, err := queryUsers(ctx, s.read, query, c.args...)
	if err != nil {
		return nil, s.fail("list users", err)
	}
	return users, nil
}

// likeEscape escapes the wildcards of LIKE, with a backslash.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateUser changes the fields of upd that are not nil and emits ChangeUser.
// Disabling a user, or upd.EndSessions, ends their sessions too (and emits
// ChangeUserSession);
// disabling the last enabled administrator is ECONFLICT.
func (s *Store) UpdateUser(ctx context.Context, id int64, upd latchkey.UserUpdate, rec *latchkey.AuditEvent) (*latchkey.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var out *latchkey.User
	err := s.tx(ctx, "update user", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		if upd.Disabled != nil && *upd.Disabled {
			if err := lockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		disabling := upd.Disabled != nil && *upd.Disabled && !u.Disabled
		endSessions := upd.EndSessions || disabling
		if upd.DisplayName != nil {
			u.DisplayName = *upd.DisplayName
		}
		if upd.Email != nil {
			u.Email = *upd.Email
		}
		if upd.Groups != nil {
			u.Groups = slices.Clone(*upd.Groups)
		}
		if upd.Disabled != nil {
			u.Disabled = *upd.Disabled
		}
		if upd.PasswordHash != nil {
			u.PasswordHash = *upd.PasswordHash
		}
		if err := u.Validate(); err != nil {
			return err
		}
		groups, err := encodeList(u.Groups)
		if err != nil {
			return err
		}
		u.UpdatedAt = norm(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE users SET display_name = $2, email = $3, email_key = $4,
			groups_json = $5, disabled = $6, password_hash = $7, updated = $8 WHERE id = $1`,
			id, u.DisplayName, u.Email, latchkey.NameKey(u.Email), groups, u.Disabled, u.PasswordHash,
			micros(u.UpdatedAt)); err != nil {
			return err
		}
		if u.Groups == nil {
			u.Groups = []string{}
		}
		out = u
		emit(latchkey.Change{Kind: latchkey.ChangeUser, UserID: id})
		if disabling {
			if err := keepAnAdmin(ctx, tx, u.Roles); err != nil {
				return err
			}
		}
		if endSessions {
			keep := upd.KeepSession
			if disabling {
				keep = "" // a disabled user keeps none
			}
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended = $2
				WHERE user_id = $1 AND ended IS NULL AND expires > $2 AND id <> $3`, id, micros(u.UpdatedAt), keep); err != nil {
				return err
			}
			emit(latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: id})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteUser removes the user, and with them their roles, API keys and
// sessions; it emits ChangeUser and ChangeUserSession. Deleting the last
// enabled administrator is ECONFLICT. Audit records of and by the user stay.
func (s *Store) DeleteUser(ctx context.Context, id int64, rec *latchkey.AuditEvent) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.tx(ctx, "delete user", rec, func(tx *sql.Tx, emit func(latchkey.Change)) error {
		if err := lockAdmins(ctx, tx); err != nil {
			return err
		}
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM sessions WHERE user_id = $1`,
			`DELETE FROM api_keys WHERE user_id = $1`,
			`DELETE FROM user_roles WHERE user_id = $1`,
			`DELETE FROM users WHERE id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if !u.Disabled {
			if err := keepAnAdmin(ctx, tx, u.Roles); err != nil {
				return err
			}
		}
		emit(latchkey.Change{Kind: latchkey.ChangeUser, UserID: id})
		emit(latchkey.Change{Kind: latchkey.ChangeUserSession, UserID: id})
		return nil
	})
}

// lockAdmins makes the transaction wait for any other that may change who
// the enabled administrators are, so that two of them cannot each take one
// of the last two away. (A row lock on PostgreSQL; SQLite's writers are one
// at a time already.) Every transaction that may call keepAnAdmin takes it
// first.
func lockAdmins(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE roles SET builtin = builtin WHERE name = $1`, latchkey.RoleAdmin)
	return err
}

// keepAnAdmin refuses a change that took the admin role away from an enabled
// user who held it (roles), when no enabled user holds it any more.
func keepAnAdmin(ctx context.Context, tx *sql.Tx, roles []string) error {
	if !slices.Contains(roles, latchkey.RoleAdmin) {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id
		WHERE ur.role = $1 AND u.disabled = $2`, latchkey.RoleAdmin, false).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return latchkey.Errorf(latchkey.ECONFLICT,
			"This would leave no enabled user with the role %s; grant it to another user first.", latchkey.RoleAdmin)
	}
	return nil
}

// Directories lists the directories that hold at least one user, in the
// spelling of their first user.
func (s *Store) Directories(ctx context.Context) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.read.QueryContext(ctx, `SELECT d.directory FROM users d
		JOIN (SELECT MIN(id) AS id FROM users GROUP BY dir_key) f ON f.id = d.id ORDER BY d.dir_key`)
	if err != nil {
		return nil, s.fail("list directories", err)
	}
	dirs, err := scanStrings(rows)
	if err != nil {
		return nil, s.fail("list directories", err)
	}
	return dirs, nil
}

// queryUsers runs a userSelect query whose rows of one user are adjacent.
func queryUsers(ctx context.Context, q querier, query string, args ...any) ([]*latchkey.User, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []*latchkey.User{}
	for rows.Next() {
		var (
			u                latchkey.User
			groups           string
			created, updated int64
			role             sql.NullString
		)
		if err := rows.Scan(&u.ID, &u.Directory, &u.Username, &u.DisplayName, &u.Email, &groups,
			&u.Disabled, &u.PasswordHash, &created, &updated, &role); err != nil {
			return nil, err
		}
		if n := len(users); n > 0 && users[n-1].ID == u.ID {
			if role.Valid {
				users[n-1].Roles = append(users[n-1].Roles, role.String)
			}
			continue
		}
		if u.Groups, err = decodeList(groups); err != nil {
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
		u.Roles = []string{}
		if role.Valid {
			u.Roles = append(u.Roles, role.String)
		}
		users = append(users, &u)
	}
	return users, rows.Err()
}

// scanStrings reads a single text column and closes rows.
func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// sortedSet returns the distinct strings of l, sorted; never nil.
func sortedSet(l []string) []string {
	out := slices.Clone(l)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
