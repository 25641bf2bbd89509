// Package gitwork prepares the git work dir of a run and collects what the
// pilot changed in it.
//
// A rover keeps one bare mirror per repository under
// <root>/mirrors/<sha256(clone url)[:16]>.git, cloned from the network once
// and fetched afterwards, and gives each operation a local clone of that
// mirror under <root>/operations/<operation id>, whose origin is the real
// clone URL. After the pilot exits the work is committed with the claim's
// author, diffed against the merge base with the base branch, fetched into
// the mirror and pushed from there. The work of a failed run is diffed but
// neither committed nor pushed.
//
// The repository credential reaches git only through the environment of
// git's own network commands, all run in the mirror and never in the work
// dir, whose .git the pilot can write: a credential helper defined in
// GIT_CONFIG_* variables for the clone URL reads it from two more
// variables. Nothing of it is written to .git/config or to any other file,
// and it is scrubbed from error messages.
package gitwork

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// MaxDiffBytes bounds the diff text reported in an artifact; the stats are
// always complete.
const MaxDiffBytes = 1 << 20

// Without a repository, the work dir's history starts from an empty commit
// on this branch, made by this author.
const (
	localBase        = "main"
	localAuthorName  = "UFO"
	localAuthorEmail = "ufo@localhost"
)

// credentialHelper answers git's "get" with the two variables set on git's
// own commands, and ignores "store" and "erase" so no helper saves it.
const credentialHelper = `!f() { test "$1" = get || exit 0; printf 'username=%s\npassword=%s\n' "$UFO_GIT_USERNAME" "$UFO_GIT_PASSWORD"; }; f`

// Manager owns a rover's mirrors and operation work dirs.
type Manager struct {
	root   string
	env    []string
	clones atomic.Int64
}

// New returns a Manager rooted at <outpost>/rovers/<rover id>. env is the
// environment git runs with (the rover's own, usually).
func New(root string, env []string) *Manager {
	return &Manager{root: root, env: gitEnv(env)}
}

// Clones counts the mirrors this Manager has cloned from the network; a
// second run of the same repository must not add to it.
func (m *Manager) Clones() int64 { return m.clones.Load() }

// MirrorDir is where the mirror of cloneURL lives.
func (m *Manager) MirrorDir(cloneURL string) string {
	sum := sha256.Sum256([]byte(cloneURL))
	return filepath.Join(m.root, "mirrors", hex.EncodeToString(sum[:])[:16]+".git")
}

// WorkDir is the work dir of an operation.
func (m *Manager) WorkDir(operationID string) string {
	return filepath.Join(m.root, "operations", operationID)
}

// Job is the git side of one run.
type Job struct {
	OperationID string
	Branch      string
	Repository  *wire.Repository // nil: a local repository with no remote
}

// Work is a prepared work dir, checked out on the run's branch.
type Work struct {
	Dir        string
	Branch     string
	BaseBranch string
	// Kept is true when the work dir an earlier run of the operation left
	// on this rover was kept, with its branch and files (a pilot session
	// made in it may be resumed; the rover lists which were).
	Kept bool

	m       *Manager
	repo    *wire.Repository
	baseRef string // what the diff is taken against
	author  []string
}

// Prepare makes the work dir of job ready for the pilot: mirrored, cloned
// or fetched, and on the job's branch (the existing one for a follow-up).
func (m *Manager) Prepare(ctx context.Context, job Job) (*Work, error) {
	if err := ValidName(job.OperationID); err != nil {
		return nil, fmt.Errorf("operation id: %w", err)
	}
	if err := m.checkBranch(ctx, job.Branch); err != nil {
		return nil, err
	}
	w := &Work{Dir: m.WorkDir(job.OperationID), Branch: job.Branch, m: m, repo: job.Repository}
	if job.Repository == nil {
		w.BaseBranch, w.baseRef = localBase, "refs/heads/"+localBase
		w.author = authorEnv(localAuthorName, localAuthorEmail)
		return w, w.prepareLocal(ctx)
	}
	if job.Repository.CloneURL == "" {
		return nil, errors.New("repository has no clone url")
	}
	w.author = authorEnv(job.Repository.AuthorName, job.Repository.AuthorEmail)
	return w, w.prepareClone(ctx)
}

func (w *Work) prepareLocal(ctx context.Context) error {
	w.Kept = isRepo(w.Dir)
	if !w.Kept {
		if err := os.RemoveAll(w.Dir); err != nil {
			return fmt.Errorf("clear work dir: %w", err)
		}
		if err := os.MkdirAll(w.Dir, 0o755); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		if _, err := w.git(ctx, nil, "init", "--quiet", "--initial-branch="+localBase); err != nil {
			return err
		}
		if _, err := w.git(ctx, w.author, "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify",
			"--allow-empty", "--message", "Start an empty work dir"); err != nil {
			return err
		}
	}
	start := w.baseRef
	if w.refExists(ctx, "refs/heads/"+w.Branch) {
		start = ""
	}
	return w.checkout(ctx, start)
}

