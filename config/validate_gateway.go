package config

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// routeKey is what two routes may not share: prefix (with or without its
// trailing slash), host, methods and listeners.
func routeKey(r Route) string {
	m, l := slices.Clone(r.Methods), slices.Clone(r.Listeners)
	slices.Sort(m)
	slices.Sort(l)
	return normPrefix(r.Prefix) + "|" + strings.ToLower(r.Host) + "|" + strings.Join(m, ",") + "|" + strings.Join(l, ",")
}

func (v *validator) certificates(c Certificates) {
	v.oneOf("certificates.identity", c.Identity, "cn", "san-email", "san-dns", "san-uri", "fingerprint")
	v.name("certificates.directory", "directory", c.Directory)
	v.token("certificates.impersonation_header", c.ImpersonationHeader)
	for i, t := range c.Trusted {
		kind, val, _ := strings.Cut(t, ":")
		ok := val != "" && (kind == "cn" || kind == "sha256" && len(val) == 64 && isHex(val))
		if !ok {
			v.add(fmt.Sprintf("certificates.trusted[%d]", i), "%q must be cn:NAME or sha256:HEX (64 hex digits of the certificate's SHA-256)", t)
		}
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// routeScope checks what limits a route: host, methods, listeners, timeout.
func (v *validator) routeScope(p string, r Route, listeners []Listener) {
	if strings.ContainsAny(r.Host, "/:@ ") {
		v.add(p+".host", "%q must be a host name without scheme, port or path", r.Host)
	}
	for i, m := range r.Methods {
		if m == "" || strings.ToUpper(m) != m || strings.ContainsAny(m, " /") {
			v.add(fmt.Sprintf("%s.methods[%d]", p, i), "%q must be an HTTP method in capitals, such as GET", m)
		}
	}
	for i, name := range r.Listeners {
		if !slices.ContainsFunc(listeners, func(l Listener) bool { return l.Name == name }) {
			v.add(fmt.Sprintf("%s.listeners[%d]", p, i), "%q is not the name of a listener", name)
		}
	}
	if r.Timeout <= 0 {
		v.add(p+".timeout", "must be more than 0, such as 60s")
	}
}
