package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

func (a *app) roleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Manage roles and who holds them",
		Long: `Manage roles: named sets of abilities that users hold. The built-in roles
(admin, apikey-user, apikey-admin) cannot be deleted and keep their built-in
abilities; more may be added to them. A change to a role, or to who holds
it, takes effect on every node at once. Nobody may take the role admin from
the last enabled user who holds it.`,
	}
	cmd.AddCommand(a.roleAdd(), a.roleList(), a.roleShow(), a.roleGrant(true), a.roleGrant(false),
		a.roleSetAbilities(), a.roleUpdate(), a.roleDelete())
	return cmd
}

// roleRows are the table rows of one role.
func roleRows(r *latchkey.Role) [][]string {
	return [][]string{
		{"name", r.Name}, {"description", orDash(r.Description)}, {"abilities", orDash(strings.Join(r.Abilities, ","))},
		{"builtin", fmt.Sprint(r.BuiltIn)}, {"created", stamp(r.CreatedAt)},
	}
}

func (a *app) roleAdd() *cobra.Command {
	var r latchkey.Role
	cmd := &cobra.Command{
		Use:     "add NAME",
		Aliases: []string{"create"},
		Short:   "Create a role with a set of abilities (also: role create)",
		Long: `Create a custom role that grants the abilities given (each must exist: see
"latchkey ability list", and "latchkey ability add" to define one).`,
		Example: `  latchkey role add reporting --ability reports.read --ability apikey.signin --description 'Reads reports'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r.Name = args[0]
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				v, err := svc.CreateRole(ctx, operator(), r, cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(v, "created role %s", v.Name)
			})
		},
	}
	cmd.Flags().StringSliceVar(&r.Abilities, "ability", nil, "`ability` the role grants (repeatable; see 'latchkey ability list')")
	cmd.Flags().StringVar(&r.Description, "description", "", "what the role is for")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) roleList() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List roles and their abilities",
		Example: `  latchkey role list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				roles, err := svc.Roles(ctx, operator())
				if err != nil {
					return err
				}
				rows := make([][]string, len(roles))
				for i, r := range roles {
					rows[i] = []string{r.Name, fmt.Sprint(r.BuiltIn), strings.Join(r.Abilities, ","), r.Description}
				}
				return a.printOut(nonNilList(roles), []string{"ROLE", "BUILTIN", "ABILITIES", "DESCRIPTION"}, rows)
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) roleShow() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one role and its abilities",
		Long: `Show one role and the abilities it grants. "latchkey user list --role NAME"
lists who holds it.`,
		Example: `  latchkey role show admin -o json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				r, err := svc.Role(ctx, operator(), args[0])
				if err != nil {
					return err
				}
				return a.printOut(r, []string{"FIELD", "VALUE"}, roleRows(r))
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

// roleGrant makes "role grant" (grant true) and "role revoke".
func (a *app) roleGrant(grant bool) *cobra.Command {
	var ref userRef
	var role string
	verb, short := "revoke", "Take a role from a user; takes effect on every node at once"
	if grant {
		verb, short = "grant", "Give a user a role; takes effect on every node at once"
	}
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Long: short + `.

With -o json it prints the user as they are afterwards, with their roles and
abilities.`,
		Example: "  latchkey role " + verb + " --directory LAB --user goran --role apikey-user",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(svc *credential.Service, u *credential.UserView) error {
				op := operator()
				var err error
				if grant {
					err = svc.GrantRole(ctx, op, u.ID, role, cliRemote)
				} else {
					err = svc.RevokeRole(ctx, op, u.ID, role, cliRemote)
				}
				if err != nil {
					return err
				}
				v, err := svc.User(ctx, op, u.ID)
				if err != nil {
					return err
				}
				if grant {
					return a.printDone(v, "granted role %s to %s", role, v.QualifiedName())
				}
				return a.printDone(v, "revoked role %s from %s", role, v.QualifiedName())
			})
		},
	}
	ref.addFlags(cmd)
	cmd.Flags().StringVar(&role, "role", "", "`role` name")
	cmd.MarkFlagRequired("role")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) roleSetAbilities() *cobra.Command {
	var abilities []string
	cmd := &cobra.Command{
		Use:   "set-abilities NAME --ability ABILITY...",
		Short: "Replace the abilities a role grants",
		Long: `Replace the abilities a role grants with those given by --ability (repeat it,
or separate them with commas). Every holder of the role gains and loses them
at once, on every node. A built-in role keeps its built-in abilities.`,
		Example: `  latchkey role set-abilities reporting --ability reports.read --ability reports.write`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("ability") {
				return fmt.Errorf("give the abilities the role is to grant with --ability (they replace the ones it has)")
			}
			abilities = slices.DeleteFunc(abilities, func(s string) bool { return s == "" })
			return a.updateRole(cmd, args[0], latchkey.RoleUpdate{Abilities: &abilities})
		},
	}
	cmd.Flags().StringSliceVar(&abilities, "ability", nil, "`ability` the role is to grant (repeatable)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) roleUpdate() *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:     "update NAME --description TEXT",
		Short:   "Change a role's description",
		Example: `  latchkey role update reporting --description 'Reads the sales reports'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("description") {
				return fmt.Errorf("nothing to change: give --description (abilities are set with 'latchkey role set-abilities')")
			}
			return a.updateRole(cmd, args[0], latchkey.RoleUpdate{Description: &description})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the role is for")
	a.addOutputFlag(cmd)
	return cmd
}