func (w *Work) prepareClone(ctx context.Context) error {
	mirror, err := w.m.mirror(ctx, w.repo)
	if err != nil {
		return err
	}
	w.BaseBranch = w.repo.BaseBranch
	if w.BaseBranch == "" {
		head, err := w.m.run(ctx, mirror, nil, "symbolic-ref", "--short", "HEAD")
		if err != nil {
			return fmt.Errorf("find the default branch: %w", err)
		}
		w.BaseBranch = head
	}
	w.baseRef = "refs/remotes/origin/" + w.BaseBranch
	if w.Kept, err = w.fetch(ctx, mirror); err != nil {
		return err
	}
	if !w.Kept {
		if err := w.clone(ctx, mirror); err != nil {
			return err
		}
	}
	if !w.refExists(ctx, w.baseRef) {
		return fmt.Errorf("base branch %q not found in %s", w.BaseBranch, w.repo.CloneURL)
	}
	// The remote branch wins over a local one: it is what the last
	// successful run pushed, plus whatever people added to it since.
	remote, local := "refs/remotes/origin/"+w.Branch, "refs/heads/"+w.Branch
	if w.refExists(ctx, remote) {
		return w.checkout(ctx, remote)
	}
	if !w.Kept || !w.refExists(ctx, local) {
		return w.checkout(ctx, w.baseRef)
	}
	// A local branch a follow-up would continue must share history with
	// the base, or every diff against it fails (the repository's history
	// was replaced): the work dir is then made afresh.
	switch _, err := w.git(ctx, nil, "merge-base", local, w.baseRef); {
	case err == nil:
		return w.checkout(ctx, "")
	case !isExit(err, 1):
		return err
	}
	w.Kept = false
	if err := w.clone(ctx, mirror); err != nil {
		return err
	}
	return w.checkout(ctx, w.baseRef)
}

// fetch brings the work dir an earlier run left up to date with the
// mirror, and reports whether it was made from this repository and so can
// be kept. It was not when there is none, or when it has no origin (as
// after a run without a repository) or another one.
func (w *Work) fetch(ctx context.Context, mirror string) (bool, error) {
	if !isRepo(w.Dir) {
		return false, nil
	}
	// No git runs in a work dir between runs: a lock file there is left by
	// one that died (a rover killed mid-checkout), and would fail every
	// later run of the operation on this host. (actions/checkout does the
	// same.)
	for _, lock := range []string{"index.lock", "shallow.lock", "HEAD.lock"} {
		os.Remove(filepath.Join(w.Dir, ".git", lock))
	}
	origin, err := w.git(ctx, nil, "config", "--get", "remote.origin.url")
	if err != nil && !isExit(err, 1) {
		return false, err
	}
	if origin != w.repo.CloneURL {
		return false, nil
	}
	_, err = w.git(ctx, nil, "fetch", "--quiet", "--prune", mirror, "+refs/heads/*:refs/remotes/origin/*")
	return err == nil, err
}

