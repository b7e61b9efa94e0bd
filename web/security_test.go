package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/credential"
)

// checkHeaders fails unless an answer carries the security headers every
// answer must.
func checkHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

var (
	inlineScript  = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	inlineHandler = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
)

// checkNoInline fails if a page has inline script or style, which the
// policy would block.
func checkNoInline(t *testing.T, what, body string) {
	t.Helper()
	for _, tag := range inlineScript.FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("%s: inline script %s", what, tag)
		}
	}
	if strings.Contains(body, "<style") || strings.Contains(body, " style=") || inlineHandler.MatchString(body) ||
		strings.Contains(body, "javascript:") {
		t.Errorf("%s: inline style or event handler", what)
	}
}

// TestSecurityHeaders opens every page, signed out and in, the answers to
// forms, errors and the static files, and checks each answer's headers.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	goran := f.addUser("goran", "apikey-user")
	anon := f.browser("anon")
	a := f.browser("admin")

	type answer struct {
		what string
		p    *page
	}
	var answers []answer
	add := func(what string, p *page) { answers = append(answers, answer{what, p}) }

	for _, path := range []string{"/ui", "/ui/", "/ui/signin", "/ui/signin?ended=1", "/ui/admin/users", "/ui/nothing/here",
		"/ui/static/style.css", "/ui/static/copy.js", "/ui/static/nothing.css"} {
		add("signed out GET "+path, anon.do("GET", path, nil))
	}
	add("bad sign-in", anon.do("POST", "/ui/signin", url.Values{"username": {"x"}, "password": {"y"}}))
	add("cross-origin sign-in", anon.do("POST", "/ui/signin", url.Values{"username": {"x"}}, "Sec-Fetch-Site", "cross-site"))
	add("sign-in", a.do("POST", "/ui/signin", url.Values{"username": {`LAB\admin`}, "password": {"password-admin"}}))
	for _, path := range []string{"/ui/", "/ui/keys/new", "/ui/admin/users", "/ui/admin/users/2", "/ui/admin/users/99",
		"/ui/admin/roles", "/ui/admin/keys", "/ui/admin/keys?user=LAB%5Cgoran", "/ui/admin/sessions", "/ui/admin/audit",
		"/ui/admin/audit?subject_id=x", "/ui/nothing"} {
		add("GET "+path, a.do("GET", path, nil))
	}
	key := a.postRaw("/ui/keys", "days", "3")
	add("new key", key)
	id, _ := credential.ParseAPIKey(secret(key))
	for _, post := range [][]string{
		{"/ui/keys", "days", "999"},
		{"/ui/keys/" + id + "/details"},
		{"/ui/keys/" + id + "/rotate"},
		{"/ui/keys/nope/revoke"},
		{"/ui/password", "current", "x"},
		{"/ui/admin/users", "username", "nils", "password", "random"},
		{"/ui/admin/users/2/password"},
		{"/ui/admin/users/2/disable"},
		{"/ui/admin/keys", "user", `LAB\goran`, "days", "2"},
		{"/ui/admin/roles", "name", ""},
	} {
		add("POST "+post[0], a.postRaw(post[0], post[1:]...))
	}
	add("no form token", a.do("POST", "/ui/keys", url.Values{"days": {"3"}}))
	add("cross-origin", a.do("POST", "/ui/keys", url.Values{"csrf": {a.csrf()}}, "Sec-Fetch-Site", "cross-site"))
	add("sign-out", a.postRaw("/ui/signout"))

	if len(answers) < 30 {
		t.Fatalf("only %d answers", len(answers))
	}
	for _, ans := range answers {
		checkHeaders(t, ans.what, ans.p.header)
		if strings.HasPrefix(ans.p.header.Get("Content-Type"), "text/html") {
			checkNoInline(t, ans.what, ans.p.body)
		}
	}
	_ = goran
}

