package pilot

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// versionTimeout bounds each `--version` call of Detect.
const versionTimeout = 5 * time.Second

// Detect lists the pilots this host can run: claude and codex when they are
// on PATH, with the version they report, and always exec.
func Detect(ctx context.Context) []wire.CLI {
	return detect(ctx, os.Getenv("PATH"))
}

func detect(ctx context.Context, path string) []wire.CLI {
	env := []string{"PATH=" + path}
	var out []wire.CLI
	for _, kind := range []string{KindClaude, KindCodex} {
		p, err := lookPath(kind, env)
		if err != nil {
			continue
		}
		out = append(out, wire.CLI{Kind: kind, Path: p, Version: version(ctx, p)})
	}
	return append(out, wire.CLI{Kind: KindExec})
}

// version returns the first line the CLI prints for --version, or "" when
// it fails or takes too long.
func version(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.WaitDelay = time.Second // a child holding stdout must not hold us
	b, err := cmd.Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(line)
}
