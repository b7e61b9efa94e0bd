package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
	"github.com/latchkey/latchkey/password"
)

// The administration. Each section is in the navigation only for those who
// hold its ability, and each page asks the credential service, which
// refuses what the ability does not allow: the page never decides alone.

// ---- Users (users.manage) ----

type usersData struct {
	Query  url.Values
	Page   *credential.Page[*credential.UserView]
	Roles  []*latchkey.Role // to grant at creation; nil when not readable
	Create *formData
	Next   template.URL // the query of the next page, "" on the last
}

// users lists users, searched and a page at a time, with the form that
// creates one.
func (h *Handler) users(v *visit) error {
	return h.showUsers(v, http.StatusOK, newForm())
}

func (h *Handler) showUsers(v *visit, status int, create *formData) error {
	q := v.r.URL.Query()
	uq := credential.UserQuery{Search: q.Get("q"), Directory: q.Get("directory"), Role: q.Get("role"), Cursor: q.Get("cursor")}
	switch q.Get("state") {
	case "enabled":
		uq.Disabled = new(false)
	case "disabled":
		uq.Disabled = new(true)
	}
	page, err := h.creds.Users(v.r.Context(), v.p, uq)
	if err != nil {
		return err
	}
	d := &usersData{Query: q, Page: page, Create: create}
	if roles, err := h.creds.Roles(v.r.Context(), v.p); err == nil {
		d.Roles = roles
	}
	if page.Next != "" {
		d.Next = template.URL(queryOf("q", q.Get("q"), "directory", q.Get("directory"), "role", q.Get("role"), "state", q.Get("state"), "cursor", page.Next))
	}
	h.render(v.w, v.r, v, status, "users", "Users", "Users", d)
	return nil
}

// createUser makes a user, with roles and, when asked, a random one-time
// password shown once.
func (h *Handler) createUser(v *visit) error {
	f := newForm()
	for k := range v.r.PostForm {
		if k != "csrf" {
			f.Values[k] = v.r.PostForm[k]
		}
	}
	req := credential.NewUser{Directory: v.form("directory"), Username: v.form("username"),
		DisplayName: v.form("name"), Email: v.form("email"), Roles: v.r.PostForm["role"]}
	if req.Username == "" {
		f.Errors["username"] = "Give a username."
	}
	random := v.r.PostForm.Get("password") == "random"
	if random {
		req.Password = password.Random()
	}
	if f.OK() {
		u, err := h.creds.CreateUser(v.r.Context(), v.p, req, v.r.RemoteAddr)
		if err == nil {
			if random {
				h.showPassword(v, u, req.Password, "The user "+u.QualifiedName()+" is created.")
				return nil
			}
			return h.redirect(v, "admin/users/"+strconv.FormatInt(u.ID, 10), "The user "+u.QualifiedName()+" is created, without a password.")
		}
		if statusOf(err) >= 500 {
			return err
		}
		msg := latchkey.ErrorMessage(err)
		switch {
		case strings.Contains(msg, "username"):
			f.Errors["username"] = msg
		case strings.Contains(msg, "directory"):
			f.Errors["directory"] = msg
		case strings.Contains(msg, "email"):
			f.Errors["email"] = msg
		default:
			f.Errors[""] = msg
		}
	}
	return h.showUsers(v, http.StatusBadRequest, f)
}

// showPassword renders a one-time password, the only time it is shown.
func (h *Handler) showPassword(v *visit, u *credential.UserView, pw, heading string) {
	h.render(v.w, v.r, v, http.StatusOK, "secret", heading, "Users", &secretData{
		Heading: heading, Label: "One-time password", Secret: pw, User: u.QualifiedName(),
		Note: "Give it to " + u.QualifiedName() + " by a safe way; they can change it on their My settings page. It is not kept and cannot be shown again.",
		Back: h.o.Prefix + "admin/users/" + strconv.FormatInt(u.ID, 10), BackLabel: "Back to " + u.QualifiedName()})
}

type userData struct {
	User  *credential.UserView
	Roles []*latchkey.Role // every role, to grant; nil when not readable
	Edit  *formData
}

// userID reads the {id} of the path.
func userID(v *visit) (int64, error) {
	id, err := strconv.ParseInt(v.r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, latchkey.Errorf(latchkey.ENOTFOUND, "No user with id %s.", v.r.PathValue("id"))
	}
	return id, nil
}

// user shows one user, with what may be done to them.
func (h *Handler) user(v *visit) error { return h.showUser(v, http.StatusOK, nil) }

