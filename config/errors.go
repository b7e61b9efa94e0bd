package config

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem with the configuration. Load and Validate return
// these, joined with errors.Join when there are several.
type Error struct {
	// File is the configuration file; or, for a value that did not come from
	// the file, where it came from: "--listen", "--data-dir",
	// "LATCHKEY_STORE_DSN" or "(default)".
	File    string
	Line    int    // 1-based line of the offending key; 0 when unknown
	Key     string // key path such as "routes[1].upstream"; "" for the whole file
	Message string // says what to fix; never holds a secret
	Err     error  // the cause, when there is one (e.g. reading the file)
}

// Error returns "file:line: key: message", leaving out the parts that are
// unknown.
func (e *Error) Error() string {
	var parts []string
	switch {
	case e.File != "" && e.Line > 0:
		parts = append(parts, e.File+":"+strconv.Itoa(e.Line))
	case e.File != "":
		parts = append(parts, e.File)
	case e.Line > 0:
		parts = append(parts, "line "+strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		parts = append(parts, e.Key)
	}
	return strings.Join(append(parts, e.Message), ": ")
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Origins of values that did not come from the configuration file.
const (
	originDefault  = "(default)"
	originDataDir  = "--data-dir"
	originListen   = "--listen"
	originStoreDSN = "--store-dsn"
)

// source remembers where each value of a loaded Config came from.
type source struct {
	file   string                // name of the file, for messages
	keys   map[string]*yaml.Node // key path → its key node (or sequence item)
	values map[string]*yaml.Node // key path → its value node, aliases resolved
	order  []string              // key paths in document order
	origin map[string]string     // key path → origin when not the file
}

func newSource(file string, root *yaml.Node) *source {
	s := &source{file: file, keys: map[string]*yaml.Node{},
		values: map[string]*yaml.Node{}, origin: map[string]string{}}
	if root != nil {
		s.index(root, "", 0)
	}
	return s
}

// index records every mapping key and sequence item under n.
func (s *source) index(n *yaml.Node, path string, depth int) {
	if depth > 32 {
		return // deeper than any valid configuration; guards alias loops
	}
	switch n.Kind {
	case yaml.MappingNode:
		// Keys of the mapping itself first: they win over merged ones.
		var merged []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolve(n.Content[i+1])
			if k.Value == "<<" {
				merged = append(merged, v)
				continue
			}
			s.add(join(path, k.Value), k, v, depth)
		}
		for _, v := range merged { // merge key: its mappings' keys land here
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					s.index(resolve(m), path, depth+1)
				}
			} else {
				s.index(v, path, depth+1)
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			s.add(path+"["+strconv.Itoa(i)+"]", item, resolve(item), depth)
		}
	}
}

func (s *source) add(path string, k, v *yaml.Node, depth int) {
	if _, dup := s.keys[path]; dup {
		return // yaml reports the duplicate; the first one wins here
	}
	s.keys[path], s.values[path] = k, v
	s.order = append(s.order, path)
	s.index(v, path, depth+1)
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 32; i++ {
		n = n.Alias
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// has reports whether the file gives path a (non-null) value.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	v := s.values[path]
	return v != nil && !(v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null")
}

// errorAt returns an *Error for path: at the origin of its value when that
// is not the file, else at the line of its key or of its nearest ancestor.
func (s *source) errorAt(path, format string, args ...any) *Error {
	e := &Error{Key: path, Message: fmt.Sprintf(format, args...)}
	if s == nil {
		return e
	}
	if o := s.origin[path]; o != "" {
		e.File = o
		return e
	}
	e.File = s.file
	for p := path; p != ""; p = parent(p) {
		if k := s.keys[p]; k != nil {
			e.Line = k.Line
			break
		}
	}
	return e
}

// parent drops the last ".key" or "[i]" from path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func lastKey(path string) string {
	return path[strings.LastIndexAny(path, ".]")+1:]
}

var (
	reLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown  = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	reDupKey   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	reBadType  = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `.*`)? into (\\S+)$")
	reSyntax   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	typeByName = map[string]reflect.Type{}
)

func init() { registerTypes(reflect.TypeFor[Config]()) }

func registerTypes(t reflect.Type) {
	if _, ok := typeByName[t.String()]; ok {
		return
	}
	typeByName[t.String()] = t
	switch t.Kind() {
	case reflect.Slice:
		registerTypes(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				registerTypes(t.Field(i).Type)
			}
		}
	}
}

// knownKeys lists the YAML keys of a struct type, sorted.
func knownKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

// syntaxError rewrites an error from the YAML parser.
func (s *source) syntaxError(err error) *Error {
	msg := err.Error()
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: s.file, Line: line, Message: "YAML syntax: " + m[2] +
			" (check the indentation and quoting on this line and the next)", Err: err}
	}
	return &Error{File: s.file, Message: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
}

