package web

import (
	"net/url"
	"path"
	"strings"
)

// safeNext reports whether next, the page a person was going to when sent
// to sign in (the sign-in form's "next"), may be where they are sent after
// it: a path and query under the prefix on this site, and nothing a browser
// could read as another site or another place.
//
// It refuses, rather than repairs: a scheme or host ("https://evil",
// "//evil", "/\evil", which browsers read as "//evil"), a backslash, a
// control character or space anywhere (browsers drop tabs and newlines, so
// "/\t/evil" is "//evil"), a fragment, a path that is not clean ("..", ".",
// "//", also percent-encoded: "%2e%2e", "%2f", "%5c"), and any path not at or
// below the prefix. The sign-in and sign-out pages are refused too, so that
// signing in never ends on them.
func safeNext(prefix, next string) bool {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, prefix) || strings.HasPrefix(next, "//") {
		return false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == 0x7f || c == '\\' || c == '#' {
			return false
		}
	}
	rawPath, _, _ := strings.Cut(next, "?")
	lower := strings.ToLower(rawPath)
	for _, bad := range []string{"%2e", "%2f", "%5c", "%00", "//"} {
		if strings.Contains(lower, bad) {
			return false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return false
	}
	p := u.Path
	if !strings.HasPrefix(p, prefix) || strings.ContainsAny(p, "\\") {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return false
	}
	switch strings.TrimPrefix(p, prefix) {
	case "signin", "signout":
		return false
	}
	return true
}
