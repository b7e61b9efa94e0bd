package sqlite

import (
	"errors"

	"modernc.org/sqlite"

	"github.com/latchkey/latchkey"
)

// SQLite result codes that classify reads (https://sqlite.org/rescode.html).
const (
	codeBusy                 = 5
	codeLocked               = 6
	codeIOErr                = 10
	codeFull                 = 13
	codeCantOpen             = 14
	codeNotADB               = 26
	codeConstraintForeignKey = 787
	codeConstraintPrimaryKey = 1555
	codeConstraintUnique     = 2067
)

// classify returns the latchkey error code of a SQLite error, or "".
func classify(err error) string {
	se, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return ""
	}
	switch se.Code() {
	case codeConstraintUnique, codeConstraintPrimaryKey:
		return latchkey.ECONFLICT
	case codeConstraintForeignKey:
		return latchkey.ENOTFOUND
	}
	switch se.Code() & 0xff {
	case codeBusy, codeLocked, codeIOErr, codeFull, codeCantOpen, codeNotADB:
		return latchkey.EUNAVAILABLE
	}
	return ""
}