func (h *Handler) showUser(v *visit, status int, edit *formData) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	u, err := h.creds.User(v.r.Context(), v.p, id)
	if err != nil {
		return err
	}
	if edit == nil {
		edit = newForm()
		edit.Values.Set("name", u.DisplayName)
		edit.Values.Set("email", u.Email)
	}
	d := &userData{User: u, Edit: edit}
	if roles, err := h.creds.Roles(v.r.Context(), v.p); err == nil {
		d.Roles = roles
	}
	h.render(v.w, v.r, v, status, "user", u.QualifiedName(), "Users", d)
	return nil
}

// back is the user's page, where their forms send the browser after.
func back(id int64) string { return "admin/users/" + strconv.FormatInt(id, 10) }

// updateUser changes a user's display name and email.
func (h *Handler) updateUser(v *visit) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	name, email := v.form("name"), v.form("email")
	u, err := h.creds.UpdateUser(v.r.Context(), v.p, id, credential.UserChange{DisplayName: &name, Email: &email}, v.r.RemoteAddr)
	if latchkey.ErrorCode(err) == latchkey.EINVALID {
		f := newForm()
		f.Values.Set("name", name)
		f.Values.Set("email", email)
		f.Errors["email"] = latchkey.ErrorMessage(err)
		return h.showUser(v, http.StatusBadRequest, f)
	}
	if err != nil {
		return err
	}
	return h.redirect(v, back(id), "The name and email of "+u.QualifiedName()+" are saved.")
}

func (h *Handler) disableUser(v *visit) error { return h.setDisabled(v, true) }
func (h *Handler) enableUser(v *visit) error  { return h.setDisabled(v, false) }

// setDisabled disables a user — their sessions end, their keys stop — or
// enables them again.
func (h *Handler) setDisabled(v *visit, disabled bool) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	u, err := h.creds.SetDisabled(v.r.Context(), v.p, id, disabled, v.r.RemoteAddr)
	if err != nil {
		return err
	}
	msg := u.QualifiedName() + " is disabled: their sessions have ended and their API keys stop working."
	if !disabled {
		msg = u.QualifiedName() + " is enabled again."
	}
	return h.redirect(v, back(id), msg)
}

// resetPassword gives a user a random one-time password, shown once; their
// sessions end.
func (h *Handler) resetPassword(v *visit) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	pw := password.Random()
	if err := h.creds.SetPassword(v.r.Context(), v.p, id, pw, v.r.RemoteAddr); err != nil {
		return err
	}
	u, err := h.creds.User(v.r.Context(), v.p, id)
	if err != nil {
		return err
	}
	h.showPassword(v, u, pw, "A new password for "+u.QualifiedName())
	return nil
}

func (h *Handler) grantRole(v *visit) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	role := v.form("role")
	if err := h.creds.GrantRole(v.r.Context(), v.p, id, role, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, back(id), "The role "+role+" is granted.")
}

func (h *Handler) revokeRole(v *visit) error {
	id, err := userID(v)
	if err != nil {
		return err
	}
	role := v.form("role")
	if err := h.creds.RevokeRole(v.r.Context(), v.p, id, role, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, back(id), "The role "+role+" is revoked.")
}

// ---- Roles and abilities (roles.manage; reading also users.manage) ----

type rolesData struct {
	Roles     []*latchkey.Role
	Abilities []*latchkey.Ability
	Role      *formData // the new role form
	Ability   *formData // the new ability form
}

func (h *Handler) roles(v *visit) error { return h.showRoles(v, http.StatusOK, newForm(), newForm()) }

func (h *Handler) showRoles(v *visit, status int, role, ability *formData) error {
	roles, err := h.creds.Roles(v.r.Context(), v.p)
	if err != nil {
		return err
	}
	abilities, err := h.creds.Abilities(v.r.Context(), v.p)
	if err != nil {
		return err
	}
	h.render(v.w, v.r, v, status, "roles", "Roles and abilities", "Roles", &rolesData{Roles: roles, Abilities: abilities, Role: role, Ability: ability})
	return nil
}

func (h *Handler) createRole(v *visit) error {
	f := newForm()
	f.Values.Set("name", v.form("name"))
	f.Values.Set("description", v.form("description"))
	f.Values["ability"] = v.r.PostForm["ability"]
	r := latchkey.Role{Name: v.form("name"), Description: v.form("description"), Abilities: v.r.PostForm["ability"]}
	if r.Name == "" {
		f.Errors["name"] = "Give the role a name."
	} else if err := latchkey.ValidateName("role", r.Name); err != nil {
		f.Errors["name"] = latchkey.ErrorMessage(err)
	}
	if f.OK() {
		_, err := h.creds.CreateRole(v.r.Context(), v.p, r, v.r.RemoteAddr)
		if err == nil {
			return h.redirect(v, "admin/roles", "The role "+r.Name+" is created.")
		}
		if statusOf(err) >= 500 {
			return err
		}
		f.Errors[""] = latchkey.ErrorMessage(err)
	}
	return h.showRoles(v, http.StatusBadRequest, f, newForm())
}

