package credential

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

// stressRounds is how many changes TestCachesFollowChanges makes on each
// backend: 10,000 under CI, fewer on a developer's machine (and with
// -short). Every change is raced by sign-ins and credential loads of the
// same user on other goroutines.
func stressRounds() int {
	switch {
	case os.Getenv("CI") != "":
		return 10_000
	case testing.Short():
		return 300
	}
	return 2_000
}

// TestCachesFollowChanges holds the credential layer to its invariant: once
// a change has been heard, no check that starts afterwards is answered from
// older state. Changers disable, enable, revoke and grant roles, revoke keys,
// end sessions and change passwords, one goroutine per user; checkers verify
// keys and sessions, sign in with passwords (as a login and as Basic) and
// with keys as passwords, and vouch for users as the JWT and certificate
// methods do, all the while, for the same users. A check that ran entirely
// between two changes of its user must agree with the state the first one
// left.
func TestCachesFollowChanges(t *testing.T) {
	for _, b := range testBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel() // the two wait on their stores more than they compute
			runStress(t, b.open(t, 10*time.Second), stressRounds())
		})
	}
}

// account is a user of the stress test with what the store says of it now.
type account struct {
	user  *latchkey.User
	login string
	// epoch is odd while a change of this user is being made, and even
	// (and state up to date) once the store has committed it.
	epoch atomic.Uint64
	state atomic.Pointer[accountState]
	// judged counts the checks that ran between two changes; each one
	// also wakes the changer, which waits for some before the next change.
	judged atomic.Int64
	wake   chan struct{}
}

// accountState is what the store holds for an account between changes.
type accountState struct {
	disabled, hasRole bool
	password          string
	oldPasswords      []string
	keyID, key        string
	oldKeys           []string // revoked
	session           string
	sessionID         string
	oldSessions       []string // ended
}

func runStress(t *testing.T, st latchkey.Store, rounds int) {
	ctx := context.Background()
	h := password.NewHasher(testParams, 4)
	svc, err := New(ctx, st, h, slog.New(slog.DiscardHandler), Config{
		SessionIdle: time.Hour, SessionLifetime: 24 * time.Hour, KeyMaxDays: 365, KeyDefaultDays: 30,
		MaxFailures: 1 << 30, MaxAddressFailures: 1 << 30, FailureWindow: time.Minute, SealKey: make([]byte, 32),
		DefaultDirectory: latchkey.DefaultDirectory, CacheSize: 10_000, PasswordCacheTTL: 5 * time.Minute, PasswordMinLength: 8, FlushEvery: 15 * time.Second, UsageFlushEvery: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	accounts := make([]*account, 3)
	for i := range accounts {
		accounts[i] = newAccount(t, st, svc, h, fmt.Sprintf("user%d", i))
	}

	var (
		stop               atomic.Bool
		checks, judged     atomic.Int64
		staleMu            sync.Mutex
		stale              []string
		staleCount, broken atomic.Int64
	)
	report := func(format string, args ...any) {
		staleCount.Add(1)
		staleMu.Lock()
		if len(stale) < 10 {
			stale = append(stale, fmt.Sprintf(format, args...))
		}
		staleMu.Unlock()
	}

	var checkers sync.WaitGroup
	for g := range 4 {
		checkers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for !stop.Load() {
				a := accounts[r.IntN(len(accounts))]
				e1 := a.epoch.Load()
				if e1%2 == 1 {
					runtime.Gosched()
					continue
				}
				s := a.state.Load()
				op := r.IntN(9)
				got, err := stressCheck(ctx, svc, a, s, op, r)
				checks.Add(1)
				if a.epoch.Load() != e1 {
					continue // overlapped a change: either answer is right
				}
				judged.Add(1)
				a.judged.Add(1)
				select {
				case a.wake <- struct{}{}:
				default:
				}
				if msg := judge(a, s, op, got, err); msg != "" {
					if c := latchkey.ErrorCode(err); c != "" && c != latchkey.EUNAUTHORIZED && c != latchkey.EFORBIDDEN {
						broken.Add(1)
					}
					report("%s, %s: %s", a.login, describeState(s), msg)
				}
			}
		})
	}

	var changers sync.WaitGroup
	for i, a := range accounts {
		changers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 2))
			for range rounds / len(accounts) {
				// Let a check or two run on the last change's state, so
				// that the next change races the reloads it caused.
				target := a.judged.Load() + 1 + int64(r.IntN(2))
				for a.judged.Load() < target && !stop.Load() {
					select {
					case <-a.wake:
					case <-time.After(10 * time.Second):
						t.Errorf("%s: no check ran for 10s", a.login)
						stop.Store(true)
					}
				}
				a.epoch.Add(1)
				next, err := change(ctx, st, svc, h, a, a.state.Load(), r)
				if err != nil {
					t.Errorf("%s: change: %v", a.login, err)
					stop.Store(true)
				}
				a.state.Store(next)
				a.epoch.Add(1)
				if stop.Load() {
					return
				}
			}
		})
	}
	changers.Wait()
	stop.Store(true)
	checkers.Wait()

	t.Logf("%d changes, %d checks, %d between changes, %d stale", rounds, checks.Load(), judged.Load(), staleCount.Load())
	if n := staleCount.Load(); n > 0 {
		t.Errorf("%d checks answered from state older than a change heard before they started (%d of them with an unexpected error); the first:\n%s",
			n, broken.Load(), strings.Join(stale, "\n"))
	}
	if judged.Load() < int64(rounds) {
		t.Errorf("only %d checks ran between changes; the test proves little", judged.Load())
	}
}