// typeErrors rewrites the issues of a *yaml.TypeError, which look like
// "line 3: field foo not found in type config.Listener", into *Errors that
// name the key and say what to fix.
func (s *source) typeErrors(te *yaml.TypeError) []error {
	used := map[string]bool{}
	var errs []error
	for _, issue := range te.Errors {
		m := reLine.FindStringSubmatch(issue)
		if m == nil {
			errs = append(errs, &Error{File: s.file, Message: issue})
			continue
		}
		line, _ := strconv.Atoi(m[1])
		e := &Error{File: s.file, Line: line, Message: m[2]}
		if u := reUnknown.FindStringSubmatch(m[2]); u != nil {
			e.Key = s.keyAt(line, u[1], u[2], used)
			e.Message = "unknown key"
			if t := typeByName[u[2]]; t != nil {
				e.Message += " (known keys here: " + strings.Join(knownKeys(t), ", ") + ")"
			}
		} else if d := reDupKey.FindStringSubmatch(m[2]); d != nil {
			first, _ := strconv.Atoi(d[2])
			e.Key = s.keyAt(first, d[1], "", nil) // the index holds the first one
			e.Message = "given twice (first at line " + d[2] + "); keep one"
		} else if b := reBadType.FindStringSubmatch(m[2]); b != nil {
			e.Key = s.valueAt(line, b[1], b[2], used)
			e.Message = fmt.Sprintf("must be %s, not %s", want(typeByName[b[2]], b[2]), s.got(e.Key, b[1]))
		} else { // a message of our own, such as Duration's
			e.Key = s.valueAt(line, "", "config.Duration", used)
		}
		used[e.Key] = true
		errs = append(errs, e)
	}
	return errs
}

// keyAt finds the path of the key named name on line, in a mapping of type
// in ("" for any). A node reached through an alias has several paths; the
// type tells them apart.
func (s *source) keyAt(line int, name, in string, used map[string]bool) string {
	var cands []string
	for _, p := range s.order {
		if s.keys[p].Line == line && lastKey(p) == name {
			cands = append(cands, p)
		}
	}
	return pick(typed(cands, in, func(p string) reflect.Type { return typeAt(parent(p)) }), used)
}

// valueAt finds the path of the value on line, of the tag's kind ("" for
// scalars) and Go type into, that a decoding issue is about: innermost
// first, and one not reported yet first.
func (s *source) valueAt(line int, tag, into string, used map[string]bool) string {
	kind := yaml.ScalarNode
	switch tag {
	case "!!seq":
		kind = yaml.SequenceNode
	case "!!map":
		kind = yaml.MappingNode
	}
	var cands []string
	for _, p := range s.order {
		if v := s.values[p]; v.Line == line && v.Kind == kind {
			cands = append(cands, p)
		}
	}
	cands = typed(cands, into, typeAt)
	var inner []string
	for _, c := range cands {
		leaf := true
		for _, d := range cands {
			if strings.HasPrefix(d, c+".") || strings.HasPrefix(d, c+"[") {
				leaf = false
			}
		}
		if leaf {
			inner = append(inner, c)
		}
	}
	return pick(inner, used)
}

// typed keeps the paths whose type (by typeOf) is named name; all of them
// when name is "" or none matches.
func typed(paths []string, name string, typeOf func(string) reflect.Type) []string {
	var out []string
	for _, p := range paths {
		if t := typeOf(p); t != nil && t.String() == name {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return paths
	}
	return out
}

// pick returns the first path not used yet, else the first; "" for none.
func pick(paths []string, used map[string]bool) string {
	for _, p := range paths {
		if !used[p] {
			return p
		}
	}
	if len(paths) > 0 {
		return paths[0]
	}
	return ""
}

// typeAt returns the Go type that holds the value at path, or nil.
func typeAt(path string) reflect.Type {
	t := reflect.TypeFor[Config]()
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' }) {
		switch {
		case strings.HasSuffix(seg, "]") && t.Kind() == reflect.Slice:
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := fieldByKey(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
	}
	return t
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// want says in words what a Go type accepts.
func want(t reflect.Type, name string) string {
	if t == nil {
		return name
	}
	if t == reflect.TypeFor[Duration]() {
		return "a duration such as 90s, 15m or 2h"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Struct:
		return "a mapping with the keys " + strings.Join(knownKeys(t), ", ")
	}
	return name
}

// got says in words what the file holds at path. Values under store are
// never shown: the DSN may hold a password.
func (s *source) got(path, tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	}
	v := s.values[path]
	if v == nil || strings.HasPrefix(path, "store.") {
		return "the value given"
	}
	return strconv.Quote(v.Value)
}