func (h *Handler) setRoleAbilities(v *visit) error {
	name := v.r.PostForm.Get("role")
	abilities := v.r.PostForm["ability"]
	if abilities == nil {
		abilities = []string{}
	}
	if _, err := h.creds.UpdateRole(v.r.Context(), v.p, name, latchkey.RoleUpdate{Abilities: &abilities}, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "admin/roles", "The abilities of the role "+name+" are saved.")
}

func (h *Handler) deleteRole(v *visit) error {
	name := v.r.PostForm.Get("role")
	if err := h.creds.DeleteRole(v.r.Context(), v.p, name, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "admin/roles", "The role "+name+" is deleted.")
}

func (h *Handler) createAbility(v *visit) error {
	f := newForm()
	f.Values.Set("name", v.form("name"))
	f.Values.Set("description", v.form("description"))
	ab := latchkey.Ability{Name: v.form("name"), Description: v.form("description")}
	if err := latchkey.ValidateAbilityName(ab.Name); err != nil {
		f.Errors["name"] = latchkey.ErrorMessage(err)
	} else if _, err := h.creds.CreateAbility(v.r.Context(), v.p, ab, v.r.RemoteAddr); err == nil {
		return h.redirect(v, "admin/roles", "The ability "+ab.Name+" is defined.")
	} else if statusOf(err) >= 500 {
		return err
	} else {
		f.Errors[""] = latchkey.ErrorMessage(err)
	}
	return h.showRoles(v, http.StatusBadRequest, newForm(), f)
}

func (h *Handler) deleteAbility(v *visit) error {
	name := v.r.PathValue("name")
	if err := h.creds.DeleteAbility(v.r.Context(), v.p, name, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "admin/roles", "The ability "+name+" is deleted.")
}

// ---- Another user's API keys (apikey.manage) ----

type userKeysData struct {
	User string // DIR\user as asked
	Keys []*credential.KeyView
	New  *keyForm
}

// userKeys lists the keys of the user named by ?user=DIR\user, with the
// form that makes one on their behalf.
func (h *Handler) userKeys(v *visit) error {
	return h.showUserKeys(v, v.r.URL.Query().Get("user"), http.StatusOK, newForm())
}

func (h *Handler) showUserKeys(v *visit, login string, status int, f *formData) error {
	if !v.p.Can(latchkey.AbilityAPIKeyManage) {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "The API keys of other users need the ability %s.", latchkey.AbilityAPIKeyManage)
	}
	d := &userKeysData{User: login}
	if login != "" {
		owner, err := h.creds.KeyOwner(v.r.Context(), v.p, login)
		if err != nil {
			return err
		}
		if d.Keys, err = h.creds.APIKeys(v.r.Context(), v.p, owner); err != nil {
			return err
		}
		d.New = h.keyForm(f, login)
	}
	h.render(v.w, v.r, v, status, "userkeys", "API keys of other users", "API keys", d)
	return nil
}

// createKeyFor makes a key on another user's behalf. Its maker is never
// shown it: the owner sees it once, in its Details on their My settings.
func (h *Handler) createKeyFor(v *visit) error {
	login := v.form("user")
	req, f := h.keyRequest(v)
	if f.OK() {
		owner, err := h.creds.KeyOwner(v.r.Context(), v.p, login)
		if err != nil {
			return err
		}
		req.OwnerID = owner
		k, err := h.creds.GenerateAPIKey(v.r.Context(), v.p, req, v.r.RemoteAddr)
		if err == nil {
			if k.Key != "" { // one's own, made from here
				h.showKey(v, "Your new API key", k, "")
				return nil
			}
			return h.redirect(v, "admin/keys"+queryOf("user", login), "The API key "+k.ID+" is made for "+k.Owner+
				". It is not shown to you: "+k.Owner+" can see it once, from Details on their My settings page.")
		}
		if statusOf(err) >= 500 {
			return err
		}
		keyFieldError(f, err)
	}
	return h.showUserKeys(v, login, http.StatusBadRequest, f)
}

func (h *Handler) revokeKeyOf(v *visit) error {
	id := v.r.PathValue("id")
	if err := h.creds.RevokeAPIKey(v.r.Context(), v.p, id, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "admin/keys"+queryOf("user", v.form("user")), "The API key "+id+" is revoked: it no longer works anywhere.")
}

// ---- Sessions (sessions.manage) ----

