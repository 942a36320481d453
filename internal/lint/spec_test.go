package lint

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSpecCopies keeps docs/spec/ — the specification travelling with the
// code, which comments cite as flows.md, events.md … — a copy of the shared
// specification when the checkout has it (../shared/spec and
// ../shared/catalog beside the repository), and the catalog's copies equal:
// docs/spec/events.tsv and the embedded event/catalog.tsv.
func TestSpecCopies(t *testing.T) {
	root := repoRoot(t)
	docs := filepath.Join(root, "docs", "spec")
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if read(filepath.Join(docs, "events.tsv")) != read(filepath.Join(root, "event", "catalog.tsv")) {
		t.Errorf("docs/spec/events.tsv and event/catalog.tsv differ: they are copies of one catalog")
	}
	shared := filepath.Join(root, "..", "shared")
	specs, err := filepath.Glob(filepath.Join(shared, "spec", "*.md"))
	if err != nil || len(specs) == 0 {
		t.Logf("shared specification not present at %s; checking the in-repository copies only", shared)
		return
	}
	pairs := map[string]string{filepath.Join(shared, "catalog", "events.tsv"): filepath.Join(docs, "events.tsv")}
	for _, s := range specs {
		pairs[s] = filepath.Join(docs, filepath.Base(s))
	}
	for src, dst := range pairs {
		want := read(src)
		got, err := os.ReadFile(dst)
		switch {
		case err != nil:
			t.Errorf("%s is not copied to docs/spec: %v (cp %s %s)", src, err, src, dst)
		case string(got) != want:
			t.Errorf("docs/spec/%s differs from %s: copy it again (cp %s %s)", filepath.Base(dst), src, src, dst)
		}
	}
	copies, _ := filepath.Glob(filepath.Join(docs, "*.md"))
	if len(copies) != len(specs) {
		t.Errorf("docs/spec has %d .md files, the shared specification %d: remove what it no longer has", len(copies), len(specs))
	}
}
