package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// TestOpenLockExcludes checks that a second lockOpen waits for the first's
// unlock, and that a caller whose context ends stops waiting.
func TestOpenLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	unlock, err := lockOpen(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if u, err := lockOpen(ctx, path); err == nil {
		u()
		t.Fatal("a second lockOpen took the lock while the first held it")
	} else if code := latchkey.ErrorCode(err); code != latchkey.EUNAVAILABLE {
		t.Fatalf("the second lockOpen: %v (code %q), want %q", err, code, latchkey.EUNAVAILABLE)
	}
	got := make(chan error, 1)
	go func() {
		u, err := lockOpen(t.Context(), path)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third lockOpen returned (%v) while the first held the lock", err)
	case <-time.After(100 * time.Millisecond): // not a wait for something: the lock must hold meanwhile
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lockOpen did not get the lock within 10s of its release")
	}
}

// TestOpenNewFileTogether opens one new file from several goroutines at
// once, as nodes started together do: every Open must succeed.
func TestOpenNewFileTogether(t *testing.T) {
	for trial := range 5 {
		path := filepath.Join(t.TempDir(), "latchkey.db")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := Open(context.Background(), path, Options{Logger: testLogger(t)})
				if err == nil {
					err = db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("trial %d: Open %d: %v", trial, i, err)
			}
		}
	}
}
