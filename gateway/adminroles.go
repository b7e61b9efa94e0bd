package gateway

import (
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// The admin API's roles and abilities (admin.go routes to these).

// nameQuery reads the query of the lists of roles and abilities.
func nameQuery(r *http.Request) (credential.NameQuery, error) {
	q := parseQuery(r, "search", "limit", "cursor")
	nq := credential.NameQuery{Search: q.str("search"), Limit: q.limit(), Cursor: q.str("cursor")}
	return nq, q.err
}

// roleBody shows a role with a list, never null, of abilities.
func roleBody(r *latchkey.Role) *latchkey.Role {
	if r.Abilities == nil {
		c := *r
		c.Abilities = []string{}
		return &c
	}
	return r
}

func (a *adminEndpoints) listRoles(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	nq, err := nameQuery(r)
	if err != nil {
		return err
	}
	page, err := a.s.creds.RolesPage(r.Context(), p, nq)
	if err != nil {
		return err
	}
	for i, role := range page.Items {
		page.Items[i] = roleBody(role)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

type createRoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Abilities   []string `json:"abilities"`
}

func (a *adminEndpoints) createRole(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	var req createRoleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	role, err := a.s.creds.CreateRole(r.Context(), p, latchkey.Role{Name: req.Name, Description: req.Description, Abilities: req.Abilities}, remote(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/roles/"+url.PathEscape(role.Name))
	writeJSON(w, http.StatusCreated, roleBody(role))
	return nil
}

func (a *adminEndpoints) role(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	role, err := a.s.creds.Role(r.Context(), p, args[0])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, roleBody(role))
	return nil
}

type updateRoleRequest struct {
	Description *string   `json:"description"`
	Abilities   *[]string `json:"abilities"`
}

func (a *adminEndpoints) updateRole(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	var req updateRoleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	role, err := a.s.creds.UpdateRole(r.Context(), p, args[0], latchkey.RoleUpdate{Description: req.Description, Abilities: req.Abilities}, remote(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, roleBody(role))
	return nil
}

func (a *adminEndpoints) deleteRole(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	return done(w, a.s.creds.DeleteRole(r.Context(), p, args[0], remote(r)))
}

func (a *adminEndpoints) listAbilities(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	nq, err := nameQuery(r)
	if err != nil {
		return err
	}
	page, err := a.s.creds.AbilitiesPage(r.Context(), p, nq)
	return reply(w, http.StatusOK, page, err)
}

type createAbilityRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (a *adminEndpoints) createAbility(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	var req createAbilityRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ab, err := a.s.creds.CreateAbility(r.Context(), p, latchkey.Ability{Name: req.Name, Description: req.Description}, remote(r))
	return reply(w, http.StatusCreated, ab, err)
}

func (a *adminEndpoints) deleteAbility(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	return done(w, a.s.creds.DeleteAbility(r.Context(), p, args[0], remote(r)))
}
