package webtest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyTestsImportWebtest fails when a package's non-test code imports
// webtest: it opens databases through store/pgtest and must stay out of
// the binaries.
func TestOnlyTestsImportWebtest(t *testing.T) {
	t.Parallel()
	const module = "github.com/ufo-run/ufo"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), module+"/app/web:") {
		t.Fatalf("go list saw no app/web:\n%s", out)
	}
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), ":")
		for imp := range strings.FieldsSeq(imports) {
			if imp == module+"/app/web/webtest" {
				t.Errorf("%s imports %s outside its tests", pkg, imp)
			}
		}
	}
}
