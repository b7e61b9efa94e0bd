package gateway

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey"
)

// A request path reaches the upstream as the client escaped it, and the
// upstream decodes and splits it by its own rules, which are not always
// Go's: Windows servers (where the Qlik APIs run) split at '\' too, Java
// servers drop ";parameters" from each segment, some servers decode twice
// and some never decode %2F. checkPath admits a path only when every such
// reading of it is clean and selects the route latchkey's match selects;
// so what latchkey authorized is what the upstream serves.

// A reading is one way an upstream may read a path; readings combine.
const (
	readBackslash = 1 << iota // '\' (sent as is, %5C or %5c) is a separator
	readParams                // ";..." to the end of a segment is dropped
	readTwice                 // the decoded path is decoded again
	readRawSlash              // %2F stays part of its segment (read instead of the decoded path)
	readings
)

// readingFault is the client message for a path that one reading refuses.
var readingFault = map[int]string{
	readBackslash: "A '\\' (or %5C) in the path is a separator to some upstreams, and read so this path has '.', '..' or empty segments or leads to another route; use '/' and send the path it resolves to.",
	readParams:    "A ';' (or %3B) in the path starts parameters to some upstreams, which drop them, and read so this path has '.', '..' or empty segments or leads to another route; remove the ';' parameters.",
	readTwice:     "The path is encoded twice (a %25 escape); decoded again, as some upstreams do, it has '.', '..' or empty segments, control characters or invalid UTF-8, or leads to another route; send the path encoded once.",
	readRawSlash:  "An encoded '/' (%2F) in the path leads to another route for an upstream that does not decode it; send '/' unencoded.",
}

// checkPath returns nil when every reading of t's path (u its URL) is a
// clean path that selects the route that t does, and otherwise an EINVALID
// error that says what to change. A path without '\', ';', '%' after
// decoding, escapes of '/', bytes above 0x7F or control characters costs
// a scan and allocates nothing.
func (rt *router) checkPath(t target, u *url.URL) error {
	p := t.path
	if !cleanPath(p) {
		return latchkey.Errorf(latchkey.EINVALID,
			"The path must not contain '.', '..' or empty segments, nor spell them with escapes (%%2E, %%2F); send the path they resolve to.")
	}
	var have int
	high := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !pathSpecial[c] {
			continue
		}
		switch {
		case c < 0x20 || c == 0x7f:
			return errPathControl
		case c == '\\':
			have |= readBackslash
		case c == ';':
			have |= readParams
		case c == '%': // decoded again, it may hold any of the others
			have |= readTwice | readBackslash | readParams
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	if high && !utf8.ValidString(p) {
		return errPathUTF8
	}
	if u.RawPath != "" && containsEscapedSlash(u.RawPath) {
		have |= readRawSlash
	}
	if have == 0 {
		return nil
	}
	want, _, _ := rt.match(t)
	for m := 1; m < readings; m++ { // each combination of the readings the path calls for
		if m&have != m {
			continue
		}
		v := read(p, u.RawPath, m)
		if m&readTwice != 0 {
			if err := pathChars(v); err != nil {
				return latchkey.Errorf(latchkey.EINVALID, "%s", readingFault[readTwice])
			}
		}
		vt := t
		vt.path = v
		if got, _, _ := rt.match(vt); !cleanPath(v) || got != want {
			return latchkey.Errorf(latchkey.EINVALID, "%s", readingFault[lowestBit(m)])
		}
	}
	return nil
}

// pathSpecial marks the bytes checkPath looks at: control characters, '\',
// ';', '%' and those of multi-byte UTF-8.
var pathSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c >= 0x7f || c == '\\' || c == ';' || c == '%'
	}
	return t
}()

var (
	errPathControl = latchkey.Errorf(latchkey.EINVALID, "The path must not contain NUL or other control characters (%%00 to %%1F, %%7F); remove them.")
	errPathUTF8    = latchkey.Errorf(latchkey.EINVALID, "The path must be valid UTF-8 once decoded (overlong forms such as %%C0%%AE are not); send it UTF-8 encoded.")
)

// pathChars returns the error for control characters or invalid UTF-8 in p.
func pathChars(p string) error {
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return errPathControl
		}
	}
	if !utf8.ValidString(p) {
		return errPathUTF8
	}
	return nil
}

func lowestBit(m int) int { return m & -m }

// containsEscapedSlash reports whether raw holds %2F or %2f.
func containsEscapedSlash(raw string) bool {
	for i := strings.IndexByte(raw, '%'); i >= 0 && i+2 < len(raw); {
		if raw[i+1] == '2' && (raw[i+2] == 'F' || raw[i+2] == 'f') {
			return true
		}
		j := strings.IndexByte(raw[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// read returns the path p (decoded from raw) as the readings in m read it.
func read(p, raw string, m int) string {
	if m&readRawSlash != 0 {
		p = decodeKeepingSlashes(raw)
	}
	if m&readTwice != 0 {
		if q, err := url.PathUnescape(p); err == nil {
			p = q
		}
	}
	if m&readBackslash != 0 {
		p = strings.ReplaceAll(p, `\`, "/")
	}
	if m&readParams != 0 {
		p = dropParams(p)
	}
	return p
}

// decodeKeepingSlashes decodes raw as url.PathUnescape would, but leaves
// each %2F (or %2f) as it is, so that it stays inside its segment.
func decodeKeepingSlashes(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) && ishex(raw[i+1]) && ishex(raw[i+2]) {
			if c := unhex(raw[i+1])<<4 | unhex(raw[i+2]); c != '/' {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// dropParams removes from each segment of p what follows a ';', the ';'
// included, as Servlet containers do before they match: /a;x=1/b is /a/b.
func dropParams(p string) string {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == ';' {
			for i+1 < len(p) && p[i+1] != '/' {
				i++
			}
			continue
		}
		b = append(b, p[i])
	}
	return string(b)
}
