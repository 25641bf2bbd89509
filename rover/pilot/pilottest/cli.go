package pilottest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

// CodexModel is a model name codex knows: with an unknown one it reports
// an error item and offers no apply_patch tool.
const CodexModel = "gpt-5.5"

// CLIs are the installed pilot CLIs.
type CLIs struct {
	Claude, ClaudeVersion string
	Codex, CodexVersion   string
}

var install struct {
	once sync.Once
	clis CLIs
	skip string
	err  error
}

// InstallCLIs returns the real claude and codex CLIs at the versions pinned
// in rover/pilot/testdata/node/package.json, installing them with npm into
// $UFO_TEST_NODE_DIR (default rover/pilot/testdata/node) when they are
// missing or at other versions. It skips the test when npm is absent,
// unless CI is set: then it fails. CI installs them ahead with
//
//	npm ci --prefix rover/pilot/testdata/node
func InstallCLIs(t testing.TB) CLIs {
	t.Helper()
	install.once.Do(func() {
		install.clis, install.skip, install.err = installCLIs()
	})
	switch {
	case install.err != nil:
		t.Fatalf("install pilot CLIs: %v", install.err)
	case install.skip != "" && os.Getenv("CI") != "":
		t.Fatalf("%s (CI is set, so this fails instead of skipping)", install.skip)
	case install.skip != "":
		t.Skip(install.skip)
	}
	return install.clis
}

func installCLIs() (CLIs, string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return CLIs{}, "", fmt.Errorf("locate the pilottest package")
	}
	pinned := filepath.Join(filepath.Dir(self), "..", "testdata", "node")
	dir := os.Getenv("UFO_TEST_NODE_DIR")
	if dir == "" {
		dir = pinned
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return CLIs{}, "", err
	}
	want, err := readDeps(filepath.Join(pinned, "package.json"))
	if err != nil {
		return CLIs{}, "", err
	}
	if clis, ok := installed(dir, want); ok {
		return clis, "", nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return CLIs{}, "npm not found: install Node.js and npm to run the tests against the real claude and codex CLIs", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return CLIs{}, "", err
	}
	// Test binaries of several packages may install at once.
	unlock, err := lockDir(dir)
	if err != nil {
		return CLIs{}, "", err
	}
	defer unlock()
	if clis, ok := installed(dir, want); ok {
		return clis, "", nil
	}
	if dir != filepath.Clean(pinned) {
		for _, name := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(pinned, name))
			if err != nil {
				return CLIs{}, "", err
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return CLIs{}, "", err
			}
		}
	}
	cmd := exec.Command(npm, "ci", "--prefix", dir, "--no-audit", "--no-fund")
	if out, err := cmd.CombinedOutput(); err != nil {
		return CLIs{}, "", fmt.Errorf("npm ci --prefix %s: %w\n%s", dir, err, out)
	}
	if clis, ok := installed(dir, want); ok {
		return clis, "", nil
	}
	return CLIs{}, "", fmt.Errorf("npm ci --prefix %s did not install %v", dir, want)
}

func readDeps(path string) (map[string]string, error) {
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

// installed reports the CLIs in dir when both are there at the wanted
// versions.
func installed(dir string, want map[string]string) (CLIs, bool) {
	version := func(pkg string) string {
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
		if err != nil {
			return ""
		}
		var p struct {
			Version string `json:"version"`
		}
		_ = json.Unmarshal(b, &p)
		return p.Version
	}
	const claudePkg, codexPkg = "@anthropic-ai/claude-code", "@openai/codex"
	c := CLIs{
		Claude: filepath.Join(dir, "node_modules", ".bin", "claude"), ClaudeVersion: version(claudePkg),
		Codex: filepath.Join(dir, "node_modules", ".bin", "codex"), CodexVersion: version(codexPkg),
	}
	if c.ClaudeVersion != want[claudePkg] || c.CodexVersion != want[codexPkg] {
		return CLIs{}, false
	}
	for _, bin := range []string{c.Claude, c.Codex} {
		if _, err := os.Stat(bin); err != nil {
			return CLIs{}, false
		}
	}
	return c, true
}

func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// ClaudeEnv is the environment of an offline claude run against the fake,
// with home as HOME and home/.claude as CLAUDE_CONFIG_DIR (where sessions
// are kept: resume with the same home). Model errors fail at once.
func (s *Server) ClaudeEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"ANTHROPIC_BASE_URL=" + s.URL,
		"ANTHROPIC_API_KEY=fake-anthropic-key",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"CLAUDE_CONFIG_DIR=" + filepath.Join(home, ".claude"),
		"CLAUDE_CODE_MAX_RETRIES=0",
	}
}

// CodexEnv is the environment of an offline codex run, with home as HOME,
// home/.codex as CODEX_HOME (sessions are kept there: resume with the same
// home) and home/tmp as TMPDIR. It creates those directories.
func CodexEnv(t testing.TB, home string) []string {
	t.Helper()
	for _, d := range []string{".codex", "tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"PATH=" + os.Getenv("PATH"), // codex is a node script
		"HOME=" + home,
		"CODEX_HOME=" + filepath.Join(home, ".codex"),
		"TMPDIR=" + filepath.Join(home, "tmp"),
	}
}

// CodexArgs are the extra codex arguments that make the fake its model
// provider, without retries, and stop its look-ups of outside hosts.
func (s *Server) CodexArgs() []string {
	return []string{
		"-c", "model_provider=fake",
		"-c", "model_providers.fake.name=fake",
		"-c", fmt.Sprintf("model_providers.fake.base_url=%q", s.URL+"/v1"),
		"-c", "model_providers.fake.wire_api=responses",
		"-c", "model_providers.fake.request_max_retries=0",
		"-c", "model_providers.fake.stream_max_retries=0",
		"-c", "analytics.enabled=false",
		"--disable", "plugins",
	}
}
