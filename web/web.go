// Package web serves latchkey's pages for people: signing in and out, My
// settings (who I am, my password, and the API Keys of seed 004's "My
// Settings → Security and Identity → API Keys"), and the administration of
// users, roles and abilities, other users' keys, sessions and the audit log.
//
// The pages are rendered on the server with html/template from files
// embedded in the binary, with one stylesheet and one small script, the Copy
// button's; every page works with JavaScript off, but for Copy. Whatever a
// page does, it does through the credential service's use-cases — the
// methods the JSON API and the command line call, which check the caller's
// abilities and write the audit record — and never through the store, so
// that a page can do nothing the API would refuse.
//
// A person signs in with a password or, holding apikey.signin, an API key:
// the credential service's Login, as POST /api/v1/login does, which opens
// the same session with the same cookie (seed 004's wtsession), lifetimes,
// regulation and audit.
//
// Safety. Every answer carries a Content-Security-Policy without inline
// script or style and with frame-ancestors 'none', Referrer-Policy
// no-referrer, X-Content-Type-Options nosniff and Cache-Control no-store.
// Every form post must pass http.CrossOriginProtection (the browser's
// Sec-Fetch-Site, or Origin against Host) and, once signed in, carry the
// session's form token (credential.CSRFToken of the session token) in a
// hidden field. A secret — a new API key, a one-time password — is written
// only into the body of the answer to the POST that made it: never into a
// URL, a cookie, a log line or the audit log. After a change the browser is
// sent on (POST, redirect, GET) with a short message in a cookie signed with
// a key derived from the session token; no secret is ever put in it.
package web

