package gateway

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/client"
)

func TestParseQlikUser(t *testing.T) {
	ok := []struct{ in, dir, user string }{
		{"UserDirectory=Internal;UserId=sa_repository", "Internal", "sa_repository"}, // SPEC M7
		{"UserDirectory:Internal;UserId:sa_repository", "Internal", "sa_repository"}, // seed 003's node.js client
		{"UserDirectory=INTERNAL; UserId=sa_repository", "INTERNAL", "sa_repository"},
		{"  userdirectory = LAB ;  USERID = goran ; ", "LAB", "goran"},
		{"UserId=goran; UserDirectory=LAB", "LAB", "goran"},
		{"UserDirectory=LAB; UserId=G%C3%B6ran%20Sander", "LAB", "Göran Sander"},
		{"UserDirectory=LAB; UserId=a+b", "LAB", "a+b"},
		{"UserDirectory=LAB; UserId=domain:user", "LAB", "domain:user"},
		{"UserDirectory=LAB;;UserId=goran", "LAB", "goran"},
	}
	for _, tt := range ok {
		dir, user, err := ParseQlikUser(tt.in)
		if err != nil || dir != tt.dir || user != tt.user {
			t.Errorf("ParseQlikUser(%q) = %q, %q, %v; want %q, %q", tt.in, dir, user, err, tt.dir, tt.user)
		}
	}
	bad := []struct{ in, mention string }{
		{"", "UserDirectory is missing."},
		{"UserDirectory=LAB", "UserId is missing."},
		{"UserId=goran", "UserDirectory is missing."},
		{"goran", `"goran" is not KEY=VALUE.`},
		{"UserDirectory=LAB; UserId=goran; Extra=1", `"Extra" is neither UserDirectory nor UserId.`},
		{"UserDirectory=LAB; UserDirectory=X; UserId=goran", "UserDirectory is given twice."},
		{"UserDirectory=LAB; UserId=a; userid=b", "UserId is given twice."},
		{"UserDirectory=LAB; UserId=", "user ID must not be empty"},
		{"UserDirectory=; UserId=goran", "user directory must not be empty"},
		{"UserDirectory=LAB; UserId=%zz", "not valid URL encoding"},
		{`UserDirectory=LAB; UserId=a\b`, "must not contain"},
		{"UserDirectory=LAB; UserId=a%3Bb", "must not contain"},
		{"UserDirectory=LAB; UserId=a%3Db", "must not contain"},
		{"UserDirectory=LAB; UserId=a%0Ab", "must not contain"},
		{"UserDirectory=LAB; UserId=%20goran", "must not start or end with a space"},
		{"UserDirectory=LAB; UserId=" + strings.Repeat("x", 129), "at most 128"},
	}
	for _, tt := range bad {
		_, _, err := ParseQlikUser(tt.in)
		if latchkey.ErrorCode(err) != latchkey.EINVALID || !strings.Contains(latchkey.ErrorMessage(err), tt.mention) {
			t.Errorf("ParseQlikUser(%q) = %v; want EINVALID saying %q", tt.in, err, tt.mention)
		}
	}
}

// FuzzParseQlikUser: the parser never panics, what it accepts are valid
// names, and the client's FormatQlikUser of them parses back to the same.
func FuzzParseQlikUser(f *testing.F) {
	for _, s := range []string{
		"UserDirectory=Internal;UserId=sa_repository",
		"UserDirectory:Internal;UserId:sa_repository",
		"UserDirectory=LAB; UserId=G%C3%B6ran%20Sander",
		"userid = x ; userdirectory = y ;",
		"UserDirectory=LAB; UserId=%zz",
		";;=:;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dir, user, err := ParseQlikUser(s)
		if err != nil {
			if latchkey.ErrorCode(err) != latchkey.EINVALID || latchkey.ErrorMessage(err) == "" {
				t.Fatalf("ParseQlikUser(%q): %v is not an EINVALID error with a message", s, err)
			}
			return
		}
		if latchkey.ValidateName("d", dir) != nil || latchkey.ValidateName("u", user) != nil {
			t.Fatalf("ParseQlikUser(%q) accepted invalid names %q, %q", s, dir, user)
		}
		d2, u2, err := ParseQlikUser(client.FormatQlikUser(dir, user))
		if err != nil || d2 != dir || u2 != user {
			t.Fatalf("round trip of %q, %q: %q, %q, %v", dir, user, d2, u2, err)
		}
	})
}
