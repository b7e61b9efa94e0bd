package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/testenv"
)

// The pages in a real browser: Debian's Chromium, headless, driven with
// chromedp against a real "latchkey serve". One browser process serves
// every flow; each flow has browser contexts of its own (one per person),
// which share no cookies.

var screenshots = flag.Bool("screenshots", false, "write screenshots of the pages to ../../docs/images/")

// chromiumPath finds Debian's chromium; "" when it is not installed.
func chromiumPath() string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pagesServer is a real latchkey serve with a few users, and the browser.
type pagesServer struct {
	t       *testing.T
	url     string // https://127.0.0.1:PORT
	dir     string
	browser context.Context
}

const adminPassword = "admin password 1"

func TestPagesInBrowser(t *testing.T) {
	exe := chromiumPath()
	if exe == "" {
		testenv.Missing(t, "chromium is not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	url, _, _ := startServe(t, map[string]string{"LATCHKEY_ADMIN_PASSWORD": adminPassword}, "--data-dir", dir)
	for _, u := range []struct{ name, role string }{{"goran", "apikey-user"}, {"lena", "apikey-user"}, {"bob", "apikey-user"}} {
		mustCLI(t, "password-"+u.name+"\n", "user", "add", "--data-dir", dir, "--directory", "LAB", "--user", u.name,
			"--name", strings.ToUpper(u.name[:1])+u.name[1:], "--email", u.name+"@example.com", "--role", u.role, "--password-stdin")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		// latchkey's self-signed development certificate.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1100, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil { // starts the one browser process
		t.Fatalf("start chromium: %v", err)
	}
	s := &pagesServer{t: t, url: url, dir: dir, browser: root}

	t.Run("SignIn", s.testSignIn)
	t.Run("CreateCopyUseRevoke", s.testCreateCopyUseRevoke)
	t.Run("ReadOnlyKeyCannotPost", s.testReadOnlyKey)
	t.Run("KeyMadeOnBehalf", s.testKeyMadeOnBehalf)
	t.Run("DisableSignsOut", s.testDisableSignsOut)
	t.Run("CrossOriginFormRefused", s.testCrossOrigin)
	if *screenshots {
		t.Run("Screenshots", s.takeScreenshots)
	}
}

// person is a browser context of its own (no shared cookies), with a
// deadline; when the test fails it saves a screenshot of its last page
// under the test's artifact directory (kept with go test -artifacts).
func (s *pagesServer) person(t *testing.T, name string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			shot, cancelShot := context.WithTimeout(ctx, 5*time.Second)
			where, _ := chromedp.Run(shot, chromedp.Location())
			if png, err := chromedp.Run(shot, chromedp.FullScreenshot(100)); err == nil {
				file := filepath.Join(t.ArtifactDir(), name+".png")
				if err := os.WriteFile(file, png, 0o644); err == nil {
					t.Logf("the last page of %s (%s) is in %s", name, where, file)
				}
			}
			cancelShot()
		}
		cancelTimeout()
		cancel()
	})
	// A page in the background has no focus, and the clipboard answers only
	// a focused page.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("open a browser context for %s: %v", name, err)
	}
	return ctx
}

// run runs browser actions, failing the test on an error.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one browser action that reads a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// signIn opens the pages, is sent to the sign-in form, and signs in.
func (s *pagesServer) signIn(t *testing.T, ctx context.Context, login, pw string) {
	t.Helper()
	browse(t, ctx, "sign in as "+login,
		chromedp.Navigate(s.url+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), login),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS(`form.panel button[type="submit"]`)),
		chromedp.WaitVisible(`//h1[text()="My settings"]`),
	)
}

// text returns the text of the first element the selector finds.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// bodyText is the text of the whole page.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return value(t, ctx, "read the page", chromedp.Evaluate[string](`document.body.innerText`))
}

// call sends a plain HTTP request to the server with the header given, and
// returns the status and the echo's principal (user and method).
func (s *pagesServer) call(t *testing.T, method, header, value string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := insecureClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var echo struct {
		Principal struct{ Directory, User, Method string }
	}
	json.Unmarshal(b, &echo)
	return resp.StatusCode, echo.Principal.Directory + `\` + echo.Principal.User + " " + echo.Principal.Method
}

func basicAuth(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// createKey fills "Create a new API Key" and returns the key shown.
func (s *pagesServer) createKey(t *testing.T, ctx context.Context, name, days string, readOnly bool) string {
	t.Helper()
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(s.url + "/ui/"),
		chromedp.Click(`//a[text()="Create a new API Key"]`),
		chromedp.WaitVisible(chromedp.ID("days")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SetValue(chromedp.ID("days"), days),
	}
	if readOnly {
		actions = append(actions, chromedp.Click(chromedp.ID("read_only")))
	}
	actions = append(actions, chromedp.Click(`//button[text()="OK"]`), chromedp.WaitVisible(chromedp.ID("secret")))
	browse(t, ctx, "create the key "+name, actions...)
	return text(t, ctx, `#secret`)
}

