package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var userTests = []storeTest{
	{"CreateAndRead", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		before := now()
		u := &latchkey.User{Directory: "LAB", Username: "goran", DisplayName: "Goran", Email: "Goran@Example.com",
			Groups: []string{"sales", "EMEA"}, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
			Roles: []string{latchkey.RoleAPIKeyUser, latchkey.RoleAdmin, latchkey.RoleAdmin}}
		must(t, s.CreateUser(ctx, u, nil))
		if u.ID <= 0 {
			t.Fatalf("ID = %d, want > 0", u.ID)
		}
		if u.CreatedAt.Before(before) || u.CreatedAt.After(now().Add(time.Second)) || u.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v, want about %v in UTC", u.CreatedAt, before)
		}
		if !u.UpdatedAt.Equal(u.CreatedAt) {
			t.Fatalf("UpdatedAt = %v, want CreatedAt %v", u.UpdatedAt, u.CreatedAt)
		}
		equal(t, "roles after create", u.Roles, []string{latchkey.RoleAdmin, latchkey.RoleAPIKeyUser})
		got, err := s.User(ctx, u.ID)
		must(t, err)
		equal(t, "User", got, u)
		other := newUser(t, s, "anna")
		if other.ID == u.ID {
			t.Fatalf("two users share the id %d", u.ID)
		}
		got, err = s.User(ctx, other.ID)
		must(t, err)
		equal(t, "user without roles or groups", got, other)
		if len(got.Roles) != 0 || len(got.Groups) != 0 {
			t.Fatalf("Roles, Groups = %v, %v, want none", got.Roles, got.Groups)
		}
	}},
	{"DeletedIDsAreNotReused", func(t *testing.T, s latchkey.Store) {
		// The audit log keeps the ids of deleted users: a new user must
		// not get one, even the highest.
		ctx := t.Context()
		newUser(t, s, "admin")
		goran, reporter := newUser(t, s, "goran"), newUser(t, s, "reporter")
		must(t, s.DeleteUser(ctx, goran.ID, nil))
		must(t, s.DeleteUser(ctx, reporter.ID, nil))
		again := newUser(t, s, "goran")
		if again.ID <= reporter.ID {
			t.Fatalf("the new LAB\\goran got the id %d, after deleting %d and %d", again.ID, goran.ID, reporter.ID)
		}
	}},
	{"CreateRejectsBadInput", func(t *testing.T, s latchkey.Store) {
		for _, tc := range []struct {
			name string
			user latchkey.User
			code string
		}{
			{"no directory", latchkey.User{Username: "a"}, latchkey.EINVALID},
			{"no username", latchkey.User{Directory: "LAB"}, latchkey.EINVALID},
			{"backslash", latchkey.User{Directory: "LAB", Username: `a\b`}, latchkey.EINVALID},
			{"semicolon", latchkey.User{Directory: "LA;B", Username: "a"}, latchkey.EINVALID},
			{"bad email", latchkey.User{Directory: "LAB", Username: "a", Email: "nope"}, latchkey.EINVALID},
			{"empty group", latchkey.User{Directory: "LAB", Username: "a", Groups: []string{""}}, latchkey.EINVALID},
			{"unknown role", latchkey.User{Directory: "LAB", Username: "a", Roles: []string{"nope"}}, latchkey.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, s.CreateUser(t.Context(), &tc.user, nil), tc.code)
			})
		}
		users, err := s.Users(t.Context(), latchkey.UserFilter{})
		must(t, err)
		equal(t, "users after failed creates", ids(users), []int64{})
	}},
	{"DuplicateIsConflictCaseInsensitively", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		newUser(t, s, "goran")
		err := s.CreateUser(ctx, &latchkey.User{Directory: "lab", Username: "GORAN"}, nil)
		wantCode(t, err, latchkey.ECONFLICT)
		if msg := latchkey.ErrorMessage(err); !strings.Contains(msg, "GORAN") {
			t.Fatalf("message %q does not name the user", msg)
		}
		must(t, s.CreateUser(ctx, &latchkey.User{Directory: "OTHER", Username: "goran"}, nil))
	}},
	{"UserByName", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "Goran", latchkey.RoleAPIKeyUser)
		for _, name := range [][2]string{{"LAB", "Goran"}, {"lab", "goran"}, {"Lab", "GORAN"}} {
			got, err := s.UserByName(ctx, name[0], name[1])
			must(t, err)
			equal(t, "UserByName "+name[0]+`\`+name[1], got, u)
		}
		_, err := s.UserByName(ctx, "LAB", "anna")
		wantCode(t, err, latchkey.ENOTFOUND)
		if msg := latchkey.ErrorMessage(err); msg != `No user LAB\anna.` {
			t.Fatalf("message = %q", msg)
		}
		_, err = s.UserByName(ctx, "OTHER", "goran")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"UserByEmail", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := &latchkey.User{Directory: "LAB", Username: "goran", Email: "Goran@Example.com"}
		must(t, s.CreateUser(ctx, u, nil))
		got, err := s.UserByEmail(ctx, "goran@EXAMPLE.com")
		must(t, err)
		equal(t, "UserByEmail", got, u)
		_, err = s.UserByEmail(ctx, "anna@example.com")
		wantCode(t, err, latchkey.ENOTFOUND)
		_, err = s.UserByEmail(ctx, "")
		wantCode(t, err, latchkey.ENOTFOUND)
		newUser(t, s, "noemail")
		_, err = s.UserByEmail(ctx, "")
		wantCode(t, err, latchkey.ENOTFOUND)
		must(t, s.CreateUser(ctx, &latchkey.User{Directory: "OTHER", Username: "goran", Email: "GORAN@example.com"}, nil))
		_, err = s.UserByEmail(ctx, "goran@example.com")
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"UserNotFound", func(t *testing.T, s latchkey.Store) {
		_, err := s.User(t.Context(), 424242)
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"UsersFilterAndPaging", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		mk := func(dir, name string) *latchkey.User {
			u := &latchkey.User{Directory: dir, Username: name}
			must(t, s.CreateUser(ctx, u, nil))
			return u
		}
		c := mk("LAB", "carl")
		a := mk("LAB", "Anna")
		z := mk("ACME", "zed")
		b := mk("lab", "bob")
		all, err := s.Users(ctx, latchkey.UserFilter{})
		must(t, err)
		equal(t, "all users, by directory and name", ids(all), []int64{z.ID, a.ID, b.ID, c.ID})
		lab, err := s.Users(ctx, latchkey.UserFilter{Directory: "Lab"})
		must(t, err)
		equal(t, "users of LAB", ids(lab), []int64{a.ID, b.ID, c.ID})
		page, err := s.Users(ctx, latchkey.UserFilter{Directory: "LAB", Limit: 2, After: a.Position()})
		must(t, err)
		equal(t, "page of LAB", ids(page), []int64{b.ID, c.ID})
		page, err = s.Users(ctx, latchkey.UserFilter{Limit: 1})
		must(t, err)
		equal(t, "first page", ids(page), []int64{z.ID})
		page, err = s.Users(ctx, latchkey.UserFilter{After: b.Position()})
		must(t, err)
		equal(t, "after without limit", ids(page), []int64{c.ID})
		// A position compares as the store does: case-insensitively.
		page, err = s.Users(ctx, latchkey.UserFilter{After: &latchkey.UserPosition{Directory: "lab", Username: "ANNA", ID: a.ID}})
		must(t, err)
		equal(t, "after a position in another case", ids(page), []int64{b.ID, c.ID})
		none, err := s.Users(ctx, latchkey.UserFilter{Directory: "NOPE"})
		must(t, err)
		equal(t, "users of an empty directory", ids(none), []int64{})
	}},
	{"UpdateUser", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		u := newUser(t, s, "goran", latchkey.RoleAPIKeyUser)
		name, email, disabled, hash := "Goran G", "g@example.com", true, "$argon2id$new"
		groups := []string{"a", "b"}
		got, err := s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{DisplayName: &name, Email: &email,
			Groups: &groups, Disabled: &disabled, PasswordHash: &hash}, nil)

		must(t, err)
		want := *u
		want.DisplayName, want.Email, want.Groups, want.Disabled, want.PasswordHash = name, email, groups, disabled, hash
		want.UpdatedAt = got.UpdatedAt
		if got.UpdatedAt.Before(u.UpdatedAt) {
			t.Fatalf("UpdatedAt went back from %v to %v", u.UpdatedAt, got.UpdatedAt)
		}
		equal(t, "updated user", got, &want)
		reread, err := s.User(ctx, u.ID)
		must(t, err)
		equal(t, "reread user", reread, &want)
		byEmail, err := s.UserByEmail(ctx, "G@EXAMPLE.COM")
		must(t, err)
		equal(t, "user by new email", byEmail.ID, u.ID)

		got, err = s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{}, nil)
		must(t, err)
		want.UpdatedAt = got.UpdatedAt
		equal(t, "user after empty update", got, &want)

		bad := "not an email"
		_, err = s.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Email: &bad}, nil)
		wantCode(t, err, latchkey.EINVALID)
		reread, err = s.User(ctx, u.ID)
		must(t, err)
		equal(t, "email after rejected update", reread.Email, email)
		_, err = s.UpdateUser(ctx, 424242, latchkey.UserUpdate{DisplayName: &name}, nil)
		wantCode(t, err, latchkey.ENOTFOUND)
	}},
	{"Directories", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		dirs, err := s.Directories(ctx)
		must(t, err)
		equal(t, "directories of an empty store", dirs, []string{})
		for _, u := range []latchkey.User{{Directory: "LAB", Username: "a"}, {Directory: "ACME", Username: "b"},
			{Directory: "lab", Username: "c"}, {Directory: latchkey.DefaultDirectory, Username: "admin"}} {
			must(t, s.CreateUser(ctx, &u, nil))
		}
		dirs, err = s.Directories(ctx)
		must(t, err)
		equal(t, "directories", dirs, []string{"ACME", "LAB", latchkey.DefaultDirectory})
	}},
	{"Ping", func(t *testing.T, s latchkey.Store) {
		must(t, s.Ping(t.Context()))
	}},
}