func newAccount(t *testing.T, st latchkey.Store, svc *Service, h *password.Hasher, name string) *account {
	ctx := context.Background()
	pw := "password-" + name
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &latchkey.User{Directory: "LAB", Username: name, PasswordHash: hash, Roles: []string{latchkey.RoleAPIKeyUser}}
	if err := st.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	a := &account{user: u, login: `LAB\` + name, wake: make(chan struct{}, 1)}
	s := &accountState{hasRole: true, password: pw}
	if err := newKey(ctx, st, u, s); err != nil {
		t.Fatal(err)
	}
	if err := newSession(ctx, svc, u, s); err != nil {
		t.Fatal(err)
	}
	a.state.Store(s)
	return a
}

func newKey(ctx context.Context, st latchkey.Store, u *latchkey.User, s *accountState) error {
	id, secret, hash := MintAPIKey()
	now := time.Now()
	k := &latchkey.APIKey{ID: id, UserID: u.ID, CreatedAt: now, ExpiresAt: now.AddDate(0, 0, 30), Hash: hash}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		return err
	}
	s.keyID, s.key = id, secret
	return nil
}

func newSession(ctx context.Context, svc *Service, u *latchkey.User, s *accountState) error {
	token, sess, err := svc.OpenSession(ctx, &latchkey.Principal{UserID: u.ID, Directory: u.Directory, Username: u.Username},
		ByPassword, "", "192.0.2.1:1", "stress")
	if err != nil {
		return err
	}
	s.session, s.sessionID = token, sess.ID
	return nil
}

// change makes one random change of a's user in the store and returns the
// state it leaves.
func change(ctx context.Context, st latchkey.Store, svc *Service, h *password.Hasher, a *account, s *accountState, r *rand.Rand) (*accountState, error) {
	n := *s
	n.oldKeys, n.oldSessions, n.oldPasswords = slices.Clone(s.oldKeys), slices.Clone(s.oldSessions), slices.Clone(s.oldPasswords)
	id := a.user.ID
	switch r.IntN(8) {
	case 0, 1: // disable or enable
		n.disabled = !s.disabled
		if _, err := st.UpdateUser(ctx, id, latchkey.UserUpdate{Disabled: &n.disabled}, nil); err != nil || !n.disabled {
			return &n, err
		}
		// Disabling ended the session; the next one, opened now, works
		// once the user is enabled again.
		n.oldSessions = append(n.oldSessions, s.session)
		return &n, newSession(ctx, svc, a.user, &n)
	case 2, 3: // revoke or grant the role that has apikey.signin
		n.hasRole = !s.hasRole
		if n.hasRole {
			return &n, st.GrantRole(ctx, id, latchkey.RoleAPIKeyUser, nil)
		}
		return &n, st.RevokeRole(ctx, id, latchkey.RoleAPIKeyUser, nil)
	case 4, 5: // revoke the key, and make the next one
		if err := st.RevokeAPIKey(ctx, s.keyID, time.Now()); err != nil {
			return nil, err
		}
		n.oldKeys = append(n.oldKeys, s.key)
		return &n, newKey(ctx, st, a.user, &n)
	case 6: // end the session, and open the next one
		if err := st.EndSession(ctx, s.sessionID, time.Now(), nil); err != nil {
			return nil, err
		}
		n.oldSessions = append(n.oldSessions, s.session)
		return &n, newSession(ctx, svc, a.user, &n)
	default: // a new password
		n.oldPasswords = append(n.oldPasswords, s.password)
		n.password = fmt.Sprintf("password-%s-%d", a.user.Username, len(n.oldPasswords))
		hash, err := h.Hash(ctx, n.password)
		if err != nil {
			return nil, err
		}
		_, err = st.UpdateUser(ctx, id, latchkey.UserUpdate{PasswordHash: &hash}, nil)
		return &n, err
	}
}

// The checks of the stress test.
const (
	checkKey = iota
	checkOldKey
	checkSession
	checkOldSession
	checkPassword // as a login would
	checkBasic    // as HTTP Basic would
	checkOldPassword
	checkKeyAsPassword
	checkVouch // as the JWT and certificate methods do
)

// stressCheck runs check op for a with state s and returns the principal it
// got.
func stressCheck(ctx context.Context, svc *Service, a *account, s *accountState, op int, r *rand.Rand) (*latchkey.Principal, error) {
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	switch op {
	case checkKey:
		return svc.VerifyAPIKey(ctx, s.key)
	case checkOldKey:
		if len(s.oldKeys) == 0 {
			return svc.VerifyAPIKey(ctx, s.key)
		}
		return svc.VerifyAPIKey(ctx, pick(s.oldKeys))
	case checkSession, checkOldSession:
		token := s.session
		if op == checkOldSession && len(s.oldSessions) > 0 {
			token = pick(s.oldSessions)
		}
		p, _, err := svc.VerifySession(ctx, token)
		return p, err
	case checkPassword, checkBasic, checkOldPassword:
		pw, method := s.password, latchkey.MethodSession
		if op == checkBasic {
			method = latchkey.MethodBasic
		}
		if op == checkOldPassword && len(s.oldPasswords) > 0 {
			pw = pick(s.oldPasswords)
		}
		p, _, err := svc.SignIn(ctx, a.login, pw, "192.0.2.1:1", method)
		return p, err
	case checkKeyAsPassword:
		p, _, err := svc.SignIn(ctx, a.login, s.key, "192.0.2.1:1", latchkey.MethodBasic)
		return p, err
	default:
		p, found, err := svc.Vouch(ctx, &latchkey.Principal{Directory: a.user.Directory, Username: a.user.Username, Method: latchkey.MethodJWT})
		if err == nil && !found {
			err = fmt.Errorf("the store does not hold %s", a.login)
		}
		return p, err
	}
}

// judge says what is wrong with the answer to check op in state s, or "".
func judge(a *account, s *accountState, op int, p *latchkey.Principal, err error) string {
	want := func(ok bool, code string) string {
		switch {
		case ok && err != nil:
			return fmt.Sprintf("check %d refused: %v", op, err)
		case ok && p.UserID != a.user.ID:
			return fmt.Sprintf("check %d: principal of user %d", op, p.UserID)
		case ok && p.Can(latchkey.AbilityAPIKeySignIn) != s.hasRole:
			return fmt.Sprintf("check %d: principal has apikey.signin=%v", op, !s.hasRole)
		case !ok && err == nil:
			return fmt.Sprintf("check %d accepted", op)
		case !ok && latchkey.ErrorCode(err) != code:
			return fmt.Sprintf("check %d refused with %q, want %q: %v", op, latchkey.ErrorCode(err), code, err)
		}
		return ""
	}
	keyCode := latchkey.EUNAUTHORIZED
	if !s.disabled && !s.hasRole {
		keyCode = latchkey.EFORBIDDEN
	}
	switch op {
	case checkKey, checkKeyAsPassword:
		return want(!s.disabled && s.hasRole, keyCode)
	case checkOldKey:
		if len(s.oldKeys) == 0 {
			return want(!s.disabled && s.hasRole, keyCode)
		}
		return want(false, latchkey.EUNAUTHORIZED)
	case checkSession:
		return want(!s.disabled, latchkey.EUNAUTHORIZED)
	case checkOldSession:
		return want(!s.disabled && len(s.oldSessions) == 0, latchkey.EUNAUTHORIZED)
	case checkPassword, checkBasic:
		return want(!s.disabled, latchkey.EUNAUTHORIZED)
	case checkOldPassword:
		return want(!s.disabled && len(s.oldPasswords) == 0, latchkey.EUNAUTHORIZED)
	default:
		return want(!s.disabled, latchkey.EUNAUTHORIZED)
	}
}

func describeState(s *accountState) string {
	return fmt.Sprintf("disabled=%v role=%v keys revoked=%d sessions ended=%d passwords changed=%d",
		s.disabled, s.hasRole, len(s.oldKeys), len(s.oldSessions), len(s.oldPasswords))
}
