package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// view is what every page's template is given.
type view struct {
	Title   string
	Section string // the navigation entry this page belongs to
	Prefix  string
	Me      *latchkey.Principal // nil when nobody is signed in
	CSRF    string              // the session's form token
	Flash   *flash
	Nav     []navItem
	Now     time.Time
	Data    any
}

// Can reports whether the signed-in person holds the ability.
func (v *view) Can(ability string) bool { return v.Me.Can(ability) }

type navItem struct {
	Label, Href string
	Current     bool
}

// formData is a form as sent, for showing it again with its errors: each
// error next to the field it concerns ("" for the form as a whole).
type formData struct {
	Values url.Values
	Errors map[string]string
}

func newForm() *formData { return &formData{Values: url.Values{}, Errors: map[string]string{}} }

// Get returns a field's value as sent.
func (f *formData) Get(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Has reports whether a field (a checkbox) was sent.
func (f *formData) Has(name string) bool { return f != nil && f.Values.Has(name) }

// Err returns the error of a field, or "".
func (f *formData) Err(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// OK reports whether the form has no errors.
func (f *formData) OK() bool { return f == nil || len(f.Errors) == 0 }

// the sections of the navigation, each shown only with its ability.
func (h *Handler) nav(p *latchkey.Principal, section string) []navItem {
	items := []navItem{{Label: "My settings", Href: h.o.Prefix}}
	sections := []struct {
		label, href string
		ok          bool
	}{
		{"Users", "admin/users", p.Can(latchkey.AbilityUsersManage)},
		{"Roles", "admin/roles", p.Can(latchkey.AbilityRolesManage) || p.Can(latchkey.AbilityUsersManage)},
		{"API keys", "admin/keys", p.Can(latchkey.AbilityAPIKeyManage)},
		{"Sessions", "admin/sessions", p.Can(latchkey.AbilitySessionsManage)},
		{"Audit log", "admin/audit", p.Can(latchkey.AbilityAuditRead)},
	}
	for _, s := range sections {
		if s.ok {
			items = append(items, navItem{Label: s.label, Href: h.o.Prefix + s.href})
		}
	}
	for i := range items {
		items[i].Current = items[i].Label == section
	}
	return items
}

// render writes a page: the layout around the named template, with data.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, v *visit, status int, name, title, section string, data any) {
	vw := &view{Title: title, Section: section, Prefix: h.o.Prefix, Data: data, Now: h.now()}
	if v != nil && v.p != nil {
		vw.Me, vw.CSRF, vw.Nav, vw.Now = v.p, v.csrf, h.nav(v.p, section), v.now
		if r.Method == http.MethodGet {
			vw.Flash = h.takeFlash(v)
		}
	}
	t := h.pages[name]
	if t == nil {
		h.log.Error("no such page template", "name", name)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", vw); err != nil {
		h.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// renderError writes a page that says what went wrong.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, v *visit, status int, message string) {
	title := http.StatusText(status)
	if status == http.StatusForbidden {
		title = "Not allowed"
	}
	h.render(w, r, v, status, "error", title, "", struct {
		Status  int
		Message string
	}{status, message})
}

// parseTemplates makes one template set per page: the layout, the shared
// parts, and the page's own content.
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, f)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"when":  when,
	"join":  func(l []string) string { return strings.Join(l, ", ") },
	"has":   func(l []string, s string) bool { return slices.Contains(l, s) },
	"query": func(kv ...string) template.URL { return template.URL(queryOf(kv...)) },
	"itoa":  func(n int64) string { return strconv.FormatInt(n, 10) },
	"dict":  dict,
	"limit": limitText,
}

// limitText says a key's own rate limit: "100 requests per minute, and 20
// more at once", or "none".
func limitText(l *latchkey.RateLimit) string {
	if l == nil {
		return "none"
	}
	per := map[int]string{1: "second", 60: "minute", 3600: "hour", 86400: "day"}[l.Window]
	if per == "" {
		per = latchkey.FormatWindow(l.Window)
	}
	noun := "requests"
	if l.Requests == 1 {
		noun = "request"
	}
	s := strconv.Itoa(l.Requests) + " " + noun + " per " + per
	if l.Burst > 0 {
		s += ", and " + strconv.Itoa(l.Burst) + " more at once"
	}
	return s
}

// dict makes a map of key, value pairs, for a template that takes more
// than one value.
func dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// queryOf makes "?k=v&…" of the pairs whose value is not "", or "".
func queryOf(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// moment is a time as the pages show it: "in 29 days", with the exact time
// to hover over.
type moment struct {
	Rel   string // "in 29 days", "3 hours ago"
	Exact string // "2025-06-01 12:00:00 UTC"
	ISO   string // for the datetime attribute
}

// when shows t relative to now; a zero or nil t is "".
func when(t any, now time.Time) *moment {
	var tt time.Time
	switch x := t.(type) {
	case time.Time:
		tt = x
	case *time.Time:
		if x == nil {
			return nil
		}
		tt = *x
	}
	if tt.IsZero() {
		return nil
	}
	return &moment{Rel: relative(tt, now), Exact: tt.UTC().Format("2006-01-02 15:04:05 UTC"), ISO: tt.UTC().Format(time.RFC3339)}
}

// relative says how far t is from now, as a browser's relative time format
// would: "just now", "in 5 minutes", "3 hours ago", "in 29 days", "2 months
// ago", "in 1 year".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var n int64
	var unit string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < 48*time.Hour:
		n, unit = int64(d/time.Hour), "hour"
	case d < 60*24*time.Hour:
		n, unit = int64(d/(24*time.Hour)), "day"
	case d < 730*24*time.Hour:
		n, unit = int64(d/(30*24*time.Hour)), "month"
	default:
		n, unit = int64(d/(365*24*time.Hour)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if future {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}
