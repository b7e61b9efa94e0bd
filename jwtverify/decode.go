package jwtverify

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// The claims set is decoded in one pass over its JSON, by jsontext's
// tokenizer, into a tokenClaims: only the claims the verifier reads (its
// claimSet) are kept, each as its JSON kind and its text; every other
// member is skipped without being decoded. The kinds are kept so that the
// checks of claims.go say what they said of the same token decoded into a
// jwt.MapClaims (with json.Number): a claim of the wrong type is reported
// after the signature is checked, not refused as malformed.
//
// Where the two decodings differ:
//   - a member name that appears twice in an object, at any depth, makes
//     the claims set malformed (jsontext's check, RFC 7493 section 2.3);
//     encoding/json kept the last one;
//   - the claims segment must hold one JSON value and nothing after it
//     (encoding/json's Unmarshal; the Decoder used before read the first
//     value and ignored the rest);
//   - an exp, nbf or iat whose seconds an int64 cannot hold is not a
//     number of seconds since 1970 (see date).
//
// Nothing is refused before the signature is checked but what encoding/json
// refuses too, and duplicate names.
//
// Invalid UTF-8 and lone surrogate escapes are accepted and read as U+FFFD,
// as encoding/json reads them.

// claimSet is the names of the claims one verifier reads, fixed at New.
type claimSet struct {
	names         []string
	index         map[string]int // name → position in names
	exp, nbf, iat int
	aud, iss, sub int
}

func newClaimSet(c Config) *claimSet {
	s := &claimSet{index: map[string]int{}}
	add := func(name string) int {
		if i, ok := s.index[name]; ok {
			return i
		}
		s.index[name] = len(s.names)
		s.names = append(s.names, name)
		return len(s.names) - 1
	}
	s.exp, s.nbf, s.iat = add("exp"), add("nbf"), add("iat")
	s.aud, s.iss, s.sub = add("aud"), add("iss"), add("sub")
	add("jti")
	m := c.Claims
	add(m.User)
	for _, name := range []string{m.Directory, m.Name, m.Email} {
		if name != "" {
			add(name)
		}
	}
	for _, name := range m.Groups {
		add(name)
	}
	for _, name := range m.Extra {
		add(name)
	}
	if c.QlikCloud {
		for _, name := range qlikCloudClaims {
			add(name)
		}
	}
	return s
}

// kind is a claim's JSON kind; absent is the zero value.
type kind uint8

const (
	absent kind = iota
	null
	str
	number
	boolean
	array
	object
)

// claimValue is one kept claim.
type claimValue struct {
	kind kind
	// text is a string's value (unescaped) or a number's literal text.
	text string
	// b is a boolean's value.
	b bool
	// list is an array's elements when all are strings (allStrings).
	list       []string
	allStrings bool

	start, end int // text, or an array's elements, in tokenClaims.buf or .spans
}

type span struct{ start, end int }

// tokenClaims is what the parser decodes a claims set into. It is a
// jwt.Claims whose dates, audience, issuer and subject are read once, when
// decoded; the Get methods return them without allocating. A tokenClaims
// is taken from a pool for one verification and given back after it; the
// strings and slices it hands out are its own allocations, never reused.
type tokenClaims struct {
	set  *claimSet
	vals []claimValue // parallel to set.names

	// The registered claims, read once by finish. ok false: present and
	// not of their type (the Get methods' error).
	exp, nbf, iat          jwt.NumericDate
	hasExp, hasNbf, hasIat bool
	expOK, nbfOK, iatOK    bool
	aud                    jwt.ClaimStrings // aud1[:] when aud is one string
	aud1                   [1]string
	iss, sub               string
	audOK, issOK, subOK    bool

	buf   []byte // the kept strings' and numbers' text, back to back
	spans []span // arrays' string elements, in buf
	name  []byte // an escaped member name, unescaped
	rd    bytes.Reader
	dec   jsontext.Decoder
}

var claimsPool = sync.Pool{New: func() any { return new(tokenClaims) }}

// decodeOptions make jsontext read invalid UTF-8 as encoding/json does.
// Duplicate names stay refused (jsontext's default).
var decodeOptions = []jsontext.Options{jsontext.AllowInvalidUTF8(true)}

func getClaims(set *claimSet) *tokenClaims {
	c := claimsPool.Get().(*tokenClaims)
	c.set = set
	// Every claim absent: encoding/json does not call UnmarshalJSON for a
	// claims set of null.
	c.reset()
	c.finish()
	return c
}

