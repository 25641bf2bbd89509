package github_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// GitHub's own test assets, from npm, at the versions pinned in
// testdata/node/package.json: @octokit/webhooks-examples (real webhook
// payloads) and @octokit/openapi (GitHub's REST description, with the
// response examples the fake answers with). The set-up installs them with
// `npm ci` into $UFO_TEST_GITHUB_NODE_DIR (default testdata/node), once.
var fixtures struct {
	once     sync.Once
	dir      string
	skip     string
	err      error
	events   map[string][]json.RawMessage // event name → examples
	openapi  map[string]any
	examples map[string]any // components.examples
}

const (
	examplesPkg = "@octokit/webhooks-examples"
	openapiPkg  = "@octokit/openapi"
)

// loadFixtures installs and parses the npm packages. Without npm the test
// skips, unless CI is set: then it fails.
func loadFixtures(t testing.TB) {
	t.Helper()
	fixtures.once.Do(func() {
		fixtures.dir, fixtures.skip, fixtures.err = installFixtures()
		if fixtures.err == nil && fixtures.skip == "" {
			fixtures.err = parseFixtures(fixtures.dir)
		}
	})
	switch {
	case fixtures.err != nil:
		t.Fatalf("GitHub test fixtures: %v", fixtures.err)
	case fixtures.skip != "" && os.Getenv("CI") != "":
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", fixtures.skip)
	case fixtures.skip != "":
		t.Skip(fixtures.skip)
	}
}

func installFixtures() (dir, skip string, err error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", "", fmt.Errorf("locate the test's folder")
	}
	pinned := filepath.Join(filepath.Dir(self), "testdata", "node")
	dir = os.Getenv("UFO_TEST_GITHUB_NODE_DIR")
	if dir == "" {
		dir = pinned
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	want, err := pinnedVersions(filepath.Join(pinned, "package.json"))
	if err != nil {
		return "", "", err
	}
	if installed(dir, want) {
		return dir, "", nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", "npm not found: install Node.js and npm to run the GitHub App's tests against GitHub's recorded payloads", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	// Several test binaries may install at once.
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if installed(dir, want) {
		return dir, "", nil
	}
	if filepath.Clean(dir) != filepath.Clean(pinned) {
		for _, name := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(pinned, name))
			if err != nil {
				return "", "", err
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return "", "", err
			}
		}
	}
	out, err := exec.Command(npm, "ci", "--prefix", dir, "--no-audit", "--no-fund").CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("npm ci --prefix %s: %w\n%s", dir, err, out)
	}
	if !installed(dir, want) {
		return "", "", fmt.Errorf("npm ci --prefix %s did not install %v", dir, want)
	}
	return dir, "", nil
}

func pinnedVersions(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return p.Dependencies, nil
}

func installed(dir string, want map[string]string) bool {
	for pkg, version := range want {
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
		if err != nil {
			return false
		}
		var p struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(b, &p) != nil || p.Version != version {
			return false
		}
	}
	return true
}

func parseFixtures(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", examplesPkg, "api.github.com", "index.json"))
	if err != nil {
		return err
	}
	var defs []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(b, &defs); err != nil {
		return fmt.Errorf("parse %s index.json: %w", examplesPkg, err)
	}
	fixtures.events = map[string][]json.RawMessage{}
	for _, d := range defs {
		fixtures.events[d.Name] = append(fixtures.events[d.Name], d.Examples...)
	}
	b, err = os.ReadFile(filepath.Join(dir, "node_modules", openapiPkg, "generated", "api.github.com.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &fixtures.openapi); err != nil {
		return fmt.Errorf("parse %s: %w", openapiPkg, err)
	}
	comps, _ := fixtures.openapi["components"].(map[string]any)
	fixtures.examples, _ = comps["examples"].(map[string]any)
	if len(fixtures.examples) == 0 {
		return fmt.Errorf("%s has no components.examples", openapiPkg)
	}
	return nil
}

// payload is a JSON object being edited.
type payload map[string]any

// example returns a fresh copy of the first recorded payload of event with
// the action whose keys satisfy has (a dotted path that must be present,
// like "installation"), or fails.
func example(t testing.TB, event, action string, has ...string) payload {
	t.Helper()
	loadFixtures(t)
	for _, raw := range fixtures.events[event] {
		var p payload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if a, _ := p["action"].(string); a != action && action != "" {
			continue
		}
		ok := true
		for _, path := range has {
			if p.get(path) == nil {
				ok = false
			}
		}
		if ok {
			return p
		}
	}
	t.Fatalf("%s has no %s/%s example with %v", examplesPkg, event, action, has)
	return nil
}

// get reads a dotted path.
func (p payload) get(path string) any {
	var cur any = map[string]any(p)
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// set writes a dotted path; the objects on the way must exist.
func (p payload) set(path string, v any) payload {
	keys := strings.Split(path, ".")
	m := map[string]any(p)
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			panic("payload has no object at " + k + " of " + path)
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
	return p
}

// openAPIExample returns a fresh copy of a components.examples value.
func openAPIExample(t testing.TB, name string) any {
	t.Helper()
	loadFixtures(t)
	ex, ok := fixtures.examples[name].(map[string]any)
	if !ok {
		t.Fatalf("%s has no example %s", openapiPkg, name)
	}
	b, err := json.Marshal(ex["value"])
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
