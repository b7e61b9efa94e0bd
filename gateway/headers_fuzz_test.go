package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// refKind is headerRules.kind written plainly, with allocations: names are
// folded as an upstream stack folds them (ASCII letters only: header names
// are ASCII tokens), then compared.
func refKind(impersonation, k string) headerKind {
	fold := func(s string) string {
		b := []byte(strings.ReplaceAll(s, "_", "-"))
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		return string(b)
	}
	n := fold(k)
	switch {
	case impersonation != "" && n == fold(impersonation), strings.HasPrefix(n, "x-latchkey-"):
		return identityHeader
	case n == "x-forwarded-for", n == "x-forwarded-host", n == "x-forwarded-proto":
		return forwardedHeader
	case n == "x-http-method-override", n == "x-method-override", n == "x-http-method":
		return overrideHeader
	}
	return ordinaryHeader
}

// FuzzIdentityHeaderName checks the matching of client header names, which
// are untrusted input, against refKind; and that strip leaves no header an
// upstream would read as one of latchkey's but the canonical ones kept.
func FuzzIdentityHeaderName(f *testing.F) {
	for _, k := range []string{"X-Latchkey-User", "X_Latchkey_User", "x_latchkey_", "X-Latchkey", "X-Qlik-User",
		"X_qlik_user", "X-Forwarded-For", "X_Forwarded_Proto", "X-HTTP-Method-Override", "X_Method_Override",
		"X-Http-Method", "Accept", "", "x", "X-", "X_", "X-Latchkey-\x00", "\xffX-Latchkey-User"} {
		f.Add(k, "X-Qlik-User")
	}
	f.Add("X-Sso_User", "X-Sso-User")
	f.Fuzz(func(t *testing.T, k, impersonation string) {
		hr := newHeaderRules(impersonation)
		if got, want := hr.kind(k), refKind(hr.impersonation, k); got != want {
			t.Fatalf("kind(%q) with impersonation %q = %d, want %d", k, hr.impersonation, got, want)
		}
		h := http.Header{k: {"v"}, http.CanonicalHeaderKey(k): {"v"}}
		hr.strip(h)
		for name := range h {
			switch refKind(hr.impersonation, name) {
			case identityHeader:
				if name != hr.impersonation {
					t.Fatalf("strip left %q (impersonation %q)", name, hr.impersonation)
				}
			case forwardedHeader:
				if !canonicalForwarded(name) {
					t.Fatalf("strip left %q", name)
				}
			case overrideHeader:
				t.Fatalf("strip left %q", name)
			}
		}
	})
}
