package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
)

func (a *app) roleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles and who holds them"}
	cmd.AddCommand(a.roleAdd(), a.roleList(), a.roleGrant(true), a.roleGrant(false))
	return cmd
}

func (a *app) roleAdd() *cobra.Command {
	r := &latchkey.Role{}
	cmd := &cobra.Command{
		Use:     "add NAME",
		Short:   "Create a role with a set of abilities",
		Example: `  latchkey role add reporting --ability reports.read --ability apikey.signin`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r.Name = args[0]
			return a.withStore(ctx, func(st latchkey.Store) error {
				if err := st.CreateRole(ctx, r, nil); err != nil {
					return err
				}
				audit(ctx, st, latchkey.AuditRoleCreate, r.Name, "abilities: "+strings.Join(r.Abilities, ","))
				fmt.Fprintf(a.stdout, "created role %s\n", r.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringSliceVar(&r.Abilities, "ability", nil, "`ability` the role grants (repeatable; see 'latchkey ability list')")
	cmd.Flags().StringVar(&r.Description, "description", "", "what the role is for")
	return cmd
}

func (a *app) roleList() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List roles and their abilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st latchkey.Store) error {
				roles, err := st.Roles(cmd.Context())
				if err != nil {
					return err
				}
				rows := make([][]string, len(roles))
				for i, r := range roles {
					rows[i] = []string{r.Name, fmt.Sprint(r.BuiltIn), strings.Join(r.Abilities, ","), r.Description}
				}
				return a.printOut(roles, []string{"ROLE", "BUILTIN", "ABILITIES", "DESCRIPTION"}, rows)
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
	verb, past, action := "revoke", "revoked", latchkey.AuditRoleRevoke
	if grant {
		verb, past, action = "grant", "granted", latchkey.AuditRoleGrant
	}
	cmd := &cobra.Command{
		Use:     verb,
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " a role to or from a user; takes effect on every node at once",
		Example: "  latchkey role " + verb + " --directory LAB --user goran --role apikey-user",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, &ref, func(st latchkey.Store, u *latchkey.User) error {
				var err error
				if grant {
					err = st.GrantRole(ctx, u.ID, role, nil)
				} else {
					err = st.RevokeRole(ctx, u.ID, role, nil)
				}
				if err != nil {
					return err
				}
				audit(ctx, st, action, u.QualifiedName(), "role: "+role)
				fmt.Fprintf(a.stdout, "%s role %s for %s\n", past, role, u.QualifiedName())
				return nil
			})
		},
	}
	ref.addFlags(cmd)
	cmd.Flags().StringVar(&role, "role", "", "`role` name")
	cmd.MarkFlagRequired("role")
	return cmd
}

func (a *app) abilityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ability", Short: "Define and list abilities (granted through roles)"}
	var desc string
	add := &cobra.Command{
		Use:     "add NAME",
		Short:   "Define an ability that routes can require and roles can grant",
		Example: "  latchkey ability add reports.read --description 'Read reports'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st latchkey.Store) error {
				if err := st.CreateAbility(ctx, &latchkey.Ability{Name: args[0], Description: desc}, nil); err != nil {
					return err
				}
				audit(ctx, st, latchkey.AuditAbilityCreate, args[0], desc)
				fmt.Fprintf(a.stdout, "defined ability %s\n", args[0])
				return nil
			})
		},
	}
	add.Flags().StringVar(&desc, "description", "", "what the ability allows")
	list := &cobra.Command{
		Use:   "list",
		Short: "List abilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st latchkey.Store) error {
				abilities, err := st.Abilities(cmd.Context())
				if err != nil {
					return err
				}
				rows := make([][]string, len(abilities))
				for i, ab := range abilities {
					rows[i] = []string{ab.Name, fmt.Sprint(ab.BuiltIn), ab.Description}
				}
				return a.printOut(abilities, []string{"ABILITY", "BUILTIN", "DESCRIPTION"}, rows)
			})
		},
	}
	a.addOutputFlag(list)
	cmd.AddCommand(add, list)
	return cmd
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(a.stdout, "latchkey %s\n", latchkey.Version)
		},
	}
}
