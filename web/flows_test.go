package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

var op = credential.Operator("test")

// auditActions returns the actions of the audit log, oldest first.
func (f *fixture) auditActions() []string {
	f.t.Helper()
	page, err := f.creds.Audit(context.Background(), op, credential.AuditQuery{Limit: credential.MaxPageSize})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for i := len(page.Items) - 1; i >= 0; i-- {
		out = append(out, page.Items[i].Action)
	}
	return out
}

// auditText is every field of every audit record, for looking for secrets.
func (f *fixture) auditText() string {
	f.t.Helper()
	page, err := f.creds.Audit(context.Background(), op, credential.AuditQuery{Limit: credential.MaxPageSize})
	if err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range page.Items {
		fmt.Fprintf(&b, "%+v\n", *e)
	}
	return b.String()
}

func (f *fixture) keys(owner int64) []*credential.KeyView {
	f.t.Helper()
	keys, err := f.creds.APIKeys(context.Background(), op, owner)
	if err != nil {
		f.t.Fatal(err)
	}
	return keys
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", "apikey-user")
	f.addUser("nokeys")
	key, err := f.creds.GenerateAPIKey(context.Background(), op, credential.KeyRequest{OwnerID: 1, Days: 5}, "")
	if err != nil {
		t.Fatal(err)
	}
	nokey, err := f.creds.GenerateAPIKey(context.Background(), op, credential.KeyRequest{OwnerID: 2, Days: 5}, "")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, user, secret string
		status             int
		want               string
	}{
		{"password", `LAB\goran`, "password-goran", http.StatusSeeOther, ""},
		{"password, any case", `lab\GORAN`, "password-goran", http.StatusSeeOther, ""},
		{"API key", `LAB\goran`, key.Key, http.StatusSeeOther, ""},
		{"wrong password", `LAB\goran`, "not the password", http.StatusUnauthorized, errSignIn},
		{"unknown user", `LAB\nobody`, "not the password", http.StatusUnauthorized, errSignIn},
		{"another's key", `LAB\nokeys`, key.Key, http.StatusUnauthorized, errSignIn},
		{"key without apikey.signin", `LAB\nokeys`, nokey.Key, http.StatusForbidden, "needs the ability apikey.signin"},
		{"no username", "", "x", http.StatusBadRequest, "Give your username"},
		{"no password", `LAB\goran`, "", http.StatusBadRequest, "Give your password or an API key."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := f.browser("b")
			p := b.do("POST", "/ui/signin", url.Values{"username": {tt.user}, "password": {tt.secret}})
			p.want(t, tt.status, tt.want)
			if tt.status != http.StatusSeeOther {
				if b.cookies["wtsession"] != "" {
					t.Error("a refused sign-in set a session cookie")
				}
				if len(tt.secret) > 1 && strings.Contains(p.body, tt.secret) {
					t.Error("the page shows the secret it was given")
				}
				return
			}
			if p.location() != "/ui/" {
				t.Errorf("went to %q, want /ui/", p.location())
			}
			// The cookie of POST /api/v1/login: same name, same attributes.
			cookie := p.header.Get("Set-Cookie")
			if want := "wtsession=" + b.cookies["wtsession"] + "; Path=/; Secure; HttpOnly; SameSite=Strict"; cookie != want {
				t.Errorf("Set-Cookie %q, want %q", cookie, want)
			}
			pr, sess, err := f.creds.VerifySession(context.Background(), b.cookies["wtsession"])
			if err != nil || pr.Username != "goran" {
				t.Fatalf("the cookie's session: %v %v", pr, err)
			}
			if sess.ExpiresAt.Sub(sess.CreatedAt) > 24*time.Hour || sess.IdleTimeout != latchkey.Duration(time.Hour) {
				t.Errorf("session lifetimes %v, idle %v: not the service's", sess.ExpiresAt.Sub(sess.CreatedAt), sess.IdleTimeout)
			}
			b.get("/ui/").want(t, http.StatusOK, `<dd>goran</dd>`)
		})
	}
	// The same audit as the JSON login: every attempt, and each session.
	actions := f.auditActions()
	for _, want := range []string{latchkey.AuditLoginSuccess, latchkey.AuditSessionCreate, latchkey.AuditLoginFailure} {
		if !contains(actions, want) {
			t.Errorf("the audit log lacks %s: %v", want, actions)
		}
	}
}

