package gateway

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
)

// Client headers that latchkey does not let through, because they say what
// only latchkey may say to an upstream: who the caller is, where the request
// came from, and which method it is. Their names are compared as upstream
// stacks compare them, not as HTTP does: in any case, and with '_' read as
// '-', since CGI, WSGI, PHP and several Java and Node servers turn both into
// '_' (X_Latchkey_User arrives as HTTP_X_LATCHKEY_USER, like
// X-Latchkey-User).

// headerKind is what a client header name means to latchkey.
type headerKind uint8

const (
	ordinaryHeader  headerKind = iota
	identityHeader             // X-Latchkey-* and the impersonation header
	forwardedHeader            // X-Forwarded-For, -Host and -Proto, which the proxy writes
	overrideHeader             // a method override
)

// forwardedHeaders are the X-Forwarded-* headers the reverse proxy writes
// (httputil.ProxyRequest.SetXForwarded); it replaces them under their
// canonical names itself.
var forwardedHeaders = [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// overrideHeaders are the method overrides that frameworks honour
// (X-HTTP-Method-Override: DELETE on a GET or POST).
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Method-Override", "X-Http-Method"}

// foldHeaderByte is b as an upstream stack reads it in a header name.
func foldHeaderByte(b byte) byte {
	switch {
	case b == '_':
		return '-'
	case 'A' <= b && b <= 'Z':
		return b + ('a' - 'A')
	}
	return b
}

// sameHeaderName reports whether an upstream stack reads a and b as one
// header name.
func sameHeaderName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

// headerRules classify client header names for one gateway, whose
// impersonation header (canonical) is impersonation.
type headerRules struct {
	impersonation string
}

func newHeaderRules(impersonation string) headerRules {
	return headerRules{impersonation: http.CanonicalHeaderKey(impersonation)}
}

// kind classifies the header name k. It allocates nothing: it runs on every
// header of every request.
func (hr headerRules) kind(k string) headerKind {
	if hr.impersonation != "" && sameHeaderName(k, hr.impersonation) {
		return identityHeader
	}
	if len(k) < 2 || foldHeaderByte(k[0]) != 'x' || foldHeaderByte(k[1]) != '-' {
		return ordinaryHeader
	}
	if len(k) >= len(identityPrefix) && sameHeaderName(k[:len(identityPrefix)], identityPrefix) {
		return identityHeader
	}
	for _, f := range forwardedHeaders {
		if sameHeaderName(k, f) {
			return forwardedHeader
		}
	}
	for _, o := range overrideHeaders {
		if sameHeaderName(k, o) {
			return overrideHeader
		}
	}
	return ordinaryHeader
}

// strip removes from a request to be proxied, before it is authenticated,
// every header that is latchkey's to write: identity headers in any
// spelling, method overrides, and the X-Forwarded-* headers in spellings
// other than the canonical ones (which the reverse proxy replaces). Only the
// impersonation header under its own name stays, for the cert method, which
// removes it (and setIdentity does on every other route).
func (hr headerRules) strip(h http.Header) {
	for k := range h {
		switch hr.kind(k) {
		case identityHeader:
			if k != hr.impersonation {
				delete(h, k)
			}
		case forwardedHeader:
			if !canonicalForwarded(k) {
				delete(h, k)
			}
		case overrideHeader:
			delete(h, k)
		}
	}
}

func canonicalForwarded(k string) bool {
	for _, f := range forwardedHeaders {
		if k == f {
			return true
		}
	}
	return false
}

// checkForwardAuth refuses, as EINVALID, a forward-auth request carrying a
// header that latchkey would remove from a request it proxies but that the
// proxy in front passes on to the upstream: an identity header other than
// the canonical names of a 200's answer (which the proxy replaces by the
// answer's values), the impersonation header in any spelling, or a method
// override that names another method than method, the one decided.
func (hr headerRules) checkForwardAuth(h http.Header, method string) error {
	for k, vs := range h {
		switch hr.kind(k) {
		case identityHeader:
			if !answered(k) {
				return latchkey.Errorf(latchkey.EINVALID,
					"The request carries %s, which names an identity header that only latchkey may send; the proxy in front would pass it on to the upstream.", k)
			}
		case overrideHeader:
			for _, v := range vs {
				if !strings.EqualFold(strings.TrimSpace(v), method) {
					return latchkey.Errorf(latchkey.EINVALID,
						"The request carries %s, which asks the upstream for another method than %s, the one decided.", k, method)
				}
			}
		}
	}
	return nil
}

// answered reports whether k is, as HTTP compares names (in any case, '_'
// not '-'), one of the headers of a forward-auth 200, which the proxy in
// front copies onto the request in place of the client's.
func answered(k string) bool {
	for _, a := range answerHeaders {
		if strings.EqualFold(k, a) {
			return true
		}
	}
	return false
}

// queryOverride returns the value of the first method-override parameter in
// a raw query that names a method other than GET, HEAD or OPTIONS, and
// whether there is one. The parameter is _method in any case, percent-encoded
// or not, and with '.', ' ' or '[' for the '_', as PHP reads them.
func queryOverride(raw string) (string, bool) {
	for raw != "" {
		var part string
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			part, raw = raw[:i], raw[i+1:]
		} else {
			part, raw = raw, ""
		}
		key, val, _ := strings.Cut(part, "=")
		if !strings.ContainsAny(key, "mM%") { // fast path: no "method" in the name
			continue
		}
		key = unescapeQuery(key)
		if len(key) != len("_method") || !strings.ContainsRune("_. [", rune(key[0])) || !strings.EqualFold(key[1:], "method") {
			continue
		}
		val = strings.TrimSpace(unescapeQuery(val))
		if val != "" && !latchkey.SafeMethod(strings.ToUpper(val)) {
			return val, true
		}
	}
	return "", false
}

// unescapeQuery decodes a query key or value as a form parser does; one
// that does not decode is taken as it is.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
