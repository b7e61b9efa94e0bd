package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// atVersion2 makes a database at migration 2, before user ids used
// AUTOINCREMENT, with users 1 to 4 (user 5 and 9 were deleted: the audit log
// and the change feed still name them), their roles, API keys and sessions.
func atVersion2(t *testing.T, path string) {
	t.Helper()
	ctx := t.Context()
	pool, err := openPool(ctx, path, 10*time.Second, "&_txlock=immediate", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	p, err := newProvider(pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if v, err := p.GetDBVersion(ctx); err != nil || v != 2 {
		t.Fatalf("version %d, %v; want 2", v, err)
	}
	stmts := []string{
		`INSERT INTO abilities (name) VALUES ('ops.read')`,
		`INSERT INTO roles (name, created) VALUES ('ops', 1)`,
		`INSERT INTO role_abilities (role, ability) VALUES ('ops', 'ops.read')`,
	}
	for id := 1; id <= 4; id++ {
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO users (id, directory, username, dir_key, user_key, created, updated)
				VALUES (%d, 'LAB', 'u%[1]d', 'lab', 'u%[1]d', 1, 1)`, id),
			fmt.Sprintf(`INSERT INTO user_roles (user_id, role) VALUES (%d, 'ops')`, id),
			fmt.Sprintf(`INSERT INTO api_keys (id, user_id, created_by, created, expires, hash)
				VALUES ('lk_%d', %[1]d, %[1]d, 1, 9999999999999999, x'0%[1]d')`, id),
			fmt.Sprintf(`INSERT INTO sessions (id, user_id, created, last_seen, expires, hash)
				VALUES ('s%d', %[1]d, 1, 1, 9999999999999999, x'1%[1]d')`, id),
			fmt.Sprintf(`INSERT INTO audit (occurred, action, actor_id, subject_id) VALUES (1, 'user.create', 0, %d)`, id),
		)
	}
	stmts = append(stmts,
		`INSERT INTO audit (occurred, action, actor_id, subject_id) VALUES (2, 'user.delete', 1, 9)`,
		`INSERT INTO audit (occurred, action, actor_id, subject_id) VALUES (2, 'user.delete', 1, 5)`,
		`INSERT INTO changes (node, payload, created) VALUES ('x', '{"kind":"user","user_id":5}', 2)`,
		`INSERT INTO used_jtis (jti, expires) VALUES ('j', 9999999999999999)`,
		`INSERT INTO signing_keys (id, algorithm, private_key, public_key, created, active, retire)
			VALUES ('k1', 'EdDSA', x'01', x'02', 1, 1, 9999999999999999)`,
	)
	for _, s := range stmts {
		if _, err := pool.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// snapshot returns every row of the tables that the rebuild of users could
// touch, as text.
func snapshot(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, query := range map[string]string{
		"users":          `SELECT id, username FROM users ORDER BY id`,
		"user_roles":     `SELECT user_id, role FROM user_roles WHERE role = 'ops' ORDER BY user_id`,
		"api_keys":       `SELECT id, user_id, created_by FROM api_keys ORDER BY id`,
		"sessions":       `SELECT id, user_id FROM sessions ORDER BY id`,
		"audit":          `SELECT id, action, actor_id, subject_id FROM audit ORDER BY id`,
		"role_abilities": `SELECT role, ability FROM role_abilities WHERE role = 'ops'`,
		"changes":        `SELECT seq, payload FROM changes ORDER BY seq`,
		"used_jtis":      `SELECT jti FROM used_jtis`,
		"signing_keys":   `SELECT id FROM signing_keys`,
	} {
		rows, err := db.Query(query)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		out[table] = []string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprintf("%v", vals))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestMigration3KeepsRowsAndKeys migrates a database with users, grants, API
// keys, sessions and audit rows from version 2 to 3 and checks that every
// row and reference survives, that the cascades still work and that new ids
// start above every user id the database names.
func TestMigration3KeepsRowsAndKeys(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	atVersion2(t, path)
	raw, err := openPool(ctx, path, 10*time.Second, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	before := snapshot(t, raw)
	if n := len(before["users"]) + len(before["sessions"]) + len(before["api_keys"]) + len(before["user_roles"]); n != 16 {
		t.Fatalf("the version 2 database has %d users, sessions, keys and grants, want 16: %v", n, before)
	}

	db := openFile(t, path)
	if after := snapshot(t, raw); !reflect.DeepEqual(after, before) {
		t.Fatalf("rows after migration 3:\n%v\nbefore:\n%v", after, before)
	}
	var schema string
	if err := raw.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'users'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schema, "AUTOINCREMENT") || strings.Contains(schema, "users_new") {
		t.Fatalf("users schema after migration 3: %s", schema)
	}
	var indexes int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if indexes != 2 { // users_email_key and the UNIQUE constraint's
		t.Fatalf("users has %d indexes after migration 3, want 2", indexes)
	}
	rows, err := raw.Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Fatal("PRAGMA foreign_key_check finds rows after migration 3")
	}
	rows.Close()

	// The next id is above every id that the audit log names (9, deleted).
	u := &latchkey.User{Directory: "LAB", Username: "goran"}
	if err := db.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if u.ID != 10 {
		t.Fatalf("new user's id = %d, want 10", u.ID)
	}
	// Deleting a user still deletes their grants, keys and sessions.
	if err := db.DeleteUser(ctx, 2, nil); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"user_roles", "api_keys", "sessions"} {
		var left, others int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE user_id = 2`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if err := raw.QueryRow(`SELECT COUNT(*) FROM ` + table + ` WHERE user_id IN (1, 3, 4)`).Scan(&others); err != nil {
			t.Fatal(err)
		}
		if left != 0 || others != 3 {
			t.Fatalf("%s after deleting user 2: %d rows of user 2 (want 0), %d of the others (want 3)", table, left, others)
		}
	}
	if _, err := db.User(ctx, 4); err != nil {
		t.Fatalf("user 4 after migration: %v", err)
	}
}

// TestMigration3Again runs migration 3 on a database that has it, as after a
// stop between its commit and goose's record of it: nothing changes.
func TestMigration3Again(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	db := openFile(t, path)
	u := &latchkey.User{Directory: "LAB", Username: "goran"}
	if err := db.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, u.ID, nil); err != nil {
		t.Fatal(err)
	}
	pool, err := openPool(ctx, path, 10*time.Second, "&_txlock=immediate", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := usersAutoincrement(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var fk int
	if err := pool.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v after the migration; want 1", fk, err)
	}
	next := &latchkey.User{Directory: "LAB", Username: "anna"}
	if err := db.CreateUser(ctx, next, nil); err != nil {
		t.Fatal(err)
	}
	if next.ID != u.ID+1 {
		t.Fatalf("id after delete and a second run of migration 3 = %d, want %d", next.ID, u.ID+1)
	}
}

// TestMigration3WithoutData migrates an empty database at version 2: the
// first id is 1.
func TestMigration3WithoutData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	pool, err := openPool(ctx, path, 10*time.Second, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	pool.Close()
	db := openFile(t, path)
	u := &latchkey.User{Directory: "LAB", Username: "goran"}
	if err := db.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if u.ID != 1 {
		t.Fatalf("first id = %d, want 1", u.ID)
	}
}
