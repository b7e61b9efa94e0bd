package gateway

import (
	"net/url"
	"strings"

	"github.com/latchkey/latchkey"
)

// qlikUserForm is how an impersonation header must look, for messages.
const qlikUserForm = "UserDirectory=DIRECTORY; UserId=USER"

// ParseQlikUser parses the value of Qlik's X-Qlik-User header, which names
// the user that a trusted client certificate acts as:
//
//	UserDirectory=INTERNAL; UserId=sa_repository
//
// The parts are separated by ";" with or without spaces; a key and its value
// by "=" or, as Qlik's own node.js client writes it, ":"
// ("UserDirectory:Internal;UserId:sa_repository"). Keys are matched in any
// case; values may be URL-encoded ("Göran%20Sander"). Both keys are needed,
// once each, and nothing else; the names must pass latchkey.ValidateName.
// An error is an EINVALID *latchkey.Error whose message is a sentence.
func ParseQlikUser(v string) (directory, user string, err error) {
	var haveDir, haveUser bool
	for part := range strings.SplitSeq(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		i := strings.IndexAny(part, "=:")
		if i < 0 {
			return "", "", qlikUserError("%q is not KEY=VALUE.", part)
		}
		key, raw := strings.TrimSpace(part[:i]), strings.TrimSpace(part[i+1:])
		val, err := url.PathUnescape(raw)
		if err != nil {
			return "", "", qlikUserError("The value of %s, %q, is not valid URL encoding.", key, raw)
		}
		switch {
		case strings.EqualFold(key, "UserDirectory"):
			if haveDir {
				return "", "", qlikUserError("UserDirectory is given twice.")
			}
			directory, haveDir = val, true
		case strings.EqualFold(key, "UserId"):
			if haveUser {
				return "", "", qlikUserError("UserId is given twice.")
			}
			user, haveUser = val, true
		default:
			return "", "", qlikUserError("%q is neither UserDirectory nor UserId.", key)
		}
	}
	switch {
	case !haveDir:
		return "", "", qlikUserError("UserDirectory is missing.")
	case !haveUser:
		return "", "", qlikUserError("UserId is missing.")
	}
	if err := latchkey.ValidateName("user directory", directory); err != nil {
		return "", "", err
	}
	if err := latchkey.ValidateName("user ID", user); err != nil {
		return "", "", err
	}
	return directory, user, nil
}

func qlikUserError(format string, args ...any) error {
	return latchkey.Errorf(latchkey.EINVALID, format, args...)
}
