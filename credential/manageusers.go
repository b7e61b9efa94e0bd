package credential

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
)

// UserView is a user as the administration shows them: never the password
// hash, only whether there is one.
type UserView struct {
	ID          int64     `json:"id"`
	Directory   string    `json:"directory"`
	Username    string    `json:"username"`
	DisplayName string    `json:"name"`
	Email       string    `json:"email"`
	Groups      []string  `json:"groups"`
	Roles       []string  `json:"roles"`
	Abilities   []string  `json:"abilities"`
	Disabled    bool      `json:"disabled"`
	HasPassword bool      `json:"has_password"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// QualifiedName is the user as Qlik writes it: DIRECTORY\username.
func (v *UserView) QualifiedName() string { return v.Directory + `\` + v.Username }

// userView shows u, whose abilities are given.
func userView(u *latchkey.User, abilities []string) *UserView {
	return &UserView{ID: u.ID, Directory: u.Directory, Username: u.Username, DisplayName: u.DisplayName,
		Email: u.Email, Groups: nonNil(u.Groups), Roles: nonNil(u.Roles), Abilities: nonNil(abilities),
		Disabled: u.Disabled, HasPassword: u.PasswordHash != "", Created: u.CreatedAt, Updated: u.UpdatedAt}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// errNoUser is the one answer for a user id that names no user, or one the
// asker may not see.
func errNoUser(id int64) error { return latchkey.Errorf(latchkey.ENOTFOUND, "No user with id %d.", id) }

// NewUser asks for a user.
type NewUser struct {
	Directory   string   `json:"directory"` // "" is the default directory
	Username    string   `json:"username"`
	DisplayName string   `json:"name"`
	Email       string   `json:"email"`
	Groups      []string `json:"groups"`
	Roles       []string `json:"roles"`
	// Password, when not "", is the user's password; without one the user
	// cannot sign in with a password (only with an API key, a JWT or a
	// certificate) until one is set.
	Password string `json:"password"`
}

// CreateUser makes a user, with their roles and password, in one
// transaction. It needs users.manage, and roles.manage as well to grant
// roles. A user of that name existing already is ECONFLICT.
func (s *Service) CreateUser(ctx context.Context, a Actor, req NewUser, remote string) (*UserView, error) {
	if err := needWrite(a, latchkey.AbilityUsersManage, "Creating users"); err != nil {
		return nil, err
	}
	if len(req.Roles) > 0 {
		if err := need(a, latchkey.AbilityRolesManage, "Granting roles"); err != nil {
			return nil, err
		}
	}
	u := &latchkey.User{Directory: req.Directory, Username: req.Username, DisplayName: req.DisplayName,
		Email: req.Email, Groups: req.Groups, Roles: req.Roles}
	if u.Directory == "" {
		u.Directory = s.cfg.DefaultDirectory
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	for _, r := range req.Roles {
		if err := latchkey.ValidateName("role", r); err != nil {
			return nil, err
		}
	}
	abilities, err := s.grantable(ctx, a, req.Roles)
	if err != nil {
		return nil, err
	}
	if req.Password != "" {
		if u.PasswordHash, err = s.hashPassword(ctx, req.Password); err != nil {
			return nil, err
		}
	}
	detail := "roles: " + strings.Join(u.Roles, ",")
	if u.PasswordHash != "" {
		detail += "; with a password"
	}
	if err := s.store.CreateUser(ctx, u, s.record(a, latchkey.AuditUserCreate, u.QualifiedName(), 0, remote, detail)); err != nil {
		return nil, err
	}
	return userView(u, abilities), nil
}

// grantable returns the abilities the roles grant, refusing (403) roles
// that grant an ability the actor lacks, and (400) roles that do not exist.
func (s *Service) grantable(ctx context.Context, a Actor, roles []string) ([]string, error) {
	var abilities []string
	for _, name := range roles {
		r, err := s.store.Role(ctx, name)
		if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
			return nil, latchkey.Errorf(latchkey.EINVALID, "The role %q does not exist.", name)
		}
		if err != nil {
			return nil, err
		}
		if !outranks(a, r.Abilities) {
			return nil, latchkey.Errorf(latchkey.EFORBIDDEN,
				"The role %s grants abilities you do not hold; only someone who holds them all may grant it.", name)
		}
		abilities = append(abilities, r.Abilities...)
	}
	slices.Sort(abilities)
	return slices.Compact(abilities), nil
}

// hashPassword checks a password against the policy and hashes it.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.ValidatePassword(pw); err != nil {
		return "", err
	}
	return s.hasher.Hash(ctx, pw)
}

// ValidatePassword checks a new password against the configured policy: at
// least the minimum length, at most password.MaxLength bytes.
func (s *Service) ValidatePassword(pw string) error {
	switch {
	case len(pw) < s.cfg.PasswordMinLength:
		return latchkey.Errorf(latchkey.EINVALID, "The password must be at least %d characters.", s.cfg.PasswordMinLength)
	case len(pw) > password.MaxLength:
		return latchkey.Errorf(latchkey.EINVALID, "The password must be at most %d bytes.", password.MaxLength)
	}
	return nil
}

// managed reads a user the actor may manage: users.manage, and every
// ability of the user's (outranks). A user the actor may not see is not
// found; one they see (themselves) but may not manage is 403.
func (s *Service) managed(ctx context.Context, a Actor, id int64, what string) (*userEntry, error) {
	if !isOperator(a) && !a.Can(latchkey.AbilityUsersManage) {
		if a.UserID != id || id == 0 {
			return nil, errNoUser(id)
		}
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "%s needs the ability %s.", what, latchkey.AbilityUsersManage)
	}
	if a != nil && a.ReadOnly {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN, "These credentials are read-only: %s is a change.", lowerFirst(what))
	}
	e, err := s.freshUser(ctx, id)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, errNoUser(id)
	}
	if err != nil {
		return nil, err
	}
	if !outranks(a, e.abilities) {
		return nil, latchkey.Errorf(latchkey.EFORBIDDEN,
			"The user %s holds abilities you do not; only someone who holds them all may change this user.", e.user.QualifiedName())
	}
	return e, nil
}

// freshUser reads a user and their access from the store, not from memory:
// administration acts on what is stored now.
func (s *Service) freshUser(ctx context.Context, id int64) (*userEntry, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	roles, abilities, err := s.store.UserAccess(ctx, id)
	if err != nil {
		return nil, err
	}
	return &userEntry{user: u, roles: roles, abilities: abilities}, nil
}

// User returns one user: oneself, or anyone with users.manage. Others are
// not found.
func (s *Service) User(ctx context.Context, a Actor, id int64) (*UserView, error) {
	if !isOperator(a) && !a.Can(latchkey.AbilityUsersManage) && (a.UserID != id || id == 0) {
		return nil, errNoUser(id)
	}
	e, err := s.freshUser(ctx, id)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, errNoUser(id)
	}
	if err != nil {
		return nil, err
	}
	return userView(e.user, e.abilities), nil
}

// UserByName returns the user DIRECTORY\username ("username" alone is in the
// default directory), under the rules of User.
func (s *Service) UserByName(ctx context.Context, a Actor, login string) (*UserView, error) {
	dir, name := s.SplitLogin(login)
	if !isOperator(a) && !a.Can(latchkey.AbilityUsersManage) &&
		(latchkey.NameKey(dir) != latchkey.NameKey(a.Directory) || latchkey.NameKey(name) != latchkey.NameKey(a.Username)) {
		return nil, latchkey.Errorf(latchkey.ENOTFOUND, "No user %s\\%s.", dir, name)
	}
	u, err := s.store.UserByName(ctx, dir, name)
	if err != nil {
		return nil, err
	}
	return s.User(ctx, a, u.ID)
}

// UserQuery selects users to list.
type UserQuery struct {
	Directory string // only this directory
	Search    string // username, display name or email contains it (any case)
	Role      string // only holders of this role
	Disabled  *bool  // only disabled (true) or enabled (false) users
	Limit     int    // page size; 0 is DefaultPageSize
	Cursor    string // the Next of the page before
}

type userCursor struct {
	D  string `json:"d"`
	U  string `json:"u"`
	ID int64  `json:"i"`
}

// Users lists users by directory and username, a page at a time. It needs
// users.manage.
func (s *Service) Users(ctx context.Context, a Actor, q UserQuery) (*Page[*UserView], error) {
	if err := need(a, latchkey.AbilityUsersManage, "Listing users"); err != nil {
		return nil, err
	}
	limit, err := pageSize(q.Limit)
	if err != nil {
		return nil, err
	}
	f := latchkey.UserFilter{Directory: q.Directory, Search: q.Search, Role: q.Role, Disabled: q.Disabled, Limit: limit + 1}
	var c userCursor
	if ok, err := decodeCursor(q.Cursor, &c); err != nil {
		return nil, err
	} else if ok {
		f.After = &latchkey.UserPosition{Directory: c.D, Username: c.U, ID: c.ID}
	}
	users, err := s.store.Users(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &Page[*UserView]{Items: make([]*UserView, 0, min(len(users), limit))}
	for i, u := range users {
		if i == limit {
			last := users[i-1]
			page.Next = encodeCursor(userCursor{D: last.Directory, U: last.Username, ID: last.ID})
			break
		}
		_, abilities, err := s.store.UserAccess(ctx, u.ID)
		if err != nil && latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
			return nil, err
		}
		page.Items = append(page.Items, userView(u, abilities))
	}
	return page, nil
}

// UserChange changes the fields that are not nil.
type UserChange struct {
	DisplayName *string   `json:"name"`
	Email       *string   `json:"email"`
	Groups      *[]string `json:"groups"`
}

// UpdateUser changes a user's display name, email or groups. It needs
// users.manage (see managed).
func (s *Service) UpdateUser(ctx context.Context, a Actor, id int64, ch UserChange, remote string) (*UserView, error) {
	e, err := s.managed(ctx, a, id, "Changing users")
	if err != nil {
		return nil, err
	}
	var fields []string
	if ch.DisplayName != nil {
		fields = append(fields, "name")
	}
	if ch.Email != nil {
		fields = append(fields, "email")
	}
	if ch.Groups != nil {
		fields = append(fields, "groups")
	}
	if len(fields) == 0 {
		return userView(e.user, e.abilities), nil
	}
	u, err := s.store.UpdateUser(ctx, id, latchkey.UserUpdate{DisplayName: ch.DisplayName, Email: ch.Email, Groups: ch.Groups},
		s.record(a, latchkey.AuditUserUpdate, e.user.QualifiedName(), id, remote, "changed: "+strings.Join(fields, ", ")))
	if err != nil {
		return nil, err
	}
	return userView(u, e.abilities), nil
}

// SetPassword sets a user's password, or removes it when pw is "", and ends
// the user's sessions, in one transaction. It needs users.manage (see
// managed); to change one's own password, see ChangePassword.
func (s *Service) SetPassword(ctx context.Context, a Actor, id int64, pw, remote string) error {
	e, err := s.managed(ctx, a, id, "Setting passwords")
	if err != nil {
		return err
	}
	hash, what := "", "removed"
	if pw != "" {
		if hash, err = s.hashPassword(ctx, pw); err != nil {
			return err
		}
		what = "set"
	}
	_, err = s.store.UpdateUser(ctx, id, latchkey.UserUpdate{PasswordHash: &hash, EndSessions: true},
		s.record(a, latchkey.AuditUserPassword, e.user.QualifiedName(), id, remote, what+"; sessions ended"))
	return err
}

// ChangePassword changes the actor's own password, given the current one:
// a stolen session alone cannot take the account over. Every other session
// of the user ends (a session that was stolen stops); the session asking,
// if it is one, stays. Failures count towards the sign-in limits of the
// account.
func (s *Service) ChangePassword(ctx context.Context, a Actor, current, pw, remote string) error {
	if isOperator(a) || a.UserID == 0 {
		return latchkey.Errorf(latchkey.EINVALID, "Only a signed-in user has a password of their own to change.")
	}
	if a.ReadOnly {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "These credentials are read-only: changing the password is a change.")
	}
	if err := s.ValidatePassword(pw); err != nil {
		return err
	}
	if _, how, err := s.SignIn(ctx, a.QualifiedName(), current, remote, a.Method); err != nil || how != ByPassword {
		if err == nil || latchkey.ErrorCode(err) == latchkey.EUNAUTHORIZED {
			return latchkey.Errorf(latchkey.EFORBIDDEN, "The current password is not correct.")
		}
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	upd := latchkey.UserUpdate{PasswordHash: &hash, EndSessions: true}
	if a.Method == latchkey.MethodSession {
		upd.KeepSession = a.CredentialID // the session in use stays; every other one ends
	}
	_, err = s.store.UpdateUser(ctx, a.UserID, upd,
		s.record(a, latchkey.AuditUserPassword, a.QualifiedName(), a.UserID, remote, "changed by the user; other sessions ended"))
	return err
}

// SetDisabled disables a user, which ends their sessions and stops their
// API keys and tokens at once, or enables them again (their keys work again
// unless revoked or expired; their sessions stay ended). It needs
// users.manage (see managed); nobody disables themselves, and the last
// enabled administrator stays (ECONFLICT).
func (s *Service) SetDisabled(ctx context.Context, a Actor, id int64, disabled bool, remote string) (*UserView, error) {
	verb, action := "Enabling users", latchkey.AuditUserEnable
	if disabled {
		verb, action = "Disabling users", latchkey.AuditUserDisable
	}
	e, err := s.managed(ctx, a, id, verb)
	if err != nil {
		return nil, err
	}
	if disabled && a != nil && a.UserID == id && id != 0 {
		return nil, latchkey.Errorf(latchkey.ECONFLICT, "You cannot disable your own account.")
	}
	if e.user.Disabled == disabled {
		return userView(e.user, e.abilities), nil
	}
	u, err := s.store.UpdateUser(ctx, id, latchkey.UserUpdate{Disabled: &disabled},
		s.record(a, action, e.user.QualifiedName(), id, remote, ""))
	if err != nil {
		return nil, err
	}
	return userView(u, e.abilities), nil
}

// DeleteUser removes a user with their roles, API keys and sessions, which
// stop at once; the audit log keeps what they did. It needs users.manage
// (see managed); nobody deletes themselves, and the last enabled
// administrator stays (ECONFLICT).
func (s *Service) DeleteUser(ctx context.Context, a Actor, id int64, remote string) error {
	e, err := s.managed(ctx, a, id, "Deleting users")
	if err != nil {
		return err
	}
	if a != nil && a.UserID == id && id != 0 {
		return latchkey.Errorf(latchkey.ECONFLICT, "You cannot delete your own account.")
	}
	return s.store.DeleteUser(ctx, id, s.record(a, latchkey.AuditUserDelete, e.user.QualifiedName(), id, remote,
		"roles: "+strings.Join(e.roles, ",")))
}

// FirstAdministrator creates the first administrator, with the password
// hash given, when the store has no user at all, and reports whether it
// did. Nodes started together may all find no user: the store's unique
// name lets exactly one create it, and the others report false.
func (s *Service) FirstAdministrator(ctx context.Context, directory, username, passwordHash string) (bool, error) {
	users, err := s.store.Users(ctx, latchkey.UserFilter{Limit: 1})
	if err != nil || len(users) > 0 {
		return false, err
	}
	u := &latchkey.User{Directory: directory, Username: username, DisplayName: "Administrator",
		PasswordHash: passwordHash, Roles: []string{latchkey.RoleAdmin}}
	err = s.store.CreateUser(ctx, u, s.record(Operator(""), latchkey.AuditUserCreate, u.QualifiedName(), 0, "local", "first administrator"))
	if latchkey.ErrorCode(err) == latchkey.ECONFLICT {
		return false, nil // another node created it a moment ago
	}
	return err == nil, err
}
