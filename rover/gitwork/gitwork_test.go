package gitwork

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

const secret = "ghs_s3cretInstallationToken0123456789"

// testEnv isolates git from the machine's own configuration: the global
// config is a file of the test's, HOME too.
func testEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	global := filepath.Join(home, ".gitconfig")
	if err := os.WriteFile(global, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "HOME="+home, "GIT_CONFIG_GLOBAL="+global, "GIT_CONFIG_NOSYSTEM=1")
}

func gitT(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(env, "GIT_AUTHOR_NAME=Seeder", "GIT_AUTHOR_EMAIL=seed@example.com",
		"GIT_COMMITTER_NAME=Seeder", "GIT_COMMITTER_EMAIL=seed@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// remote is a bare repository served by path, with a seeding clone that
// can add commits to main.
type remote struct {
	bare, seed string
	env        []string
}

func newRemote(t *testing.T, env []string) *remote {
	t.Helper()
	dir := t.TempDir()
	r := &remote{bare: filepath.Join(dir, "remote.git"), seed: filepath.Join(dir, "seed"), env: env}
	gitT(t, env, dir, "init", "--quiet", "--bare", "--initial-branch=main", r.bare)
	gitT(t, env, dir, "clone", "--quiet", r.bare, r.seed)
	gitT(t, env, r.seed, "checkout", "--quiet", "-b", "main")
	writeFile(t, filepath.Join(r.seed, "README.md"), "# demo\n")
	writeFile(t, filepath.Join(r.seed, "a.txt"), "one\ntwo\nthree\n")
	writeFile(t, filepath.Join(r.seed, "b.txt"), "bee\n")
	gitT(t, env, r.seed, "add", "--all")
	gitT(t, env, r.seed, "commit", "--quiet", "-m", "seed")
	gitT(t, env, r.seed, "push", "--quiet", "origin", "main")
	return r
}

func (r *remote) addCommit(t *testing.T, name string) string {
	t.Helper()
	writeFile(t, filepath.Join(r.seed, name), name+"\n")
	gitT(t, r.env, r.seed, "add", "--all")
	gitT(t, r.env, r.seed, "commit", "--quiet", "-m", "add "+name)
	gitT(t, r.env, r.seed, "push", "--quiet", "origin", "main")
	return gitT(t, r.env, r.seed, "rev-parse", "HEAD")
}

func (r *remote) repository() *wire.Repository {
	return &wire.Repository{
		CloneURL: r.bare, BaseBranch: "main",
		AuthorName: "Ada Bot", AuthorEmail: "ada-bot@example.com",
		Username: "x-access-token", Password: secret,
	}
}

// assertNoSecret fails when any file under root holds the credential.
func assertNoSecret(t *testing.T, roots ...string) {
	t.Helper()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("credential found in %s", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRepositoryRunBranchCommitDiffPush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	root := filepath.Join(t.TempDir(), "rovers", "rv1")
	m := New(root, env)
	branch := "ufo/abc-1-say-hello"

	w, err := m.Prepare(ctx, Job{OperationID: "op1", Branch: branch, Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "operations", "op1"); w.Dir != want {
		t.Errorf("work dir = %s, want %s", w.Dir, want)
	}
	if got := gitT(t, env, w.Dir, "branch", "--show-current"); got != branch {
		t.Errorf("current branch = %q, want %q", got, branch)
	}
	if got := gitT(t, env, w.Dir, "remote", "get-url", "origin"); got != r.bare {
		t.Errorf("origin = %q, want the real clone url %q", got, r.bare)
	}
	if _, err := os.Stat(m.MirrorDir(r.bare)); err != nil {
		t.Errorf("mirror: %v", err)
	}

	writeFile(t, filepath.Join(w.Dir, "HELLO.md"), "hello\nworld\n")
	writeFile(t, filepath.Join(w.Dir, "a.txt"), "one\n2\nthree\n")
	if err := os.Remove(filepath.Join(w.Dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	art, err := w.Finish(ctx, "ABC-1: Say hello", true)
	if err != nil {
		t.Fatal(err)
	}
	want := wire.Artifact{Files: 3, Insertions: 3, Deletions: 2, Branch: branch, BaseBranch: "main", Pushed: true}
	got := art
	got.Diff, got.HeadCommit = "", ""
	if got != want {
		t.Errorf("artifact = %+v, want %+v", got, want)
	}
	for _, s := range []string{"+++ b/HELLO.md", "-two", "+2", "--- a/b.txt"} {
		if !strings.Contains(art.Diff, s) {
			t.Errorf("diff lacks %q:\n%s", s, art.Diff)
		}
	}
	if pushed := gitT(t, env, r.bare, "rev-parse", "refs/heads/"+branch); pushed != art.HeadCommit {
		t.Errorf("remote branch at %s, want head commit %s", pushed, art.HeadCommit)
	}
	who := gitT(t, env, r.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", branch)
	if want := "Ada Bot <ada-bot@example.com>|Ada Bot <ada-bot@example.com>|ABC-1: Say hello"; who != want {
		t.Errorf("pushed commit = %q, want %q", who, want)
	}

	// A second operation on the same repository fetches the mirror, does
	// not clone it again, and sees what landed on main in the meantime.
	newMain := r.addCommit(t, "c.txt")
	w2, err := m.Prepare(ctx, Job{OperationID: "op2", Branch: "ufo/abc-2-other", Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Clones(); n != 1 {
		t.Errorf("mirror cloned %d times, want 1", n)
	}
	if got := gitT(t, env, w2.Dir, "rev-parse", "HEAD"); got != newMain {
		t.Errorf("second work dir starts at %s, want the new main %s", got, newMain)
	}

	assertNoSecret(t, root)
	if cfg, err := os.ReadFile(filepath.Join(w.Dir, ".git", "config")); err != nil || bytes.Contains(cfg, []byte("credential")) {
		t.Errorf(".git/config mentions a credential (err %v):\n%s", err, cfg)
	}
}

// TestPushIgnoresWhatThePilotWroteInGit plays a pilot that rewrites the
// work dir's .git to catch the credential: hooks that record their
// environment, and a push URL and URL rewrites to a repository of its own.
// The push must run none of them and reach the mission's repository only.
func TestPushIgnoresWhatThePilotWroteInGit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	evil := filepath.Join(t.TempDir(), "evil.git")
	gitT(t, env, t.TempDir(), "init", "--quiet", "--bare", evil)
	root := filepath.Join(t.TempDir(), "rv")
	m := New(root, env)
	branch := "ufo/abc-9-hooked"
	w, err := m.Prepare(ctx, Job{OperationID: "op9", Branch: branch, Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}

	seen := filepath.Join(t.TempDir(), "hooks-seen")
	hook := "#!/bin/sh\n{ echo \"hook $(basename \"$0\")\"; env; } >>" + seen + "\n"
	for _, name := range []string{"pre-push", "reference-transaction", "post-commit"} {
		if err := os.WriteFile(filepath.Join(w.Dir, ".git", "hooks", name), []byte(hook), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gitT(t, env, w.Dir, "config", "remote.origin.pushurl", evil)
	gitT(t, env, w.Dir, "config", "url."+evil+".insteadOf", r.bare)
	gitT(t, env, w.Dir, "config", "url."+evil+".pushInsteadOf", r.bare)
	writeFile(t, filepath.Join(w.Dir, "HELLO.md"), "hello\n")
	art, err := w.Finish(ctx, "ABC-9: hooked", true)
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(seen)
	if err != nil || !bytes.Contains(b, []byte("hook post-commit")) {
		// The rover's commit runs post-commit: without it, the hooks
		// would prove nothing.
		t.Fatalf("the work dir's hooks never ran (%v): the test is broken", err)
	}
	if bytes.Contains(b, []byte("hook pre-push")) {
		t.Error("the push ran the work dir's pre-push hook")
	}
	if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("UFO_GIT_PASSWORD")) {
		t.Error("a hook of the work dir saw the credential")
	}
	if refs := gitT(t, env, evil, "for-each-ref"); refs != "" {
		t.Errorf("the pilot's repository got %q", refs)
	}
	if pushed := gitT(t, env, r.bare, "rev-parse", "refs/heads/"+branch); !art.Pushed || pushed != art.HeadCommit {
		t.Errorf("pushed=%v, remote branch at %s, want %s", art.Pushed, pushed, art.HeadCommit)
	}
	assertNoSecret(t, root, filepath.Dir(seen))
}

func TestFollowUpReusesRemoteBranch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	branch := "ufo/abc-3-follow"
	first := New(filepath.Join(t.TempDir(), "rovers", "rv1"), env)
	w, err := first.Prepare(ctx, Job{OperationID: "op3", Branch: branch, Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}
	if w.Kept {
		t.Error("the first run's work dir says it was kept")
	}
	writeFile(t, filepath.Join(w.Dir, "HELLO.md"), "hello\n")
	art1, err := w.Finish(ctx, "ABC-3: first", true)
	if err != nil {
		t.Fatal(err)
	}

	// Another rover (no local branch) and the same rover (local and remote
	// branch) both continue from the pushed branch.
	// Only the same rover keeps its work dir, where a session can resume.
	for _, tc := range []struct {
		name string
		m    *Manager
		kept bool
	}{
		{"other rover", New(filepath.Join(t.TempDir(), "rovers", "rv2"), env), false},
		{"same rover", first, true},
	} {
		w, err := tc.m.Prepare(ctx, Job{OperationID: "op3", Branch: branch, Repository: r.repository()})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if w.Kept != tc.kept {
			t.Errorf("%s: work dir kept = %v, want %v", tc.name, w.Kept, tc.kept)
		}
		if got := gitT(t, env, w.Dir, "rev-parse", "HEAD"); got != art1.HeadCommit {
			t.Errorf("%s: follow-up starts at %s, want the pushed branch %s", tc.name, got, art1.HeadCommit)
		}
		// Leave uncommitted dirt behind, as a run that lost its lease would,
		// and the lock of a git killed mid-checkout.
		writeFile(t, filepath.Join(w.Dir, "junk.txt"), "junk\n")
		writeFile(t, filepath.Join(w.Dir, ".git", "index.lock"), "")
	}

	w3, err := first.Prepare(ctx, Job{OperationID: "op3", Branch: branch, Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w3.Dir, "junk.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dirt of an earlier run survived Prepare: %v", err)
	}
	writeFile(t, filepath.Join(w3.Dir, "MORE.md"), "more\nand more\n")
	art3, err := w3.Finish(ctx, "ABC-3: second", true)
	if err != nil {
		t.Fatal(err)
	}
	if art3.Files != 2 || art3.Insertions != 3 || art3.Deletions != 0 || !art3.Pushed {
		t.Errorf("follow-up artifact = %+v, want 2 files, 3 insertions (the whole branch) and pushed", art3)
	}
	if parent := gitT(t, env, r.bare, "rev-parse", branch+"^"); parent != art1.HeadCommit {
		t.Errorf("follow-up commit's parent = %s, want the first run's %s", parent, art1.HeadCommit)
	}
}

func TestNothingChangedPushesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	m := New(filepath.Join(t.TempDir(), "rv"), env)
	w, err := m.Prepare(ctx, Job{OperationID: "op", Branch: "ufo/abc-4-noop", Repository: r.repository()})
	if err != nil {
		t.Fatal(err)
	}
	art, err := w.Finish(ctx, "ABC-4: noop", true)
	if err != nil {
		t.Fatal(err)
	}
	main := gitT(t, env, r.bare, "rev-parse", "main")
	if art.HeadCommit != main || art.Diff != "" || art.Files != 0 || art.Pushed {
		t.Errorf("artifact = %+v, want no commit (head %s), no diff, not pushed", art, main)
	}
	if out := gitT(t, env, r.bare, "branch", "--list", "ufo/*"); out != "" {
		t.Errorf("remote has branches %q, want none", out)
	}
}

func TestFailedRunIsDiffedNotKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	m := New(filepath.Join(t.TempDir(), "rv"), env)
	job := Job{OperationID: "op", Branch: "ufo/abc-8-fail", Repository: r.repository()}
	w, err := m.Prepare(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	base := gitT(t, env, w.Dir, "rev-parse", "HEAD")
	writeFile(t, filepath.Join(w.Dir, "HALF.md"), "half done\n")
	art, err := w.Finish(ctx, "ABC-8: failed", false)
	if err != nil {
		t.Fatal(err)
	}
	if art.Files != 1 || art.Insertions != 1 || !strings.Contains(art.Diff, "+half done") || art.Pushed || art.HeadCommit != base {
		t.Errorf("artifact = %+v, want the change diffed, no commit (head %s), not pushed", art, base)
	}
	if out := gitT(t, env, r.bare, "branch", "--list", "ufo/*"); out != "" {
		t.Errorf("remote has branches %q, want none", out)
	}
	// The retry starts from the branch as it was, without the failed work.
	w, err = m.Prepare(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(w.Dir, "HALF.md")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the failed run's work survived into the retry: %v", err)
	}
}

func TestLocalWorkDirWithoutRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	m := New(filepath.Join(t.TempDir(), "rv"), env)
	job := Job{OperationID: "op5", Branch: "ufo/abc-5-local"}
	w, err := m.Prepare(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if got := gitT(t, env, w.Dir, "branch", "--show-current"); got != job.Branch {
		t.Errorf("branch = %q, want %q", got, job.Branch)
	}
	if n := gitT(t, env, w.Dir, "rev-list", "--count", "main"); n != "1" {
		t.Errorf("main has %s commits, want the one empty commit", n)
	}
	writeFile(t, filepath.Join(w.Dir, "HELLO.md"), "hello\n")
	art, err := w.Finish(ctx, "ABC-5: hello", true)
	if err != nil {
		t.Fatal(err)
	}
	if art.Files != 1 || art.Insertions != 1 || art.Pushed || art.BaseBranch != "main" || !strings.Contains(art.Diff, "+++ b/HELLO.md") {
		t.Errorf("artifact = %+v, want HELLO.md diffed against main and not pushed", art)
	}

	// The follow-up continues the local branch.
	w, err = m.Prepare(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Kept {
		t.Error("the follow-up's work dir was not kept")
	}
	writeFile(t, filepath.Join(w.Dir, "MORE.md"), "more\n")
	art, err = w.Finish(ctx, "ABC-5: more", true)
	if err != nil {
		t.Fatal(err)
	}
	if art.Files != 2 || art.Insertions != 2 {
		t.Errorf("follow-up artifact = %+v, want both files of the branch", art)
	}
	if m.Clones() != 0 {
		t.Errorf("clones = %d without a repository", m.Clones())
	}
}

// TestWorkDirFollowsTheMissionsRepository reuses one operation's work dir
// as its mission's repository changes: made without one, then for a
// repository, then for another, then for that one with its history
// rewritten. Each time the work dir must start from the repository's base,
// not keep the history of what it was made from.
func TestWorkDirFollowsTheMissionsRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	m := New(filepath.Join(t.TempDir(), "rv"), env)
	branch := "ufo/abc-10-moved"
	w, err := m.Prepare(ctx, Job{OperationID: "op10", Branch: branch})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Dir, "LOCAL.md"), "local\n")
	if _, err := w.Finish(ctx, "ABC-10: local", true); err != nil {
		t.Fatal(err)
	}

	run := func(name string, r *remote) {
		t.Helper()
		w, err := m.Prepare(ctx, Job{OperationID: "op10", Branch: branch, Repository: r.repository()})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w.Kept {
			t.Errorf("%s: a work dir made from elsewhere was kept", name)
		}
		writeFile(t, filepath.Join(w.Dir, "HELLO.md"), name+"\n")
		art, err := w.Finish(ctx, "ABC-10: "+name, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := gitT(t, env, w.Dir, "config", "remote.origin.url"); got != r.bare {
			t.Errorf("%s: origin = %q, want %q", name, got, r.bare)
		}
		if art.Files != 1 || art.Insertions != 1 || !art.Pushed || !strings.Contains(art.Diff, "+"+name) {
			t.Errorf("%s: artifact = %+v, want HELLO.md alone diffed against the repository's main, and pushed", name, art)
		}
		if parent, main := gitT(t, env, r.bare, "rev-parse", branch+"^"), gitT(t, env, r.bare, "rev-parse", "main"); parent != main {
			t.Errorf("%s: pushed branch starts at %s, want the repository's main %s", name, parent, main)
		}
	}
	run("first repository", newRemote(t, env))
	r := newRemote(t, env)
	run("second repository", r)
	// The same URL, now with a history the work dir's branch shares nothing
	// with, and without the pushed branch.
	gitT(t, env, r.seed, "commit", "--quiet", "--amend", "-m", "another seed")
	gitT(t, env, r.seed, "push", "--quiet", "--force", "origin", "main")
	gitT(t, env, r.bare, "branch", "--quiet", "-D", branch)
	run("rewritten repository", r)
}

func TestGitFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testEnv(t)
	r := newRemote(t, env)
	m := New(filepath.Join(t.TempDir(), "rv"), env)
	missing := r.repository()
	missing.CloneURL = filepath.Join(t.TempDir(), "nowhere.git")
	noBase := r.repository()
	noBase.BaseBranch = "develop"
	for _, tc := range []struct {
		name string
		job  Job
		want string
	}{
		{"unreachable", Job{OperationID: "a", Branch: "ufo/x", Repository: missing}, "git clone"},
		{"no base branch", Job{OperationID: "b", Branch: "ufo/x", Repository: noBase}, `base branch "develop" not found`},
		{"bad branch", Job{OperationID: "c", Branch: "ufo/bad..name", Repository: r.repository()}, "branch"},
		{"bad operation id", Job{OperationID: "../escape", Branch: "ufo/x"}, "operation id"},
	} {
		_, err := m.Prepare(ctx, tc.job)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the credential: %v", tc.name, err)
		}
	}
}

// TestCredentialOverHTTP serves the remote with git http-backend behind
// basic auth: the credential must reach git through the environment, and
// no helper configured on the machine may store it.
func TestCredentialOverHTTP(t *testing.T) {
	t.Parallel()
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env := testEnv(t)
	var home, global string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok {
			home = v
		}
		if v, ok := strings.CutPrefix(kv, "GIT_CONFIG_GLOBAL="); ok {
			global = v
		}
	}
	// A machine whose git stores every credential it is given.
	writeFile(t, global, "[credential]\n\thelper = store\n")
	r := newRemote(t, env)
	gitT(t, env, r.bare, "config", "http.receivepack", "true")

	cgiHandler := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + filepath.Dir(r.bare), "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + global},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || user != "x-access-token" || pass != secret {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		cgiHandler.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)

	repo := r.repository()
	repo.CloneURL = srv.URL + "/remote.git"
	root := filepath.Join(t.TempDir(), "rv")
	m := New(root, env)
	w, err := m.Prepare(ctx, Job{OperationID: "op6", Branch: "ufo/abc-6-http", Repository: repo})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(w.Dir, "HELLO.md"), "hello\n")
	art, err := w.Finish(ctx, "ABC-6: over http", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := gitT(t, env, r.bare, "rev-parse", "refs/heads/ufo/abc-6-http"); !art.Pushed || got != art.HeadCommit {
		t.Errorf("pushed=%v, remote branch at %s, want %s", art.Pushed, got, art.HeadCommit)
	}
	if _, err := os.Stat(filepath.Join(home, ".git-credentials")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the machine's credential helper stored the credential: %v", err)
	}
	assertNoSecret(t, root, home)

	// A wrong credential fails the run, and the error does not show it.
	wrong := *repo
	wrong.Password = "wrong-" + secret
	_, err = New(filepath.Join(t.TempDir(), "rv2"), env).Prepare(ctx, Job{OperationID: "op7", Branch: "ufo/x", Repository: &wrong})
	var gerr *Error
	if !errors.As(err, &gerr) || gerr.Command != "clone" {
		t.Fatalf("wrong credential: err = %v, want a failed git clone", err)
	}
	if strings.Contains(err.Error(), wrong.Password) {
		t.Errorf("error shows the credential: %v", err)
	}
}

func TestTruncateDiff(t *testing.T) {
	t.Parallel()
	line := strings.Repeat("x", 99) + "\n"
	big := strings.Repeat(line, MaxDiffBytes/len(line)+10)
	got := TruncateDiff(big, MaxDiffBytes)
	if len(got) > MaxDiffBytes+100 || !strings.HasSuffix(got, " bytes shown]\n") {
		t.Errorf("truncated diff: %d bytes, ends %q", len(got), got[len(got)-40:])
	}
	if small := "diff\n"; TruncateDiff(small, MaxDiffBytes) != small {
		t.Error("a small diff was changed")
	}
}
