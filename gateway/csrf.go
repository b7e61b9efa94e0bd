package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/config"
)

// requiredHeaders is seed 004's defence against cross-site requests: a
// request that may change something (any method but GET, HEAD and OPTIONS)
// must carry an allowed Origin, an Accept header and
// "X-Requested-With: XMLHttpRequest". Browsers send neither a foreign Origin
// that matches nor X-Requested-With on a cross-site request without a CORS
// preflight, which latchkey never grants.
//
// It guards the login and logout endpoints, every unsafe request to the API
// key endpoints, and every cookie-authenticated unsafe request on a route.
type requiredHeaders struct {
	// origins holds the configured values exactly as written, including
	// scheme-less ones ("example.apps.journyx.com") that
	// http.CrossOriginProtection cannot take.
	origins map[string]bool
	// browser accepts the request's own origin, the configured values that
	// are real origins ("https://host:port"), and what Sec-Fetch-Site says
	// is same-origin.
	browser *http.CrossOriginProtection
}

func newRequiredHeaders(c config.Login) *requiredHeaders {
	h := &requiredHeaders{origins: make(map[string]bool, len(c.AllowedOrigins)), browser: http.NewCrossOriginProtection()}
	for _, o := range c.AllowedOrigins {
		h.origins[o] = true
		if strings.Contains(o, "://") {
			// An entry that is no origin (a path, say) stays an exact
			// match only.
			_ = h.browser.AddTrustedOrigin(o)
		}
	}
	return h
}

// check returns nil for a safe request or one that carries the headers, and
// otherwise an EFORBIDDEN error whose message names every header that is
// missing or wrong.
func (h *requiredHeaders) check(r *http.Request) error {
	if latchkey.SafeMethod(r.Method) {
		return nil
	}
	var problems []string
	switch origin := r.Header.Get("Origin"); {
	case origin == "":
		problems = append(problems, "The Origin header is required.")
	case !h.origins[origin] && h.browser.Check(r) != nil:
		if len(origin) > 100 {
			origin = origin[:100] + "…"
		}
		problems = append(problems, "The Origin "+strconv.Quote(origin)+" is not allowed.")
	}
	if r.Header.Get("Accept") == "" {
		problems = append(problems, "The Accept header is required.")
	}
	if r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
		problems = append(problems, "The X-Requested-With header must be XMLHttpRequest.")
	}
	if problems == nil {
		return nil
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN, "%s %s",
		strings.Join(problems, " "), "POST, PUT, PATCH and DELETE requests need Origin, Accept and X-Requested-With: XMLHttpRequest.")
}

// checkUpgrade is the same defence for a request to upgrade the connection
// (a WebSocket handshake), which is a GET and so passes check: a foreign
// page may open a WebSocket to latchkey, and the browser sends the session
// cookie with it. The browser also sends the page's Origin, which the page
// cannot choose, so an upgrade must carry an allowed Origin (as
// configured, or the request's own: scheme://Host). Other requests are
// not its business; it returns nil for them.
func (h *requiredHeaders) checkUpgrade(r *http.Request) error {
	if r.Header.Get("Upgrade") == "" {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin != "" && (h.origins[origin] || sameOrigin(origin, r.Host)) {
		return nil
	}
	const rule = "A WebSocket or other upgrade authenticated by the session cookie needs the Origin of the page that opens it to be latchkey's own or one of login.allowed_origins"
	if origin == "" {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "%s; this request has no Origin header.", rule)
	}
	if len(origin) > 100 {
		origin = origin[:100] + "…"
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN, "%s; the Origin %q is not allowed.", rule, origin)
}

// sameOrigin reports whether origin is http:// or https:// followed by
// host (the request's Host header), as a browser sends it for a page of
// the same site.
func sameOrigin(origin, host string) bool {
	rest, ok := strings.CutPrefix(origin, "https://")
	if !ok {
		rest, ok = strings.CutPrefix(origin, "http://")
	}
	return ok && host != "" && strings.EqualFold(rest, host)
}
