package jwtverify

import (
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// qlikCloudClaims are the claims Qlik Cloud requires of a JWT, besides the
// kid header. The string ones must not be empty.
var qlikCloudClaims = []string{"iss", "aud", "sub", "subType", "name", "email", "email_verified", "jti", "iat", "nbf", "exp"}

func lacks(claim string) error {
	return latchkey.Errorf(latchkey.EINVALID, "The token lacks the claim %s.", claim)
}

func mustBe(claim, what string) error {
	return latchkey.Errorf(latchkey.EINVALID, "The claim %s must be %s.", claim, what)
}

// checkShape checks that the claims the verifier relies on are present and
// of the right type: exp always, aud and iss when configured, everything
// the profile requires. Any problem is EINVALID.
func (v *Verifier) checkShape(tok *jwt.Token, c *tokenClaims) error {
	for _, name := range []string{"exp", "nbf", "iat"} {
		d, err := numericDate(c, name)
		if err != nil {
			return err
		}
		if d == nil && name == "exp" {
			return lacks("exp")
		}
	}
	aud, err := hasGroup(c, "aud")
	if err != nil {
		return err
	}
	if len(v.cfg.Audience) > 0 && !aud {
		return lacks("aud")
	}
	for _, name := range []string{"iss", "sub", "jti"} {
		if _, _, err := stringClaim(c, name); err != nil {
			return err
		}
	}
	if iss, _, _ := stringClaim(c, "iss"); v.cfg.Issuer != "" && iss == "" {
		return lacks("iss")
	}
	if !v.cfg.QlikCloud {
		return nil
	}
	if kid, _ := tok.Header["kid"].(string); kid == "" {
		return latchkey.Errorf(latchkey.EINVALID, "The token's header lacks kid.")
	}
	for _, name := range qlikCloudClaims {
		val := c.get(name)
		if val == nil || val.kind == null || val.kind == str && val.text == "" {
			return lacks(name)
		}
		if name == "subType" || name == "name" || name == "email" {
			if _, _, err := stringClaim(c, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// numericDate returns the claim as a date, nil when absent.
func numericDate(c *tokenClaims, name string) (*jwt.NumericDate, error) {
	var d *jwt.NumericDate
	var err error
	switch name {
	case "exp":
		d, err = c.GetExpirationTime()
	case "nbf":
		d, err = c.GetNotBefore()
	default:
		d, err = c.GetIssuedAt()
	}
	if err != nil {
		return nil, mustBe(name, "a number of seconds since 1970")
	}
	return d, nil
}

// checkLifetime refuses a token whose exp lies more than max_lifetime after
// its nbf (or, without nbf, its iat).
func (v *Verifier) checkLifetime(c *tokenClaims) error {
	max := v.cfg.MaxLifetime
	if max <= 0 {
		return nil
	}
	exp, _ := c.GetExpirationTime()
	start, _ := c.GetNotBefore()
	from := "nbf"
	if start == nil {
		start, _ = c.GetIssuedAt()
		from = "iat"
	}
	if start == nil {
		return latchkey.Errorf(latchkey.EINVALID, "The token lacks the claim nbf or iat, which bound its lifetime.")
	}
	if exp.Sub(start.Time) > max {
		return latchkey.Errorf(latchkey.EUNAUTHORIZED, "The token lives longer (exp − %s) than the %s allowed.", from, v.cfg.MaxLifetime)
	}
	return nil
}

// checkProfile applies the qlik-cloud profile's rule on email_verified:
// true or "true" passes; false or "false" is a well-formed token whose
// issuer does not vouch for the email, so EUNAUTHORIZED; anything else is
// malformed, so EINVALID.
func (v *Verifier) checkProfile(c *tokenClaims) error {
	if !v.cfg.QlikCloud {
		return nil
	}
	if val := c.get("email_verified"); val != nil {
		switch {
		case val.kind == boolean && val.b, val.kind == str && val.text == "true":
			return nil
		case val.kind == boolean && !val.b, val.kind == str && val.text == "false":
			return latchkey.Errorf(latchkey.EUNAUTHORIZED, "The token's email is not verified (email_verified is false).")
		}
	}
	return mustBe("email_verified", `true or "true"`)
}

// stringClaim returns a string claim and whether it is present. A value of
// another type, or with control characters, is EINVALID.
func stringClaim(c *tokenClaims, name string) (string, bool, error) {
	val := c.get(name)
	if val == nil {
		return "", false, nil
	}
	if val.kind != str {
		return "", true, mustBe(name, "a string")
	}
	s := val.text
	if hasControl(s) {
		return "", true, mustBe(name, "free of control characters")
	}
	return s, true, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// result maps the verified claims onto a Result.
func (v *Verifier) result(tok *jwt.Token, c *tokenClaims) (*Result, error) {
	m := v.cfg.Claims
	// A one-string audience (the common case) lives in the Result's own
	// allocation: c's slice goes back to the pool with c.
	aud, _ := c.GetAudience()
	var r *Result
	if len(aud) == 1 {
		ra := &resultAud{aud: [1]string{aud[0]}}
		r = &ra.r
		r.Audience = ra.aud[:]
	} else {
		r = &Result{Audience: aud} // an array's slice is its own
	}
	r.Directory = m.DefaultDirectory
	var err error
	var ok bool
	if r.Username, ok, err = stringClaim(c, m.User); err != nil {
		return nil, err
	} else if !ok || r.Username == "" {
		return nil, lacks(m.User)
	}
	if err := latchkey.ValidateName(v.userLabel, r.Username); err != nil {
		return nil, err
	}
	if m.Directory != "" {
		dir, _, err := stringClaim(c, m.Directory)
		if err != nil {
			return nil, err
		}
		if dir != "" {
			r.Directory = dir
		}
	}
	if err := latchkey.ValidateName("user directory", r.Directory); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		claim string
		dst   *string
	}{{m.Name, &r.DisplayName}, {m.Email, &r.Email}, {"sub", &r.Subject}, {"iss", &r.Issuer}, {"jti", &r.JTI}} {
		if f.claim != "" {
			if *f.dst, _, err = stringClaim(c, f.claim); err != nil {
				return nil, err
			}
		}
	}
	if r.Groups, err = groups(c, m.Groups); err != nil {
		return nil, err
	}
	if r.Claims, err = extra(c, m.Extra); err != nil {
		return nil, err
	}
	r.KeyID, _ = tok.Header["kid"].(string)
	if hasControl(r.KeyID) { // it names the credential, in a header to the upstream
		return nil, latchkey.Errorf(latchkey.EINVALID, "The token's header kid must be free of control characters.")
	}
	exp, _ := c.GetExpirationTime()
	r.ExpiresAt = exp.Time
	if d, _ := c.GetIssuedAt(); d != nil {
		r.IssuedAt = d.Time
	}
	if d, _ := c.GetNotBefore(); d != nil {
		r.NotBefore = d.Time
	}
	return r, nil
}

// resultAud is a Result with room for a one-string audience.
type resultAud struct {
	r   Result
	aud [1]string
}

// groups collects the groups from each listed claim: a string is one
// group, an array of strings many. Empty strings are left out.
func groups(c *tokenClaims, names []string) ([]string, error) {
	n := 0
	for _, name := range names {
		if err := eachGroup(c, name, func(string) { n++ }); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]string, 0, n)
	for _, name := range names {
		eachGroup(c, name, func(g string) { out = append(out, g) })
	}
	return out, nil
}

// hasGroup reports whether the claim holds a group, as groups reads it.
func hasGroup(c *tokenClaims, name string) (bool, error) {
	found := false
	err := eachGroup(c, name, func(string) { found = true })
	return found, err
}

// eachGroup calls f with each group of one claim, as groups reads it.
func eachGroup(c *tokenClaims, name string, f func(string)) error {
	val := c.get(name)
	if val == nil {
		return nil
	}
	var vals []string
	switch {
	case val.kind == str:
		vals = []string{val.text}
	case val.kind == array && val.allStrings:
		vals = val.list
	case val.kind == array:
		return mustBe(name, "a string or an array of strings, free of control characters")
	default:
		return mustBe(name, "a string or an array of strings")
	}
	for _, s := range vals {
		if hasControl(s) {
			return mustBe(name, "a string or an array of strings, free of control characters")
		}
	}
	for _, s := range vals {
		if s != "" {
			f(s)
		}
	}
	return nil
}

// extra copies the listed claims as text: strings as they are, numbers
// and booleans written out (numbers as the token writes them). Absent
// claims and other types are left out.
func extra(c *tokenClaims, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(names))
	for _, name := range names {
		val := c.get(name)
		if val == nil {
			continue
		}
		var s string
		switch val.kind {
		case str, number:
			s = val.text
		case boolean:
			s = strconv.FormatBool(val.b)
		default:
			continue
		}
		if hasControl(s) {
			return nil, mustBe(name, "free of control characters")
		}
		out[name] = s
	}
	return out, nil
}
