package event

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// catalogTSV is a copy of shared/catalog/events.tsv: the closed list of types.
//
//go:embed catalog.tsv
var catalogTSV string

// Type describes one catalog entry.
type Type struct {
	Name         string // the constant's name, e.g. TRAINING_COMPLETED
	Value        string // the wire value, e.g. training_completed
	Category     string
	CrossProcess bool
	AliasOf      string // set on an alias name: the NAME it stands for
	Purpose      string
}

// Catalog is the closed set of event types. The package-level functions read
// the embedded catalog; Catalog is exported so tests and tools can build others.
type Catalog struct {
	byName     map[string]*Type
	byValue    map[string]*Type // canonical entries only
	categories map[string][]string
	types      []*Type // canonical entries sorted by value
	all        []*Type // every row, aliases included, in file order

	// suggested memoizes Suggest by the string asked about: the edit
	// distances to every type cost microseconds, and a client that sends
	// an unknown type sends it again and again. Bounded (maxSuggested
	// entries of at most maxSuggestedKey bytes; past that it starts over),
	// so hostile input cannot grow it.
	suggestMu sync.Mutex
	suggested map[string]*Type // under suggestMu; nil: no suggestion
}

// The bounds of Catalog's memo of suggestions.
const (
	maxSuggested    = 1024
	maxSuggestedKey = 128
)

var defaultCatalog = mustParseCatalog(catalogTSV)

func mustParseCatalog(tsv string) *Catalog {
	c, err := ParseCatalog(tsv)
	if err != nil {
		panic(err)
	}
	return c
}

// ParseCatalog reads the TSV form of the catalog (events.md, "The catalog").
func ParseCatalog(tsv string) (*Catalog, error) {
	c := &Catalog{
		byName:     map[string]*Type{},
		byValue:    map[string]*Type{},
		categories: map[string][]string{},
	}
	lines := strings.Split(strings.TrimRight(tsv, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "name\tvalue\tcategory\tcross_process\talias_of") {
		return nil, fmt.Errorf("event: catalog: want header name, value, category, cross_process, alias_of, purpose")
	}
	for i, line := range lines[1:] {
		f := strings.Split(line, "\t")
		for len(f) < 6 {
			f = append(f, "")
		}
		t := &Type{Name: f[0], Value: f[1], Category: f[2], CrossProcess: f[3] == "1", AliasOf: f[4], Purpose: f[5]}
		if t.Name == "" || t.Value == "" || t.Category == "" {
			return nil, fmt.Errorf("event: catalog line %d: name, value and category are required", i+2)
		}
		if _, dup := c.byName[t.Name]; dup {
			return nil, fmt.Errorf("event: catalog line %d: name %s twice", i+2, t.Name)
		}
		c.byName[t.Name] = t
		c.all = append(c.all, t)
	}
	for _, t := range c.all {
		if t.AliasOf != "" {
			target, ok := c.byName[t.AliasOf]
			if !ok || target.Value != t.Value {
				return nil, fmt.Errorf("event: catalog: alias %s must name a type with the same value", t.Name)
			}
			continue
		}
		if _, dup := c.byValue[t.Value]; dup {
			return nil, fmt.Errorf("event: catalog: value %s twice", t.Value)
		}
		c.byValue[t.Value] = t
		c.types = append(c.types, t)
		c.categories[t.Category] = append(c.categories[t.Category], t.Value)
	}
	sort.Slice(c.types, func(i, j int) bool { return c.types[i].Value < c.types[j].Value })
	for _, vs := range c.categories {
		sort.Strings(vs)
	}
	return c, nil
}

// Lookup finds a type by its exact wire value or exact NAME (an alias name
// resolves to the type it stands for). Matching is case-sensitive.
func (c *Catalog) Lookup(s string) (*Type, bool) {
	if t, ok := c.byValue[s]; ok {
		return t, true
	}
	if t, ok := c.byName[s]; ok {
		if t.AliasOf != "" {
			return c.byName[t.AliasOf], true
		}
		return t, true
	}
	return nil, false
}

// ByValue finds a type by its wire value only.
func (c *Catalog) ByValue(v string) (*Type, bool) {
	t, ok := c.byValue[v]
	return t, ok
}

// ByName finds a row by its NAME, aliases included (AliasOf tells).
func (c *Catalog) ByName(n string) (*Type, bool) {
	t, ok := c.byName[n]
	return t, ok
}

// Types returns the canonical types sorted by value (aliases excluded).
func (c *Catalog) Types() []*Type { return c.types }

// Rows returns every row of the catalog in file order, aliases included.
func (c *Catalog) Rows() []*Type { return c.all }

// Categories returns the category names, sorted.
func (c *Catalog) Categories() []string {
	out := make([]string, 0, len(c.categories))
	for k := range c.categories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Category returns the wire values of a category's types, sorted.
func (c *Catalog) Category(name string) []string { return c.categories[name] }

// CrossProcess returns the wire values of the cross-process types, sorted.
func (c *Catalog) CrossProcess() []string {
	var out []string
	for _, t := range c.types {
		if t.CrossProcess {
			out = append(out, t.Value)
		}
	}
	return out
}

// Suggest returns the closest known type to s, for "did you mean" hints: a
// case-insensitive match first, then the smallest edit distance (at most a third
// of the name's length).
func (c *Catalog) Suggest(s string) (*Type, bool) {
	if len(s) > maxSuggestedKey {
		return c.suggest(s)
	}
	c.suggestMu.Lock()
	t, ok := c.suggested[s]
	c.suggestMu.Unlock()
	if ok {
		return t, t != nil
	}
	t, _ = c.suggest(s)
	c.suggestMu.Lock()
	if c.suggested == nil || len(c.suggested) >= maxSuggested {
		c.suggested = make(map[string]*Type)
	}
	c.suggested[strings.Clone(s)] = t
	c.suggestMu.Unlock()
	return t, t != nil
}

// suggest is Suggest without the memo.
func (c *Catalog) suggest(s string) (*Type, bool) {
	low := strings.ToLower(s)
	if t, ok := c.Lookup(low); ok {
		return t, true
	}
	if t, ok := c.Lookup(strings.ToUpper(s)); ok {
		return t, true
	}
	var best *Type
	bestD := len(low)/3 + 1
	for _, t := range c.types {
		for _, cand := range []string{t.Value, strings.ToLower(t.Name)} {
			if d := editDistance(low, cand, bestD); d < bestD {
				best, bestD = t, d
			}
		}
	}
	return best, best != nil
}

// editDistance is Levenshtein's distance, giving up (returning max) once it
// cannot be below max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= max {
			return max
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Default is the embedded catalog.
func Default() *Catalog { return defaultCatalog }

// Lookup finds a type in the embedded catalog by exact value or NAME.
func Lookup(s string) (*Type, bool) { return defaultCatalog.Lookup(s) }

// Known reports whether v is the wire value of a catalog type.
func Known(v string) bool { _, ok := defaultCatalog.byValue[v]; return ok }

// Intern returns the catalog's copy of the wire value held in b, so that
// decoding a stored event does not allocate its type; ok is false for a value
// the catalog does not know.
func Intern(b []byte) (string, bool) {
	t, ok := defaultCatalog.byValue[string(b)]
	if !ok {
		return "", false
	}
	return t.Value, true
}
