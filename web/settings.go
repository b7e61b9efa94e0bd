package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/credential"
)

// My settings: who I am, my password, and my API keys (seed 004's "My
// Settings → Security and Identity → API Keys").

type settingsData struct {
	Session  *latchkey.Session
	Keys     []*credential.KeyView
	Password *formData
}

// settings shows My settings.
func (h *Handler) settings(v *visit) error {
	return h.showSettings(v, http.StatusOK, newForm())
}

func (h *Handler) showSettings(v *visit, status int, pw *formData) error {
	keys, err := h.creds.APIKeys(v.r.Context(), v.p, 0)
	if err != nil {
		return err
	}
	h.render(v.w, v.r, v, status, "settings", "My settings", "My settings", &settingsData{Session: v.sess, Keys: keys, Password: pw})
	return nil
}

// changePassword changes the signed-in person's own password, given the
// current one (the credential service's ChangePassword).
func (h *Handler) changePassword(v *visit) error {
	f := newForm()
	cur, pw, again := v.r.PostForm.Get("current"), v.r.PostForm.Get("new"), v.r.PostForm.Get("repeat")
	switch {
	case cur == "":
		f.Errors["current"] = "Give your current password."
	case pw == "":
		f.Errors["new"] = "Give a new password."
	case pw != again:
		f.Errors["repeat"] = "The two new passwords are not the same."
	}
	if f.OK() {
		if err := h.creds.ValidatePassword(pw); err != nil {
			f.Errors["new"] = latchkey.ErrorMessage(err)
		}
	}
	if f.OK() {
		err := h.creds.ChangePassword(v.r.Context(), v.p, cur, pw, v.r.RemoteAddr)
		switch {
		case err == nil:
			return h.redirect(v, "", "Your password is changed.")
		case latchkey.ErrorMessage(err) == "The current password is not correct.":
			f.Errors["current"] = latchkey.ErrorMessage(err)
		case statusOf(err) >= 500:
			return err
		default:
			f.Errors[""] = latchkey.ErrorMessage(err)
		}
	}
	return h.showSettings(v, http.StatusBadRequest, f)
}

// keyForm is the form of a new key, for oneself or (Owner) for another.
type keyForm struct {
	Form              *formData
	MaxDays           int
	DefaultDays       int
	Owner             string // DIR\user whose key it is; "" for one's own
	Action, CancelURL string
}

// newKeyPage shows "Create a new API Key".
func (h *Handler) newKeyPage(v *visit) error {
	if !v.p.Can(latchkey.AbilityAPIKeyGenerate) {
		return latchkey.Errorf(latchkey.EFORBIDDEN, "Making API keys needs the ability %s.", latchkey.AbilityAPIKeyGenerate)
	}
	h.render(v.w, v.r, v, http.StatusOK, "newkey", "Create a new API Key", "My settings", h.keyForm(newForm(), ""))
	return nil
}

func (h *Handler) keyForm(f *formData, owner string) *keyForm {
	kf := &keyForm{Form: f, MaxDays: h.o.KeyMaxDays, DefaultDays: h.o.KeyDefaultDays, Owner: owner,
		Action: h.o.Prefix + "keys", CancelURL: h.o.Prefix}
	if owner != "" {
		kf.Action = h.o.Prefix + "admin/keys"
		kf.CancelURL = h.o.Prefix + "admin/keys" + queryOf("user", owner)
	}
	return kf
}

// keyRequest reads the key form: name, read-only, days before expiry, and
// a rate limit of the key's own in requests per minute.
func (h *Handler) keyRequest(v *visit) (credential.KeyRequest, *formData) {
	f := newForm()
	for _, k := range []string{"name", "days", "read_only", "user", "rate_limit"} {
		if v.r.PostForm.Has(k) {
			f.Values.Set(k, v.r.PostForm.Get(k))
		}
	}
	req := credential.KeyRequest{Name: v.form("name"), ReadOnly: v.r.PostForm.Has("read_only")}
	days := v.form("days")
	if days == "" {
		req.Days = h.o.KeyDefaultDays
	} else if n, err := strconv.Atoi(days); err != nil || n < 1 || n > h.o.KeyMaxDays {
		f.Errors["days"] = "Give a number of days from 1 to " + strconv.Itoa(h.o.KeyMaxDays) + "."
	} else {
		req.Days = n
	}
	if perMinute := v.form("rate_limit"); perMinute != "" {
		if n, err := strconv.Atoi(perMinute); err != nil || n < 1 {
			f.Errors["rate_limit"] = "Give a number of requests per minute, at least 1, or leave it empty for no limit."
		} else {
			req.RateLimit = &latchkey.RateLimit{Requests: n, Window: 60}
		}
	}
	return req, f
}

