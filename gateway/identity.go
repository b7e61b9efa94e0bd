package gateway

import (
	"net/http"
	"strings"

	"github.com/maypok86/otter/v2"

	"github.com/latchkey/latchkey"
)

// The identity headers latchkey sets on requests it forwards. Any incoming
// header with the prefix is removed first, so that a client can never choose
// its own identity.
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
// and sets the principal's.
func setIdentity(h http.Header, p *latchkey.Principal, strip ...string) {
	for k := range h {
		if len(k) >= len(identityPrefix) && strings.EqualFold(k[:len(identityPrefix)], identityPrefix) {
			delete(h, k)
		}
	}
	for _, k := range strip {
		h.Del(k)
	}
	for _, f := range identityOf(p) {
		h[f.name] = f.value
	}
}

// identityField is one identity header with its value, as http.Header
// holds it (the name canonical).
type identityField struct {
	name  string
	value []string
}

// identities are the identity headers of principals seen lately. The
// principals of credentials seen before are shared (see credential and
// principalMemo), so a request's identity headers cost a lookup rather than
// a string join and a slice per header. The slices are shared too: a header
// map they are put in must not be changed in place, only replaced, as
// http.Header's methods and the reverse proxy do.
var identities = otter.Must(&otter.Options[*latchkey.Principal, []identityField]{MaximumSize: 20_000})

// identityOf returns the identity headers of p: the method, and for anyone
// but the anonymous principal the fields it has.
func identityOf(p *latchkey.Principal) []identityField {
	if fields, ok := identities.GetIfPresent(p); ok {
		return fields
	}
	fields := []identityField{{HeaderMethod, []string{p.Method}}}
	if !p.IsAnonymous() {
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
				fields = append(fields, identityField{f.name, []string{f.value}})
			}
		}
	}
	identities.Set(p, fields)
	return fields
}
