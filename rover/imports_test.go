package rover

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRoverImportsNoServerInternals fails when a package under rover/, or
// anything it imports, reaches the server's packages: the rover must talk
// to the server only through the rover protocol.
func TestRoverImportsNoServerInternals(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/ufo-run/ufo/"
	deps := strings.Fields(string(out))
	if len(deps) == 0 || !strings.Contains(string(out), module+"rover/wire") {
		t.Fatalf("go list saw no rover packages:\n%s", out)
	}
	for _, dep := range deps {
		for _, banned := range []string{"store", "app", "bot"} {
			if dep == module+banned || strings.HasPrefix(dep, module+banned+"/") {
				t.Errorf("a rover package imports %s", dep)
			}
		}
	}
}
