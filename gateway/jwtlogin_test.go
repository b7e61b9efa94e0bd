package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// jwtLogin posts seed 002's login: JSON with Content-Type, nothing else.
func (f *jwtFixture) jwtLogin(email, secret string) (int, string) {
	f.t.Helper()
	body, _ := json.Marshal(jwtLoginRequest{Email: email, Password: secret})
	w := f.serve(request("POST", "/api/Account/login", string(body), "Content-Type", "application/json"))
	return w.Code, w.Body.String()
}

// addEmailUser makes LAB\name with the email and password-<name>.
func (f *jwtFixture) addEmailUser(name, email string, roles ...string) *latchkey.User {
	f.t.Helper()
	u := f.addUser(name, roles...)
	u, err := f.st.UpdateUser(context.Background(), u.ID, latchkey.UserUpdate{Email: &email}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// TestJWTLogin follows seed 002: login with the email, then the token as a
// bearer token.
func TestJWTLogin(t *testing.T) {
	f := newJWTFixture(t)
	ctx := context.Background()
	u := f.addEmailUser("quant", "Quant@Example.com", latchkey.RoleAPIKeyUser)
	w := f.serve(request("POST", "/api/Account/login", "{\n\"email\": \"quant@example.com\",\n\"password\": \"password-quant\"\n}",
		"Content-Type", "application/json"))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	var body struct {
		Token string                     `json:"token"`
		User  map[string]json.RawMessage `json:"user"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || strings.Count(body.Token, ".") != 2 {
		t.Fatalf("body = %s", w.Body)
	}
	want := map[string]string{"id": strconv.FormatInt(u.ID, 10), "email": `"Quant@Example.com"`, "name": `""`, "username": `"quant"`, "directory": `"LAB"`}
	if len(body.User) != len(want) {
		t.Errorf("user = %s", w.Body)
	}
	for k, v := range want {
		if string(body.User[k]) != v {
			t.Errorf("user.%s = %s, want %s", k, body.User[k], v)
		}
	}
	r, err := f.s.issuer.Verify(ctx, body.Token)
	if err != nil || r.Directory != "LAB" || r.Username != "quant" || r.Subject != `LAB\quant` {
		t.Fatalf("Verify: %+v, %v", r, err)
	}
	if left := time.Until(r.ExpiresAt); left < 23*time.Hour || left > 24*time.Hour {
		t.Errorf("the token lives %v, want the default 24h", left)
	}
	w = f.serve(request("GET", "/api/data/endpoint", "", "Authorization", "Bearer "+body.Token))
	if e := echoed(t, w); w.Code != 200 || e.Principal.Username != "quant" || e.Principal.Method != latchkey.MethodJWT ||
		e.Principal.UserID != u.ID || !slices.Contains(e.Principal.Abilities, latchkey.AbilityAPIKeySignIn) {
		t.Errorf("the token as a bearer token: %d %s", w.Code, w.Body)
	}
	if w := f.serve(request("GET", "/api/data/endpoint", "", "Authorization", "Bearer "+body.Token[:len(body.Token)-2]+"AA")); w.Code != 401 {
		t.Errorf("a forged token: %d %s", w.Code, w.Body)
	}
	events, _ := f.st.AuditEvents(ctx, latchkey.AuditFilter{Action: latchkey.AuditLoginSuccess})
	if len(events) != 1 || events[0].Actor != `LAB\quant` || events[0].Detail != "JWT login" {
		t.Errorf("audit = %+v", events)
	}
}

func TestJWTLoginAPIKey(t *testing.T) {
	f := newJWTFixture(t)
	u := f.addEmailUser("quant", "quant@example.com", latchkey.RoleAPIKeyUser)
	key := f.key(u, false)
	code, body := f.jwtLogin("quant@example.com", key.Key)
	if code != 200 {
		t.Fatalf("login with a key: %d %s", code, body)
	}
	var resp jwtLoginResponse
	json.Unmarshal([]byte(body), &resp)
	r, err := f.s.issuer.Verify(context.Background(), resp.Token)
	if err != nil || r.ExpiresAt.After(key.Expires) {
		t.Errorf("Verify: %v; expires %v, key %v", err, r.ExpiresAt, key.Expires)
	}
	if code, body := f.jwtLogin("quant@example.com", f.key(u, true).Key); code != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("read-only key: %d %s", code, body)
	}
	noKeys := f.addEmailUser("plain", "plain@example.com")
	if code, body := f.jwtLogin("plain@example.com", f.key(noKeys, false).Key); code != 403 {
		t.Errorf("key of a user without apikey.signin: %d %s", code, body)
	}
}

func TestJWTLoginRefusals(t *testing.T) {
	f := newJWTFixture(t)
	f.addEmailUser("quant", "quant@example.com")
	wrongCode, wrong := f.jwtLogin("quant@example.com", "wrong")
	unknownCode, unknown := f.jwtLogin("nobody@example.com", "password-quant")
	if wrongCode != 401 || unknownCode != 401 || wrong != unknown {
		t.Errorf("wrong password %d %s; unknown email %d %s", wrongCode, wrong, unknownCode, unknown)
	}
	for _, tc := range []struct {
		name, method, body, ctype string
		status                    int
	}{
		{"no password", "POST", `{"email":"quant@example.com"}`, "application/json", 400},
		{"unknown field", "POST", `{"email":"a@b","password":"x","x":1}`, "application/json", 400},
		{"form", "POST", `email=a&password=b`, "application/x-www-form-urlencoded", 400},
		{"GET", "GET", "", "", 405},
	} {
		w := f.serve(request(tc.method, "/api/Account/login", tc.body, "Content-Type", tc.ctype))
		if w.Code != tc.status {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
	}
	// Regulation: the account is throttled after five failures (the
	// fixture's limit), with an email as with a username.
	for range 4 {
		f.jwtLogin("quant@example.com", "wrong")
	}
	if code, body := f.jwtLogin("quant@example.com", "password-quant"); code != 429 {
		t.Errorf("after five failures: %d %s", code, body)
	}
}
