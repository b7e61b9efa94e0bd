package jwtmint

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is a JWT payload whose claims keep the order they were set in. The
// zero value is an empty set, ready to use. It implements jwt.Claims.
type Claims struct {
	names  []string
	values map[string]any
}

// Claim is one name and value, for claims added to those a builder makes.
type Claim struct {
	Name  string
	Value any
}

// Set sets a claim: a new name goes last, a name already set keeps its place.
func (c *Claims) Set(name string, value any) {
	if c.values == nil {
		c.values = map[string]any{}
	}
	if _, ok := c.values[name]; !ok {
		c.names = append(c.names, name)
	}
	c.values[name] = value
}

// Get returns a claim's value and whether it is set.
func (c *Claims) Get(name string) (any, bool) {
	v, ok := c.values[name]
	return v, ok
}

// Delete removes a claim.
func (c *Claims) Delete(name string) {
	if _, ok := c.values[name]; ok {
		delete(c.values, name)
		c.names = slices.DeleteFunc(c.names, func(n string) bool { return n == name })
	}
}

// Names returns the claims' names in order.
func (c *Claims) Names() []string { return slices.Clone(c.names) }

// Map returns the claims as a new map.
func (c *Claims) Map() map[string]any {
	m := make(map[string]any, len(c.values))
	for k, v := range c.values {
		m[k] = v
	}
	return m
}

// MarshalJSON writes the claims as a JSON object, in order.
func (c *Claims) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range c.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(c.values[name])
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// The methods of jwt.Claims, read from the registered claims.

func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.numericDate("exp") }
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.numericDate("iat") }
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.numericDate("nbf") }
func (c *Claims) GetIssuer() (string, error)                   { return jwt.MapClaims(c.values).GetIssuer() }
func (c *Claims) GetSubject() (string, error)                  { return jwt.MapClaims(c.values).GetSubject() }
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.MapClaims(c.values).GetAudience()
}

var _ jwt.Claims = (*Claims)(nil)

// numericDate reads a time claim set as an integer (as the builders set
// them) or as golang-jwt reads them (float64, json.Number).
func (c *Claims) numericDate(name string) (*jwt.NumericDate, error) {
	switch v := c.values[name].(type) {
	case int64:
		return jwt.NewNumericDate(time.Unix(v, 0)), nil
	case int:
		return jwt.NewNumericDate(time.Unix(int64(v), 0)), nil
	case nil:
		return nil, nil
	}
	// golang-jwt reads a float64 or json.Number in any time claim alike.
	return jwt.MapClaims{"exp": c.values[name]}.GetExpirationTime()
}

// addExtra adds claims after those a builder made; a name the builder set
// is refused, so that an extra claim never silently changes who the token
// names or how long it lasts.
func (c *Claims) addExtra(extra []Claim, reserved ...string) error {
	for _, e := range extra {
		switch {
		case e.Name == "":
			return fmt.Errorf("an extra claim has no name")
		case slices.Contains(reserved, e.Name):
			return fmt.Errorf("claim %q is set by the token builder and cannot be given as an extra claim", e.Name)
		}
		if _, dup := c.values[e.Name]; dup {
			return fmt.Errorf("claim %q is set by the token builder and cannot be given as an extra claim", e.Name)
		}
		c.Set(e.Name, e.Value)
	}
	return nil
}

// ParseClaim reads an extra claim written as name=value. A value that is
// valid JSON (a number, true, false, null, a quoted string, an array or an
// object) is taken as that JSON; any other value is a string. So role=admin
// and level=3 give "admin" and 3, and id='"42"' gives the string "42".
func ParseClaim(s string) (Claim, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Claim{}, fmt.Errorf("claim %q is not name=value", s)
	}
	if value != "" && json.Valid([]byte(value)) {
		dec := json.NewDecoder(strings.NewReader(value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return Claim{Name: name, Value: v}, nil
		}
	}
	return Claim{Name: name, Value: value}, nil
}

// QSEoW describes a token for Qlik Sense Enterprise on Windows, as
// "qs-jwt create-qseow" makes it. Its payload is, in order:
// userId, userDirectory, name, email, group (only when there are groups),
// the Extra claims, iat, exp and aud (only when Audience is set).
type QSEoW struct {
	UserDirectory string // userDirectory, such as LAB; required
	UserID        string // userId, such as goran; required
	Name          string // name; "" is written as ""
	Email         string // email; "" is written as ""
	Groups        []string
	// Audience must equal the audience of the virtual proxy.
	Audience string
	// Expires is how long the token is valid, from IssuedAt; required.
	Expires time.Duration
	// IssuedAt is the token's iat; the zero time means now.
	IssuedAt time.Time
	Extra    []Claim
}