func TestSignInLimits(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran")
	b := f.browser("b")
	for range 5 {
		b.do("POST", "/ui/signin", url.Values{"username": {`LAB\goran`}, "password": {"wrong password"}}).want(t, http.StatusUnauthorized)
	}
	b.do("POST", "/ui/signin", url.Values{"username": {`LAB\goran`}, "password": {"password-goran"}}).
		want(t, http.StatusTooManyRequests, "Too many failed sign-ins")
}

func TestSignInGoesWhereItWasGoing(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	tests := []struct{ open, next, lands string }{
		{"/ui/admin/users?q=go", "/ui/admin/users?q=go", "/ui/admin/users?q=go"},
		{"/ui/", "", "/ui/"},
		{"", "https://evil.example/", "/ui/"},
		{"", "//evil.example/", "/ui/"},
		{"", "/ui/../evil", "/ui/"},
		{"", "/elsewhere", "/ui/"},
		{"", "/ui/signout", "/ui/"},
	}
	for _, tt := range tests {
		b := f.browser("b")
		next := tt.next
		if tt.open != "" {
			p := b.do("GET", tt.open, nil)
			want := "/ui/signin"
			if tt.next != "" {
				want += "?next=" + url.QueryEscape(tt.next)
			}
			if p.status != http.StatusSeeOther || p.location() != want {
				t.Fatalf("GET %s signed out: %d to %q, want %s", tt.open, p.status, p.location(), want)
			}
			page := b.follow(p)
			if next != "" && !strings.Contains(page.body, `name="next" value="`+strings.ReplaceAll(next, "&", "&amp;")+`"`) {
				t.Fatalf("the sign-in form does not carry next=%s:\n%s", next, page.body)
			}
		}
		p := b.do("POST", "/ui/signin", url.Values{"username": {`LAB\admin`}, "password": {"password-admin"}, "next": {next}})
		if p.status != http.StatusSeeOther || p.location() != tt.lands {
			t.Errorf("next %q: %d to %q, want %s", next, p.status, p.location(), tt.lands)
		}
	}
	// Signed in already, the sign-in page goes on.
	b := f.browser("b")
	b.signIn(`LAB\admin`, "password-admin")
	if p := b.do("GET", "/ui/signin?next=%2Fui%2Fadmin%2Froles", nil); p.location() != "/ui/admin/roles" {
		t.Errorf("the sign-in page, signed in: to %q", p.location())
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran")
	b := f.browser("b")
	b.signIn(`LAB\goran`, "password-goran")
	token := b.cookies["wtsession"]
	b.do("POST", "/ui/signout", url.Values{}).want(t, http.StatusForbidden) // no form token
	p := b.postRaw("/ui/signout")
	if p.status != http.StatusSeeOther || p.location() != "/ui/signin?signed_out=1" {
		t.Fatalf("sign out: %d to %q", p.status, p.location())
	}
	if c := p.header.Get("Set-Cookie"); c != "wtsession=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict" {
		t.Errorf("Set-Cookie %q", c)
	}
	b.follow(p).want(t, http.StatusOK, "You have signed out.")
	if _, _, err := f.creds.VerifySession(context.Background(), token); err == nil {
		t.Error("the session still works after signing out")
	}
	// The old cookie, replayed, signs nobody in.
	b.cookies["wtsession"] = token
	if p := b.do("GET", "/ui/", nil); p.location() != "/ui/signin?ended=1" {
		t.Errorf("an ended session's cookie: to %q", p.location())
	}
	if !contains(f.auditActions(), latchkey.AuditSessionEnd) {
		t.Error("no session.end in the audit log")
	}
}

func TestMySettings(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", "apikey-user")
	b := f.browser("b")
	p := b.signIn(`LAB\goran`, "password-goran")
	p.want(t, http.StatusOK, "<dd>LAB</dd>", "<dd>goran</dd>", "<dd>Goran</dd>", "<dd>goran@example.com</dd>",
		"<dd>apikey-user</dd>", "<li>apikey.generate</li>", "<li>apikey.signin</li>", "Security and Identity", "API Keys",
		"Create a new API Key", "You have no API keys.")

	// Without apikey.generate there is no way to make a key.
	f.addUser("plain")
	pb := f.browser("plain")
	pb.signIn(`LAB\plain`, "password-plain")
	if p := pb.get("/ui/"); strings.Contains(p.body, "Create a new API Key") {
		t.Error("My settings offers a key to someone without apikey.generate")
	}
	pb.get("/ui/keys/new").want(t, http.StatusForbidden, "apikey.generate")
	pb.post("/ui/keys", "days", "5").want(t, http.StatusBadRequest, "Making API keys needs the ability apikey.generate.")
	if len(f.keys(2)) != 0 {
		t.Error("a key was made without apikey.generate")
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran")
	b := f.browser("b")
	b.signIn(`LAB\goran`, "password-goran")
	tests := []struct {
		name                string
		current, pw, repeat string
		field, want         string
	}{
		{"no current", "", "a new password", "a new password", "current", "Give your current password."},
		{"not the same", "password-goran", "a new password", "another password", "repeat", "The two new passwords are not the same."},
		{"too short", "password-goran", "short", "short", "new", "The password must be at least 10 characters."},
		{"wrong current", "not it at all", "a new password", "a new password", "current", "The current password is not correct."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/ui/password", "current", tt.current, "new", tt.pw, "repeat", tt.repeat)
			p.want(t, http.StatusBadRequest, `id="`+tt.field+`-error">`+tt.want)
			if !strings.Contains(p.body, `id="`+tt.field+`" name="`+tt.field+`" type="password" autocomplete=`) ||
				!strings.Contains(p.body, `aria-invalid="true" aria-describedby="`+tt.field+`-error"`) {
				t.Error("the field is not marked invalid")
			}
		})
	}
	b.post("/ui/password", "current", "password-goran", "new", "a new password", "repeat", "a new password").
		want(t, http.StatusOK, "Your password is changed.")
	// The message was shown once.
	if strings.Contains(b.get("/ui/").body, "Your password is changed.") {
		t.Error("the message is shown twice")
	}
	f.browser("c").signIn(`LAB\goran`, "a new password")
}

func TestCreateKey(t *testing.T) {
	var logs bytes.Buffer
	f := newFixtureWith(t, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	f.addUser("goran", "apikey-user")
	b := f.browser("b")
	b.signIn(`LAB\goran`, "password-goran")
	b.get("/ui/keys/new").want(t, http.StatusOK, `<label for="name">Key name`, `<label for="read_only">Read-only</label>`,
		`<label for="days">Days before expiration</label>`, `max="90" value="30"`, ">OK</button>")

	bad := []struct {
		name, days, field, want string
	}{
		{"too many days", "91", "days", "Give a number of days from 1 to 90."},
		{"no days", "0", "days", "Give a number of days from 1 to 90."},
		{"not a number", "ten", "days", "Give a number of days from 1 to 90."},
		{strings.Repeat("n", 129), "5", "name", "The key name must be at most 128 characters."},
	}
	for _, tt := range bad {
		p := b.post("/ui/keys", "name", tt.name, "days", tt.days)
		p.want(t, http.StatusBadRequest, `<p class="error" id="`+tt.field+`-error">`+tt.want)
	}
	if len(f.keys(1)) != 0 {
		t.Fatal("a refused form made a key")
	}

	p := b.postRaw("/ui/keys", "name", "ci", "days", "10", "read_only", "1")
	p.want(t, http.StatusOK, "Your new API key", `<button type="button" class="copy" data-copy="secret" hidden>Copy</button>`,
		"This is the only time it is shown.", "in 10 days", "yes: GET, HEAD and OPTIONS only")
	if p.header.Get("Cache-Control") != "no-store" {
		t.Error("the key's page may be stored")
	}
	key := secret(p)
	pr, err := f.creds.VerifyAPIKey(context.Background(), key)
	if err != nil || pr.Username != "goran" || !pr.ReadOnly {
		t.Fatalf("the key shown: %v %v", pr, err)
	}
	for _, line := range p.header.Values("Set-Cookie") {
		if strings.Contains(line, key) {
			t.Error("the key is in a cookie")
		}
	}
	if strings.Contains(f.auditText(), key) || strings.Contains(logs.String(), key) {
		t.Error("the key is in the audit log or the log")
	}
	if !contains(f.auditActions(), latchkey.AuditAPIKeyCreate) {
		t.Error("no apikey.create in the audit log")
	}

	// The list shows it, never the key again.
	list := b.get("/ui/")
	list.want(t, http.StatusOK, "<td>ci</td>", "<code>"+f.keys(1)[0].ID+"</code>", "in 10 days", "<td>yes</td>", "Active")
	if strings.Contains(list.body, key) {
		t.Error("My settings shows the key again")
	}
}

func TestRevokeAndRotateKey(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", "apikey-user")
	f.addUser("bob", "apikey-user")
	b := f.browser("b")
	b.signIn(`LAB\goran`, "password-goran")
	key := secret(b.post("/ui/keys", "name", "old", "days", "20"))
	id, _ := credential.ParseAPIKey(key)

	// Someone else cannot revoke it: it is not found for them.
	bob := f.browser("bob")
	bob.signIn(`LAB\bob`, "password-bob")
	bob.post("/ui/keys/"+id+"/revoke").want(t, http.StatusNotFound, "No API key")

	p := b.postRaw("/ui/keys/" + id + "/rotate")
	p.want(t, http.StatusOK, "Your replacement API key", "The key "+id+" is revoked")
	fresh := secret(p)
	if fresh == "" || fresh == key {
		t.Fatal("no new key shown")
	}
	if _, err := f.creds.VerifyAPIKey(context.Background(), key); err == nil {
		t.Error("the rotated key still works")
	}
	if _, err := f.creds.VerifyAPIKey(context.Background(), fresh); err != nil {
		t.Errorf("the replacement does not work: %v", err)
	}
	newID, _ := credential.ParseAPIKey(fresh)
	b.post("/ui/keys/"+newID+"/revoke").want(t, http.StatusOK, "The API key "+newID+" is revoked")
	if _, err := f.creds.VerifyAPIKey(context.Background(), fresh); err == nil {
		t.Error("the revoked key still works")
	}
	list := b.get("/ui/")
	if n := strings.Count(list.body, "Revoked</span>"); n != 2 {
		t.Errorf("%d keys shown revoked, want 2", n)
	}
	if strings.Contains(list.body, "keys/"+newID+"/revoke") {
		t.Error("a revoked key can be revoked again")
	}
}

func TestKeyMadeOnMyBehalf(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	goran := f.addUser("goran", "apikey-user")
	admin := f.browser("admin")
	admin.signIn(`LAB\admin`, "password-admin")
	admin.get("/ui/admin/keys?user=LAB%5Cgoran").want(t, http.StatusOK, "The keys of LAB\\goran", "LAB\\goran has no API keys.",
		"The key will not be shown to you")
	p := admin.postRaw("/ui/admin/keys", "user", `LAB\goran`, "name", "for goran", "days", "7")
	if p.status != http.StatusSeeOther {
		t.Fatalf("create on behalf: %d %s", p.status, p.body)
	}
	page := admin.follow(p)
	page.want(t, http.StatusOK, "It is not shown to you: LAB\\goran can see it once", "Not yet seen by its owner")
	keys := f.keys(goran.ID)
	if len(keys) != 1 || !keys[0].AwaitsReveal {
		t.Fatalf("keys %+v", keys)
	}
	if strings.Contains(p.body+page.body, credential.KeyPrefix+keys[0].ID+"_") || secret(page) != "" {
		t.Fatal("the maker was shown the key")
	}

	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	g.get("/ui/").want(t, http.StatusOK, "Made for you: open Details to see it once")
	first := g.postRaw("/ui/keys/" + keys[0].ID + "/details")
	first.want(t, http.StatusOK, "This key was made for you by someone else. It is shown this once")
	key := secret(first)
	if pr, err := f.creds.VerifyAPIKey(context.Background(), key); err != nil || pr.UserID != goran.ID {
		t.Fatalf("the key in Details: %v %v", pr, err)
	}
	second := g.postRaw("/ui/keys/" + keys[0].ID + "/details")
	second.want(t, http.StatusOK, "API key details", "The key itself is not shown")
	if secret(second) != "" || strings.Contains(second.body, key) {
		t.Error("a second look at Details shows the key again")
	}
	if !contains(f.auditActions(), latchkey.AuditAPIKeyReveal) {
		t.Error("no apikey.reveal in the audit log")
	}

	// The administrator revokes it from the user's keys.
	admin.post("/ui/admin/keys/"+keys[0].ID+"/revoke", "user", `LAB\goran`).want(t, http.StatusOK, "is revoked")
	if _, err := f.creds.VerifyAPIKey(context.Background(), key); err == nil {
		t.Error("the revoked key still works")
	}
	// Without apikey.manage, another user's keys are not there.
	g.get("/ui/admin/keys?user=LAB%5Cadmin").want(t, http.StatusForbidden, "apikey.manage")
	g.post("/ui/admin/keys", "user", `LAB\admin`, "days", "3").want(t, http.StatusForbidden, "apikey.manage")
}

func TestAdminUsers(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	goran := f.addUser("goran", "apikey-user")
	f.addUser("lena")
	admin := f.browser("admin")
	admin.signIn(`LAB\admin`, "password-admin")

	admin.get("/ui/admin/users").want(t, http.StatusOK, "LAB\\admin", "LAB\\goran", "LAB\\lena")
	if p := admin.get("/ui/admin/users?q=gor"); strings.Contains(p.body, "LAB\\lena") || !strings.Contains(p.body, "LAB\\goran") {
		t.Error("search q=gor")
	}
	if p := admin.get("/ui/admin/users?role=admin"); strings.Contains(p.body, "LAB\\goran") || !strings.Contains(p.body, "LAB\\admin") {
		t.Error("search role=admin")
	}

	// Create, with a one-time password shown once, that signs in.
	p := admin.postRaw("/ui/admin/users", "directory", "LAB", "username", "nils", "name", "Nils", "email", "nils@example.com",
		"role", "apikey-user", "password", "random")
	p.want(t, http.StatusOK, "The user LAB\\nils is created.", "One-time password")
	pw := secret(p)
	if len(pw) < 20 {
		t.Fatalf("one-time password %q", pw)
	}
	if strings.Contains(f.auditText(), pw) {
		t.Error("the password is in the audit log")
	}
	f.browser("nils").signIn(`LAB\nils`, pw)
	admin.post("/ui/admin/users", "directory", "LAB", "username", "nils", "password", "none").want(t, http.StatusBadRequest)
	admin.post("/ui/admin/users", "username", "").want(t, http.StatusBadRequest, `<p class="error" id="username-error">Give a username.`)
	admin.post("/ui/admin/users", "username", "bad;name", "password", "none").want(t, http.StatusBadRequest, `id="username-error"`)

	// Disable: goran's open session ends, and his next page is the
	// sign-in page.
	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	gid := fmt.Sprint(goran.ID)
	admin.get("/ui/admin/users/"+gid).want(t, http.StatusOK, "<h1>LAB\\goran</h1>", ">Disable</button>", "Reset the password")
	admin.post("/ui/admin/users/"+gid+"/disable").want(t, http.StatusOK, "LAB\\goran is disabled", ">Enable</button>")
	p = g.do("GET", "/ui/", nil)
	if p.status != http.StatusSeeOther || p.location() != "/ui/signin?ended=1" {
		t.Fatalf("the disabled user's next page: %d to %q", p.status, p.location())
	}
	g.follow(p).want(t, http.StatusOK, "Your session has ended. Sign in again.")
	g.do("POST", "/ui/signin", url.Values{"username": {`LAB\goran`}, "password": {"password-goran"}}).want(t, http.StatusUnauthorized, errSignIn)
	admin.post("/ui/admin/users/"+gid+"/enable").want(t, http.StatusOK, "LAB\\goran is enabled again.")

	// Reset the password: the old one stops, the new one is shown once.
	p = admin.postRaw("/ui/admin/users/" + gid + "/password")
	p.want(t, http.StatusOK, "A new password for LAB\\goran")
	if g.do("POST", "/ui/signin", url.Values{"username": {`LAB\goran`}, "password": {"password-goran"}}).status != http.StatusUnauthorized {
		t.Error("the old password still works")
	}
	g.signIn(`LAB\goran`, secret(p))

	// Roles.
	admin.post("/ui/admin/users/"+gid+"/roles/grant", "role", "apikey-admin").want(t, http.StatusOK, "The role apikey-admin is granted.")
	admin.post("/ui/admin/users/"+gid+"/roles/revoke", "role", "apikey-user").want(t, http.StatusOK, "The role apikey-user is revoked.")
	if u, _ := f.creds.User(context.Background(), op, goran.ID); strings.Join(u.Roles, ",") != "apikey-admin" {
		t.Errorf("roles %v", u.Roles)
	}
	admin.post("/ui/admin/users/"+gid+"/update", "name", "Göran Sander", "email", "not an email").want(t, http.StatusBadRequest, `id="email-error"`)
	admin.post("/ui/admin/users/"+gid+"/update", "name", "Göran Sander", "email", "g@example.com").want(t, http.StatusOK, "<dd>Göran Sander</dd>")

	// Nobody disables themselves.
	admin.post("/ui/admin/users/1/disable").want(t, http.StatusConflict, "You cannot disable your own account.")
}

func TestAdminAbilities(t *testing.T) {
	f := newFixture(t)
	admin := f.addUser("admin", "admin")
	f.addUser("goran", "apikey-user")
	if _, err := f.creds.CreateRole(context.Background(), op, latchkey.Role{Name: "people", Abilities: []string{latchkey.AbilityUsersManage}}, ""); err != nil {
		t.Fatal(err)
	}
	f.addUser("hr", "people")
	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	hr := f.browser("hr")
	hr.signIn(`LAB\hr`, "password-hr")

	// Each section is in the navigation only with its ability, and the
	// credential service refuses it without.
	nav := map[string]string{"Users": "users.manage", "Roles": "", "API keys": "apikey.manage", "Sessions": "sessions.manage", "Audit log": "audit.read"}
	for label := range nav {
		if strings.Contains(g.get("/ui/").body, ">"+label+"</a>") {
			t.Errorf("the navigation shows %s to LAB\\goran", label)
		}
	}
	for _, path := range []string{"/ui/admin/users", "/ui/admin/users/1", "/ui/admin/roles", "/ui/admin/keys", "/ui/admin/sessions", "/ui/admin/audit"} {
		if p := g.get(path); p.status != http.StatusForbidden && p.status != http.StatusNotFound {
			t.Errorf("GET %s without abilities: %d", path, p.status)
		}
	}
	for _, post := range [][]string{
		{"/ui/admin/users", "username", "x", "password", "none"},
		{"/ui/admin/users/1/disable"},
		{"/ui/admin/users/1/password"},
		{"/ui/admin/users/1/roles/grant", "role", "apikey-user"},
		{"/ui/admin/roles", "name", "r"},
		{"/ui/admin/abilities", "name", "a.b"},
		{"/ui/admin/roles/delete", "role", "admin"},
		{"/ui/admin/sessions/end-all", "user_id", "1"},
	} {
		if p := g.post(post[0], post[1:]...); p.status != http.StatusForbidden && p.status != http.StatusNotFound {
			t.Errorf("POST %s without abilities: %d", post[0], p.status)
		}
	}

	// users.manage, but not every ability of an administrator: the
	// administrator is out of reach, and no role above one's own is
	// granted.
	p := hr.get("/ui/")
	if !strings.Contains(p.body, ">Users</a>") || !strings.Contains(p.body, ">Roles</a>") || strings.Contains(p.body, ">Audit log</a>") {
		t.Errorf("the navigation of users.manage:\n%s", p.body)
	}
	hr.post(fmt.Sprintf("/ui/admin/users/%d/disable", admin.ID)).want(t, http.StatusForbidden, "holds abilities you do not")
	hr.post("/ui/admin/users/2/roles/grant", "role", "admin").want(t, http.StatusForbidden, "roles.manage")
	hr.post("/ui/admin/users", "username", "x", "role", "admin", "password", "none").want(t, http.StatusBadRequest, "roles.manage")
	hr.get("/ui/admin/roles").want(t, http.StatusOK, "<h3 id=\"role-admin\">admin")
	if strings.Contains(hr.get("/ui/admin/roles").body, "Create a role") {
		t.Error("the roles page offers changes without roles.manage")
	}
	if u, _ := f.creds.User(context.Background(), op, admin.ID); u.Disabled {
		t.Fatal("the administrator was disabled")
	}
}

func TestAdminRoles(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	a.get("/ui/admin/roles").want(t, http.StatusOK, "Roles and abilities", "apikey-user", "audit.read", "Create a role", "Define an ability")
	a.post("/ui/admin/abilities", "name", "Bad Name").want(t, http.StatusBadRequest, `id="ability-name-error"`)
	a.post("/ui/admin/abilities", "name", "reports.read", "description", "Read reports").want(t, http.StatusOK, "The ability reports.read is defined.", "Read reports")
	a.post("/ui/admin/roles", "name", "").want(t, http.StatusBadRequest, `id="role-name-error">Give the role a name.`)
	// An administrator may give the abilities operators define.
	a.post("/ui/admin/roles", "name", "reporting-more", "ability", "reports.read").want(t, http.StatusOK, "The role reporting-more is created.")
	a.post("/ui/admin/roles", "name", "reporting", "description", "Reports", "ability", "audit.read").want(t, http.StatusOK, "The role reporting is created.")
	a.post("/ui/admin/roles/abilities", "role", "reporting", "ability", "apikey.generate", "ability", "audit.read").want(t, http.StatusOK, "The abilities of the role reporting are saved.")
	r, err := f.creds.Role(context.Background(), op, "reporting")
	if err != nil || strings.Join(r.Abilities, ",") != "apikey.generate,audit.read" {
		t.Fatalf("role %+v %v", r, err)
	}
	a.post("/ui/admin/roles/abilities", "role", "admin").want(t, http.StatusBadRequest) // built-in abilities stay
	a.post("/ui/admin/roles/delete", "role", "reporting").want(t, http.StatusOK, "The role reporting is deleted.")
	// A role's name may hold a slash: the forms name the role in a field.
	a.post("/ui/admin/roles", "name", "team/ops", "ability", "audit.read").want(t, http.StatusOK, "The role team/ops is created.")
	a.post("/ui/admin/roles/abilities", "role", "team/ops", "ability", "sessions.manage").want(t, http.StatusOK, "The abilities of the role team/ops are saved.")
	if r, err := f.creds.Role(context.Background(), op, "team/ops"); err != nil || strings.Join(r.Abilities, ",") != "sessions.manage" {
		t.Fatalf("role %+v %v", r, err)
	}
	a.post("/ui/admin/roles/delete", "role", "team/ops").want(t, http.StatusOK, "The role team/ops is deleted.")
	// An administrator may delete what operators defined, though they do
	// not hold it; it leaves the roles that granted it.
	a.post("/ui/admin/abilities/reports.read/delete").want(t, http.StatusOK, "The ability reports.read is deleted.")
	if r, err := f.creds.Role(context.Background(), op, "reporting-more"); err != nil || len(r.Abilities) != 0 {
		t.Errorf("role after its ability was deleted: %+v %v", r, err)
	}
	if p := a.post("/ui/admin/abilities/audit.read/delete"); p.status < 400 {
		t.Errorf("deleting a built-in ability: %d", p.status)
	}
	a.post("/ui/admin/abilities", "name", "admin.own", "description", "").want(t, http.StatusOK, "The ability admin.own is defined.")
	abilities, _ := f.creds.Abilities(context.Background(), op)
	if len(abilities) != len(latchkey.BuiltInAbilities)+1 {
		t.Errorf("%d abilities", len(abilities))
	}
}

func TestAdminSessions(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	goran := f.addUser("goran")
	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	_, sess, _ := f.creds.VerifySession(context.Background(), g.cookies["wtsession"])

	p := a.get("/ui/admin/sessions")
	p.want(t, http.StatusOK, "<code>"+sess.ID+"</code>", "LAB\\goran", "LAB\\admin", "(this one)", "test browser")
	a.get(fmt.Sprintf("/ui/admin/sessions?user_id=%d", goran.ID)).want(t, http.StatusOK, "End every session of this user")
	if strings.Contains(a.get(fmt.Sprintf("/ui/admin/sessions?user_id=%d", goran.ID)).body, "<td>LAB\\admin</td>") {
		t.Error("the filter by user shows others")
	}
	a.post("/ui/admin/sessions/"+sess.ID+"/end").want(t, http.StatusOK, "The session "+sess.ID+" has ended.")
	if p := g.do("GET", "/ui/", nil); p.location() != "/ui/signin?ended=1" {
		t.Errorf("the ended session's next page: %d %q", p.status, p.location())
	}
	a.get("/ui/admin/sessions?ended=1").want(t, http.StatusOK, "Ended</span>")
	g.signIn(`LAB\goran`, "password-goran")
	a.post("/ui/admin/sessions/end-all", "user_id", fmt.Sprint(goran.ID)).want(t, http.StatusOK, "1 sessions have ended.")
	if p := g.do("GET", "/ui/", nil); p.status != http.StatusSeeOther {
		t.Error("end-all left the session working")
	}
}

func TestAdminAudit(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	for i := range 60 {
		if _, err := f.creds.CreateAbility(context.Background(), op, latchkey.Ability{Name: fmt.Sprintf("made.%02d", i)}, "local"); err != nil {
			t.Fatal(err)
		}
	}
	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	p := a.get("/ui/admin/audit")
	p.want(t, http.StatusOK, "Events, newest first", "<code>session.create</code>", "Older events")
	if n := strings.Count(p.body, "<tr>\n<td><time"); n != credential.DefaultPageSize {
		t.Errorf("%d events on the first page, want %d", n, credential.DefaultPageSize)
	}
	next := p.body[strings.Index(p.body, `/ui/admin/audit?cursor=`):]
	next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
	older := a.get(next)
	older.want(t, http.StatusOK, "made.00", "Newest")
	if strings.Contains(older.body, "Older events") {
		t.Error("the last page offers more")
	}
	filtered := a.get("/ui/admin/audit?action=login.")
	filtered.want(t, http.StatusOK, "<code>login.success</code>")
	if strings.Contains(filtered.body, "ability.create") {
		t.Error("the action filter let other actions through")
	}
	a.get("/ui/admin/audit?subject_id=x").want(t, http.StatusBadRequest, `id="subject_id-error"`)
	a.get("/ui/admin/audit?since=2031-05-07T00:00&until=2031-05-06T00:00").want(t, http.StatusBadRequest, "The time range is empty")
	if strings.Contains(a.get("/ui/admin/audit?until=2031-05-06T00:00").body, "<tbody>\n<tr>") {
		t.Error("until before everything still lists events")
	}
}

func TestAdminUsersPaging(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	for i := range 55 {
		if _, err := f.creds.CreateUser(context.Background(), op, credential.NewUser{Directory: "LAB", Username: fmt.Sprintf("u%02d", i)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	p := a.get("/ui/admin/users?directory=LAB")
	p.want(t, http.StatusOK, "LAB\\u00", "Next page")
	if strings.Contains(p.body, "LAB\\u54") {
		t.Error("the first page shows the last user")
	}
	next := p.body[strings.Index(p.body, `/ui/admin/users?cursor=`):]
	next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
	a.get(next).want(t, http.StatusOK, "LAB\\u54", "First page")
}

// TestCreateKeyWithRateLimit: the form's requests per minute become the
// key's own limit, shown with the new key and in its details; a bad number
// is refused next to the field.
func TestCreateKeyWithRateLimit(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", "apikey-user")
	b := f.browser("b")
	b.signIn(`LAB\goran`, "password-goran")
	b.get("/ui/keys/new").want(t, http.StatusOK, `<label for="rate_limit">Requests per minute`)
	for _, bad := range []string{"0", "many", "-3"} {
		b.post("/ui/keys", "days", "5", "rate_limit", bad).want(t, http.StatusBadRequest,
			`<p class="error" id="rate_limit-error">Give a number of requests per minute, at least 1`)
	}
	if len(f.keys(1)) != 0 {
		t.Fatal("a refused form made a key")
	}
	p := b.postRaw("/ui/keys", "name", "capped", "days", "10", "rate_limit", "100")
	p.want(t, http.StatusOK, "Your new API key", "<dt>Rate limit</dt><dd>100 requests per minute</dd>")
	pr, err := f.creds.VerifyAPIKey(context.Background(), secret(p))
	if err != nil || pr.RateLimit == nil || *pr.RateLimit != (latchkey.RateLimit{Requests: 100, Window: 60}) {
		t.Fatalf("the key's limit: %+v, %v", pr, err)
	}
	b.post("/ui/keys/"+pr.CredentialID+"/details").want(t, http.StatusOK, "<dt>Rate limit</dt><dd>100 requests per minute</dd>")
	plain := secret(b.postRaw("/ui/keys", "name", "plain", "days", "10"))
	if pr, err := f.creds.VerifyAPIKey(context.Background(), plain); err != nil || pr.RateLimit != nil {
		t.Fatalf("a key made without a limit: %+v, %v", pr, err)
	}
}

func TestLimitText(t *testing.T) {
	for _, tc := range []struct {
		l    *latchkey.RateLimit
		want string
	}{
		{nil, "none"},
		{&latchkey.RateLimit{Requests: 100, Window: 60}, "100 requests per minute"},
		{&latchkey.RateLimit{Requests: 1, Window: 1}, "1 request per second"},
		{&latchkey.RateLimit{Requests: 5000, Window: 3600, Burst: 100}, "5000 requests per hour, and 100 more at once"},
		{&latchkey.RateLimit{Requests: 3, Window: 90}, "3 requests per 90s"},
		{&latchkey.RateLimit{Requests: 3, Window: 86400}, "3 requests per day"},
	} {
		if got := limitText(tc.l); got != tc.want {
			t.Errorf("limitText(%+v) = %q, want %q", tc.l, got, tc.want)
		}
	}
}