// clone makes the work dir afresh, a clone of the mirror whose origin is
// the clone URL.
func (w *Work) clone(ctx context.Context, mirror string) error {
	if err := os.RemoveAll(w.Dir); err != nil {
		return fmt.Errorf("clear work dir: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(w.Dir), 0o755); err != nil {
		return fmt.Errorf("create operations dir: %w", err)
	}
	if _, err := w.m.run(ctx, filepath.Dir(w.Dir), nil, "clone", "--quiet", "--no-checkout", mirror, w.Dir); err != nil {
		return err
	}
	_, err := w.git(ctx, nil, "remote", "set-url", "origin", w.repo.CloneURL)
	return err
}

// checkout puts the work dir on w.Branch, (re)created at start unless start
// is empty, and removes what an earlier run left uncommitted.
func (w *Work) checkout(ctx context.Context, start string) error {
	args := []string{"checkout", "--quiet", "--force"}
	if start == "" {
		args = append(args, w.Branch)
	} else {
		args = append(args, "--no-track", "-B", w.Branch, start)
	}
	if _, err := w.git(ctx, nil, args...); err != nil {
		return err
	}
	_, err := w.git(ctx, nil, "clean", "-ffdq")
	return err
}

// mirror clones the repository's bare mirror the first time and fetches it
// afterwards, and returns its path.
func (m *Manager) mirror(ctx context.Context, repo *wire.Repository) (string, error) {
	dir := m.MirrorDir(repo.CloneURL)
	cred := credentialEnv(repo)
	if isBare(dir) {
		if _, err := m.runSecret(ctx, dir, cred, repo.Password, "fetch", "--quiet", "--prune", "origin"); err != nil {
			return "", err
		}
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create mirrors dir: %w", err)
	}
	// Clone next to the final place and rename, so an interrupted clone is
	// never taken for a mirror.
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("create mirror dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := m.runSecret(ctx, parent, cred, repo.Password, "clone", "--quiet", "--mirror", repo.CloneURL, tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear mirror dir: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("move mirror into place: %w", err)
	}
	m.clones.Add(1)
	return dir, nil
}

// Finish collects what the pilot changed and diffs it against the merge
// base with the base branch. When keep is set (the run succeeded) the
// changes are committed (nothing when nothing changed) and, with a
// repository, the branch is pushed to origin. Otherwise they are only
// staged and diffed: the next Prepare discards them, so a retry starts from
// the branch as the last good run left it.
func (w *Work) Finish(ctx context.Context, message string, keep bool) (wire.Artifact, error) {
	art := wire.Artifact{Branch: w.Branch, BaseBranch: w.BaseBranch}
	if _, err := w.git(ctx, nil, "add", "--all"); err != nil {
		return art, err
	}
	if keep {
		if _, err := w.git(ctx, nil, "diff", "--cached", "--quiet"); err != nil {
			if !isExit(err, 1) {
				return art, err
			}
			if _, err := w.git(ctx, w.author, "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify",
				"--message", message); err != nil {
				return art, err
			}
		}
	}
	head, err := w.git(ctx, nil, "rev-parse", "HEAD")
	if err != nil {
		return art, err
	}
	art.HeadCommit = head
	base, err := w.git(ctx, nil, "merge-base", "HEAD", w.baseRef)
	if err != nil {
		return art, err
	}
	if err := w.diff(ctx, base, &art); err != nil {
		return art, err
	}
	if !keep || w.repo == nil {
		return art, nil
	}
	ahead, err := w.git(ctx, nil, "rev-list", "--count", w.baseRef+"..HEAD")
	if err != nil {
		return art, err
	}
	if ahead == "0" {
		return art, nil // nothing to push: the branch is the base
	}
	if err := w.push(ctx, head); err != nil {
		return art, err
	}
	art.Pushed = true
	return art, nil
}

// push sends head to the run's branch at the mission's clone URL. The work
// dir's .git is the pilot's to write (hooks, remote.origin.pushurl,
// url.*.insteadOf), so git never runs there with the credential: the
// commits are fetched into the rover's own mirror, which needs none, and
// pushed from it to the clone URL given explicitly, with no hook run.
func (w *Work) push(ctx context.Context, head string) error {
	mirror := w.m.MirrorDir(w.repo.CloneURL)
	if _, err := w.m.run(ctx, mirror, nil, noHooks("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", w.Dir, "HEAD")...); err != nil {
		return fmt.Errorf("take the work into the mirror: %w", err)
	}
	if _, err := w.m.run(ctx, mirror, nil, "cat-file", "-e", head+"^{commit}"); err != nil {
		return fmt.Errorf("take the work into the mirror: commit %s missing: %w", head, err)
	}
	_, err := w.m.runSecret(ctx, mirror, credentialEnv(w.repo), w.repo.Password,
		noHooks("push", "--quiet", "--no-verify", w.repo.CloneURL, head+":refs/heads/"+w.Branch)...)
	return err
}

// noHooks is a git command line that runs no hook, whatever the
// repository's own configuration says.
func noHooks(args ...string) []string {
	return append([]string{"-c", "core.hooksPath=/dev/null"}, args...)
}

// diff fills the artifact with the index (what was committed, or staged)
// against base.
func (w *Work) diff(ctx context.Context, base string, art *wire.Artifact) error {
	flags := []string{"diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv"}
	text, err := w.m.runRaw(ctx, w.Dir, nil, "", append(flags, base)...)
	if err != nil {
		return err
	}
	art.Diff = TruncateDiff(text, MaxDiffBytes)
	stats, err := w.git(ctx, nil, append(flags, "--numstat", base)...)
	if err != nil {
		return err
	}
	for line := range strings.Lines(stats) {
		fields := strings.SplitN(strings.TrimSpace(line), "\t", 3)
		if len(fields) < 3 {
			continue
		}
		art.Files++
		// Binary files show "-" for both counts.
		if n, err := strconv.Atoi(fields[0]); err == nil {
			art.Insertions += n
		}
		if n, err := strconv.Atoi(fields[1]); err == nil {
			art.Deletions += n
		}
	}
	return nil
}

// TruncateDiff cuts a diff to at most about max bytes, at a line end, and
// says so in a last line.
func TruncateDiff(text string, max int) string {
	if len(text) <= max {
		return text
	}
	cut := strings.LastIndexByte(text[:max], '\n') + 1
	return text[:cut] + fmt.Sprintf("[diff truncated: %d of %d bytes shown]\n", cut, len(text))
}

func (m *Manager) checkBranch(ctx context.Context, branch string) error {
	if branch == "" {
		return errors.New("the run has no branch")
	}
	if _, err := m.run(ctx, "", nil, "check-ref-format", "--branch", branch); err != nil {
		return fmt.Errorf("branch %q: %w", branch, err)
	}
	return nil
}

func (w *Work) refExists(ctx context.Context, ref string) bool {
	_, err := w.git(ctx, nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	return err == nil
}

func (w *Work) git(ctx context.Context, extraEnv []string, args ...string) (string, error) {
	return w.m.run(ctx, w.Dir, extraEnv, args...)
}

func (m *Manager) run(ctx context.Context, dir string, extraEnv []string, args ...string) (string, error) {
	out, err := m.runRaw(ctx, dir, extraEnv, "", args...)
	return strings.TrimSpace(out), err
}

func (m *Manager) runSecret(ctx context.Context, dir string, extraEnv []string, secret string, args ...string) (string, error) {
	out, err := m.runRaw(ctx, dir, extraEnv, secret, args...)
	return strings.TrimSpace(out), err
}

// runRaw runs git and returns its stdout. A failure carries the command and
// the last lines of stderr, with secret scrubbed out.
func (m *Manager) runRaw(ctx context.Context, dir string, extraEnv []string, secret string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	// Stopped, git is asked first (SIGTERM, on which it removes its lock
	// files: a SIGKILL would leave index.lock behind and wedge the work
	// dir), and killed if it has not gone 10 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(m.env), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
		if msg != "" {
			return "", &Error{Command: subcommand(args), Err: err, Stderr: msg}
		}
		return "", &Error{Command: subcommand(args), Err: err}
	}
	return stdout.String(), nil
}

// subcommand is the git subcommand of args, after any "-c name=value".
func subcommand(args []string) string {
	for len(args) > 2 && args[0] == "-c" {
		args = args[2:]
	}
	return args[0]
}

// Error is a failed git command.
type Error struct {
	Command string // the git subcommand
	Err     error
	Stderr  string
}

func (e *Error) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("git %s: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("git %s: %v: %s", e.Command, e.Err, e.Stderr)
}

func (e *Error) Unwrap() error { return e.Err }

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == code
}

