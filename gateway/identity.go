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
// A principal whose identity cannot be written (see identityOf) gets none
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

// identityOf returns the identity headers of p: the method, and for anyone
// but the anonymous principal the fields it has; or, when a value holds a
// byte that a header value cannot (a control character other than tab:
// CR, LF, NUL, DEL…), an EUNAUTHORIZED error that names the field. Such a
// value is never encoded or passed on: the transport would refuse it.
func identityOf(p *latchkey.Principal) identity {
	id, cached := lookIdentity(p)
	if !cached && doorkeeper.OfferComparable(identityDoor, identityDoorKey{p, p.CredentialID, p.ExpiresAt.UnixNano()}) {
		identities.Set(p, id)
	}
	return id
}

// lookIdentity is identityOf without taking p into the cache: for the
// looks that come after identityOf in the same request (setIdentity), which
// must not count as the principal's second request. cached says whether the
// identity came from the cache.
func lookIdentity(p *latchkey.Principal) (id identity, cached bool) {
	if id, ok := identities.GetIfPresent(p); ok {
		return id, true
	}
	id = identity{fields: []identityField{{HeaderMethod, []string{p.Method}}}}
	if !p.IsAnonymous() {
		for _, f := range [...]struct{ name, what, value string }{
			{HeaderUser, "username", p.Username},
			{HeaderDirectory, "user directory", p.Directory},
			{HeaderName, "display name", p.DisplayName},
			{HeaderEmail, "email", p.Email},
			{HeaderGroups, "groups", strings.Join(p.Groups, headerGroupsJoin)},
			{HeaderRoles, "roles", strings.Join(p.Roles, headerGroupsJoin)},
			{HeaderKeyID, "credential id", p.CredentialID},
		} {
			if !validHeaderValue(f.value) {
				id = identity{err: latchkey.Errorf(latchkey.EUNAUTHORIZED,
					"The credentials name an identity that cannot be sent in HTTP headers: the %s holds a control character.", f.what)}
				break
			}
			if f.value != "" {
				id.fields = append(id.fields, identityField{f.name, []string{f.value}})
			}
		}
	}
	if !validHeaderValue(p.Method) {
		id = identity{err: latchkey.Errorf(latchkey.EUNAUTHORIZED,
			"The credentials name an identity that cannot be sent in HTTP headers: the method holds a control character.")}
	}
	return id, false
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