import (
	"cmp"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// DefaultCookieAttributes are the attributes of the session cookie that
// POST /api/v1/login sets; the pages set the same.
const DefaultCookieAttributes = "Path=/; Secure; HttpOnly; SameSite=Strict"

// ContentSecurityPolicy is the policy of every answer: only the pages' own
// stylesheet, script and images, forms only to the pages themselves, never
// framed.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options are what a Handler is built from.
type Options struct {
	// Prefix is where the pages live, with a slash at both ends
	// (ui.prefix).
	Prefix string
	// Cookie names the session cookie (sessions.cookie). CookieAttributes
	// are written after its value; default DefaultCookieAttributes.
	Cookie           string
	CookieAttributes string
	// Creds is the credential service: every page acts through it.
	Creds *credential.Service
	// KeyMaxDays and KeyDefaultDays are the longest expiry of an API key
	// and the one the form proposes (api_keys.max_days, default_days). The
	// credential service enforces the maximum; the form shows it. Both
	// are more than 0.
	KeyMaxDays, KeyDefaultDays int
	// TrustedOrigins are origins ("https://host:port") besides the request's
	// own whose form posts are accepted, as for the JSON API
	// (login.allowed_origins); entries that are not origins
	// (scheme://host[:port]) are left out.
	TrustedOrigins []string
	// RefusalDelay is how long a sign-in refused for too many failures
	// waits before it answers, as the JSON login does.
	RefusalDelay time.Duration
	// Log receives server faults; default: discarded.
	Log *slog.Logger
	// Now is the clock the pages say "in 29 days" by; default time.Now.
	Now func() time.Time
	// Observe, when set, is told the principal of each signed-in request
	// (for the gateway's request log).
	Observe func(*http.Request, *latchkey.Principal)
}

// Handler serves the pages under its prefix.
type Handler struct {
	o     Options
	creds *credential.Service
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
	h     http.Handler
}

// New builds the pages' handler. Prefix, Cookie and the key days have no
// defaults here: they are the configuration's, which fills them.
func New(o Options) (*Handler, error) {
	if !strings.HasPrefix(o.Prefix, "/") || !strings.HasSuffix(o.Prefix, "/") || o.Prefix == "/" ||
		strings.Trim(o.Prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") != "" {
		return nil, latchkey.Errorf(latchkey.EINTERNAL, "web: the prefix %q must start and end with / and not be /, and hold only letters, digits and -._~", o.Prefix)
	}
	if o.Creds == nil {
		return nil, latchkey.Errorf(latchkey.EINTERNAL, "web: no credential service")
	}
	if o.Cookie == "" {
		return nil, latchkey.Errorf(latchkey.EINTERNAL, "web: no session cookie name")
	}
	if o.KeyMaxDays <= 0 || o.KeyDefaultDays <= 0 {
		return nil, latchkey.Errorf(latchkey.EINTERNAL, "web: the API key days must be more than 0")
	}
	o.CookieAttributes = cmp.Or(o.CookieAttributes, DefaultCookieAttributes)
	o.KeyDefaultDays = min(o.KeyDefaultDays, o.KeyMaxDays)
	h := &Handler{o: o, creds: o.Creds, log: o.Log, now: o.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	var err error
	if h.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	for _, origin := range o.TrustedOrigins {
		if strings.Contains(origin, "://") {
			if err := cop.AddTrustedOrigin(origin); err != nil {
				h.log.Warn("the pages do not trust this origin: it is not scheme://host[:port]", "origin", origin)
			}
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(h.crossOrigin))
	h.h = cop.Handler(h.routes())
	return h, nil
}

// Prefix returns the path the pages live under, such as "/ui/".
func (h *Handler) Prefix() string { return h.o.Prefix }

// Owns reports whether path is one of the pages': the prefix without its
// slash (redirected to the prefix), or anything at or below the prefix.
func (h *Handler) Owns(path string) bool {
	return strings.HasPrefix(path, h.o.Prefix) || path == strings.TrimSuffix(h.o.Prefix, "/")
}

// ServeHTTP sets the security headers of every answer, then serves the
// page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if r.URL.Path == strings.TrimSuffix(h.o.Prefix, "/") {
		http.Redirect(w, r, h.o.Prefix, http.StatusSeeOther)
		return
	}
	h.h.ServeHTTP(w, r)
}

// routes are the pages, each one method of one path under the prefix.
func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	p := h.o.Prefix
	get := func(path string, fn func(*visit) error) { mux.Handle("GET "+p+path, h.signedIn(fn)) }
	post := func(path string, fn func(*visit) error) { mux.Handle("POST "+p+path, h.signedIn(fn)) }

	mux.HandleFunc("GET "+p+"signin", h.signInPage)
	mux.HandleFunc("POST "+p+"signin", h.signIn)
	post("signout", h.signOut)
	mux.HandleFunc("GET "+p+"static/{file}", h.static)

	get("{$}", h.settings)
	post("password", h.changePassword)
	get("keys/new", h.newKeyPage)
	post("keys", h.createKey)
	post("keys/{id}/details", h.keyDetails)
	post("keys/{id}/revoke", h.revokeKey)
	post("keys/{id}/rotate", h.rotateKey)

	get("admin/users", h.users)
	post("admin/users", h.createUser)
	get("admin/users/{id}", h.user)
	post("admin/users/{id}/update", h.updateUser)
	post("admin/users/{id}/disable", h.disableUser)
	post("admin/users/{id}/enable", h.enableUser)
	post("admin/users/{id}/password", h.resetPassword)
	post("admin/users/{id}/roles/grant", h.grantRole)
	post("admin/users/{id}/roles/revoke", h.revokeRole)

	get("admin/roles", h.roles)
	post("admin/roles", h.createRole)
	post("admin/roles/abilities", h.setRoleAbilities) // the role in the form: a role's name may hold a "/"
	post("admin/roles/delete", h.deleteRole)
	post("admin/abilities", h.createAbility)
	post("admin/abilities/{name}/delete", h.deleteAbility)

	get("admin/keys", h.userKeys)
	post("admin/keys", h.createKeyFor)
	post("admin/keys/{id}/revoke", h.revokeKeyOf)

	get("admin/sessions", h.sessions)
	post("admin/sessions/{id}/end", h.endSession)
	post("admin/sessions/end-all", h.endUserSessions)

	get("admin/audit", h.audit)

	mux.HandleFunc(p, h.notFound)
	return mux
}

// crossOrigin answers a form post that http.CrossOriginProtection refused.
func (h *Handler) crossOrigin(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, nil, http.StatusForbidden,
		"This form was sent from another site, so it was refused. Open the page on this site and send the form from there.")
}

// static serves the stylesheet and the script.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	types := map[string]string{"style.css": "text/css; charset=utf-8", "copy.js": "text/javascript; charset=utf-8"}
	b, err := fs.ReadFile(staticFiles, "static/"+name)
	if types[name] == "" || err != nil {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", types[name])
	w.Write(b)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, nil, http.StatusNotFound, "There is no page here.")
}