// keyFieldError puts an error of the credential service next to the field
// it concerns, or over the whole form.
func keyFieldError(f *formData, err error) {
	msg := latchkey.ErrorMessage(err)
	switch {
	case strings.HasPrefix(msg, "The key name"):
		f.Errors["name"] = msg
	case strings.HasPrefix(msg, "The expiry"):
		f.Errors["days"] = msg
	case strings.HasPrefix(msg, "The rate limit") || strings.HasPrefix(msg, "A rate limit"):
		f.Errors["rate_limit"] = msg
	default:
		f.Errors[""] = msg
	}
}

// secretData is a page that shows a secret once: a new API key, or a
// one-time password.
type secretData struct {
	Heading   string
	Label     string // what the secret is: "API key", "One-time password"
	Secret    string
	Key       *credential.KeyView // the key's details, for a key
	User      string              // whose password, for a password
	Note      string
	Back      string
	BackLabel string
}

// createKey makes a key for the signed-in person and shows it, once.
func (h *Handler) createKey(v *visit) error {
	req, f := h.keyRequest(v)
	if f.OK() {
		k, err := h.creds.GenerateAPIKey(v.r.Context(), v.p, req, v.r.RemoteAddr)
		if err == nil {
			h.showKey(v, "Your new API key", k, "Use it in place of a password: in the "+"X-Api-Key header, as the password of HTTP Basic, or to sign in.")
			return nil
		}
		if statusOf(err) >= 500 {
			return err
		}
		keyFieldError(f, err)
	}
	h.render(v.w, v.r, v, statusOf400(f), "newkey", "Create a new API Key", "My settings", h.keyForm(f, ""))
	return nil
}

func statusOf400(f *formData) int {
	if f.OK() {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// showKey renders a key just made, with the key itself: the only time it
// is shown.
func (h *Handler) showKey(v *visit, heading string, k *credential.KeyView, note string) {
	h.render(v.w, v.r, v, http.StatusOK, "secret", heading, "My settings", &secretData{
		Heading: heading, Label: "API key", Secret: k.Key, Key: k, Note: note,
		Back: h.o.Prefix, BackLabel: "Back to My settings"})
}

// keyDetails shows one key. A key someone made on my behalf is shown here
// once (the credential service's APIKeyDetails forgets it as it hands it
// over). A form post, not a link: a page fetched ahead of time, or opened
// by another site, cannot use up the one showing.
func (h *Handler) keyDetails(v *visit) error {
	k, err := h.creds.APIKeyDetails(v.r.Context(), v.p, v.r.PathValue("id"), v.r.RemoteAddr)
	if err != nil {
		return err
	}
	if k.Key != "" {
		h.showKey(v, "API key details", k, "This key was made for you by someone else. It is shown this once: copy it now; it cannot be shown again.")
		return nil
	}
	h.render(v.w, v.r, v, http.StatusOK, "key", "API key details", "My settings", k)
	return nil
}

// revokeKey revokes one of my keys.
func (h *Handler) revokeKey(v *visit) error {
	id := v.r.PathValue("id")
	if err := h.creds.RevokeAPIKey(v.r.Context(), v.p, id, v.r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(v, "", "The API key "+id+" is revoked: it no longer works anywhere.")
}

// rotateKey replaces one of my keys with a new one of the same settings,
// shown once, and revokes it.
func (h *Handler) rotateKey(v *visit) error {
	id := v.r.PathValue("id")
	k, err := h.creds.RotateAPIKey(v.r.Context(), v.p, id, v.r.RemoteAddr)
	if err != nil {
		return err
	}
	if k.Key == "" { // another's key, rotated by a manager: its owner sees it in Details
		return h.redirect(v, "", "The API key "+id+" is replaced by "+k.ID+"; its owner can see the new key once, in its Details.")
	}
	h.showKey(v, "Your replacement API key", k, "The key "+id+" is revoked and this one replaces it, with the same name, read-only setting and lifetime.")
	return nil
}
