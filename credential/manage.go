package credential

import (
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/latchkey/latchkey"
)

// The administration of latchkey — users, roles and abilities, sessions and
// the audit log — is done through the methods of Service in the manage*.go
// files, whoever asks: the command line, the admin API and the pages. Each
// takes the acting principal first and
//
//   - checks that the actor may do it: the ability it needs (users.manage,
//     roles.manage, sessions.manage, audit.read), and for a change no
//     read-only credential;
//   - makes the change in one store transaction, with its audit record in
//     the same transaction (never a secret in it), so that a failure leaves
//     nothing changed and nothing is changed unrecorded;
//   - returns *latchkey.Error values, with a message for the client.
//
// What an actor may not see is reported as not found, never as forbidden:
// asking for another user's session or account by id tells nothing about
// whether it exists.
//
// Every node's caches hear the change through the store's change feed.

// MethodOperator is the method of the operator's actor (Operator).
const MethodOperator = "cli"

// Operator returns the actor of a command run against the store on the
// operator's machine: it holds every ability latchkey checks, and the audit
// log records it as "cli:<name>" (name is the operating system's user, or ""
// when unknown).
func Operator(name string) Actor {
	abilities := make([]string, len(latchkey.BuiltInAbilities))
	for i, a := range latchkey.BuiltInAbilities {
		abilities[i] = a.Name
	}
	return &latchkey.Principal{Username: name, Method: MethodOperator, Abilities: abilities}
}

// isOperator reports whether a is the operator: nil (as the key and session
// methods take it) or made by Operator.
func isOperator(a Actor) bool { return a == nil || a.Method == MethodOperator && a.UserID == 0 }

// need returns 403 unless a holds the ability; what says what was asked, as
// in "Listing users needs the ability users.manage."
func need(a Actor, ability, what string) error {
	if isOperator(a) || a.Can(ability) {
		return nil
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN, "%s needs the ability %s.", what, ability)
}

// needWrite is need for a change, which a read-only credential never makes.
func needWrite(a Actor, ability, what string) error {
	if a != nil && a.ReadOnly {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "These credentials are read-only: %s is a change.", lowerFirst(what))
	}
	return need(a, ability, what)
}

// outranks reports whether a holds every ability of the target's: only
// then may a change the target's password, disable or delete them, grant
// the target's roles or give a role the abilities, so that no one takes
// over an account, or makes a role, that may do more than they may. The
// operator and holders of the built-in admin role outrank everyone: the
// abilities that operators define for routes are theirs to give.
func outranks(a Actor, abilities []string) bool {
	if isOperator(a) || slices.Contains(a.Roles, latchkey.RoleAdmin) {
		return true
	}
	for _, ab := range abilities {
		if !a.Can(ab) {
			return false
		}
	}
	return true
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// record returns the audit record of a change by a.
func (s *Service) record(a Actor, action, target string, subject int64, remote, detail string) *latchkey.AuditEvent {
	return &latchkey.AuditEvent{Time: s.now(), Action: action, Actor: actorName(a), ActorID: actorID(a),
		Target: target, SubjectID: subject, Method: actorMethod(a), CredentialID: actorCredential(a),
		RemoteAddr: remote, Detail: detail}
}

func actorCredential(a Actor) string {
	if a == nil {
		return ""
	}
	return a.CredentialID
}

// Page is one page of a list, and the cursor that asks for the next one
// ("" on the last page).
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// The number of items a page holds: DefaultPageSize when none is asked for,
// at most MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// pageSize checks the size a list was asked for.
func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, latchkey.Errorf(latchkey.EINVALID, "The limit must be 1 to %d.", MaxPageSize)
	}
	return n, nil
}

// encodeCursor makes the opaque cursor of a position in a list.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by encodeCursor into v; "" leaves v as is
// and returns false.
func decodeCursor(c string, v any) (bool, error) {
	if c == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 1024 || json.Unmarshal(b, v) != nil {
		return false, latchkey.Errorf(latchkey.EINVALID, "The cursor is not one this list gave; start again without it.")
	}
	return true, nil
}
