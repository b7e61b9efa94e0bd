package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
)

func TestFeedDeliversInOrderToEverySubscriber(t *testing.T) {
	var f Feed
	var mu sync.Mutex
	var got []string
	sub := func(name string) func() {
		return f.Subscribe(func(c latchkey.Change) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, name+":"+c.Name)
		})
	}
	sub("a")
	unsubB := sub("b")
	f.Publish(latchkey.Change{Name: "1"}, latchkey.Change{Name: "2"})
	unsubB()
	unsubB()
	f.Publish(latchkey.Change{Name: "3"})
	f.Publish()
	want := fmt.Sprint([]string{"a:1", "b:1", "a:2", "b:2", "a:3"})
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestFeedSubscriberMayUnsubscribe checks that no lock is held while
// subscribers run.
func TestFeedSubscriberMayUnsubscribe(t *testing.T) {
	var f Feed
	var calls atomic.Int32
	var unsub func()
	unsub = f.Subscribe(func(latchkey.Change) {
		calls.Add(1)
		unsub()
		f.Subscribe(func(latchkey.Change) {})
	})
	f.Publish(latchkey.Change{})
	f.Publish(latchkey.Change{})
	if n := calls.Load(); n != 1 {
		t.Fatalf("called %d times, want 1", n)
	}
}

func TestFeedConcurrentUse(t *testing.T) {
	var f Feed
	var wg sync.WaitGroup
	var delivered atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 100 {
				unsub := f.Subscribe(func(latchkey.Change) { delivered.Add(1) })
				f.Publish(latchkey.Change{Kind: latchkey.ChangeResync})
				unsub()
			}
		})
	}
	wg.Wait()
	if delivered.Load() < 800 {
		t.Fatalf("delivered %d changes, want at least 800", delivered.Load())
	}
}

func TestFail(t *testing.T) {
	classified := errors.New("classified")
	s := &Store{classify: func(err error) string {
		if errors.Is(err, classified) {
			return latchkey.ECONFLICT
		}
		return ""
	}}
	mine := latchkey.Errorf(latchkey.EINVALID, "Mine.")
	for _, tc := range []struct {
		err  error
		code string
	}{
		{nil, ""},
		{mine, latchkey.EINVALID},
		{fmt.Errorf("wrapped: %w", mine), latchkey.EINVALID},
		{sql.ErrNoRows, latchkey.ENOTFOUND},
		{context.DeadlineExceeded, latchkey.EUNAVAILABLE},
		{sql.ErrConnDone, latchkey.EUNAVAILABLE},
		{errors.New("sql: database is closed"), latchkey.EUNAVAILABLE},
		{classified, latchkey.ECONFLICT},
		{errors.New("boom"), latchkey.EINTERNAL},
	} {
		err := s.fail("op", tc.err)
		if code := latchkey.ErrorCode(err); code != tc.code {
			t.Errorf("fail(%v) = %v (code %q), want code %q", tc.err, err, code, tc.code)
		}
		if tc.err == nil {
			continue
		}
		if _, ok := errors.AsType[*latchkey.Error](err); !ok {
			t.Errorf("fail(%v) = %T, want *latchkey.Error", tc.err, err)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("fail(%v) lost its cause", tc.err)
		}
	}
	if msg := latchkey.ErrorMessage(s.fail("op", errors.New("secret table"))); msg != "An internal error occurred." {
		t.Errorf("internal message = %q", msg)
	}
}
