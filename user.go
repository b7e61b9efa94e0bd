package latchkey

import (
	"strings"
	"time"
)

// DefaultDirectory is the user directory of users named without one, such as
// the first administrator and users who sign in with a bare username.
const DefaultDirectory = "LOCAL"

// User is a person or a service account. Directory and Username together
// name the user (Qlik's userDirectory and userId); they are unique compared
// case-insensitively, as Qlik compares them.
type User struct {
	ID          int64     `json:"id"`
	Directory   string    `json:"directory"`
	Username    string    `json:"username"`
	DisplayName string    `json:"name"`
	Email       string    `json:"email"`
	Groups      []string  `json:"groups"`
	Disabled    bool      `json:"disabled"`
	Roles       []string  `json:"roles"` // filled on read; change with GrantRole and RevokeRole
	CreatedAt   time.Time `json:"created"`
	UpdatedAt   time.Time `json:"updated"`

	// PasswordHash is the argon2id PHC string of the password, or "" when the
	// user cannot sign in with a password. It never leaves the server.
	PasswordHash string `json:"-"`
}

// QualifiedName is the user as Qlik writes it: DIRECTORY\username.
func (u *User) QualifiedName() string { return u.Directory + `\` + u.Username }

// Validate reports the first problem with the user's fields, as an EINVALID
// error that says what to fix.
func (u *User) Validate() error {
	if err := ValidateName("directory", u.Directory); err != nil {
		return err
	}
	if err := ValidateName("username", u.Username); err != nil {
		return err
	}
	if len(u.DisplayName) > 256 || len(u.Email) > 256 {
		return Errorf(EINVALID, "The name and email must be at most 256 characters.")
	}
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		return Errorf(EINVALID, "The email %q is not an email address.", u.Email)
	}
	for _, g := range u.Groups {
		if g == "" || len(g) > 256 {
			return Errorf(EINVALID, "Each group must be 1 to 256 characters.")
		}
	}
	return nil
}

// ValidateName checks a directory, username or role name: 1 to 128
// characters, none of them a control character, a backslash, a semicolon or
// an equals sign (which would break `DIR\user` and X-Qlik-User).
func ValidateName(what, s string) error {
	if s == "" {
		return Errorf(EINVALID, "The %s must not be empty.", what)
	}
	if len(s) > 128 {
		return Errorf(EINVALID, "The %s must be at most 128 characters.", what)
	}
	if strings.TrimSpace(s) != s {
		return Errorf(EINVALID, "The %s %q must not start or end with a space.", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || r == ';' || r == '=' {
			return Errorf(EINVALID, "The %s %q must not contain control characters, '\\', ';' or '='.", what, s)
		}
	}
	return nil
}

// NameKey is the case-insensitive form under which directories, usernames and
// emails are compared and stored for lookup.
func NameKey(s string) string { return strings.ToLower(s) }

// UserFilter selects users. Zero fields select everything.
type UserFilter struct {
	Directory string // compared case-insensitively
	// Search keeps users whose username, display name or email contains it,
	// compared case-insensitively.
	Search   string
	Role     string // only holders of this role
	Disabled *bool  // only disabled (true) or enabled (false) users
	Limit    int    // 0 means no limit
	// After pages on: only users that sort after this one (by directory,
	// username and id, as Users orders them). Nil starts at the first.
	After *UserPosition
}

// UserPosition is where a user sorts in a list of users.
type UserPosition struct {
	Directory, Username string
	ID                  int64
}

// Position returns where u sorts.
func (u *User) Position() *UserPosition {
	return &UserPosition{Directory: u.Directory, Username: u.Username, ID: u.ID}
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	DisplayName  *string
	Email        *string
	Groups       *[]string
	Disabled     *bool
	PasswordHash *string
	// EndSessions ends the user's sessions in the same transaction, as
	// disabling a user always does, except the session KeepSession names
	// (the one of a user who changes their own password).
	EndSessions bool
	KeepSession string
}
