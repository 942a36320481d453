// Package lint keeps the layout of style.md true: each package imports only
// the packages of the module its place in the layout allows; only journal/
// imports Pebble and only cluster/ NATS; the pure packages import neither
// the journal, Pebble nor net/http, and never read the clock; staticcheck
// finds nothing; docs/spec is the shared specification.
package lint

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ringrift/ringriftd"

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repo root not found at %s: %v", dir, err)
	}
	return dir
}

type goFile struct {
	pkgDir string // relative to the root, slash-separated
	path   string
	file   *ast.File
}

func parseAll(t *testing.T, root string) []goFile {
	t.Helper()
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		out = append(out, goFile{pkgDir: filepath.ToSlash(rel), path: path, file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func imports(f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		out = append(out, p)
	}
	return out
}

// allowed lists, for each package, the packages of this module its
// non-test files may import: the layout of style.md, where dependencies
// point inward. "*" allows any (the mains wire everything). A package
// missing here fails the test: add it with what it may import.
var allowed = map[string][]string{
	"event":           {},
	"fsm":             {},
	"flows":           {"event", "fsm"},
	"projections":     {"event", "flows"},
	"journal":         {"event"},
	"cluster":         {"event", "journal"},
	"engine":          {"event", "fsm", "flows", "projections"},
	"replay":          {"event", "fsm", "flows", "projections", "engine", "journal"},
	"web":             {"event", "flows", "projections", "engine", "journal"},
	"deploy":          {}, // Grafana and Prometheus files; its test runs the daemon binary
	"internal/testfs": {},
	"fixtures":        {"event", "flows", "projections", "engine", "journal"},
	"internal/gen":    {"event"},
	"internal/sim":    {"event", "flows", "projections", "internal/gen"},
	"internal/bench":  {"event", "flows", "projections", "engine", "journal", "cluster", "internal/gen"},
	"internal/lint":   {},
	"cmd/ringriftd":   {"*"},
	"cmd/replay":      {"*"},
	"cmd/bench":       {"*"},
}

// thirdParty lists the imports only some packages may have: Pebble is the
// journal's (and the bench's, which measures raw Pebble as the journal's
// limit), NATS the cluster's.
var thirdParty = []struct {
	prefix string
	only   []string
}{
	{"github.com/cockroachdb/pebble", []string{"journal", "internal/bench", "cmd/bench"}},
	{"github.com/nats-io/", []string{"cluster"}},
}

// pure packages: no I/O, no clock.
var pure = []string{"event", "fsm", "flows", "projections", "engine"}

func TestImportsFollowTheLayout(t *testing.T) {
	for _, f := range parseAll(t, repoRoot(t)) {
		if strings.HasSuffix(f.path, "_test.go") || f.pkgDir == "." {
			continue
		}
		may, ok := allowed[f.pkgDir]
		if !ok {
			t.Errorf("%s: package %s is not in internal/lint's table of allowed imports; add it with what it may import", f.path, f.pkgDir)
			continue
		}
		for _, p := range imports(f.file) {
			dep, internal := strings.CutPrefix(p, module+"/")
			if internal && !slices.Contains(may, "*") && !slices.Contains(may, dep) {
				t.Errorf("%s imports %s: %s may import only %v of this module (style.md, Layout)", f.path, dep, f.pkgDir, may)
			}
			for _, tp := range thirdParty {
				if strings.HasPrefix(p, tp.prefix) && !slices.Contains(tp.only, f.pkgDir) {
					t.Errorf("%s imports %s: only %v may", f.path, p, tp.only)
				}
			}
		}
	}
}

func TestOnlyClusterImportsNATS(t *testing.T) {
	for _, f := range parseAll(t, repoRoot(t)) {
		if f.pkgDir == "cluster" || f.pkgDir == "internal/lint" {
			continue
		}
		for _, p := range imports(f.file) {
			if strings.HasPrefix(p, "github.com/nats-io/") || strings.HasPrefix(p, "github.com/synadia-io/") {
				t.Errorf("%s imports %s: only cluster/ may touch NATS", f.path, p)
			}
		}
	}
}

func TestPurePackages(t *testing.T) {
	root := repoRoot(t)
	forbidden := []string{module + "/journal", "github.com/cockroachdb/pebble", "net/http", "os", "io/ioutil"}
	fset := token.NewFileSet()
	for _, f := range parseAll(t, root) {
		if strings.HasSuffix(f.path, "_test.go") || !slices.Contains(pure, f.pkgDir) {
			continue
		}
		for _, p := range imports(f.file) {
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s: %s must stay pure (no I/O)", f.path, p, f.pkgDir)
				}
			}
		}
		full, err := parser.ParseFile(fset, f.path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range clockCalls(full) {
			t.Errorf("%s: %s reads the clock: %s must take time from events", fset.Position(call.Pos()), call.Sel.Name, f.pkgDir)
		}
	}
}

// clock are the functions of package time that read the clock or wait.
var clock = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// clockCalls returns the uses of time's clock functions in f (whatever
// name the file imports "time" under), called or not.
func clockCalls(f *ast.File) []*ast.SelectorExpr {
	name := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
			name = "time"
			if imp.Name != nil {
				name = imp.Name.Name
			}
		}
	}
	if name == "" || name == "_" {
		return nil
	}
	var out []*ast.SelectorExpr
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == name && id.Obj == nil && slices.Contains(clock, sel.Sel.Name) {
			out = append(out, sel)
		}
		return true
	})
	return out
}