// TestFormPostsRefused: a form post from another origin is refused, and so
// is one without the session's form token or with a wrong one; none of them
// changes anything.
func TestFormPostsRefused(t *testing.T) {
	f := newFixture(t)
	f.addUser("goran", "apikey-user")
	b := f.browser("goran")
	b.signIn(`LAB\goran`, "password-goran")
	other := f.browser("other")
	other.signIn(`LAB\goran`, "password-goran")

	tests := []struct {
		name    string
		csrf    string
		headers []string
		want    string
	}{
		{"cross-site, by Sec-Fetch-Site", b.csrf(), []string{"Sec-Fetch-Site", "cross-site"}, "sent from another site"},
		{"same-site but another origin", b.csrf(), []string{"Sec-Fetch-Site", "same-site"}, "sent from another site"},
		{"foreign Origin, no Sec-Fetch-Site", b.csrf(), []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, "sent from another site"},
		{"no form token", "", nil, "This form is not from your session"},
		{"a wrong form token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil, "This form is not from your session"},
		{"another session's form token", other.csrf(), nil, "This form is not from your session"},
		{"the session token itself", b.cookies["wtsession"], nil, "This form is not from your session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"name": {"x"}, "days": {"5"}}
			if tt.csrf != "" {
				form.Set("csrf", tt.csrf)
			}
			p := b.do("POST", "/ui/keys", form, tt.headers...)
			p.want(t, http.StatusForbidden, tt.want)
			checkHeaders(t, tt.name, p.header)
			if len(f.keys(1)) != 0 {
				t.Fatal("a refused post made a key")
			}
		})
	}
	// A sign-in form posted from another site signs nobody in.
	anon := f.browser("anon")
	p := anon.do("POST", "/ui/signin", url.Values{"username": {`LAB\goran`}, "password": {"password-goran"}}, "Sec-Fetch-Site", "cross-site")
	p.want(t, http.StatusForbidden, "sent from another site")
	if anon.cookies["wtsession"] != "" {
		t.Error("a cross-site sign-in set a session")
	}
	// The form token is on every form of the page.
	page := b.get("/ui/")
	if n, forms := strings.Count(page.body, `name="csrf" value="`+b.csrf()+`"`), strings.Count(page.body, `method="post"`); n != forms || n == 0 {
		t.Errorf("%d form tokens for %d forms", n, forms)
	}
	// An origin the configuration trusts is accepted, as for the JSON API.
	g := newFixtureWith(t, func(o *Options) { o.TrustedOrigins = []string{"https://portal.example"} })
	g.addUser("goran", "apikey-user")
	gb := g.browser("goran")
	gb.signIn(`LAB\goran`, "password-goran")
	gb.do("POST", "/ui/keys", url.Values{"csrf": {gb.csrf()}, "days": {"5"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://portal.example").
		want(t, http.StatusOK, "Your new API key")
}

// TestNoSecretInFlash: what travels in the message cookie is words, signed
// for the session; a message cookie of another session, or forged, is not
// shown.
func TestFlashCookie(t *testing.T) {
	f := newFixture(t)
	f.addUser("admin", "admin")
	f.addUser("goran", "apikey-user")
	a := f.browser("admin")
	a.signIn(`LAB\admin`, "password-admin")
	p := a.postRaw("/ui/admin/keys", "user", `LAB\goran`, "name", "n", "days", "4")
	if p.status != http.StatusSeeOther {
		t.Fatalf("%d", p.status)
	}
	cookie := a.cookies[flashCookie]
	if cookie == "" || strings.Contains(cookie, credential.KeyPrefix) {
		t.Fatalf("flash cookie %q", cookie)
	}
	for _, line := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, flashCookie+"=") && !strings.Contains(line, "Path=/ui/; HttpOnly; SameSite=Strict; Secure") {
			t.Errorf("flash cookie attributes: %s", line)
		}
	}
	// Another session's browser, given the cookie, does not show it.
	g := f.browser("goran")
	g.signIn(`LAB\goran`, "password-goran")
	g.cookies[flashCookie] = cookie
	if strings.Contains(g.get("/ui/").body, "is made for") {
		t.Error("a message signed for another session was shown")
	}
	if _, ok := g.cookies[flashCookie]; ok {
		t.Error("the foreign message cookie was not cleared")
	}
	g.cookies[flashCookie] = "b2sAPHNjcmlwdD4." + "AAAAAAAAAAAAAAAAAAAAAA"
	if strings.Contains(g.get("/ui/").body, "<script>") {
		t.Error("a forged message was shown")
	}
	a.get("/ui/admin/keys?user=LAB%5Cgoran").want(t, http.StatusOK, "is made for LAB\\goran")
}

func TestRelative(t *testing.T) {
	now := testStart
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{30 * time.Second, "just now"},
		{-59 * time.Second, "just now"},
		{time.Minute, "in 1 minute"},
		{-5 * time.Minute, "5 minutes ago"},
		{3 * time.Hour, "in 3 hours"},
		{-47 * time.Hour, "47 hours ago"},
		{30 * 24 * time.Hour, "in 30 days"},
		{29*24*time.Hour + 23*time.Hour, "in 29 days"},
		{-90 * 24 * time.Hour, "3 months ago"},
		{400 * 24 * time.Hour, "in 13 months"},
		{3 * 365 * 24 * time.Hour, "in 3 years"},
	}
	for _, tt := range tests {
		if got := relative(now.Add(tt.d), now); got != tt.want {
			t.Errorf("relative(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	m := when(now.Add(29*24*time.Hour), now)
	if m.Rel != "in 29 days" || m.Exact != "2031-06-04 07:08:09 UTC" || m.ISO != "2031-06-04T07:08:09Z" {
		t.Errorf("when = %+v", m)
	}
	if when((*time.Time)(nil), now) != nil || when(time.Time{}, now) != nil {
		t.Error("no time is not shown as nothing")
	}
}

func TestSafeNext(t *testing.T) {
	good := []string{"/ui/", "/ui/admin/users", "/ui/admin/users?q=go&role=admin", "/ui/admin/keys?user=LAB%5Cgoran", "/ui/admin/users/2"}
	bad := []string{"", "/", "/elsewhere", "https://evil.example/ui/", "//evil.example/ui/", "/ui//evil", "/ui/../x",
		"/ui/./x", "/ui/%2e%2e/x", "/ui/%2E%2E/x", "/ui/a%2fb", "/ui/\\evil", "/ui/\t/x", "/ui/\n", "/ui/x#frag",
		"/ui/signin", "/ui/signout", "/ui", "/ui/ a", "/uix", "/ui/%00", "\\/evil/ui/"}
	for _, s := range good {
		if !safeNext("/ui/", s) {
			t.Errorf("safeNext(%q) = false", s)
		}
	}
	for _, s := range bad {
		if safeNext("/ui/", s) {
			t.Errorf("safeNext(%q) = true", s)
		}
	}
}

// FuzzSafeNext: whatever next a sign-in is given, where it is sent stays on
// this site and under the prefix, as a browser would read it.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/ui/", "/ui/admin/users?q=x", "//evil", "/ui/../..//evil", "/ui/%2e%2e/", "/ui/\t/evil",
		"https://evil/ui/", "/ui/a?b=//c", "/ui/@evil", "/ui/:x", "/ui/%5c%5cevil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://latchkey.example/ui/signin")
	f.Fuzz(func(t *testing.T, next string) {
		if !safeNext("/ui/", next) {
			return
		}
		// Browsers drop tabs and newlines and read backslashes as slashes
		// before they resolve a URL; none may be there to drop or read.
		if strings.ContainsAny(next, "\t\n\r\\") {
			t.Fatalf("accepted %q, which a browser reads otherwise", next)
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", next, err)
		}
		r := base.ResolveReference(u)
		if r.Scheme != "https" || r.Host != "latchkey.example" || r.User != nil {
			t.Fatalf("accepted %q, which leads to %s", next, r)
		}
		if !strings.HasPrefix(r.Path, "/ui/") || r.Path != u.Path {
			t.Fatalf("accepted %q, which resolves to the path %q", next, r.Path)
		}
		un, err := url.PathUnescape(r.EscapedPath())
		if err != nil || strings.Contains(un, "//") {
			t.Fatalf("accepted %q, whose path decodes to %q", next, un)
		}
		for _, seg := range strings.Split(un, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("accepted %q, whose path decodes to %q", next, un)
			}
		}
	})
}

