package latchkey

import "time"

// The abilities latchkey itself checks. Operators may define more, for
// routes to require.
const (
	AbilityAPIKeyGenerate = "apikey.generate" // make API keys for oneself
	AbilityAPIKeySignIn   = "apikey.signin"   // use any API key
	AbilityAPIKeyManage   = "apikey.manage"   // make and revoke keys for other users
	AbilityUsersManage    = "users.manage"
	AbilityRolesManage    = "roles.manage"
	AbilitySessionsManage = "sessions.manage"
	AbilityAuditRead      = "audit.read"
)

// Ability is a named permission. Abilities are granted only through roles.
type Ability struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	BuiltIn     bool   `json:"builtin"`
}

// Role is a named set of abilities that users hold.
type Role struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Abilities   []string  `json:"abilities"`
	BuiltIn     bool      `json:"builtin"`
	CreatedAt   time.Time `json:"created"`
}

// RoleUpdate changes the fields that are not nil.
type RoleUpdate struct {
	Description *string
	Abilities   *[]string
}

// BuiltInRole returns the built-in role with the name, or nil.
func BuiltInRole(name string) *Role {
	for i := range BuiltInRoles {
		if BuiltInRoles[i].Name == name {
			return &BuiltInRoles[i]
		}
	}
	return nil
}

// The built-in roles.
const (
	RoleAdmin       = "admin"
	RoleAPIKeyUser  = "apikey-user"
	RoleAPIKeyAdmin = "apikey-admin"
)

// BuiltInAbilities are present in every store from its first migration.
var BuiltInAbilities = []Ability{
	{Name: AbilityAPIKeyGenerate, Description: "Create API keys for oneself", BuiltIn: true},
	{Name: AbilityAPIKeySignIn, Description: "Sign in with an API key", BuiltIn: true},
	{Name: AbilityAPIKeyManage, Description: "Create and revoke API keys of other users", BuiltIn: true},
	{Name: AbilityUsersManage, Description: "Manage users", BuiltIn: true},
	{Name: AbilityRolesManage, Description: "Manage roles and abilities", BuiltIn: true},
	{Name: AbilitySessionsManage, Description: "List and end the sessions of any user", BuiltIn: true},
	{Name: AbilityAuditRead, Description: "Read the audit log", BuiltIn: true},
}

// BuiltInRoles are present in every store from its first migration.
var BuiltInRoles = []Role{
	{Name: RoleAdmin, Description: "Everything latchkey itself checks", BuiltIn: true, Abilities: []string{
		AbilityAPIKeyGenerate, AbilityAPIKeySignIn, AbilityAPIKeyManage, AbilityUsersManage,
		AbilityRolesManage, AbilitySessionsManage, AbilityAuditRead}},
	{Name: RoleAPIKeyUser, Description: "Create and use one's own API keys", BuiltIn: true, Abilities: []string{
		AbilityAPIKeyGenerate, AbilityAPIKeySignIn}},
	{Name: RoleAPIKeyAdmin, Description: "Create and use API keys, also for other users", BuiltIn: true, Abilities: []string{
		AbilityAPIKeyGenerate, AbilityAPIKeySignIn, AbilityAPIKeyManage}},
}

// ValidateAbilityName checks an ability name: 1 to 128 characters of
// [a-z0-9._-], starting with a letter.
func ValidateAbilityName(s string) error {
	if s == "" || len(s) > 128 || s[0] < 'a' || s[0] > 'z' {
		return Errorf(EINVALID, "The ability %q must be 1 to 128 characters and start with a lowercase letter.", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return Errorf(EINVALID, "The ability %q may hold only lowercase letters, digits, '.', '_' and '-'.", s)
		}
	}
	return nil
}
