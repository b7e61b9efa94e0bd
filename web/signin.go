package web

import (
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// signInData is the sign-in page's.
type signInData struct {
	Form      *formData
	Next      string // where to go after, when safe
	Ended     bool   // a session cookie came whose session has ended
	SignedOut bool
}

// signInPage shows the sign-in form; a person signed in already goes on.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	next := r.URL.Query().Get("next")
	if !safeNext(h.o.Prefix, next) {
		next = ""
	}
	if token, _ := cookieValue(r, h.o.Cookie); token != "" {
		if _, _, err := h.creds.VerifySession(r.Context(), token); err == nil {
			http.Redirect(w, r, orPrefix(next, h.o.Prefix), http.StatusSeeOther)
			return
		}
	}
	q := r.URL.Query()
	h.render(w, r, nil, http.StatusOK, "signin", "Sign in", "", &signInData{Form: newForm(), Next: next,
		Ended: q.Get("ended") == "1", SignedOut: q.Get("signed_out") == "1"})
}

func orPrefix(next, prefix string) string {
	if next == "" {
		return prefix
	}
	return next
}

// errSignIn is what the page says of every refused sign-in: the same
// whether or not the user exists, and whatever was wrong.
const errSignIn = "The username or password is not correct."

// signIn checks the form with the credential service's Login — the JSON
// login's sign-in, session and audit — and sets the same session cookie.
// The form needs no form token (there is no session yet); the cross-origin
// check in front of every form post is what keeps other sites from signing
// a browser in.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	f := newForm()
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, nil, http.StatusBadRequest, "The form could not be read; go back and send it again.")
		return
	}
	user, secret := r.PostForm.Get("username"), r.PostForm.Get("password")
	f.Values.Set("username", user)
	next := r.PostForm.Get("next")
	if !safeNext(h.o.Prefix, next) {
		next = ""
	}
	data := &signInData{Form: f, Next: next}
	switch {
	case user == "":
		f.Errors["username"] = "Give your username, as DIRECTORY\\user or user."
	case secret == "":
		f.Errors["password"] = "Give your password or an API key."
	}
	if !f.OK() {
		h.render(w, r, nil, http.StatusBadRequest, "signin", "Sign in", "", data)
		return
	}
	p, token, _, err := h.creds.Login(r.Context(), user, secret, r.RemoteAddr, r.UserAgent())
	if err != nil {
		status := statusOf(err)
		msg := h.message(r, err)
		switch latchkey.ErrorCode(err) {
		case latchkey.EUNAUTHORIZED:
			msg = errSignIn
		case latchkey.ERATELIMITED:
			h.hold(r)
		}
		f.Errors[""] = msg
		h.render(w, r, nil, status, "signin", "Sign in", "", data)
		return
	}
	if h.o.Observe != nil {
		h.o.Observe(r, p)
	}
	h.setSession(w, token)
	http.Redirect(w, r, orPrefix(next, h.o.Prefix), http.StatusSeeOther)
}

// hold waits RefusalDelay before a refusal for too many failures, or until
// the client gives up.
func (h *Handler) hold(r *http.Request) {
	if h.o.RefusalDelay <= 0 {
		return
	}
	t := time.NewTimer(h.o.RefusalDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// signOut ends the session, as POST /api/v1/logout does, and clears the
// cookie.
func (h *Handler) signOut(v *visit) error {
	if err := h.creds.EndSession(v.r.Context(), v.token, v.r.RemoteAddr); err != nil && latchkey.ErrorCode(err) != latchkey.EUNAUTHORIZED {
		return err
	}
	h.clearSession(v.w)
	http.Redirect(v.w, v.r, h.o.Prefix+"signin?signed_out=1", http.StatusSeeOther)
	return nil
}
