package github_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/wire"
)

// TestRealRover runs the story with the real rover runtime (package
// rover, as `ufo rover start --once` runs it) and an exec pilot: it clones
// the repository from the fake GitHub over HTTP with the token minted at
// claim time, runs the pilot, commits, pushes the branch; the App opens
// the pull request; a review asking for changes makes the next run push a
// second commit to the same branch, and review is asked again; the merge
// makes the operation done.
func TestRealRover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.admin.Call("POST", "/api/pilots?fleet="+e.fleet, map[string]any{"name": "scribe", "kind": "exec", "settings": map[string]string{
		"command": `printf '%s\n\n' "$UFO_PROMPT" >> NOTES.md && echo '{"type":"usage","data":{"input_tokens":10,"output_tokens":5,"cost_usd":0.25}}' && echo "Wrote the prompt to NOTES.md."`,
	}}, 201, nil)
	var code struct{ Code string }
	e.admin.Call("POST", "/api/rovers/enrollment-codes?fleet="+e.fleet, map[string]any{"name": "ci-runner"}, 201, &code)
	cfg := rover.Config{Server: e.web.URL, Home: t.TempDir(), EnrollmentCode: code.Code, Name: "ci-runner", Wait: 5 * time.Second,
		Logger: e.log, Detect: func(context.Context) []wire.CLI { return []wire.CLI{{Kind: "exec"}} },
		Environ: append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")}
	once := func() {
		t.Helper()
		out, err := rover.Once(context.Background(), cfg)
		if err != nil || out.Status != wire.RunSucceeded {
			t.Fatalf("rover.Once = %+v, %v", out, err)
		}
	}

	e.deliver("issues", labeled(t, "ufo:scribe", owner))
	e.waitStatus(1, "is queued for pilot `scribe`")
	once()
	e.waitStatus(1, "succeeded on rover `ci-runner`. Pull request: "+e.gh.Web.URL+"/"+repoName+"/pull/2")
	op := e.operations()[0]
	pulls := e.gh.Pulls(repoName)
	if len(pulls) != 1 || pulls[0].Head != op.Branch || !strings.HasPrefix(pulls[0].Body, "Closes #1") ||
		!strings.Contains(pulls[0].Body, "Wrote the prompt to NOTES.md.") || !strings.Contains(pulls[0].Body, "$0.2500") ||
		len(pulls[0].Requested) != 1 || !slices.Equal(pulls[0].Requested[0], []string{owner}) {
		t.Fatalf("pull requests = %+v", pulls)
	}
	if n := e.gh.CommitCount(repoName, "master", op.Branch); n != 1 {
		t.Fatalf("the branch has %d commits, want 1", n)
	}

	e.gh.SetPermission(repoName, "reviewer", "write")
	review := example(t, "pull_request_review", "submitted", "installation")
	review.set("review.state", "changes_requested").set("review.body", "Add a line about the README, please.")
	review.set("review.id", 91).set("review.user.login", "reviewer").set("sender.login", "reviewer")
	review.set("pull_request.number", 2).set("number", 2)
	e.deliver("pull_request_review", review)
	once()
	eventually(t, 15*time.Second, func() error {
		if p := e.gh.Pulls(repoName); len(p) != 1 || len(p[0].Requested) != 2 || !slices.Equal(p[0].Requested[1], []string{"reviewer"}) {
			return errorf("pull requests = %+v, want the one, with review asked again of the reviewer", p)
		}
		return nil
	})
	if n := e.gh.CommitCount(repoName, "master", op.Branch); n != 2 {
		t.Fatalf("the branch has %d commits after the follow-up, want 2", n)
	}
	notes := gitRun(t, "", "-C", filepath.Join(e.gh.root, repoName+".git"), "show", op.Branch+":NOTES.md")
	if !strings.Contains(notes, "Spelling error in the README file") || !strings.Contains(notes, "Add a line about the README, please.") {
		t.Fatalf("NOTES.md on the branch:\n%s", notes)
	}

	merged := example(t, "pull_request", "closed", "installation")
	merged.set("number", 2).set("pull_request.number", 2).set("pull_request.merged", true)
	e.gh.ClosePull(repoName, 2)
	e.deliver("pull_request", merged)
	e.waitStatus(1, "is done")
	e.settle()
	if got := e.operations()[0]; got.Status != "done" {
		t.Fatalf("operation = %s, want done", got.Status)
	}
}