// TestClockCallsAreFound: the clock check sees through an import alias and
// a call passed as a value, and ignores a local variable named time.
func TestClockCallsAreFound(t *testing.T) {
	for src, want := range map[string]int{
		"package p\nimport \"time\"\nfunc f() { _ = time.Now() }":                              1,
		"package p\nimport clk \"time\"\nvar now = clk.Now\nfunc f() { clk.Sleep(1) }":         2,
		"package p\nimport \"time\"\nfunc f(d time.Duration) time.Time { return time.Time{} }": 0,
		"package p\nimport \"time\"\nfunc f() { var time struct{ Now int }; _ = time.Now }":    0,
		"package p\nfunc f() { _ = time.Now }":                                                 0,
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(clockCalls(f)); got != want {
			t.Errorf("%q: %d clock calls found, want %d", src, got, want)
		}
	}
}

// TestStaticcheck runs staticcheck (honnef.co/go/tools, the version of the
// tool directive in go.mod) over the module, as pebble's lint test does.
// It takes minutes on a cold cache: -short skips it.
func TestStaticcheck(t *testing.T) {
	if testing.Short() {
		t.Skip("staticcheck takes minutes on a cold cache; run without -short")
	}
	cmd := exec.Command("go", "tool", "staticcheck", "./...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go tool staticcheck ./...: %v\n%s", err, out)
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	docs := map[string]bool{}
	seen := map[string]bool{}
	for _, f := range parseAll(t, repoRoot(t)) {
		if strings.HasSuffix(f.path, "_test.go") || f.pkgDir == "." {
			continue
		}
		seen[f.pkgDir] = true
		if f.file.Doc != nil && strings.HasPrefix(f.file.Doc.Text(), "Package ") || f.file.Doc != nil && strings.HasPrefix(f.file.Doc.Text(), "Command ") || f.file.Doc != nil && f.file.Name.Name == "main" {
			docs[f.pkgDir] = true
		}
	}
	for dir := range seen {
		if !docs[dir] {
			t.Errorf("package %s has no doc comment (\"Package x ...\" or, for a command, \"Command x ...\")", dir)
		}
	}
}

// TestGofmt: every Go file is as gofmt writes it (a file that is not slips
// past go vet and staticcheck).
func TestGofmt(t *testing.T) {
	for _, f := range parseAll(t, repoRoot(t)) {
		src, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := format.Source(src)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not gofmt'ed: run gofmt -w %s", f.path, f.path)
		}
	}
}
