package gateway

import (
	"net/http"
	"strings"

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
	h.Set(HeaderMethod, p.Method)
	if p.IsAnonymous() {
		return
	}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(HeaderUser, p.Username)
	set(HeaderDirectory, p.Directory)
	set(HeaderName, p.DisplayName)
	set(HeaderEmail, p.Email)
	set(HeaderGroups, strings.Join(p.Groups, headerGroupsJoin))
	set(HeaderRoles, strings.Join(p.Roles, headerGroupsJoin))
	set(HeaderKeyID, p.CredentialID)
}
