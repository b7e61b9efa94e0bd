// Package storetest is the one test suite that every latchkey.Store passes
// unchanged. A backend's tests call Run with a function that opens a fresh,
// empty store; each subtest opens its own and runs in parallel with the
// others. PostgresDSN gives tests a schema of their own on the PostgreSQL
// server named by LATCHKEY_TEST_POSTGRES.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// Run runs the suite. open must return a new, empty store that no other
// subtest uses; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) latchkey.Store) {
	groups := []struct {
		name  string
		tests []storeTest
	}{
		{"Users", userTests},
		{"Roles", roleTests},
		{"APIKeys", apiKeyTests},
		{"Sessions", sessionTests},
		{"Audit", auditTests},
		{"JWT", jwtTests},
		{"Purge", purgeTests},
		{"Feed", feedTests},
		{"Admin", adminTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.run(t, s)
				})
			}
		})
	}
}

// storeTest is one subtest of the suite.
type storeTest struct {
	name string
	run  func(t *testing.T, s latchkey.Store)
}

// wantCode fails unless err has the latchkey code ("" for no error) and,
// when it is an error, is a *latchkey.Error.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := latchkey.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
	if err != nil {
		if _, ok := errors.AsType[*latchkey.Error](err); !ok {
			t.Fatalf("error %v (%T) is not a *latchkey.Error", err, err)
		}
	}
}

// must fails the test on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// equal fails unless got and want are deeply equal.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show formats a value, following one level of pointers and slices of them.
func show(v any) string {
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.Pointer && !rv.IsNil():
		return fmt.Sprintf("&%+v", rv.Elem().Interface())
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Pointer:
		s := "["
		for i := range rv.Len() {
			s += show(rv.Index(i).Interface()) + " "
		}
		return s + "]"
	}
	return fmt.Sprintf("%#v", v)
}

// now is a time as the store keeps it: UTC, to the microsecond.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// newUser stores a user in the directory LAB with the roles.
func newUser(t *testing.T, s latchkey.Store, username string, roles ...string) *latchkey.User {
	t.Helper()
	u := &latchkey.User{Directory: "LAB", Username: username, DisplayName: "User " + username, Roles: roles}
	must(t, s.CreateUser(t.Context(), u, nil))
	return u
}

// newKey stores an API key of the user that expires in a day; edit may
// change it first.
func newKey(t *testing.T, s latchkey.Store, userID int64, id string, edit func(*latchkey.APIKey)) *latchkey.APIKey {
	t.Helper()
	k := &latchkey.APIKey{ID: id, UserID: userID, Name: "key " + id, CreatedBy: userID,
		CreatedAt: now(), ExpiresAt: now().Add(24 * time.Hour), Hash: []byte("hash of " + id)}
	if edit != nil {
		edit(k)
	}
	must(t, s.CreateAPIKey(t.Context(), k))
	return k
}

// newSession stores a session of the user that expires in an hour; edit may
// change it first.
func newSession(t *testing.T, s latchkey.Store, userID int64, id string, edit func(*latchkey.Session)) *latchkey.Session {
	t.Helper()
	ses := &latchkey.Session{ID: id, UserID: userID, Method: "password", RemoteAddr: "192.0.2.1",
		UserAgent: "test", CreatedAt: now(), LastSeenAt: now(), ExpiresAt: now().Add(time.Hour),
		IdleTimeout: latchkey.Duration(30 * time.Minute), Hash: []byte("hash of " + id)}
	if edit != nil {
		edit(ses)
	}
	must(t, s.CreateSession(t.Context(), ses))
	return ses
}

// Recorder collects the changes a store delivers to one subscriber. The
// feed calls its subscribers in the order they subscribed, so a Recorder
// subscribed after another subscriber hears each change after it. The zero
// Recorder is ready to use.
type Recorder struct {
	mu   sync.Mutex
	got  []latchkey.Change
	grew chan struct{} // closed, and replaced, when a change is recorded; nil until waited on
}

// Record subscribes a Recorder to the feed until the test ends.
func Record(t testing.TB, feed latchkey.ChangeFeed) *Recorder {
	r := new(Recorder)
	t.Cleanup(feed.Subscribe(r.add))
	return r
}

// add records a change.
func (r *Recorder) add(c latchkey.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, c)
	if r.grew != nil {
		close(r.grew)
		r.grew = nil
	}
}

// Changes returns the changes recorded so far.
func (r *Recorder) Changes() []latchkey.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Take returns the changes recorded so far and forgets them.
func (r *Recorder) Take() []latchkey.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// Wait waits until want has been recorded, and fails the test when it has
// not been within timeout.
func (r *Recorder) Wait(t testing.TB, want latchkey.Change, timeout time.Duration) {
	t.Helper()
	r.WaitUntil(t, timeout, fmt.Sprintf("no %+v", want), func(got []latchkey.Change) bool {
		return slices.Contains(got, want)
	})
}

// WaitUntil waits until cond holds for the changes recorded so far,
// checking it after each recorded change, and fails the test with what when
// it does not within timeout: the time a change may take to come through
// the database, not a pause.
func (r *Recorder) WaitUntil(t testing.TB, timeout time.Duration, what string, cond func([]latchkey.Change) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond(r.got)
		if r.grew == nil {
			r.grew = make(chan struct{})
		}
		grew := r.grew
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-grew:
		case <-deadline.C:
			t.Fatalf("%s within %v; recorded %+v", what, timeout, r.Changes())
		}
	}
}

// ids returns the ids of users.
func ids(users []*latchkey.User) []int64 {
	out := []int64{}
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

// sortedCopy returns l sorted.
func sortedCopy(l []string) []string {
	l = slices.Clone(l)
	slices.Sort(l)
	return l
}