// TestPrefix: the pages live under any plain prefix, and refuse one that
// is not.
func TestPrefix(t *testing.T) {
	f := newFixtureWith(t, func(o *Options) { o.Prefix = "/people/pages/" })
	f.addUser("goran", "apikey-user")
	b := f.browser("goran")
	if p := b.do("GET", "/people/pages", nil); p.location() != "/people/pages/" {
		t.Errorf("the prefix without its slash: %d %q", p.status, p.location())
	}
	if p := b.do("GET", "/people/pages/", nil); p.location() != "/people/pages/signin" {
		t.Errorf("signed out: %d %q", p.status, p.location())
	}
	p := b.do("POST", "/people/pages/signin", url.Values{"username": {`LAB\goran`}, "password": {"password-goran"}})
	if p.location() != "/people/pages/" {
		t.Fatalf("sign in: %d %q", p.status, p.location())
	}
	b.get("/people/pages/").want(t, http.StatusOK, `href="/people/pages/static/style.css"`, `action="/people/pages/signout"`)
	for _, bad := range []string{"ui", "/ui", "/", "/{x}/", "/a b/"} {
		if _, err := New(Options{Prefix: bad, Creds: f.creds}); err == nil {
			t.Errorf("New accepted the prefix %q", bad)
		}
	}
}
