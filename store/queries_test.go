package store

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// TestQueriesExist: every query the store names (q("Name")) is in
// db/queries, and every query there is named by the store: a missing one
// would panic only when its path runs, an unused one is dead SQL.
func TestQueriesExist(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\bq\("([A-Za-z0-9]+)"\)`)
	// Helpers such as deleteByID take a query's name as a string.
	literal := regexp.MustCompile(`"([A-Z][A-Za-z0-9]+)"`)
	used := map[string]bool{}
	for _, f := range files {
		if f == "queries_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllSubmatch(b, -1) {
			if _, ok := queries[string(m[1])]; !ok {
				t.Errorf("%s names query %s, which db/queries does not define", f, m[1])
			}
		}
		for _, m := range literal.FindAllSubmatch(b, -1) {
			used[string(m[1])] = true
		}
	}
	var unused []string
	for name := range queries {
		if !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	for _, name := range unused {
		t.Errorf("db/queries defines %s, which the store never names", name)
	}
}