func (c *tokenClaims) reset() {
	if n := len(c.set.names); cap(c.vals) < n {
		c.vals = make([]claimValue, n)
	} else {
		c.vals = c.vals[:n]
		clear(c.vals)
	}
	c.buf, c.spans = c.buf[:0], c.spans[:0]
}

// putClaims gives c back to the pool; nothing of it may be used after.
func putClaims(c *tokenClaims) {
	if cap(c.buf) > MaxTokenBytes || cap(c.spans) > 1024 {
		return // one odd token's buffers are not kept for every later one
	}
	c.set = nil
	clear(c.vals)
	c.aud, c.aud1[0], c.iss, c.sub = nil, "", "", ""
	c.rd.Reset(nil)    // the claims' bytes are the parser's
	c.dec.Reset(&c.rd) // and the decoder's state is for the next token
	claimsPool.Put(c)
}

var errNotObject = errors.New("the claims set is not a JSON object")

// UnmarshalJSON decodes a claims set: b is one JSON value, as
// encoding/json hands it over (syntax checked). "null" leaves every claim
// absent, as it leaves a jwt.MapClaims empty.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	c.reset()
	if string(b) != "null" {
		if err := c.decode(b); err != nil {
			return err
		}
	}
	c.finish()
	return nil
}

func (c *tokenClaims) decode(b []byte) error {
	c.rd.Reset(b)
	c.dec.Reset(&c.rd, decodeOptions...)
	d := &c.dec
	if d.PeekKind() != '{' {
		return errNotObject
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for d.PeekKind() != '}' {
		name, err := d.ReadValue()
		if err != nil {
			return err
		}
		i, keep := c.lookup(name)
		if !keep {
			if err := d.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if err := c.read(&c.vals[i]); err != nil {
			return err
		}
	}
	_, err := d.ReadToken()
	return err
}

// lookup finds a member name (quoted, as read) among the kept claims.
func (c *tokenClaims) lookup(quoted jsontext.Value) (int, bool) {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') >= 0 || !isASCII(raw) {
		c.name, _ = jsontext.AppendUnquote(c.name[:0], quoted) // invalid UTF-8 becomes U+FFFD
		raw = c.name
	}
	i, ok := c.set.index[string(raw)]
	return i, ok
}

func isASCII(b []byte) bool {
	for _, x := range b {
		if x >= 0x80 {
			return false
		}
	}
	return true
}

// read reads the value of a kept claim.
func (c *tokenClaims) read(v *claimValue) error {
	d := &c.dec
	switch d.PeekKind() {
	case '"':
		val, err := d.ReadValue()
		if err != nil {
			return err
		}
		v.kind = str
		v.start = len(c.buf)
		c.buf, _ = jsontext.AppendUnquote(c.buf, val) // the syntax is checked; invalid UTF-8 becomes U+FFFD
		v.end = len(c.buf)
	case '0':
		val, err := d.ReadValue()
		if err != nil {
			return err
		}
		v.kind = number
		v.start = len(c.buf)
		c.buf = append(c.buf, val...)
		v.end = len(c.buf)
	case 't', 'f':
		val, err := d.ReadValue()
		if err != nil {
			return err
		}
		v.kind, v.b = boolean, val[0] == 't'
	case 'n':
		if _, err := d.ReadValue(); err != nil {
			return err
		}
		v.kind = null
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		v.kind, v.allStrings = array, true
		v.start = len(c.spans)
		for d.PeekKind() != ']' {
			if d.PeekKind() != '"' {
				v.allStrings = false
				if err := d.SkipValue(); err != nil {
					return err
				}
				continue
			}
			val, err := d.ReadValue()
			if err != nil {
				return err
			}
			start := len(c.buf)
			c.buf, _ = jsontext.AppendUnquote(c.buf, val)
			c.spans = append(c.spans, span{start, len(c.buf)})
		}
		v.end = len(c.spans)
		if _, err := d.ReadToken(); err != nil {
			return err
		}
	case '{':
		v.kind = object
		return d.SkipValue()
	default: // PeekKind found an error, which ReadValue returns
		_, err := d.ReadValue()
		if err == nil {
			err = errors.New("the claims set holds a value of no known kind")
		}
		return err
	}
	return nil
}

// finish makes the kept claims' text strings (one allocation for all) and
// reads the registered claims once.
func (c *tokenClaims) finish() {
	all := string(c.buf)
	for i := range c.vals {
		v := &c.vals[i]
		switch v.kind {
		case str, number:
			v.text = all[v.start:v.end]
		case array:
			if v.allStrings && v.end > v.start {
				v.list = make([]string, v.end-v.start)
				for j, s := range c.spans[v.start:v.end] {
					v.list[j] = all[s.start:s.end]
				}
			}
		}
	}
	s := c.set
	c.exp, c.hasExp, c.expOK = c.date(s.exp)
	c.nbf, c.hasNbf, c.nbfOK = c.date(s.nbf)
	c.iat, c.hasIat, c.iatOK = c.date(s.iat)
	// As jwt.MapClaims reads them: aud a string or an array of strings
	// (anything else, no audience), iss and sub strings.
	aud := &c.vals[s.aud]
	c.audOK = true
	switch aud.kind {
	case str:
		c.aud1[0] = aud.text
		c.aud = c.aud1[:]
	case array:
		c.aud, c.audOK = aud.list, aud.allStrings
	default:
		c.aud = nil
	}
	c.iss, c.issOK = c.stringOf(s.iss)
	c.sub, c.subOK = c.stringOf(s.sub)
}

// date reads a numeric date as jwt.MapClaims does with json.Number: any
// number is a date (0 too), float64 seconds since 1970 to the
// jwt.TimePrecision; a value of another kind is not valid. So is, unlike
// with jwt.MapClaims, a number whose seconds an int64 cannot hold (such as
// 1e19 or 1e400, which ParseFloat makes +Inf): Go leaves that conversion
// to the platform, so such an exp would be long past on one and never
// reached on another.
func (c *tokenClaims) date(i int) (d jwt.NumericDate, present, ok bool) {
	v := &c.vals[i]
	switch v.kind {
	case absent:
		return d, false, true
	case number:
		f, _ := strconv.ParseFloat(v.text, 64) // as json.Number.Float64
		round, frac := math.Modf(f)
		if !(round >= math.MinInt64 && round < math.MaxInt64) { // MaxInt64 rounds up to 2⁶³
			return d, true, false
		}
		return *jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9))), true, true
	}
	return d, true, false
}

