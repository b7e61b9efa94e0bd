package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// xrfkeyBody is what Qlik answers when the Xrfkey check fails (seeds 000,
// 001 and 003), byte for byte.
const xrfkeyBody = "XSRF prevention check failed. Possible XSRF discovered."

// xrfkeyFailed answers a request that failed the Xrfkey guard of its route
// (xrfkey.Check: the Xrfkey or xrfkey parameter and the X-Qlik-Xrfkey
// header present once each, equal, 16 of [0-9A-Za-z]) as Qlik does: 403,
// plain text.
func xrfkeyFailed(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte(xrfkeyBody))
}

// withoutXrfkey returns the raw query without its Xrfkey parameters (either
// spelling, however escaped), leaving every other parameter as the client
// wrote it.
func withoutXrfkey(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && (n == "Xrfkey" || n == "xrfkey") {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}