// credentialEnv is the environment that lets git's network commands
// authenticate. The empty helper first drops every helper configured
// elsewhere, so none of them is asked to store the credential; ours is
// defined for the clone URL only, so git offers the credential to no other
// host (a redirect, a rewritten URL).
func credentialEnv(repo *wire.Repository) []string {
	if repo.Password == "" {
		return nil
	}
	user := repo.Username
	if user == "" {
		user = "x-access-token"
	}
	return []string{
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=credential.helper",
		"GIT_CONFIG_VALUE_0=",
		"GIT_CONFIG_KEY_1=credential." + repo.CloneURL + ".helper",
		"GIT_CONFIG_VALUE_1=" + credentialHelper,
		"UFO_GIT_USERNAME=" + user,
		"UFO_GIT_PASSWORD=" + repo.Password,
	}
}

func authorEnv(name, email string) []string {
	if name == "" {
		name = localAuthorName
	}
	if email == "" {
		email = localAuthorEmail
	}
	return []string{
		"GIT_AUTHOR_NAME=" + name, "GIT_AUTHOR_EMAIL=" + email,
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email,
	}
}

// gitEnv is env without the variables that would point git at another
// repository than the one it runs in, without a terminal prompt, and with
// a transfer that stalls (under 1 kB/s for a minute, a dead proxy) given
// up rather than holding the run for ever. A limit the rover's own
// environment sets wins.
func gitEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
			"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_PREFIX",
			"UFO_GIT_USERNAME", "UFO_GIT_PASSWORD":
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "GIT_TERMINAL_PROMPT=0")
	for _, kv := range []string{"GIT_HTTP_LOW_SPEED_LIMIT=1000", "GIT_HTTP_LOW_SPEED_TIME=60"} {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, name+"=") }) {
			out = append(out, kv)
		}
	}
	return out
}

func isRepo(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, ".git"))
	return err == nil && fi.IsDir()
}

func isBare(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "HEAD"))
	return err == nil
}

// ValidName refuses an id (of an operation, of a rover) that could not be
// used as one directory name: empty, "." or "..", or holding a separator.
func ValidName(s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`) || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%q is not usable as a directory name", s)
	}
	return nil
}
