package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// identityInterfaces are the parts of latchkey.Store that the command line
// must not call: users, roles and abilities, sessions and the audit log are
// read and changed through credential.Service alone, which checks, audits
// and keeps every node's caches true (SPEC §4: one set of use-cases).
var identityInterfaces = []string{"UserStore", "RoleStore", "SessionStore", "AuditStore"}

// identityMethods is what those interfaces held when this test was written;
// the test checks whatever they hold now, and that these are among them.
var identityMethods = []string{
	"CreateUser", "User", "UserByName", "UserByEmail", "Users", "UpdateUser", "DeleteUser", "Directories",
	"CreateAbility", "DeleteAbility", "Abilities", "CreateRole", "Role", "Roles", "UpdateRole", "DeleteRole",
	"GrantRole", "RevokeRole", "UserAccess",
	"CreateSession", "Session", "SessionByHash", "Sessions", "TouchSessions", "EndSession", "EndUserSessions",
	"AppendAudit", "AuditEvents",
}

// TestNoStoreAccessForIdentity type-checks package cmd/latchkey, its tests
// included, and fails on any use of a method of latchkey.Store's UserStore,
// RoleStore, SessionStore or AuditStore: called on a latchkey.Store (or one
// of those interfaces, or any interface the Store satisfies), or on a
// concrete store (*sqlite.DB, say), or taken as a method
// value or expression. Other store methods — API keys, signing keys,
// purging — are not its business.
func TestNoStoreAccessForIdentity(t *testing.T) {
	pkg := loadPackage(t)
	if v := identityViolations(t, pkg, nil); len(v) > 0 {
		t.Errorf("cmd/latchkey uses the store for users, roles, sessions or the audit log; "+
			"go through credential.Service (credential/manage*.go) instead:\n  %s", strings.Join(v, "\n  "))
	}

	// The check itself: a file that calls the store is caught, whichever
	// way it calls.
	probe := `package main

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlite"
)

type userFinder interface {
	UserByName(ctx context.Context, directory, username string) (*latchkey.User, error)
}

func probe(st latchkey.Store, us latchkey.UserStore, lite *sqlite.DB) {
	ctx := context.Background()
	st.UserByName(ctx, "", "")                  // 1: on the Store
	_ = st.AppendAudit                          // 2: a method value
	us.Users(ctx, latchkey.UserFilter{})        // 3: on a part of it
	lite.EndSession(ctx, "", time.Time{}, nil) // 4: on a concrete store
	_ = latchkey.Store.GrantRole                // 5: a method expression
	var f userFinder = st
	f.UserByName(ctx, "", "")                   // 6: through an interface of one's own
	st.APIKey(ctx, "")                          // not identity: allowed
}
`
	var got []string
	for _, v := range identityViolations(t, pkg, map[string]string{"zz_probe.go": probe}) {
		if strings.HasPrefix(v, "zz_probe.go:") {
			got = append(got, v)
		}
	}
	if len(got) != 6 {
		t.Errorf("the probe's six store calls were found %d times:\n  %s", len(got), strings.Join(got, "\n  "))
	}
}

// goPackage is what "go list" says of a package.
type goPackage struct {
	ImportPath, Dir, Export            string
	GoFiles, TestGoFiles, XTestGoFiles []string
	ForTest                            string
}

// loadPackage lists this package and the export data of everything it and
// its tests import, with the go command (which builds them offline, from
// the module cache and the build cache).
func loadPackage(t *testing.T) *loaded {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-test", "-export", "-json=ImportPath,Dir,Export,GoFiles,TestGoFiles,XTestGoFiles,ForTest", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	l := &loaded{exports: map[string]string{}}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.ForTest != "" || strings.Contains(p.ImportPath, " [") {
			continue // a variant built for a test; this test reads the sources
		}
		if p.Export != "" {
			l.exports[p.ImportPath] = p.Export
		}
		if p.Dir == mustGetwd(t) && !strings.HasSuffix(p.ImportPath, ".test") {
			l.self = p
		}
	}
	if l.self.ImportPath == "" {
		t.Fatal("go list did not list this package")
	}
	if len(l.self.XTestGoFiles) > 0 {
		t.Fatalf("external test files %v: check them too", l.self.XTestGoFiles)
	}
	return l
}

type loaded struct {
	self    goPackage
	exports map[string]string // import path → export data file
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// identityViolations type-checks the package's files, and extra ones
// (name → source), and lists every use of an identity method of the store.
func identityViolations(t *testing.T, l *loaded, extra map[string]string) []string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range slices.Concat(l.self.GoFiles, l.self.TestGoFiles) {
		f, err := parser.ParseFile(fset, filepath.Join(l.self.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	for name, src := range extra {
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := l.exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: imp}
	pkg, err := conf.Check(l.self.ImportPath, fset, files, info)
	if err != nil {
		t.Fatalf("type-check %s: %v", l.self.ImportPath, err)
	}

	var latchkeyPkg *types.Package
	for _, p := range pkg.Imports() {
		if p.Path() == "github.com/latchkey/latchkey" {
			latchkeyPkg = p
		}
	}
	if latchkeyPkg == nil {
		t.Fatal("package main does not import github.com/latchkey/latchkey")
	}
	store := latchkeyPkg.Scope().Lookup("Store").Type()
	forbidden := map[*types.Func]bool{}
	names := map[string]bool{}
	for _, iname := range identityInterfaces {
		iface := latchkeyPkg.Scope().Lookup(iname).Type().Underlying().(*types.Interface)
		for m := range iface.Methods() {
			forbidden[m] = true
			names[m.Name()] = true
		}
	}
	for _, m := range identityMethods {
		if !names[m] {
			t.Errorf("latchkey's %v no longer declare %s: update identityMethods", identityInterfaces, m)
		}
	}

	var found []string
	for sel, s := range info.Selections {
		if s.Kind() != types.MethodVal && s.Kind() != types.MethodExpr {
			continue
		}
		fn := s.Obj().(*types.Func)
		if !names[fn.Name()] {
			continue
		}
		recv := s.Recv()
		iface, isIface := recv.Underlying().(*types.Interface)
		switch {
		case forbidden[fn]: // on latchkey.Store or a part of it, or anything embedding one
		case types.Implements(recv, store.Underlying().(*types.Interface)): // a concrete store
		case isIface && types.Implements(store, iface): // an interface the Store satisfies
		default:
			continue
		}
		pos := fset.Position(sel.Sel.Pos())
		found = append(found, fmt.Sprintf("%s:%d:%d: %s.%s", filepath.Base(pos.Filename), pos.Line, pos.Column,
			types.TypeString(recv, types.RelativeTo(pkg)), fn.Name()))
	}
	slices.Sort(found)
	return found
}