func (c *tokenClaims) stringOf(i int) (string, bool) {
	switch v := &c.vals[i]; v.kind {
	case absent:
		return "", true
	case str:
		return v.text, true
	}
	return "", false
}

// get returns the kept claim name; nil when it is absent.
func (c *tokenClaims) get(name string) *claimValue {
	i, ok := c.set.index[name]
	if !ok || c.vals[i].kind == absent {
		return nil
	}
	return &c.vals[i]
}

var (
	errExpInvalid = claimTypeError("exp")
	errNbfInvalid = claimTypeError("nbf")
	errIatInvalid = claimTypeError("iat")
	errAudInvalid = claimTypeError("aud")
	errIssInvalid = claimTypeError("iss")
	errSubInvalid = claimTypeError("sub")
)

func claimTypeError(name string) error {
	return &typeError{name}
}

// typeError is jwt.ErrInvalidType for one claim.
type typeError struct{ name string }

func (e *typeError) Error() string { return jwt.ErrInvalidType.Error() + ": " + e.name + " is invalid" }
func (e *typeError) Unwrap() error { return jwt.ErrInvalidType }

func dateOf(d *jwt.NumericDate, present, ok bool, bad error) (*jwt.NumericDate, error) {
	switch {
	case !ok:
		return nil, bad
	case !present:
		return nil, nil
	}
	return d, nil
}

// GetExpirationTime returns exp (nil when absent); it points into c.
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return dateOf(&c.exp, c.hasExp, c.expOK, errExpInvalid)
}

// GetNotBefore returns nbf (nil when absent); it points into c.
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error) {
	return dateOf(&c.nbf, c.hasNbf, c.nbfOK, errNbfInvalid)
}

// GetIssuedAt returns iat (nil when absent); it points into c.
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return dateOf(&c.iat, c.hasIat, c.iatOK, errIatInvalid)
}

// GetAudience returns aud: one string, or an array of strings. The slice
// may be c's own, valid until c goes back to the pool.
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	if !c.audOK {
		return nil, errAudInvalid
	}
	return c.aud, nil
}

// GetIssuer returns iss ("" when absent).
func (c *tokenClaims) GetIssuer() (string, error) {
	if !c.issOK {
		return "", errIssInvalid
	}
	return c.iss, nil
}

// GetSubject returns sub ("" when absent).
func (c *tokenClaims) GetSubject() (string, error) {
	if !c.subOK {
		return "", errSubInvalid
	}
	return c.sub, nil
}