// Claims returns the token's claims.
func (q QSEoW) Claims() (*Claims, error) {
	switch {
	case q.UserID == "":
		return nil, fmt.Errorf("a QSEoW token needs a user id (userId)")
	case q.UserDirectory == "":
		return nil, fmt.Errorf("a QSEoW token needs a user directory (userDirectory)")
	case q.Expires < time.Second:
		return nil, fmt.Errorf("a QSEoW token needs an expiry of at least 1s")
	}
	c := &Claims{}
	c.Set("userId", q.UserID)
	c.Set("userDirectory", q.UserDirectory)
	c.Set("name", q.Name)
	c.Set("email", q.Email)
	if len(q.Groups) > 0 {
		c.Set("group", slices.Clone(q.Groups))
	}
	if err := c.addExtra(q.Extra, "iat", "exp", "aud"); err != nil {
		return nil, err
	}
	iat := issuedAt(q.IssuedAt)
	c.Set("iat", iat.Unix())
	c.Set("exp", iat.Unix()+int64(q.Expires/time.Second))
	if q.Audience != "" {
		c.Set("aud", q.Audience)
	}
	return c, nil
}

// Mint makes the claims and signs them, without a kid header.
func (q QSEoW) Mint(s *Signer) (string, *Claims, error) {
	c, err := q.Claims()
	if err != nil {
		return "", nil, err
	}
	tok, err := s.Sign(c, "")
	return tok, c, err
}

// QlikCloudAudience is the audience Qlik Cloud requires.
const QlikCloudAudience = "qlik.api/login/jwt-session"

// Cloud describes a token for Qlik Cloud's /login/jwt-session, as
// "qs-jwt create-qscloud" makes it. Its payload is, in order: jti, sub,
// subType, name, email, group (only when there are groups), email_verified,
// the Extra claims, iat, nbf, exp, aud and iss. Its header carries KeyID as
// "kid".
type Cloud struct {
	// Subject is the sub claim, the user's id at the identity provider;
	// "" makes a random one, as qs-jwt does (and Qlik Cloud then sees a new
	// user each time).
	Subject string
	// SubjectType is subType; "" means "user".
	SubjectType string
	Name        string // name; "" is written as ""
	Email       string // email; "" is written as ""
	// EmailUnverified writes email_verified as false; by default it is true.
	EmailUnverified bool
	Groups          []string
	// Issuer is iss, which must equal the issuer of the tenant's JWT
	// identity provider; required.
	Issuer string
	// KeyID is the header's kid, which must equal the key ID of the
	// tenant's JWT identity provider; required.
	KeyID string
	// Audience is aud; "" means QlikCloudAudience.
	Audience string
	// Expires is how long the token is valid, from IssuedAt; required. Qlik
	// Cloud refuses tokens valid for more than an hour.
	Expires time.Duration
	// IssuedAt is the token's iat and nbf; the zero time means now.
	IssuedAt time.Time
	// JTI is the token's unique id; "" makes a random one.
	JTI   string
	Extra []Claim
}

// Claims returns the token's claims.
func (q Cloud) Claims() (*Claims, error) {
	switch {
	case q.Issuer == "":
		return nil, fmt.Errorf("a Qlik Cloud token needs an issuer (iss)")
	case q.Expires < time.Second:
		return nil, fmt.Errorf("a Qlik Cloud token needs an expiry of at least 1s")
	}
	c := &Claims{}
	c.Set("jti", cmp.Or(q.JTI, randomID(32)))
	c.Set("sub", cmp.Or(q.Subject, randomID(42)))
	c.Set("subType", cmp.Or(q.SubjectType, "user"))
	c.Set("name", q.Name)
	c.Set("email", q.Email)
	if len(q.Groups) > 0 {
		c.Set("group", slices.Clone(q.Groups))
	}
	c.Set("email_verified", !q.EmailUnverified)
	if err := c.addExtra(q.Extra, "iat", "nbf", "exp", "aud", "iss"); err != nil {
		return nil, err
	}
	iat := issuedAt(q.IssuedAt)
	c.Set("iat", iat.Unix())
	c.Set("nbf", iat.Unix())
	c.Set("exp", iat.Unix()+int64(q.Expires/time.Second))
	c.Set("aud", cmp.Or(q.Audience, QlikCloudAudience))
	c.Set("iss", q.Issuer)
	return c, nil
}

// Mint makes the claims and signs them, with KeyID as the kid header.
func (q Cloud) Mint(s *Signer) (string, *Claims, error) {
	if q.KeyID == "" {
		return "", nil, fmt.Errorf("a Qlik Cloud token needs a key id (the kid header)")
	}
	c, err := q.Claims()
	if err != nil {
		return "", nil, err
	}
	tok, err := s.Sign(c, q.KeyID)
	return tok, c, err
}

func issuedAt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// randomID returns n random bytes, base64url-encoded without padding.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
