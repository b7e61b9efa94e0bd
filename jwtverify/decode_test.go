package jwtverify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey"
)

// signPayload signs the claims set exactly as written (RS256, no kid).
func signPayload(t testing.TB, payload string) string {
	t.Helper()
	s := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodRS256.Sign(s, keysOnce().rsa)
	if err != nil {
		t.Fatal(err)
	}
	return s + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// payload is a valid claims set for qseow at testNow (exp testNow+1h) with
// members added (or, with a name given again, refused as a duplicate).
func payload(members ...string) string {
	return `{"userId":"goran","aud":"abc123"` + ",\"exp\":" + strconv.FormatInt(unix(time.Hour), 10) +
		strings.Join(append([]string{""}, members...), ",") + "}"
}

// TestDecodeAccepted: what the one-pass decoding reads of claims sets that
// verify.
func TestDecodeAccepted(t *testing.T) {
	v := newTest(t, qseow(t), nil)
	hour := testNow.Add(time.Hour)
	tests := []struct {
		name    string
		payload string
		check   func(r *Result) bool
	}{
		{"exp with a fraction", strings.Replace(payload(), `"exp":1772370000`, `"exp":1772370000.75`, 1),
			func(r *Result) bool { return r.ExpiresAt.Equal(hour) }},
		{"exp with an exponent", strings.Replace(payload(), `"exp":1772370000`, `"exp":1.77237e9`, 1),
			func(r *Result) bool { return r.ExpiresAt.Equal(hour) }},
		{"exp with a negative exponent", strings.Replace(payload(), `"exp":1772370000`, `"exp":177237000000E-2`, 1),
			func(r *Result) bool { return r.ExpiresAt.Equal(hour) }},
		{"iat and nbf", payload(`"iat":1772366340`, `"nbf":1.77236634e+9`),
			func(r *Result) bool {
				return r.IssuedAt.Equal(testNow.Add(-time.Minute)) && r.NotBefore.Equal(testNow.Add(-time.Minute))
			}},
		{"numbers as written", payload(`"level":3.50e+2`, `"tenant":123456789012345678901234567890`, `"admin":false`),
			func(r *Result) bool {
				return r.Claims["level"] == "3.50e+2" && r.Claims["tenant"] == "123456789012345678901234567890" && r.Claims["admin"] == "false"
			}},
		{"extra claims of other types left out", payload(`"level":null`, `"tenant":{"a":1}`, `"admin":["true"]`),
			func(r *Result) bool { return len(r.Claims) == 0 }},
		{"unicode escapes", payload(`"name":"G\u00f6ran \ud83d\ude00"`, `"email":"\u0067@x"`),
			func(r *Result) bool { return r.DisplayName == "Göran 😀" && r.Email == "g@x" }},
		{"a lone surrogate reads as U+FFFD", payload(`"name":"a\ud800b"`),
			func(r *Result) bool { return r.DisplayName == "a\uFFFDb" }},
		{"invalid UTF-8 reads as U+FFFD", payload("\"name\":\"a\xffb\""),
			func(r *Result) bool { return r.DisplayName == "a\uFFFDb" }},
		{"escaped member names", strings.Replace(payload(`"\u006eame":"N"`), `"userId"`, `"us\u0065rId"`, 1),
			func(r *Result) bool { return r.Username == "goran" && r.DisplayName == "N" }},
		{"nested values skipped", payload(`"other":{"a":[1,{"b":null,"userId":"admin"}],"c":"x"}`, `"deep":[[[{}]],"s",-0.5e-3]`, `"t":true`, `"n":null`),
			func(r *Result) bool { return r.Username == "goran" }},
		{"groups: a string and an array", payload(`"group":"One"`, `"groups":["Two","","Three"]`),
			func(r *Result) bool { return slices.Equal(r.Groups, []string{"One", "Two", "Three"}) }},
		{"an empty array of groups", payload(`"groups":[]`),
			func(r *Result) bool { return len(r.Groups) == 0 }},
		{"aud an array", strings.Replace(payload(), `"aud":"abc123"`, `"aud":["x","","abc123"]`, 1),
			func(r *Result) bool { return slices.Equal(r.Audience, []string{"x", "", "abc123"}) }},
		{"whitespace around and between", " \n" + strings.ReplaceAll(payload(`"name" : "N"`), ",", " ,\t") + "\r\n ",
			func(r *Result) bool { return r.DisplayName == "N" }},
		{"directory", payload(`"userDirectory":"LAB"`),
			func(r *Result) bool { return r.Directory == "LAB" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := v.VerifyUncached(context.Background(), signPayload(t, tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(r) {
				t.Fatalf("result %+v", r)
			}
		})
	}
}

// TestDecodeRefused: every claim of the wrong type is refused with the
// message claims.go gives it; so are malformed claims sets.
func TestDecodeRefused(t *testing.T) {
	v := newTest(t, qseow(t), nil)
	repl := func(old, new string) string { return strings.Replace(payload(), old, new, 1) }
	exp := `"exp":1772370000`
	tests := []struct {
		name, payload, code, msg string
	}{
		{"duplicate user", payload(`"userId":"admin"`), latchkey.EINVALID, "not a JWT"},
		{"duplicate exp", payload(`"exp":9999999999`), latchkey.EINVALID, "not a JWT"},
		{"duplicate through an escape", payload(`"us\u0065rId":"admin"`), latchkey.EINVALID, "not a JWT"},
		{"duplicate unknown claim", payload(`"x":1`, `"x":2`), latchkey.EINVALID, "not a JWT"},
		{"duplicate in a nested object", payload(`"x":{"a":1,"a":2}`), latchkey.EINVALID, "not a JWT"},
		{"an array, not an object", `[` + payload() + `]`, latchkey.EINVALID, "not a JWT"},
		{"a string, not an object", `"x"`, latchkey.EINVALID, "not a JWT"},
		{"a number, not an object", `1772370000`, latchkey.EINVALID, "not a JWT"},
		{"null", `null`, latchkey.EINVALID, "lacks the claim exp"},
		{"empty", ``, latchkey.EINVALID, "not a JWT"},
		{"a second value after the object", payload() + ` {}`, latchkey.EINVALID, "not a JWT"},
		{"truncated", strings.TrimSuffix(payload(), "}"), latchkey.EINVALID, "not a JWT"},
		{"a trailing comma", strings.TrimSuffix(payload(), "}") + ",}", latchkey.EINVALID, "not a JWT"},
		{"a raw control character", payload("\"name\":\"a\x01b\""), latchkey.EINVALID, "not a JWT"},

		{"user a number", repl(`"userId":"goran"`, `"userId":42`), latchkey.EINVALID, "The claim userId must be a string."},
		{"user true", repl(`"userId":"goran"`, `"userId":true`), latchkey.EINVALID, "The claim userId must be a string."},
		{"user null", repl(`"userId":"goran"`, `"userId":null`), latchkey.EINVALID, "The claim userId must be a string."},
		{"user an array", repl(`"userId":"goran"`, `"userId":["goran"]`), latchkey.EINVALID, "The claim userId must be a string."},
		{"user an object", repl(`"userId":"goran"`, `"userId":{"id":"goran"}`), latchkey.EINVALID, "The claim userId must be a string."},
		{"user empty", repl(`"userId":"goran"`, `"userId":""`), latchkey.EINVALID, "lacks the claim userId"},
		{"user with \\u0001", repl(`"userId":"goran"`, `"userId":"go\u0001ran"`), latchkey.EINVALID, "The claim userId must be free of control characters."},
		{"directory a number", payload(`"userDirectory":5`), latchkey.EINVALID, "The claim userDirectory must be a string."},
		{"name true", payload(`"name":true`), latchkey.EINVALID, "The claim name must be a string."},
		{"name with \\u007f", payload(`"name":"a\u007f"`), latchkey.EINVALID, "The claim name must be free of control characters."},
		{"email an array", payload(`"email":[]`), latchkey.EINVALID, "The claim email must be a string."},
		{"sub a number", payload(`"sub":1`), latchkey.EINVALID, "The claim sub must be a string."},
		{"iss an object", payload(`"iss":{}`), latchkey.EINVALID, "The claim iss must be a string."},
		{"jti null", payload(`"jti":null`), latchkey.EINVALID, "The claim jti must be a string."},
		{"jti with \\n", payload(`"jti":"a\nb"`), latchkey.EINVALID, "The claim jti must be free of control characters."},
		{"exp a string", repl(exp, `"exp":"1772370000"`), latchkey.EINVALID, "The claim exp must be a number of seconds since 1970."},
		{"exp true", repl(exp, `"exp":true`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp an array", repl(exp, `"exp":[1772370000]`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp an object", repl(exp, `"exp":{}`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp 1e400", repl(exp, `"exp":1e400`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp -1e400", repl(exp, `"exp":-1e400`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp 1e19", repl(exp, `"exp":1e19`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp 2^63", repl(exp, `"exp":9223372036854775808`), latchkey.EINVALID, "The claim exp must be a number"},
		{"exp 0", repl(exp, `"exp":0`), latchkey.EUNAUTHORIZED, "expired"},
		{"exp -1e18", repl(exp, `"exp":-1e18`), latchkey.EUNAUTHORIZED, "expired"},
		{"nbf 1e400", payload(`"nbf":1e400`), latchkey.EINVALID, "The claim nbf must be a number"},
		{"nbf a string", payload(`"nbf":"now"`), latchkey.EINVALID, "The claim nbf must be a number"},
		{"iat null", payload(`"iat":null`), latchkey.EINVALID, "The claim iat must be a number"},
		{"iat -1e400", payload(`"iat":-1e400`), latchkey.EINVALID, "The claim iat must be a number"},
		{"aud a number", repl(`"aud":"abc123"`, `"aud":5`), latchkey.EINVALID, "The claim aud must be a string or an array of strings."},
		{"aud null", repl(`"aud":"abc123"`, `"aud":null`), latchkey.EINVALID, "The claim aud must be a string or an array of strings."},
		{"aud an object", repl(`"aud":"abc123"`, `"aud":{"abc123":true}`), latchkey.EINVALID, "The claim aud must be a string or an array of strings."},
		{"aud an array with a number", repl(`"aud":"abc123"`, `"aud":["abc123",1]`), latchkey.EINVALID, "The claim aud must be a string or an array of strings, free of control characters."},
		{"aud an array with an array", repl(`"aud":"abc123"`, `"aud":["abc123",["x"]]`), latchkey.EINVALID, "free of control characters"},
		{"aud with \\u0001", repl(`"aud":"abc123"`, `"aud":"abc\u0001"`), latchkey.EINVALID, "free of control characters"},
		{"aud empty", repl(`"aud":"abc123"`, `"aud":""`), latchkey.EINVALID, "lacks the claim aud"},
		{"aud an empty array", repl(`"aud":"abc123"`, `"aud":[]`), latchkey.EINVALID, "lacks the claim aud"},
		{"group a number", payload(`"group":5`), latchkey.EINVALID, "The claim group must be a string or an array of strings."},
		{"group false", payload(`"group":false`), latchkey.EINVALID, "The claim group must be a string or an array of strings."},
		{"groups nested arrays", payload(`"groups":[["a"]]`), latchkey.EINVALID, "The claim groups must be a string or an array of strings, free of control characters."},
		{"groups with null", payload(`"groups":["a",null]`), latchkey.EINVALID, "free of control characters"},
		{"group with \\u0001", payload(`"group":"a\u0001"`), latchkey.EINVALID, "free of control characters"},
		{"groups with \\u001f", payload(`"groups":["a","b\u001f"]`), latchkey.EINVALID, "free of control characters"},
		{"extra with \\u0001", payload(`"tenant":"t\u0001"`), latchkey.EINVALID, "The claim tenant must be free of control characters."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := v.VerifyUncached(context.Background(), signPayload(t, tt.payload))
			if res != nil {
				t.Fatalf("verified: %+v", res)
			}
			wantCode(t, err, tt.code, tt.msg)
		})
	}
}

// TestDecodeProfileClaims: the qlik-cloud profile's claims are read as
// kept claims, whatever their type.
func TestDecodeProfileClaims(t *testing.T) {
	v := newTest(t, qlikCloud(t), nil)
	tests := []struct {
		name  string
		value any
		code  string
		msg   string
	}{
		{"subType a number", 1, latchkey.EINVALID, "The claim subType must be a string."},
		{"subType null", jsonNull{}, latchkey.EINVALID, "lacks the claim subType"},
		{"subType an array", []any{"user"}, latchkey.EINVALID, "The claim subType must be a string."},
		{"subType with \\u0001", "us\x01er", latchkey.EINVALID, "The claim subType must be free of control characters."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, keysOnce().rsa,
				"0330d3e7-1966-41c4-b3ef-d311d1ff7191", claims(cloudClaims(), "subType", tt.value)))
			wantCode(t, err, tt.code, tt.msg)
		})
	}
}

// TestResultsOutliveDecoding: a Result keeps its values when the decoding
// state it came from serves later tokens.
func TestResultsOutliveDecoding(t *testing.T) {
	v := newTest(t, qseow(t), nil)
	first, err := v.VerifyUncached(context.Background(), signPayload(t, payload(`"name":"First Name"`, `"groups":["g1","g2"]`, `"tenant":"t1"`, `"level":1`)))
	if err != nil {
		t.Fatal(err)
	}
	want := *first
	for i := range 50 {
		p := payload(`"name":"Other `+strconv.Itoa(i)+`"`, `"groups":["x1","x2","x3"]`, `"tenant":"zz"`, `"level":22222`)
		if _, err := v.VerifyUncached(context.Background(), signPayload(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	if first.DisplayName != want.DisplayName || !slices.Equal(first.Groups, []string{"g1", "g2"}) ||
		first.Claims["tenant"] != "t1" || first.Claims["level"] != "1" || first.Username != "goran" ||
		!slices.Equal(first.Audience, []string{"abc123"}) {
		t.Fatalf("the first result changed: %+v", first)
	}
}

// fuzzSet is the claims a qseow verifier with the qlik-cloud profile
// keeps: every kind of name the decoding has.
func fuzzSet(t testing.TB) *claimSet {
	c := qseow(t)
	c.QlikCloud = true
	return newClaimSet(c)
}

// decodeRef decodes as golang-jwt's parser did before: into a
// jwt.MapClaims with json.Number, refusing (as encoding/json's Unmarshal
// does) anything after the first value.
func decodeRef(b []byte) (jwt.MapClaims, error) {
	m := jwt.MapClaims{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the claims set")
	}
	return m, nil
}

// decodeOne decodes as verify does: encoding/json hands the value to
// tokenClaims.UnmarshalJSON.
func decodeOne(set *claimSet, b []byte) (*tokenClaims, error) {
	c := getClaims(set)
	var claims jwt.Claims = c
	return c, json.Unmarshal(b, &claims)
}

// outOfRange reports whether a date claim's number is one whose seconds
// an int64 cannot hold, which tokenClaims refuses (see date) and
// jwt.MapClaims converts as the platform does.
func outOfRange(m jwt.MapClaims, name string) bool {
	n, ok := m[name].(json.Number)
	if !ok {
		return false
	}
	f, _ := n.Float64()
	r, _ := math.Modf(f)
	return !(r >= math.MinInt64 && r < math.MaxInt64)
}

// FuzzDecodeClaims: the one-pass decoding accepts and refuses what
// decoding into a jwt.MapClaims does — but for duplicate names, which it
// refuses — and reads every kept claim, and the registered claims through
// the jwt.Claims methods, as the jwt.MapClaims holds them.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		payload(), payload(`"name":"G\u00f6ran"`, `"groups":["a",1,null,["b"]]`, `"email_verified":true`),
		`{"exp":1.5e9,"nbf":-0,"iat":1e400,"aud":["a",""],"iss":null,"sub":{"x":[1,2]}}`,
		`{"exp":"1","aud":5,"iss":7,"sub":true,"jti":[]}`, `{"exp":1e19,"nbf":-9.3e18,"iat":9223372036854775807}`,
		`{"us\u0065rId":"a\ud800","tenant":"\ud83d\ude00","level":-12.5E+3,"admin":false,"subType":""}`,
		"{\"name\":\"\xff\xfe\",\"\xff\":1}", `{"a":1,"a":2}`, `{"exp":1,"exp":2}`, `{"o":{"a":{},"a":[]}}`,
		`null`, `[]`, `"x"`, `1`, `{}`, `{"a":1} {}`, `{"a":1}x`, ` {"a" : [ ] } `, `{"userId":"a"`, `{"x":[1,}`,
	} {
		f.Add([]byte(s))
	}
	set := fuzzSet(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, refErr := decodeRef(b)
		c, err := decodeOne(set, b)
		defer putClaims(c)
		var serr *jsontext.SyntacticError
		if errors.As(err, &serr) && serr.Err == jsontext.ErrDuplicateName {
			if refErr != nil {
				t.Fatalf("%q: refused for a duplicate name, but encoding/json refuses it: %v", b, refErr)
			}
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("%q: decoded with %v; into a MapClaims with %v", b, err, refErr)
		}
		if err != nil {
			return
		}
		for _, name := range set.names {
			if why := sameClaim(m, name, c.get(name)); why != "" {
				t.Fatalf("%q: claim %s: %s", b, name, why)
			}
		}
		for _, d := range []struct {
			name      string
			got, want func() (*jwt.NumericDate, error)
		}{{"exp", c.GetExpirationTime, m.GetExpirationTime}, {"nbf", c.GetNotBefore, m.GetNotBefore}, {"iat", c.GetIssuedAt, m.GetIssuedAt}} {
			got, gotErr := d.got()
			want, wantErr := d.want()
			if outOfRange(m, d.name) {
				if gotErr == nil {
					t.Fatalf("%q: %s out of range, read as %v", b, d.name, got)
				}
				continue
			}
			if (gotErr == nil) != (wantErr == nil) || (got == nil) != (want == nil) || got != nil && !got.Equal(want.Time) {
				t.Fatalf("%q: %s: %v, %v; MapClaims: %v, %v", b, d.name, got, gotErr, want, wantErr)
			}
		}
		gotAud, gotErr := c.GetAudience()
		wantAud, wantErr := m.GetAudience()
		if (gotErr == nil) != (wantErr == nil) || !slices.Equal(gotAud, wantAud) {
			t.Fatalf("%q: aud %q, %v; MapClaims %q, %v", b, gotAud, gotErr, wantAud, wantErr)
		}
		for _, s := range []struct{ got, want func() (string, error) }{{c.GetIssuer, m.GetIssuer}, {c.GetSubject, m.GetSubject}} {
			got, gotErr := s.got()
			want, wantErr := s.want()
			if got != want || (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("%q: %q, %v; MapClaims %q, %v", b, got, gotErr, want, wantErr)
			}
		}
	})
}

// sameClaim says how a kept claim differs from the MapClaims' value ("":
// it does not).
func sameClaim(m jwt.MapClaims, name string, v *claimValue) string {
	want, present := m[name]
	if !present {
		if v != nil {
			return "present, absent from the MapClaims"
		}
		return ""
	}
	if v == nil {
		return "absent, present in the MapClaims"
	}
	switch want := want.(type) {
	case nil:
		if v.kind != null {
			return "not null"
		}
	case string:
		if v.kind != str || v.text != want {
			return "not the string " + strconv.Quote(want) + ": " + strconv.Quote(v.text)
		}
	case json.Number:
		if v.kind != number || v.text != want.String() {
			return "not the number " + want.String()
		}
	case bool:
		if v.kind != boolean || v.b != want {
			return "not the boolean"
		}
	case map[string]any:
		if v.kind != object {
			return "not an object"
		}
	case []any:
		if v.kind != array {
			return "not an array"
		}
		var strs []string
		allStrings := true
		for _, e := range want {
			s, ok := e.(string)
			allStrings = allStrings && ok
			strs = append(strs, s)
		}
		if v.allStrings != allStrings || allStrings && !slices.Equal(v.list, strs) {
			return "not the same array"
		}
	default:
		return "a MapClaims value of an unexpected type"
	}
	return ""
}

// BenchmarkVerifyUncachedRS256 verifies seed 000's claims (with groups
// and the extra claims) afresh on every iteration.
func BenchmarkVerifyUncachedRS256(b *testing.B) {
	v := newTest(b, qseow(b), nil)
	tok := sign(b, jwt.SigningMethodRS256, keysOnce().rsa, "", claims(seedClaims(), "tenant", "t1", "level", 3, "admin", true))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyUncached(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
