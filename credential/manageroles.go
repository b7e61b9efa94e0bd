package credential

import (
	"context"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// Roles and abilities. Reading them needs roles.manage or users.manage (who
// manages users must know what to grant); changing them, and granting and
// revoking roles, needs roles.manage. Nobody grants a role with an ability
// they do not hold themselves, nor gives a role such an ability — except
// holders of the admin role, who may give any (see outranks).
//
// Built-in roles and abilities cannot be deleted, and a built-in role keeps
// its built-in abilities (more may be added); the store refuses a change
// that would leave no enabled user with the admin role.

// mayReadRoles returns 403 unless a may read roles and abilities.
func mayReadRoles(a Actor) error {
	if isOperator(a) || a.Can(latchkey.AbilityRolesManage) || a.Can(latchkey.AbilityUsersManage) {
		return nil
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN, "Reading roles and abilities needs the ability %s or %s.",
		latchkey.AbilityRolesManage, latchkey.AbilityUsersManage)
}

// Roles lists every role with its abilities.
func (s *Service) Roles(ctx context.Context, a Actor) ([]*latchkey.Role, error) {
	if err := mayReadRoles(a); err != nil {
		return nil, err
	}
	return s.store.Roles(ctx)
}

// Role returns one role.
func (s *Service) Role(ctx context.Context, a Actor, name string) (*latchkey.Role, error) {
	if err := mayReadRoles(a); err != nil {
		return nil, err
	}
	return s.store.Role(ctx, name)
}

// Abilities lists every ability.
func (s *Service) Abilities(ctx context.Context, a Actor) ([]*latchkey.Ability, error) {
	if err := mayReadRoles(a); err != nil {
		return nil, err
	}
	return s.store.Abilities(ctx)
}

// holdsAll returns 403 unless a holds every one of abilities.
func holdsAll(a Actor, abilities []string) error {
	if outranks(a, abilities) {
		return nil
	}
	var missing []string
	for _, ab := range abilities {
		if !a.Can(ab) {
			missing = append(missing, ab)
		}
	}
	return latchkey.Errorf(latchkey.EFORBIDDEN, "Only someone who holds %s may give it to a role.", strings.Join(missing, ", "))
}

// knownAbilities returns EINVALID naming the first of names that is not an
// ability, so that bad input is told apart from a refusal.
func (s *Service) knownAbilities(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	all, err := s.store.Abilities(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := latchkey.ValidateAbilityName(n); err != nil {
			return err
		}
		if !slices.ContainsFunc(all, func(ab *latchkey.Ability) bool { return ab.Name == n }) {
			return latchkey.Errorf(latchkey.EINVALID, "The ability %q does not exist.", n)
		}
	}
	return nil
}

// CreateRole makes a custom role with abilities that exist.
func (s *Service) CreateRole(ctx context.Context, a Actor, r latchkey.Role, remote string) (*latchkey.Role, error) {
	if err := needWrite(a, latchkey.AbilityRolesManage, "Creating roles"); err != nil {
		return nil, err
	}
	if err := s.knownAbilities(ctx, r.Abilities); err != nil {
		return nil, err
	}
	if err := holdsAll(a, r.Abilities); err != nil {
		return nil, err
	}
	r.BuiltIn = false
	if err := s.store.CreateRole(ctx, &r, s.record(a, latchkey.AuditRoleCreate, r.Name, 0, remote,
		"abilities: "+strings.Join(r.Abilities, ","))); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRole changes a role's description and abilities where upd says.
// The change reaches every user who holds the role at once.
func (s *Service) UpdateRole(ctx context.Context, a Actor, name string, upd latchkey.RoleUpdate, remote string) (*latchkey.Role, error) {
	if err := needWrite(a, latchkey.AbilityRolesManage, "Changing roles"); err != nil {
		return nil, err
	}
	old, err := s.store.Role(ctx, name)
	if err != nil {
		return nil, err
	}
	// Taking an ability away is giving the role's holders less; that too
	// needs the ability, so that nobody edits a role above their own.
	if err := holdsAll(a, old.Abilities); err != nil {
		return nil, err
	}
	var detail []string
	if upd.Abilities != nil {
		if err := s.knownAbilities(ctx, *upd.Abilities); err != nil {
			return nil, err
		}
		if err := holdsAll(a, *upd.Abilities); err != nil {
			return nil, err
		}
		detail = append(detail, "abilities: "+strings.Join(*upd.Abilities, ","))
	}
	if upd.Description != nil {
		detail = append(detail, "description changed")
	}
	if len(detail) == 0 {
		return old, nil
	}
	return s.store.UpdateRole(ctx, name, upd, s.record(a, latchkey.AuditRoleUpdate, name, 0, remote, strings.Join(detail, "; ")))
}

// DeleteRole removes a custom role; its holders lose it at once.
func (s *Service) DeleteRole(ctx context.Context, a Actor, name, remote string) error {
	if err := needWrite(a, latchkey.AbilityRolesManage, "Deleting roles"); err != nil {
		return err
	}
	old, err := s.store.Role(ctx, name)
	if err != nil {
		return err
	}
	if err := holdsAll(a, old.Abilities); err != nil {
		return err
	}
	return s.store.DeleteRole(ctx, name, s.record(a, latchkey.AuditRoleDelete, name, 0, remote,
		"abilities: "+strings.Join(old.Abilities, ",")))
}

// CreateAbility defines an ability that routes can require and roles grant.
func (s *Service) CreateAbility(ctx context.Context, a Actor, ab latchkey.Ability, remote string) (*latchkey.Ability, error) {
	if err := needWrite(a, latchkey.AbilityRolesManage, "Defining abilities"); err != nil {
		return nil, err
	}
	if err := s.store.CreateAbility(ctx, &ab, s.record(a, latchkey.AuditAbilityCreate, ab.Name, 0, remote, ab.Description)); err != nil {
		return nil, err
	}
	return &ab, nil
}

// DeleteAbility removes an ability that is not built in, and takes it from
// every role that grants it.
func (s *Service) DeleteAbility(ctx context.Context, a Actor, name, remote string) error {
	if err := needWrite(a, latchkey.AbilityRolesManage, "Deleting abilities"); err != nil {
		return err
	}
	all, err := s.store.Abilities(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(all, func(ab *latchkey.Ability) bool { return ab.Name == name }) {
		return latchkey.Errorf(latchkey.ENOTFOUND, "No ability %q.", name)
	}
	if !outranks(a, []string{name}) {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "Only someone who holds %s may delete it.", name)
	}
	return s.store.DeleteAbility(ctx, name, s.record(a, latchkey.AuditAbilityDelete, name, 0, remote, ""))
}

// GrantRole gives a user a role. Users the actor may not see are not found.
func (s *Service) GrantRole(ctx context.Context, a Actor, userID int64, role, remote string) error {
	u, err := s.roleTarget(ctx, a, userID, "Granting roles")
	if err != nil {
		return err
	}
	if _, err := s.store.Role(ctx, role); err != nil {
		return err // not found: the role in the path names nothing
	}
	if _, err := s.grantable(ctx, a, []string{role}); err != nil {
		return err
	}
	return s.store.GrantRole(ctx, userID, role, s.record(a, latchkey.AuditRoleGrant, u.QualifiedName(), userID, remote, "role: "+role))
}

// RevokeRole takes a role from a user.
func (s *Service) RevokeRole(ctx context.Context, a Actor, userID int64, role, remote string) error {
	u, err := s.roleTarget(ctx, a, userID, "Revoking roles")
	if err != nil {
		return err
	}
	r, err := s.store.Role(ctx, role)
	if err != nil {
		return err
	}
	if err := holdsAll(a, r.Abilities); err != nil {
		return err
	}
	return s.store.RevokeRole(ctx, userID, role, s.record(a, latchkey.AuditRoleRevoke, u.QualifiedName(), userID, remote, "role: "+role))
}

// roleTarget reads the user whose roles a changes, which needs
// roles.manage.
func (s *Service) roleTarget(ctx context.Context, a Actor, userID int64, what string) (*latchkey.User, error) {
	if err := needWrite(a, latchkey.AbilityRolesManage, what); err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, userID)
	if latchkey.ErrorCode(err) == latchkey.ENOTFOUND {
		return nil, errNoUser(userID)
	}
	return u, err
}
