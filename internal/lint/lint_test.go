// Package lint keeps the layout of style.md true: only journal/ imports Pebble;
// the pure packages import neither the journal, Pebble nor net/http, and never
// read the clock.
package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ringrift/ringriftd"

// pure packages: no I/O, no clock.
var pure = []string{"event", "fsm", "flows", "projections", "engine"}

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

func TestOnlyJournalImportsPebble(t *testing.T) {
	for _, f := range parseAll(t, repoRoot(t)) {
		if f.pkgDir == "journal" || strings.HasPrefix(f.pkgDir, "journal/") || f.pkgDir == "internal/lint" {
			continue
		}
		if f.pkgDir == "cmd/bench" || strings.HasPrefix(f.pkgDir, "internal/bench") {
			// the bench command measures raw Pebble as the limit the
			// journal is compared with.
			continue
		}
		for _, p := range imports(f.file) {
			if strings.HasPrefix(p, "github.com/cockroachdb/pebble") && !strings.HasSuffix(f.path, "_test.go") {
				t.Errorf("%s imports %s: only journal/ may touch Pebble", f.path, p)
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
	for _, f := range parseAll(t, root) {
		if strings.HasSuffix(f.path, "_test.go") {
			continue
		}
		isPure := false
		for _, p := range pure {
			if f.pkgDir == p {
				isPure = true
			}
		}
		if !isPure {
			continue
		}
		for _, p := range imports(f.file) {
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s: %s must stay pure (no I/O)", f.path, p, f.pkgDir)
				}
			}
		}
		src, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "time.Now(") || strings.Contains(string(src), "time.Since(") {
			t.Errorf("%s reads the clock: %s must take time from events", f.path, f.pkgDir)
		}
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