// updateRole changes a role and prints it as it is afterwards.
func (a *app) updateRole(cmd *cobra.Command, name string, upd latchkey.RoleUpdate) error {
	ctx := cmd.Context()
	return a.withCredentials(ctx, func(svc *credential.Service) error {
		r, err := svc.UpdateRole(ctx, operator(), name, upd, cliRemote)
		if err != nil {
			return err
		}
		return a.printDone(r, "role %s now grants: %s", r.Name, orDash(strings.Join(r.Abilities, ", ")))
	})
}

func (a *app) roleDelete() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a custom role; its holders lose it at once",
		Long: `Delete a custom role: every user who holds it loses it, and its abilities,
at once on every node. Built-in roles cannot be deleted. It asks no
question, but needs --yes.`,
		Example: `  latchkey role delete reporting --yes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting the role %s takes it from everyone who holds it: add --yes to do it", args[0])
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				if err := svc.DeleteRole(ctx, operator(), args[0], cliRemote); err != nil {
					return err
				}
				return a.printDone(done("deleted role %s", args[0]), "deleted role %s", args[0])
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "delete without a second thought (required)")
	a.addOutputFlag(cmd)
	return cmd
}

func (a *app) abilityCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ability",
		Short: "Define, list and delete abilities (granted through roles)",
		Long: `Abilities are named permissions. latchkey itself checks the built-in ones
(apikey.generate, apikey.signin, apikey.manage, users.manage, roles.manage,
sessions.manage, audit.read); routes may require any ability defined here.
Abilities are granted only through roles.`,
	}
	var desc string
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Define an ability that routes can require and roles can grant",
		Example: "  latchkey ability add reports.read --description 'Read reports'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				ab, err := svc.CreateAbility(ctx, operator(), latchkey.Ability{Name: args[0], Description: desc}, cliRemote)
				if err != nil {
					return err
				}
				return a.printDone(ab, "defined ability %s", ab.Name)
			})
		},
	}
	add.Flags().StringVar(&desc, "description", "", "what the ability allows")
	a.addOutputFlag(add)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List abilities",
		Example: "  latchkey ability list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				abilities, err := svc.Abilities(ctx, operator())
				if err != nil {
					return err
				}
				rows := make([][]string, len(abilities))
				for i, ab := range abilities {
					rows[i] = []string{ab.Name, fmt.Sprint(ab.BuiltIn), ab.Description}
				}
				return a.printOut(nonNilList(abilities), []string{"ABILITY", "BUILTIN", "DESCRIPTION"}, rows)
			})
		},
	}
	a.addOutputFlag(list)
	var yes bool
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an ability that is not built in, and take it from every role",
		Long: `Delete an ability that is not built in. Every role that grants it stops
granting it, at once on every node; routes that require it then refuse
everyone. It asks no question, but needs --yes.`,
		Example: "  latchkey ability delete reports.read --yes",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("deleting the ability %s takes it from every role that grants it: add --yes to do it", args[0])
			}
			ctx := cmd.Context()
			return a.withCredentials(ctx, func(svc *credential.Service) error {
				if err := svc.DeleteAbility(ctx, operator(), args[0], cliRemote); err != nil {
					return err
				}
				return a.printDone(done("deleted ability %s", args[0]), "deleted ability %s", args[0])
			})
		},
	}
	del.Flags().BoolVar(&yes, "yes", false, "delete without a second thought (required)")
	a.addOutputFlag(del)
	cmd.AddCommand(add, list, del)
	return cmd
}

// nonNilList makes an empty list print as [] in JSON, not null.
func nonNilList[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

func (a *app) versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  latchkey version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.printDone(struct {
				Version string `json:"version"`
			}{latchkey.Version}, "latchkey %s", latchkey.Version)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}