type sessionsData struct {
	UserID  int64
	Ended   bool
	Page    *credential.Page[*credential.SessionView]
	Next    template.URL
	Current string // the id of the viewer's own session
}

func (h *Handler) sessions(v *visit) error {
	if !v.p.Can(latchkey.AbilitySessionsManage) {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "Listing other users' sessions needs the ability %s.", latchkey.AbilitySessionsManage)
	}
	q := v.r.URL.Query()
	d := &sessionsData{Ended: q.Get("ended") == "1", Current: v.sess.ID}
	if s := q.Get("user_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return latchkey.Errorf(latchkey.EINVALID, "The user id must be a number.")
		}
		d.UserID = n
	}
	page, err := h.creds.ListSessions(v.r.Context(), v.p, credential.SessionQuery{UserID: d.UserID, IncludeEnded: d.Ended, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	d.Page = page
	if page.Next != "" {
		ended := ""
		if d.Ended {
			ended = "1"
		}
		d.Next = template.URL(queryOf("user_id", q.Get("user_id"), "ended", ended, "cursor", page.Next))
	}
	h.render(v.w, v.r, v, http.StatusOK, "sessions", "Sessions", "Sessions", d)
	return nil
}

func (h *Handler) endSession(v *visit) error {
	id := v.r.PathValue("id")
	if err := h.creds.EndSessionByID(v.r.Context(), v.p, id, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "admin/sessions"+queryOf("user_id", v.form("user_id")), "The session "+id+" has ended.")
}

func (h *Handler) endUserSessions(v *visit) error {
	id, err := strconv.ParseInt(v.form("user_id"), 10, 64)
	if err != nil || id < 1 {
		return latchkey.Errorf(latchkey.EINVALID, "The user id must be a number.")
	}
	n, err := h.creds.EndUserSessions(v.r.Context(), v.p, id, v.r.RemoteAddr)
	if err != nil {
		return err
	}
	return h.redirect(v, "admin/sessions"+queryOf("user_id", v.form("user_id")), strconv.Itoa(n)+" sessions have ended.")
}

// ---- The audit log (audit.read) ----

type auditData struct {
	Form  *formData
	Page  *credential.Page[*latchkey.AuditEvent]
	Next  template.URL
	Newer bool // a page other than the first is shown
}

// timeLayout is how the audit filters' datetime-local fields send a time,
// which the page takes as UTC.
const timeLayout = "2006-01-02T15:04"

func (h *Handler) audit(v *visit) error {
	q := v.r.URL.Query()
	f := newForm()
	for _, k := range []string{"actor", "action", "subject_id", "since", "until"} {
		if s := strings.TrimSpace(q.Get(k)); s != "" {
			f.Values.Set(k, s)
		}
	}
	aq := credential.AuditQuery{Actor: f.Get("actor"), Action: f.Get("action"), Cursor: q.Get("cursor")}
	if s := f.Get("subject_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			f.Errors["subject_id"] = "Give a user's id: a number."
		}
		aq.SubjectID = n
	}
	for _, t := range []struct {
		key string
		to  *time.Time
	}{{"since", &aq.Since}, {"until", &aq.Until}} {
		if s := f.Get(t.key); s != "" {
			tt, err := time.Parse(timeLayout, s)
			if err != nil {
				if tt, err = time.Parse(time.RFC3339, s); err != nil {
					f.Errors[t.key] = "Give a time as 2025-06-01T14:30 (UTC)."
				}
			}
			*t.to = tt.UTC()
		}
	}
	d := &auditData{Form: f, Newer: aq.Cursor != ""}
	status := http.StatusOK
	if f.OK() {
		page, err := h.creds.Audit(v.r.Context(), v.p, aq)
		switch {
		case err == nil:
			d.Page = page
			if page.Next != "" {
				d.Next = template.URL(queryOf("actor", f.Get("actor"), "action", f.Get("action"), "subject_id", f.Get("subject_id"),
					"since", f.Get("since"), "until", f.Get("until"), "cursor", page.Next))
			}
		case latchkey.ErrorCode(err) == latchkey.EINVALID:
			f.Errors[""] = latchkey.ErrorMessage(err)
		default:
			return err
		}
	}
	if !f.OK() {
		status = http.StatusBadRequest
	}
	h.render(v.w, v.r, v, status, "audit", "Audit log", "Audit log", d)
	return nil
}

// FilterQuery is the audit filters of a page, for its links.
func (d *auditData) FilterQuery() template.URL {
	return template.URL(queryOf("actor", d.Form.Get("actor"), "action", d.Form.Get("action"), "subject_id", d.Form.Get("subject_id"),
		"since", d.Form.Get("since"), "until", d.Form.Get("until")))
}
