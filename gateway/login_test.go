package gateway

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var (
	expiresRE = regexp.MustCompile(`^(\d+\.\d{2}), (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}), (\d+\.\d{2})$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

// TestLoginLogout follows seed 004: login, the cookie on a GET, the
// required headers on logout, logout, and the cookie refused after it.
func TestLoginLogout(t *testing.T) {
	f := newFixture(t)
	f.addUser(`LOCAL\apiuser`, latchkey.RoleAPIKeyUser)
	before := time.Now()
	w := f.serve(request("POST", "/api/v1/login", "{\n\"username\": \"apiuser\",\n\"password\": \"password-apiuser\"\n}", xhr()...))
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	h := w.Header()
	token := h.Get("X-Session-Id")
	if !tokenRE.MatchString(token) {
		t.Fatalf("X-Session-Id = %q", token)
	}
	if got := h.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got, want := h.Values("Set-Cookie"), []string{"wtsession=" + token + "; Path=/; Secure; HttpOnly; SameSite=Strict"}; !slices.Equal(got, want) {
		t.Errorf("Set-Cookie = %q, want %q", got, want)
	}
	m := expiresRE.FindStringSubmatch(h.Get("X-Session-Expires"))
	if m == nil {
		t.Fatalf("X-Session-Expires = %q", h.Get("X-Session-Expires"))
	}
	epoch, _ := strconv.ParseFloat(m[1], 64)
	left, _ := strconv.ParseFloat(m[3], 64)
	iso, err := time.Parse("2006-01-02T15:04:05.000000", m[2])
	if err != nil {
		t.Fatal(err)
	}
	if isoSecs := float64(iso.UnixMicro()) / 1e6; isoSecs-epoch < 0 || isoSecs-epoch >= 0.01 {
		t.Errorf("epoch %s and time %s disagree", m[1], m[2])
	}
	if ends := float64(before.UnixMicro())/1e6 + left; math.Abs(ends-epoch) > 1 {
		t.Errorf("now + %s seconds left is %.2f, not the epoch %s", m[3], ends, m[1])
	}
	if math.Abs(left-24*3600) > 2 {
		t.Errorf("%s seconds left, want about a day (the lifetime)", m[3])
	}
	var body map[string]json.RawMessage
	var auth struct {
		Abilities []string
		Expires   json.Number
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 2 || string(body["success"]) != "true" {
		t.Fatalf("body = %s", w.Body)
	}
	dec := json.NewDecoder(strings.NewReader(string(body["auth"])))
	dec.UseNumber()
	if err := dec.Decode(&auth); err != nil || !slices.Equal(auth.Abilities, []string{"apikey.generate", "apikey.signin"}) ||
		auth.Expires.String() != strings.Split(m[1], ".")[0] {
		t.Errorf("auth = %s; want the abilities and the integer epoch %s", body["auth"], m[1])
	}
	if strings.Contains(w.Body.String(), token) {
		t.Error("the token is in the body")
	}

	cookie := "wtsession=" + token
	if w := f.serve(request("GET", "/api/v1/projects", "", "Cookie", cookie)); w.Code != 200 || echoed(t, w).Principal.Username != "apiuser" {
		t.Fatalf("GET with the cookie: %d %s", w.Code, w.Body)
	}
	refused := []struct {
		name   string
		header []string
		status int
		want   string
	}{
		{"no X-Requested-With", []string{"Cookie", cookie, "Origin", testOrigin, "Accept", "application/json"}, 403, "X-Requested-With"},
		{"foreign Origin", xhr("Cookie", cookie, "Origin", "https://evil.example"), 403, "Origin"},
		{"no Origin", []string{"Cookie", cookie, "Accept", "*/*", "X-Requested-With", "XMLHttpRequest"}, 403, "Origin header is required"},
		{"no cookie", xhr(), 401, "no wtsession cookie"},
		{"unknown session", xhr("Cookie", "wtsession="+strings.Repeat("A", 43)), 401, "sign in again"},
	}
	for _, tt := range refused {
		w := f.serve(request("POST", "/api/v1/logout", "", tt.header...))
		if w.Code != tt.status || !strings.Contains(errorMessage(t, w), tt.want) {
			t.Errorf("logout with %s: %d %s; want %d naming %s", tt.name, w.Code, w.Body, tt.status, tt.want)
		}
	}
	if w := f.serve(request("GET", "/api/v1/projects", "", "Cookie", cookie)); w.Code != 200 {
		t.Fatalf("a refused logout ended the session: %d", w.Code)
	}

	w = f.serve(request("POST", "/api/v1/logout", "", xhr("Cookie", cookie)...))
	if w.Code != 200 || strings.Join(strings.Fields(w.Body.String()), "") != `{"success":true}` {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if got, want := w.Header().Values("Set-Cookie"), []string{"wtsession=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict"}; !slices.Equal(got, want) {
		t.Errorf("logout Set-Cookie = %q, want %q", got, want)
	}
	if w := f.serve(request("GET", "/api/v1/projects", "", "Cookie", cookie)); w.Code != 401 {
		t.Errorf("GET after logout: %d, want 401", w.Code)
	}
	if w := f.serve(request("POST", "/api/v1/logout", "", xhr("Cookie", cookie)...)); w.Code != 401 {
		t.Errorf("logout twice: %d, want 401", w.Code)
	}
}

func TestLoginRefused(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", latchkey.RoleAPIKeyUser)
	tests := []struct {
		name, method, body string
		header             []string
		status             int
		want               string
	}{
		{"wrong password", "POST", `{"username":"LAB\\goran","password":"wrong"}`, xhr(), 401, "The username or password is not correct."},
		{"unknown user", "POST", `{"username":"LAB\\nobody","password":"wrong"}`, xhr(), 401, "The username or password is not correct."},
		{"no password", "POST", `{"username":"LAB\\goran"}`, xhr(), 400, `"password"`},
		{"unknown field", "POST", `{"username":"LAB\\goran","password":"x","remember":true}`, xhr(), 400, `unknown field "remember"`},
		{"wrong type", "POST", `{"username":"LAB\\goran","password":5}`, xhr(), 400, `"password" must be a JSON string`},
		{"not JSON", "POST", `username=goran&password=x`, xhr(), 400, "well-formed JSON"},
		{"an array", "POST", `["goran"]`, xhr(), 400, "one well-formed JSON object"},
		{"two objects", "POST", `{"username":"a","password":"b"} {}`, xhr(), 400, "one well-formed JSON object"},
		{"empty", "POST", ``, xhr(), 400, "empty"},
		{"a form", "POST", `{"username":"a","password":"b"}`, xhr("Content-Type", "application/x-www-form-urlencoded"), 400, "Content-Type: application/json"},
		{"no Content-Type", "POST", `{"username":"a","password":"b"}`, xhr("Content-Type", ""), 400, "Content-Type: application/json"},
		{"too large", "POST", `{"username":"a","password":"` + strings.Repeat("x", 64<<10) + `"}`, xhr(), 400, "64 KiB"},
		{"headers first", "POST", `{"username":"LAB\\goran","password":"password-goran"}`, nil, 403, "Origin"},
		{"GET", "GET", "", nil, 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.serve(request(tt.method, "/api/v1/login", tt.body, tt.header...))
			if w.Code != tt.status || !strings.Contains(errorMessage(t, w), tt.want) {
				t.Errorf("%d %s; want %d naming %s", w.Code, w.Body, tt.status, tt.want)
			}
			if w.Header().Get("X-Session-Id") != "" || w.Header().Get("Set-Cookie") != "" || w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("a refused login sent session or challenge headers: %v", w.Header())
			}
			if tt.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
		})
	}
	// The answer does not depend on whether the user exists, also once
	// throttled.
	for _, user := range []string{`LAB\\goran`, `LAB\\ghost`} {
		body := `{"username":"` + user + `","password":"wrong"}`
		for range 5 {
			f.serve(request("POST", "/api/v1/login", body, xhr()...))
		}
		if w := f.serve(request("POST", "/api/v1/login", body, xhr()...)); w.Code != 429 {
			t.Errorf("%s after 5 failures: %d, want 429", user, w.Code)
		}
	}
}

// TestLoginWithAPIKey signs in with keys as the password: the session is
// read-only when the key is.
func TestLoginWithAPIKey(t *testing.T) {
	f := newFixture(t)
	goran := f.addUser("goran", latchkey.RoleAPIKeyUser)
	for _, ro := range []bool{false, true} {
		token := f.login(`LAB\goran`, f.key(goran, ro).Key)
		w := f.serve(request("POST", "/api/v1/projects", "", xhr("Cookie", "wtsession="+token)...))
		if want := map[bool]int{false: 200, true: 403}[ro]; w.Code != want {
			t.Errorf("read-only %v: POST with the session: %d, want %d", ro, w.Code, want)
		}
		if w := f.serve(request("GET", "/api/v1/projects", "", "Cookie", "wtsession="+token)); w.Code != 200 {
			t.Errorf("read-only %v: GET with the session: %d", ro, w.Code)
		}
	}
}

func TestSessionExpires(t *testing.T) {
	exp := time.Date(2024, 10, 25, 19, 43, 56, 264769000, time.UTC)
	tests := []struct {
		exp, now time.Time
		want     string
	}{
		{exp, exp.Add(-102000 * time.Second), "1729885436.26, 2024-10-25T19:43:56.264769, 102000.00"}, // seed 004's shape (its time is local, UTC-5; ours is UTC)
		{exp.Add(735 * time.Millisecond), exp.Add(-time.Second), "1729885436.99, 2024-10-25T19:43:56.999769, 1.73"},
		{exp.In(time.FixedZone("CEST", 2*3600)), exp.Add(time.Second), "1729885436.26, 2024-10-25T19:43:56.264769, 0.00"},
	}
	for _, tt := range tests {
		if got := sessionExpires(tt.exp, tt.now); got != tt.want {
			t.Errorf("sessionExpires(%v, %v) = %q, want %q", tt.exp, tt.now, got, tt.want)
		}
	}
}