func (s *pagesServer) testSignIn(t *testing.T) {
	ctx := s.person(t, "stranger")
	browse(t, ctx, "a wrong password",
		chromedp.Navigate(s.url+"/ui/admin/users"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), `LAB\nobody`),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.CSS(`form.panel button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error[role="alert"]`)),
	)
	if got := text(t, ctx, `p.error[role="alert"]`); got != "The username or password is not correct." {
		t.Errorf("the refusal says %q", got)
	}
	// The administrator, who was going to the users page, lands there.
	browse(t, ctx, "sign in as the administrator",
		chromedp.SetValue(chromedp.ID("username"), `LOCAL\admin`),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`form.panel button[type="submit"]`)),
		chromedp.WaitVisible(`//h1[text()="Users"]`),
	)
	where := value(t, ctx, "location", chromedp.Location())
	if where != s.url+"/ui/admin/users" {
		t.Errorf("landed on %s, want the users page it was going to", where)
	}
	browse(t, ctx, "sign out",
		chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(`//p[text()="You have signed out."]`),
	)
}

func (s *pagesServer) testCreateCopyUseRevoke(t *testing.T) {
	ctx := s.person(t, "goran")
	s.signIn(t, ctx, `LAB\goran`, "password-goran")
	key := s.createKey(t, ctx, "from the browser", "7", false)
	if !strings.HasPrefix(key, "lk_") {
		t.Fatalf("the page shows %q as the key", key)
	}

	// Copy puts the key on the clipboard and says so.
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: browser.PermissionSettingGranted,
			Origin: s.url, BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	browse(t, ctx, "copy",
		chromedp.Click(chromedp.CSS(`button.copy`), chromedp.NodeVisible),
		chromedp.Poll[chromedp.Void](`document.getElementById("announce").textContent === "Copied"`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	clip := value(t, ctx, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if clip != key {
		t.Fatalf("the clipboard holds %q, want the key %q", clip, key)
	}
	if got := text(t, ctx, `button.copy`); got != "Copied" {
		t.Errorf("the button says %q after copying", got)
	}

	// The key works, in the header and as a Basic password.
	if code, who := s.call(t, "GET", "X-Api-Key", key); code != 200 || who != `LAB\goran apikey` {
		t.Errorf("X-Api-Key: %d %s", code, who)
	}
	if code, who := s.call(t, "GET", "Authorization", basicAuth(`LAB\goran`, key)); code != 200 || who != `LAB\goran basic` {
		t.Errorf("Basic: %d %s", code, who)
	}

	// Revoked on the page, it stops at once.
	id := strings.Split(key, "_")[1]
	browse(t, ctx, "revoke",
		chromedp.Navigate(s.url+"/ui/"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke `+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if got := text(t, ctx, `p.flash`); !strings.Contains(got, "is revoked") {
		t.Errorf("after revoking: %q", got)
	}
	if code, _ := s.call(t, "GET", "X-Api-Key", key); code != http.StatusUnauthorized {
		t.Errorf("the revoked key: %d, want 401", code)
	}
	if code, _ := s.call(t, "GET", "Authorization", basicAuth(`LAB\goran`, key)); code != http.StatusUnauthorized {
		t.Errorf("the revoked key as a Basic password: %d, want 401", code)
	}
}

func (s *pagesServer) testReadOnlyKey(t *testing.T) {
	ctx := s.person(t, "goran")
	s.signIn(t, ctx, `LAB\goran`, "password-goran")
	key := s.createKey(t, ctx, "read only", "3", true)
	if code, _ := s.call(t, "GET", "X-Api-Key", key); code != 200 {
		t.Errorf("GET with the read-only key: %d", code)
	}
	if code, _ := s.call(t, "POST", "X-Api-Key", key); code != http.StatusForbidden {
		t.Errorf("POST with the read-only key: %d, want 403", code)
	}
}

func (s *pagesServer) testKeyMadeOnBehalf(t *testing.T) {
	admin := s.person(t, "admin")
	s.signIn(t, admin, `LOCAL\admin`, adminPassword)
	browse(t, admin, "make a key for LAB\\lena",
		chromedp.Navigate(s.url+"/ui/admin/keys?user=LAB%5Clena"),
		chromedp.WaitVisible(chromedp.ID("days")),
		chromedp.SendKeys(chromedp.ID("name"), "made by the administrator"),
		chromedp.SetValue(chromedp.ID("days"), "5"),
		chromedp.Click(`//button[text()="OK"]`),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	page := bodyText(t, admin)
	secrets := value(t, admin, "count secrets", chromedp.Evaluate[int](`document.querySelectorAll("#secret").length`))
	if !strings.Contains(page, "It is not shown to you") || secrets != 0 || strings.Contains(page, "lk_") {
		t.Fatalf("the maker's page:\n%s", page)
	}

	lena := s.person(t, "lena")
	s.signIn(t, lena, `LAB\lena`, "password-lena")
	if page := bodyText(t, lena); !strings.Contains(page, "Made for you: open Details to see it once") {
		t.Fatalf("My settings of LAB\\lena:\n%s", page)
	}
	browse(t, lena, "Details", chromedp.Click(`//button[text()="Details"]`), chromedp.WaitVisible(chromedp.ID("secret")))
	key := text(t, lena, `#secret`)
	if code, who := s.call(t, "GET", "Authorization", basicAuth(`LAB\lena`, key)); code != 200 || who != `LAB\lena basic` {
		t.Errorf("the key from Details: %d %s", code, who)
	}
	browse(t, lena, "Details again",
		chromedp.Navigate(s.url+"/ui/"),
		chromedp.Click(`//button[text()="Details"]`),
		chromedp.WaitVisible(`//h1[text()="API key details"]`),
	)
	if page := bodyText(t, lena); strings.Contains(page, key) || !strings.Contains(page, "The key itself is not shown") {
		t.Errorf("a second look at Details:\n%s", page)
	}
}

func (s *pagesServer) testDisableSignsOut(t *testing.T) {
	bob := s.person(t, "bob")
	s.signIn(t, bob, `LAB\bob`, "password-bob")
	admin := s.person(t, "admin")
	s.signIn(t, admin, `LOCAL\admin`, adminPassword)
	browse(t, admin, "disable LAB\\bob",
		chromedp.Navigate(s.url+"/ui/admin/users?q=bob"),
		chromedp.Click(`//a[text()="LAB\bob"]`),
		chromedp.WaitVisible(`//h1[text()="LAB\bob"]`),
		chromedp.Click(`//button[text()="Disable"]`),
		chromedp.WaitVisible(`//button[text()="Enable"]`),
	)
	browse(t, bob, "the next page of LAB\\bob", chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("username")))
	where := value(t, bob, "location", chromedp.Location())
	if !strings.HasPrefix(where, s.url+"/ui/signin?ended=1") || !strings.Contains(bodyText(t, bob), "Your session has ended") {
		t.Errorf("LAB\\bob, disabled, is at %s", where)
	}
	browse(t, admin, "enable LAB\\bob again", chromedp.Click(`//button[text()="Enable"]`), chromedp.WaitVisible(`//button[text()="Disable"]`))
}

func (s *pagesServer) testCrossOrigin(t *testing.T) {
	ctx := s.person(t, "goran")
	s.signIn(t, ctx, `LAB\goran`, "password-goran")
	token := value(t, ctx, "read the form token", chromedp.Value(chromedp.CSS(`input[name="csrf"]`)))
	// Another site's page, with a form that posts to latchkey — even with
	// the right form token, which another site could not know.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>another site</title>
<form method="post" action="%s/ui/keys"><input type="hidden" name="csrf" value="%s">
<input type="hidden" name="name" value="planted"><input type="hidden" name="days" value="30">
<button type="submit">Win a prize</button></form>`, s.url, token)
	}))
	t.Cleanup(evil.Close)
	browse(t, ctx, "post from another site",
		chromedp.Navigate(evil.URL),
		chromedp.Click(`//button[text()="Win a prize"]`),
		chromedp.WaitVisible(`//h1[text()="Not allowed"]`),
	)
	if page := bodyText(t, ctx); !strings.Contains(page, "This form was sent from another site, so it was refused.") {
		t.Errorf("the refusal:\n%s", page)
	}
	if out := mustCLI(t, "", "apikey", "list", "--data-dir", s.dir, "--directory", "LAB", "--user", "goran", "-o", "json"); strings.Contains(out, "planted") {
		t.Errorf("a key was made from another site:\n%s", out)
	}
}

// takeScreenshots writes the pictures of docs/pages.md.
func (s *pagesServer) takeScreenshots(t *testing.T) {
	out := filepath.Join("..", "..", "docs", "images")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(ctx context.Context, name string) {
		png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	anon := s.person(t, "visitor")
	browse(t, anon, "the sign-in page", chromedp.Navigate(s.url+"/ui/signin"), chromedp.WaitVisible(chromedp.ID("username")))
	save(anon, "pages-signin.png")

	g := s.person(t, "goran")
	s.signIn(t, g, `LAB\goran`, "password-goran")
	s.createKey(t, g, "reports", "30", true)
	save(g, "pages-new-key.png")
	browse(t, g, "My settings", chromedp.Navigate(s.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("keys-heading")))
	save(g, "pages-my-settings.png")

	admin := s.person(t, "admin")
	s.signIn(t, admin, `LOCAL\admin`, adminPassword)
	browse(t, admin, "the users page", chromedp.Navigate(s.url+"/ui/admin/users"), chromedp.WaitVisible(`//h1[text()="Users"]`))
	save(admin, "pages-admin-users.png")
}
