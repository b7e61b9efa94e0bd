package gateway

import (
	"net/http"
	"strings"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/doorkeeper"
)

// The identity headers latchkey sets on requests it forwards. Any incoming
// header with the prefix, in any spelling an upstream reads as it (see
// headers.go), is removed first, so that a client can never choose its own
// identity.
const (
	identityPrefix   = "X-Latchkey-"
	HeaderUser       = "X-Latchkey-User"
	HeaderDirectory  = "X-Latchkey-Directory"
	HeaderName       = "X-Latchkey-Name"
	HeaderEmail      = "X-Latchkey-Email"
	HeaderGroups     = "X-Latchkey-Groups"
	HeaderRoles      = "X-Latchkey-Roles"
	HeaderMethod     = "X-Latchkey-Method"
	HeaderKeyID      = "X-Latchkey-Key-Id"
	headerGroupsJoin = ","
)

// setIdentity removes every X-Latchkey-* header from h, and the headers
// named in strip (the impersonation header, certificates.impersonation_header),
// each in any spelling an upstream reads as it, and sets the principal's.
// A principal whose identity cannot be written (see checkIdentity) gets none
// but the method; route.authenticate has refused it before it gets here.
func setIdentity(h http.Header, p *latchkey.Principal, strip ...string) {
	for k := range h {
		if len(k) >= len(identityPrefix) && sameHeaderName(k[:len(identityPrefix)], identityPrefix) {
			delete(h, k)
			continue
		}
		for _, s := range strip {
			if sameHeaderName(k, s) {
				delete(h, k)
			}
		}
	}
	id, cached := lookIdentity(p)
	if !cached && p == latchkey.Anonymous {
		identities.Set(p, id) // one principal for every anonymous request
	}
	if id.err != nil {
		h[HeaderMethod] = []string{p.Method}
		return
	}
	for _, f := range id.fields {
		h[f.name] = f.value
	}
}

// identityField is one identity header with its value, as http.Header
// holds it (the name canonical).
type identityField struct {
	name  string
	value []string
}

// identity is the identity headers of a principal, or why they cannot be
// written: a value that is not a valid header value.
type identity struct {
	fields []identityField
	err    error
}

// identities are the identity headers of principals seen lately. The
// principals of credentials seen before are shared (see credential and
// principalMemo), so a request's identity headers cost a lookup rather than
// a string join and a slice per header. The slices are shared too: a header
// map they are put in must not be changed in place, only replaced, as
// http.Header's methods and the reverse proxy do.
//
// A principal is taken in from its second request (identityDoor): the
// principal of a one-time credential (a flood of one-time tokens) is made
// for one request and never comes back, and an entry would keep it alive.
// The doorkeeper's key is the principal's address with its credential id
// and expiry, so that a new principal at the address of a collected one
// (the allocator reuses addresses) is not taken for it.
var (
	identities   = otter.Must(&otter.Options[*latchkey.Principal, identity]{MaximumSize: 20_000})
	identityDoor = doorkeeper.New(1 << 16)
)

type identityDoorKey struct {
	p       *latchkey.Principal
	cred    string
	expires int64
}

// checkIdentity says whether p's identity can be written: nil, or, when a
// value holds a byte that a header value cannot (a control character other
// than tab: CR, LF, NUL, DEL…), an EUNAUTHORIZED error that names the
// field. Such a value is never encoded or passed on: the transport would
// refuse it. It is route.authenticate's check, once per request, and so
// the one place that offers p to the cache; for a principal not taken in
// it checks without building anything (no allocation).
func checkIdentity(p *latchkey.Principal) error {
	if id, ok := identities.GetIfPresent(p); ok {
		return id.err
	}
	if doorkeeper.OfferComparable(identityDoor, identityDoorKey{p, p.CredentialID, p.ExpiresAt.UnixNano()}) {
		id := buildIdentity(p)
		identities.Set(p, id)
		return id.err
	}
	return identityError(p)
}

// lookIdentity returns the identity headers of p, from the cache or built,
// without taking p into the cache (checkIdentity does that); cached says
// which.
func lookIdentity(p *latchkey.Principal) (id identity, cached bool) {
	if id, ok := identities.GetIfPresent(p); ok {
		return id, true
	}
	return buildIdentity(p), false
}

// buildIdentity returns the identity headers of p: the method, and for
// anyone but the anonymous principal the fields it has; or, when one
// cannot be written, only identityError's error.
func buildIdentity(p *latchkey.Principal) identity {
	if err := identityError(p); err != nil {
		return identity{err: err}
	}
	id := identity{fields: []identityField{{HeaderMethod, []string{p.Method}}}}
	if p.IsAnonymous() {
		return id
	}
	for _, f := range [...]struct{ name, value string }{
		{HeaderUser, p.Username},
		{HeaderDirectory, p.Directory},
		{HeaderName, p.DisplayName},
		{HeaderEmail, p.Email},
		{HeaderGroups, strings.Join(p.Groups, headerGroupsJoin)},
		{HeaderRoles, strings.Join(p.Roles, headerGroupsJoin)},
		{HeaderKeyID, p.CredentialID},
	} {
		if f.value != "" {
			id.fields = append(id.fields, identityField{f.name, []string{f.value}})
		}
	}
	return id
}

// identityError is the error of a principal whose identity cannot be
// written in headers, naming the field; nil for one that can. (The
// separator that joins groups and roles is itself a valid value, so each
// of them is checked alone.)
func identityError(p *latchkey.Principal) error {
	bad := func(what string) error {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED,
			"The credentials name an identity that cannot be sent in HTTP headers: the %s holds a control character.", what)
	}
	if !validHeaderValue(p.Method) {
		return bad("method")
	}
	if p.IsAnonymous() {
		return nil
	}
	for _, f := range [...]struct{ what, value string }{
		{"username", p.Username}, {"user directory", p.Directory}, {"display name", p.DisplayName},
		{"email", p.Email}, {"credential id", p.CredentialID},
	} {
		if !validHeaderValue(f.value) {
			return bad(f.what)
		}
	}
	for _, f := range [...]struct {
		what   string
		values []string
	}{{"groups", p.Groups}, {"roles", p.Roles}} {
		for _, v := range f.values {
			if !validHeaderValue(v) {
				return bad(f.what)
			}
		}
	}
	return nil
}

// validHeaderValue reports whether v may be sent as a header value as it is
// (RFC 9110 §5.5, as net/http checks it): no control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}
