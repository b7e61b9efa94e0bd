package credential

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func TestSignInByEmail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.addUser(t, "goran", latchkey.RoleAPIKeyUser)
	email := "Goran@Example.com"
	if _, err := f.st.UpdateUser(ctx, u.ID, latchkey.UserUpdate{Email: &email}, nil); err != nil {
		t.Fatal(err)
	}
	key, err := f.svc.GenerateAPIKey(ctx, nil, KeyRequest{OwnerID: u.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	other := f.addUser(t, "other", latchkey.RoleAPIKeyUser)
	otherKey, _ := f.svc.GenerateAPIKey(ctx, nil, KeyRequest{OwnerID: other.ID}, "")
	for _, tt := range []struct {
		email, secret, want, how string
	}{
		{"goran@example.com", "password-goran", "", ByPassword},
		{"GORAN@EXAMPLE.COM", key.Key, "", ByAPIKey},
		{"goran@example.com", "wrong", latchkey.EUNAUTHORIZED, ""},
		{"goran@example.com", otherKey.Key, latchkey.EUNAUTHORIZED, ""}, // a valid key, not goran's
		{"nobody@example.com", "password-goran", latchkey.EUNAUTHORIZED, ""},
		{"nobody@example.com", key.Key, latchkey.EUNAUTHORIZED, ""},
		{"", "password-goran", latchkey.EUNAUTHORIZED, ""},
	} {
		p, how, err := f.svc.SignInByEmail(ctx, tt.email, tt.secret, "192.0.2.1:1")
		if code(err) != tt.want {
			t.Errorf("SignInByEmail(%q) = %v, want code %q", tt.email, err, tt.want)
			continue
		}
		if err != nil {
			if msg := latchkey.ErrorMessage(err); msg != latchkey.ErrorMessage(errBadLogin) {
				t.Errorf("SignInByEmail(%q) says %q", tt.email, msg)
			}
			continue
		}
		if p.UserID != u.ID || p.Method != latchkey.MethodJWT || how != tt.how {
			t.Errorf("SignInByEmail(%q) = %+v, %s", tt.email, p, how)
		}
	}
	events, _ := f.st.AuditEvents(ctx, latchkey.AuditFilter{Action: "login."})
	var ok, failed int
	for _, e := range events {
		switch e.Action {
		case latchkey.AuditLoginSuccess:
			ok++
		case latchkey.AuditLoginFailure:
			failed++
		}
	}
	if ok != 2 || failed != 5 {
		t.Errorf("audited %d successes and %d failures, want 2 and 5", ok, failed)
	}
}

// TestSignInByEmailRegulated: unknown emails are throttled as accounts are.
func TestSignInByEmailRegulated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := range 6 {
		_, _, err := f.svc.SignInByEmail(ctx, "nobody@example.com", "wrong", "192.0.2.1:1")
		want := latchkey.EUNAUTHORIZED
		if i == 5 {
			want = latchkey.ERATELIMITED
		}
		if code(err) != want {
			t.Fatalf("attempt %d: %v, want %s", i+1, err, want)
		}
	}
}

func TestOpenJWTSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	id := JWTIdentity{Directory: "CLOUD", Username: "ann", Name: "Ann", Email: "ann@example.com",
		Groups: []string{"g"}, JTI: "jti-1", ExpiresAt: exp}
	p, token, sess, err := f.svc.OpenJWTSession(ctx, id, "192.0.2.1:1", "curl")
	if err != nil {
		t.Fatal(err)
	}
	if p.Directory != "CLOUD" || p.Username != "ann" || p.DisplayName != "Ann" || p.Method != latchkey.MethodSession ||
		sess.Method != ByJWT || sess.CredentialID != "jti-1" || !slices.Equal(p.Groups, []string{"g"}) {
		t.Errorf("principal %+v, session %+v", p, sess)
	}
	if time.Until(sess.ExpiresAt) < 23*time.Hour {
		t.Errorf("the session ends with the token: %v", sess.ExpiresAt)
	}
	if vp, vs, err := f.svc.VerifySession(ctx, token); err != nil || vp.Username != "ann" || vs.Method != ByJWT {
		t.Errorf("VerifySession: %v", err)
	}
	if _, _, _, err := f.svc.OpenJWTSession(ctx, id, "192.0.2.1:1", ""); code(err) != latchkey.EUNAUTHORIZED ||
		!strings.Contains(latchkey.ErrorMessage(err), "used already") {
		t.Errorf("replay: %v", err)
	}
	// The second token updates the user's name and email; the user is the same.
	id.JTI, id.Name, id.Email = "jti-2", "Ann B.", "annb@example.com"
	p2, _, _, err := f.svc.OpenJWTSession(ctx, id, "192.0.2.1:1", "")
	if err != nil || p2.UserID != p.UserID || p2.DisplayName != "Ann B." || p2.Email != "annb@example.com" {
		t.Errorf("second exchange: %+v, %v", p2, err)
	}
	users, _ := f.st.Users(ctx, latchkey.UserFilter{Directory: "CLOUD"})
	if len(users) != 1 {
		t.Errorf("%d users in CLOUD", len(users))
	}
	disabled := true
	if _, err := f.st.UpdateUser(ctx, p.UserID, latchkey.UserUpdate{Disabled: &disabled}, nil); err != nil {
		t.Fatal(err)
	}
	id.JTI = "jti-3"
	if _, _, _, err := f.svc.OpenJWTSession(ctx, id, "", ""); code(err) != latchkey.EUNAUTHORIZED {
		t.Errorf("disabled: %v", err)
	}
	for _, bad := range []JWTIdentity{
		{Directory: "CLOUD", Username: "x", ExpiresAt: exp},
		{Directory: "CLOUD", Username: "x", JTI: "j"},
		{Directory: "CLOUD", JTI: "j", ExpiresAt: exp},
		{Directory: "CLOUD", Username: `a\b`, JTI: "j4", ExpiresAt: exp},
	} {
		if _, _, _, err := f.svc.OpenJWTSession(ctx, bad, "", ""); code(err) != latchkey.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := CSRFToken("session-a"), CSRFToken("session-b")
	if a == b || len(a) != 43 || a == CSRFToken("") {
		t.Errorf("tokens %q %q", a, b)
	}
	if !CheckCSRF("session-a", a) || CheckCSRF("session-a", b) || CheckCSRF("session-a", "") {
		t.Error("CheckCSRF")
	}
}
