package gateway

import (
	"net/http"
	"strconv"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// The admin API's users: accounts, passwords, roles held and sessions ended
// (admin.go routes to these).

func (a *adminEndpoints) listUsers(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	q := parseQuery(r, "directory", "search", "role", "disabled", "limit", "cursor")
	uq := credential.UserQuery{Directory: q.str("directory"), Search: q.str("search"), Role: q.str("role"),
		Disabled: q.boolean("disabled"), Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		return q.err
	}
	page, err := a.s.creds.Users(r.Context(), p, uq)
	return reply(w, http.StatusOK, page, err)
}

func (a *adminEndpoints) createUser(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	var req credential.NewUser
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	v, err := a.s.creds.CreateUser(r.Context(), p, req, remote(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/users/"+strconv.FormatInt(v.ID, 10))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *adminEndpoints) me(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	v, err := a.s.creds.User(r.Context(), p, p.UserID)
	return reply(w, http.StatusOK, v, err)
}

func (a *adminEndpoints) user(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	v, err := a.s.creds.User(r.Context(), p, id)
	return reply(w, http.StatusOK, v, err)
}

func (a *adminEndpoints) updateUser(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	var ch credential.UserChange
	if err := decodeJSON(w, r, &ch); err != nil {
		return err
	}
	v, err := a.s.creds.UpdateUser(r.Context(), p, id, ch, remote(r))
	return reply(w, http.StatusOK, v, err)
}

func (a *adminEndpoints) deleteUser(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	return done(w, a.s.creds.DeleteUser(r.Context(), p, id, remote(r)))
}

func (a *adminEndpoints) disable(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	return a.setDisabled(w, r, p, args[0], true)
}

func (a *adminEndpoints) enable(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	return a.setDisabled(w, r, p, args[0], false)
}

func (a *adminEndpoints) setDisabled(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, arg string, disabled bool) error {
	id, err := userID(arg)
	if err != nil {
		return err
	}
	v, err := a.s.creds.SetDisabled(r.Context(), p, id, disabled, remote(r))
	return reply(w, http.StatusOK, v, err)
}

type setPasswordRequest struct {
	Password *string `json:"password"`
}

func (a *adminEndpoints) setPassword(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	var req setPasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Password == nil || *req.Password == "" {
		return latchkey.Errorf(latchkey.EINVALID, `The field "password" is required and must not be empty; DELETE the password to remove it.`)
	}
	return done(w, a.s.creds.SetPassword(r.Context(), p, id, *req.Password, remote(r)))
}

func (a *adminEndpoints) removePassword(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	return done(w, a.s.creds.SetPassword(r.Context(), p, id, "", remote(r)))
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

func (a *adminEndpoints) changePassword(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, _ []string) error {
	var req changePasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.CurrentPassword == "":
		return latchkey.Errorf(latchkey.EINVALID, `The field "current_password" is required and must not be empty.`)
	case req.Password == "":
		return latchkey.Errorf(latchkey.EINVALID, `The field "password" is required and must not be empty.`)
	}
	return done(w, a.s.creds.ChangePassword(r.Context(), p, req.CurrentPassword, req.Password, remote(r)))
}

func (a *adminEndpoints) userRoles(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	v, err := a.s.creds.User(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, credential.Page[string]{Items: v.Roles})
	return nil
}

func (a *adminEndpoints) grantRole(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	return done(w, a.s.creds.GrantRole(r.Context(), p, id, args[1], remote(r)))
}

func (a *adminEndpoints) revokeRole(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	return done(w, a.s.creds.RevokeRole(r.Context(), p, id, args[1], remote(r)))
}

// endedBody answers the ending of a user's sessions.
type endedBody struct {
	Success bool `json:"success"`
	Ended   int  `json:"ended"`
}

func (a *adminEndpoints) endUserSessions(w http.ResponseWriter, r *http.Request, p *latchkey.Principal, args []string) error {
	id, err := userID(args[0])
	if err != nil {
		return err
	}
	n, err := a.s.creds.EndUserSessions(r.Context(), p, id, remote(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endedBody{Success: true, Ended: n})
	return nil
}
