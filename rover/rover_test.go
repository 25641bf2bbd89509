package rover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/pilot"
	"github.com/ufo-run/ufo/rover/rovertest"
	"github.com/ufo-run/ufo/rover/wire"
)

func testConfig(t *testing.T, serverURL string) Config {
	t.Helper()
	home := t.TempDir()
	return Config{
		Server:  serverURL,
		Home:    home,
		Outpost: filepath.Join(home, "outpost"),
		Tags:    []string{"linux", "test"},
		Version: "test",
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Detect:  func(context.Context) []wire.CLI { return []wire.CLI{{Kind: "exec"}} },
		Environ: append(os.Environ(),
			"UFO_ROVER_TOKEN=must-not-reach-the-pilot", "UFO_ENROLLMENT_CODE=must-not-reach-the-pilot",
			"ANTHROPIC_BASE_URL=http://127.0.0.1:1", "CODEX_HOME=/tmp/codex-home"),
		RetryMin:      10 * time.Millisecond,
		RetryMax:      100 * time.Millisecond,
		FlushInterval: 20 * time.Millisecond,
	}
}

// startRun runs Run in the background; the returned function stops it and
// returns Run's error. The test's cleanup stops it too, before the fake
// server closes.
func startRun(t *testing.T, cfg Config) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// startLoop runs one registration's loop and gives access to its rover once
// stopped.
func startLoop(t *testing.T, cfg Config, reg Registration) (*rover, func()) {
	t.Helper()
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := newRover(cfg, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return r, stop
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func textOf(t *testing.T, e wire.Event) string {
	t.Helper()
	var d struct{ Text, Message string }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("event %d: %v", e.Seq, err)
	}
	return d.Text + d.Message
}

// assertInOrder checks that events arrived once each, in sequence order,
// starting at 1 with no gap, all before the completion.
func assertInOrder(t *testing.T, run rovertest.RunState) {
	t.Helper()
	for i, e := range run.Events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d arrived with seq %d; arrival order %v", i, e.Seq, seqs(run.Events))
		}
	}
	if run.AfterComplete != 0 || run.EventsAtComplete != len(run.Events) {
		t.Errorf("%d of %d events came after the completion (%d batches late)", len(run.Events)-run.EventsAtComplete, len(run.Events), run.AfterComplete)
	}
}

func TestRunSucceedsEndToEnd(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-e2e")
	specs := make(chan pilot.Spec, 1)
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		specs <- spec
		for _, line := range []string{"reading the prompt", "writing HELLO.md"} {
			emit(wire.EventText, map[string]string{"text": line})
		}
		emit(wire.EventToolUse, map[string]any{"id": "t1", "name": "Write", "input": map[string]string{"file_path": "HELLO.md"}})
		if err := os.WriteFile(filepath.Join(spec.WorkDir, "HELLO.md"), []byte("hello\n"), 0o644); err != nil {
			return pilot.Result{Failed: true, Reason: "exit_status", Message: err.Error()}
		}
		emit(wire.EventText, map[string]string{"text": "done"})
		return pilot.Result{SessionID: "sess-1", FinalMessage: "Wrote HELLO.md", Usage: &wire.Usage{InputTokens: 12, OutputTokens: 3}}
	}
	run := f.Enqueue(wire.Claim{
		Operation: wire.Operation{ID: "op-hello", Code: "MSJ-1", Title: "Say hello"},
		Prompt:    "say hello", Pilot: wire.Pilot{Name: "sh", Kind: "exec"}, Branch: "ufo/msj-1-say-hello",
	})
	started := time.Now()
	stop := startRun(t, cfg)
	got := f.WaitDone(t, run, 10*time.Second)
	t.Logf("claim to completion: %v", time.Since(started))
	if err := stop(); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}

	c := got.Completion
	if c.Status != wire.RunSucceeded || c.SessionID != "sess-1" || c.FinalMessage != "Wrote HELLO.md" || c.Usage == nil || c.Usage.InputTokens != 12 {
		t.Errorf("completion = %+v", c)
	}
	a := c.Artifact
	if a == nil || a.Files != 1 || a.Insertions != 1 || a.Branch != "ufo/msj-1-say-hello" || a.BaseBranch != "main" || a.Pushed || a.HeadCommit == "" || !strings.Contains(a.Diff, "+++ b/HELLO.md") {
		t.Errorf("artifact = %+v", a)
	}
	if got.Starts != 1 {
		t.Errorf("start called %d times", got.Starts)
	}
	assertInOrder(t, got)
	var texts []string
	for _, e := range got.Events {
		if e.Type == wire.EventText {
			texts = append(texts, textOf(t, e))
		}
	}
	if want := []string{"reading the prompt", "writing HELLO.md", "done"}; !slices.Equal(texts, want) {
		t.Errorf("text events = %q, want %q", texts, want)
	}

	spec := <-specs
	if want := filepath.Join(cfg.Outpost, "rovers", "rv-e2e", "operations", "op-hello"); spec.WorkDir != want {
		t.Errorf("work dir = %s, want %s", spec.WorkDir, want)
	}
	if spec.Kind != "exec" || spec.Prompt != "say hello" || spec.Operation.Code != "MSJ-1" {
		t.Errorf("spec = %+v", spec)
	}
	if !slices.Contains(spec.Redact, cfg.Token) {
		t.Errorf("Redact = %q lacks the rover token", spec.Redact)
	}
	for _, kv := range spec.Env {
		if strings.HasPrefix(kv, "UFO_ROVER_TOKEN=") || strings.HasPrefix(kv, "UFO_ENROLLMENT_CODE=") || strings.Contains(kv, cfg.Token) {
			t.Errorf("pilot environment holds a rover secret: %s", kv)
		}
	}
	for _, want := range []string{"ANTHROPIC_BASE_URL=http://127.0.0.1:1", "CODEX_HOME=/tmp/codex-home"} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("pilot environment lacks %s", want)
		}
	}

	conns := f.Connects()
	if len(conns) == 0 {
		t.Fatal("no connect")
	}
	p := conns[0].Profile
	host, _ := os.Hostname()
	if p.OS == "" || p.Arch == "" || p.Hostname != host || p.CPUs < 1 || p.MemoryMB <= 0 || p.DiskFreeMB <= 0 ||
		!strings.HasPrefix(p.Git, "2.") || !slices.Equal(p.Tags, cfg.Tags) || len(p.Pilots) != 1 || p.Version != "test" {
		t.Errorf("profile = %+v", p)
	}
}

// bareRemote makes a bare repository with one commit on main, served by
// path.
func bareRemote(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "remote.git")
	seed := filepath.Join(dir, "seed")
	env := append(os.Environ(), "GIT_AUTHOR_NAME=Seeder", "GIT_AUTHOR_EMAIL=s@example.com", "GIT_COMMITTER_NAME=Seeder", "GIT_COMMITTER_EMAIL=s@example.com")
	for _, args := range [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", bare},
		{"init", "--quiet", "--initial-branch=main", seed},
		{"-C", seed, "commit", "--quiet", "--allow-empty", "-m", "seed"},
		{"-C", seed, "push", "--quiet", bare, "main"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return bare
}

func TestRunsOnARepositoryShareOneMirror(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	bare := bareRemote(t)
	const password = "ghs_shortLivedInstallationToken42"
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		name := spec.Operation.Code + ".md"
		os.WriteFile(filepath.Join(spec.WorkDir, name), []byte(spec.Prompt+"\n"), 0o644)
		emit(wire.EventText, map[string]string{"text": "wrote " + name})
		return pilot.Result{FinalMessage: "ok"}
	}
	repo := &wire.Repository{CloneURL: bare, BaseBranch: "main", AuthorName: "UFO Bot", AuthorEmail: "bot@example.com", Username: "x-access-token", Password: password}
	runs := []*rovertest.Run{
		f.Enqueue(wire.Claim{Operation: wire.Operation{ID: "op-a", Code: "ABC-1"}, Prompt: "a", Pilot: wire.Pilot{Kind: "exec"}, Branch: "ufo/abc-1-a", Repository: repo}),
		f.Enqueue(wire.Claim{Operation: wire.Operation{ID: "op-b", Code: "ABC-2"}, Prompt: "b", Pilot: wire.Pilot{Kind: "exec"}, Branch: "ufo/abc-2-b", Repository: repo}),
	}
	r, stop := startLoop(t, cfg, Registration{Server: f.URL(), RoverID: "rv-git", Token: f.AddRover("rv-git")})
	for _, run := range runs {
		got := f.WaitDone(t, run, 20*time.Second)
		a := got.Completion.Artifact
		if got.Completion.Status != wire.RunSucceeded || a == nil || !a.Pushed || a.Files != 1 {
			t.Fatalf("run %s: completion %+v, artifact %+v", got.Claim.RunID, got.Completion, a)
		}
		out, err := exec.Command("git", "-C", bare, "log", "-1", "--format=%H %an", got.Claim.Branch).Output()
		if err != nil || strings.TrimSpace(string(out)) != a.HeadCommit+" UFO Bot" {
			t.Errorf("remote %s = %q (%v), want %s by UFO Bot", got.Claim.Branch, out, err, a.HeadCommit)
		}
		for _, e := range got.Events {
			if strings.Contains(string(e.Data), password) {
				t.Errorf("event %d shows the credential", e.Seq)
			}
		}
	}
	stop()
	if n := r.git.Clones(); n != 1 {
		t.Errorf("mirror cloned %d times for two runs, want 1", n)
	}
	filepath.WalkDir(cfg.Outpost, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), password) {
				t.Errorf("credential written to %s", path)
			}
		}
		return err
	})
}

func TestGitFailureFailsTheRun(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-gitfail")
	cfg.RunPilot = func(context.Context, pilot.Spec, pilot.Emit) pilot.Result {
		t.Error("the pilot ran without a work dir")
		return pilot.Result{}
	}
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"},
		Repository: &wire.Repository{CloneURL: filepath.Join(t.TempDir(), "missing.git"), BaseBranch: "main", Password: "pw-123456"}})
	startRun(t, cfg)
	got := f.WaitDone(t, run, 10*time.Second)
	c := got.Completion
	if c.Status != wire.RunFailed || c.FailureReason != ReasonGitFailed || !strings.Contains(c.FailureMessage, "git clone") {
		t.Errorf("completion = %+v, want failed git_failed with git's message", c)
	}
	if len(got.Events) == 0 || got.Events[len(got.Events)-1].Type != wire.EventError {
		t.Errorf("events = %+v, want the git error last", got.Events)
	}
}

func TestCancelReachesThePilotThroughAHeartbeat(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	// A heartbeat every second, within a lease the rover now counts too,
	// long enough for a loaded machine.
	f.SetTimings(3, 1, 1)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-cancel")
	causes := make(chan error, 1)
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		emit(wire.EventText, map[string]string{"text": "working"})
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return pilot.Result{Failed: true, Reason: "canceled", Message: "killed"}
	}
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	startRun(t, cfg)
	waitFor(t, 5*time.Second, "the pilot's first event", func() bool { return len(f.Snapshot(run).Events) >= 2 })
	asked := time.Now()
	f.RequestCancel(run)
	got := f.WaitDone(t, run, 5*time.Second)
	t.Logf("cancel to completion: %v", time.Since(asked))
	if c := got.Completion; c.Status != wire.RunCanceled || c.FailureReason != ReasonCanceled {
		t.Errorf("completion = %+v, want canceled", c)
	}
	if cause := <-causes; !errors.Is(cause, errCancelRequested) {
		t.Errorf("pilot context ended by %v", cause)
	}
	if got.Heartbeats == 0 {
		t.Error("no heartbeat reached the server")
	}
}

func TestLostLeaseOnCompleteDropsTheRun(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-409")
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		emit(wire.EventText, map[string]string{"text": "hi"})
		return pilot.Result{FinalMessage: "done"}
	}
	stolen := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	f.OnComplete(stolen, func() { f.Steal(stolen) })
	next := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	startRun(t, cfg)
	got := f.WaitDone(t, next, 10*time.Second)
	if got.Completion.Status != wire.RunSucceeded {
		t.Errorf("next run = %+v", got.Completion)
	}
	s := f.Snapshot(stolen)
	if s.Completion != nil || s.Refused != 1 {
		t.Errorf("stolen run: completion %+v, %d refused calls; want no completion and the one refused complete", s.Completion, s.Refused)
	}
}

func TestLostLeaseOnHeartbeatStopsThePilot(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	f.SetTimings(3, 1, 1)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-lost")
	causes := make(chan error, 2)
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		if spec.Prompt == "quick" {
			return pilot.Result{FinalMessage: "quick"}
		}
		emit(wire.EventText, map[string]string{"text": "long work"})
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return pilot.Result{Failed: true, Reason: "canceled"}
	}
	lost := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "long"})
	startRun(t, cfg)
	waitFor(t, 5*time.Second, "the pilot's first event", func() bool { return len(f.Snapshot(lost).Events) >= 2 })
	f.Steal(lost)
	select {
	case cause := <-causes:
		if !errors.Is(cause, errLeaseLost) {
			t.Errorf("pilot context ended by %v, want the lost lease", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pilot kept running after the lease was lost")
	}
	next := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "quick"})
	if got := f.WaitDone(t, next, 10*time.Second); got.Completion.Status != wire.RunSucceeded {
		t.Errorf("next run = %+v", got.Completion)
	}
	if s := f.Snapshot(lost); s.Completion != nil {
		t.Errorf("the lost run was completed: %+v", s.Completion)
	}
}

func TestLeaseRunsOutWhileTheServerIsUnreachable(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	// A 3s lease, a heartbeat every second: it takes a stall of 2s, not a
	// loaded machine, to lose the lease while the server is up.
	f.SetTimings(3, 10, 1)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-cut-off")
	bare := bareRemote(t)
	started := make(chan struct{}, 1)
	causes := make(chan error, 1)
	release := make(chan struct{}) // closed only when the test gives up
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		os.WriteFile(filepath.Join(spec.WorkDir, spec.Prompt+".md"), []byte("work\n"), 0o644)
		if spec.Prompt == "outlive the lease" {
			// Heartbeats keep a run alive for longer than its lease.
			time.Sleep(4 * time.Second)
			return pilot.Result{FinalMessage: "done"}
		}
		emit(wire.EventText, map[string]string{"text": "working"})
		started <- struct{}{}
		select {
		case <-ctx.Done():
			causes <- context.Cause(ctx)
			return pilot.Result{Failed: true, Reason: "canceled", Message: "killed"}
		case <-release:
			return pilot.Result{FinalMessage: "done"}
		}
	}
	repo := &wire.Repository{CloneURL: bare, BaseBranch: "main", AuthorName: "UFO Bot", AuthorEmail: "bot@example.com"}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	alive := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "outlive the lease", Branch: "ufo/abc-1-alive", Repository: repo})
	if out, err := Once(ctx, cfg); err != nil || out.Status != wire.RunSucceeded {
		t.Fatalf("a run longer than its lease, server up: %+v, %v", out, err)
	}
	if got := f.Snapshot(alive); got.Completion == nil || got.Heartbeats == 0 {
		t.Errorf("run longer than its lease: %d heartbeats, completion %+v", got.Heartbeats, got.Completion)
	}

	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "cut off", Branch: "ufo/abc-2-cut-off", Repository: repo})
	type result struct {
		out Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := Once(ctx, cfg)
		done <- result{out, err}
	}()
	select {
	case <-started:
	case res := <-done:
		t.Fatalf("Once = %+v, %v before the pilot started", res.out, res.err)
	}
	f.GoDown()
	down := time.Now()
	select {
	case cause := <-causes:
		// About the lease (3s); the bound leaves room for a loaded machine.
		t.Logf("server down to pilot stopped: %v", time.Since(down))
		if !errors.Is(cause, errLeaseLost) {
			t.Errorf("pilot context ended by %v, want the lost lease", cause)
		}
	case <-time.After(15 * time.Second):
		close(release)
		t.Fatal("the pilot kept running long after its lease ran out with the server unreachable")
	}
	select {
	case res := <-done:
		if res.err != nil || res.out.Status != wire.RunFailed || res.out.Reason != ReasonLeaseLost {
			t.Errorf("Once = %+v, %v; want the run dropped as lease_lost", res.out, res.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Once did not return after the lease was lost")
	}
	f.ComeBack()
	if s := f.Snapshot(run); s.Completion != nil {
		t.Errorf("the run was completed after its lease ran out: %+v", s.Completion)
	}
	if out, err := exec.Command("git", "-C", bare, "branch", "--list", "ufo/*").Output(); err != nil || strings.TrimSpace(string(out)) != "ufo/abc-1-alive" {
		t.Errorf("remote branches = %q (%v), want only the first run's: nothing pushed after the lease ran out", out, err)
	}
}

func TestServerDownEventsBufferAndArriveInOrder(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-down")
	firstHalf, secondHalf := make(chan struct{}), make(chan struct{})
	emitted := make(chan struct{})
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		for i := range 10 {
			emit(wire.EventText, map[string]any{"text": "before", "i": i})
		}
		close(firstHalf)
		<-secondHalf
		for i := range 240 {
			emit(wire.EventText, map[string]any{"text": "during", "i": i})
		}
		close(emitted)
		return pilot.Result{FinalMessage: "finished while the server was away"}
	}
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	startRun(t, cfg)
	<-firstHalf
	waitFor(t, 5*time.Second, "the first events", func() bool { return len(f.Snapshot(run).Events) >= 11 })
	f.GoDown()
	close(secondHalf)
	<-emitted
	time.Sleep(400 * time.Millisecond) // the pilot is done; the rover retries
	if s := f.Snapshot(run); len(s.Events) != 11 || s.Completion != nil {
		t.Fatalf("while down the server got %d events, completion %v", len(s.Events), s.Completion)
	}
	f.ComeBack()
	got := f.WaitDone(t, run, 10*time.Second)
	assertInOrder(t, got)
	if n := len(got.Events); n != 251 {
		t.Errorf("%d events arrived, want 251 (the status, then 250 texts)", n)
	}
	if got.Completion.Status != wire.RunSucceeded {
		t.Errorf("completion = %+v", got.Completion)
	}
}

func TestFullBufferDropsTextButKeepsTheRest(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-full")
	cfg.EventBuffer = 20
	begin, gate, emitted := make(chan struct{}), make(chan struct{}), make(chan struct{})
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		close(begin)
		<-gate
		for i := range 100 {
			emit(wire.EventText, map[string]any{"text": "chatter", "i": i})
			if i == 50 {
				emit(wire.EventToolUse, map[string]any{"id": "t1", "name": "Bash"})
			}
		}
		emit(wire.EventUsage, wire.Usage{InputTokens: 1, OutputTokens: 2})
		close(emitted)
		return pilot.Result{FinalMessage: "done"}
	}
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	startRun(t, cfg)
	<-begin
	waitFor(t, 5*time.Second, "the work dir status", func() bool { return len(f.Snapshot(run).Events) >= 1 })
	f.GoDown()
	close(gate)
	<-emitted
	time.Sleep(100 * time.Millisecond)
	f.ComeBack()
	got := f.WaitDone(t, run, 10*time.Second)

	var texts, dropped int64
	kinds := types(got.Events)
	for _, e := range got.Events {
		switch e.Type {
		case wire.EventText:
			texts++
		case wire.EventStatus:
			var d struct{ Dropped int64 }
			json.Unmarshal(e.Data, &d)
			dropped += d.Dropped
		}
	}
	if kinds[wire.EventToolUse] != 1 || kinds[wire.EventUsage] != 1 {
		t.Errorf("event kinds = %v, want the tool_use and the usage kept", kinds)
	}
	if dropped == 0 || texts+dropped != 100 {
		t.Errorf("%d texts arrived and %d were counted dropped, want 100 in all with some dropped", texts, dropped)
	}
	if got.Completion == nil || got.Completion.Status != wire.RunSucceeded {
		t.Errorf("completion = %+v", got.Completion)
	}
	for i := 1; i < len(got.Events); i++ {
		if got.Events[i].Seq <= got.Events[i-1].Seq {
			t.Fatalf("events out of order: %v", seqs(got.Events))
		}
	}
}

func TestReconnectsAfterAnOutage(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-outage")
	cfg.RunPilot = func(context.Context, pilot.Spec, pilot.Emit) pilot.Result { return pilot.Result{} }
	startRun(t, cfg)
	waitFor(t, 5*time.Second, "the first connect", func() bool { return len(f.Connects()) == 1 })
	f.GoDown()
	time.Sleep(300 * time.Millisecond)
	f.ComeBack()
	// The idle long-poll (1s here) fails when it ends; the rover reconnects,
	// sending its profile again, and claims what was queued meanwhile.
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	got := f.WaitDone(t, run, 10*time.Second)
	if got.Completion.Status != wire.RunSucceeded {
		t.Errorf("completion = %+v", got.Completion)
	}
	if n := len(f.Connects()); n < 2 {
		t.Errorf("%d connects, want a reconnect after the outage", n)
	}
}

func TestRevokedTokenStopsTheRover(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = "ufo_rt_revoked"
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRevoked) {
			t.Errorf("Run = %v, want ErrRevoked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the rover kept going with a refused token")
	}
	if _, err := Once(context.Background(), cfg); !errors.Is(err, ErrRevoked) {
		t.Errorf("Once = %v, want ErrRevoked", err)
	}
}

func TestOnce(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	base := testConfig(t, f.URL())
	base.Token = f.AddRover("rv-once")
	base.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		if spec.Prompt == "fail" {
			return pilot.Result{Failed: true, Reason: "exit_status", Message: "exit status 3"}
		}
		return pilot.Result{FinalMessage: "ok"}
	}
	ctx := context.Background()

	cfg := base
	cfg.Wait = -1
	f.SetTimings(30, 10, 20) // a long poll far longer than the bound below
	start := time.Now()
	out, err := Once(ctx, cfg)
	f.SetTimings(30, 10, 1)
	// No wait means one claim, not the 20 s long poll; the bound leaves room
	// for a loaded machine.
	if err != nil || out.Claimed() || time.Since(start) > 5*time.Second {
		t.Errorf("empty queue, no wait: %+v, %v after %v", out, err, time.Since(start))
	}
	cfg.Wait = time.Second
	start = time.Now()
	out, err = Once(ctx, cfg)
	if err != nil || out.Claimed() || time.Since(start) < 900*time.Millisecond {
		t.Errorf("empty queue, --wait 1s: %+v, %v after %v", out, err, time.Since(start))
	}

	// A run queued while Once waits is claimed at once.
	cfg.Wait = 5 * time.Second
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "succeed"})
	}()
	out, err = Once(ctx, cfg)
	if err != nil || out.Status != wire.RunSucceeded {
		t.Errorf("queued run: %+v, %v", out, err)
	}

	f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}, Prompt: "fail"})
	out, err = Once(ctx, cfg)
	if err != nil || out.Status != wire.RunFailed || out.Reason != "exit_status" {
		t.Errorf("failing run: %+v, %v", out, err)
	}
}

func TestEnrollThenServeEveryRegistration(t *testing.T) {
	t.Parallel()
	one, two := rovertest.NewServer(t), rovertest.NewServer(t)
	cfg := testConfig(t, one.URL())
	cfg.RunPilot = func(context.Context, pilot.Spec, pilot.Emit) pilot.Result { return pilot.Result{} }
	ctx := context.Background()

	cfg.EnrollmentCode = one.AddCode()
	cfg.Name = "workstation"
	regA, fresh, err := Enroll(ctx, cfg)
	if err != nil || !fresh || regA.Name != "workstation" || regA.Server != one.URL() {
		t.Fatalf("Enroll = %+v, %v, %v", regA, fresh, err)
	}
	// The code is spent; enrolling with it again finds the registration.
	again, fresh, err := Enroll(ctx, cfg)
	if err != nil || fresh || again.RoverID != regA.RoverID {
		t.Errorf("second Enroll with the same code = %+v, %v, %v", again, fresh, err)
	}

	// Starting with a code of another server enrolls there too, then
	// serves both registrations at once.
	cfg.Server, cfg.EnrollmentCode, cfg.Name = two.URL(), two.AddCode(), ""
	for range 2 { // the second start finds the code already used
		before1, before2 := len(one.Connects()), len(two.Connects())
		stop := startRun(t, cfg)
		waitFor(t, 5*time.Second, "both rovers connected", func() bool {
			return len(one.Connects()) > before1 && len(two.Connects()) > before2
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	regs, err := LoadRegistrations(filepath.Join(cfg.Home, RegistrationsFile))
	if err != nil || len(regs) != 2 {
		t.Fatalf("registrations = %+v, %v; want two", regs, err)
	}
	if got := one.Connects()[0].RoverID; got != regA.RoverID {
		t.Errorf("first server saw rover %s, want %s", got, regA.RoverID)
	}
	fi, err := os.Stat(filepath.Join(cfg.Home, RegistrationsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("registrations file mode = %v, %v", fi.Mode(), err)
	}
}

func TestEnrollRetriesAServerStillStarting(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	ctx := context.Background()

	// A refused code fails at once, well within the minute of patience.
	cfg.EnrollmentCode = "code-never-made"
	start := time.Now()
	if _, _, err := Enroll(ctx, cfg); err == nil || !strings.Contains(err.Error(), "refused the enrollment") || !strings.Contains(err.Error(), "400") {
		t.Errorf("Enroll with an unknown code = %v, want the server's refusal", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Enroll with an unknown code took %v, want a failure at once", d)
	}

	// A server that is down at first: the enrollment waits for it.
	cfg.EnrollmentCode = f.AddCode()
	f.GoDown()
	type result struct {
		reg   Registration
		fresh bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		reg, fresh, err := Enroll(ctx, cfg)
		done <- result{reg, fresh, err}
	}()
	time.Sleep(300 * time.Millisecond) // several tries at RetryMax 100ms
	select {
	case res := <-done:
		t.Fatalf("Enroll returned while the server was down: %+v", res)
	default:
	}
	f.ComeBack()
	select {
	case res := <-done:
		if res.err != nil || !res.fresh || res.reg.RoverID == "" {
			t.Fatalf("Enroll once the server is back = %+v, %v, %v", res.reg, res.fresh, res.err)
		}
		regs, err := LoadRegistrations(filepath.Join(cfg.Home, RegistrationsFile))
		if _, ok := regs[res.reg.RoverID]; err != nil || !ok {
			t.Errorf("registrations = %+v, %v; want the new rover", regs, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Enroll did not finish after the server came back")
	}
}

func TestRemoveRevokesWhenReachable(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	dead := rovertest.NewServer(t)
	deadURL := dead.URL()
	dead.Close()
	cfg := testConfig(t, f.URL())
	regs := Registrations{
		"aa11": {Server: f.URL(), RoverID: "aa11", Token: f.AddRover("aa11")},
		"aa22": {Server: f.URL(), RoverID: "aa22", Token: f.AddRover("aa22")},
		"bb33": {Server: deadURL, RoverID: "bb33", Token: "tok-dead"},
	}
	path := filepath.Join(cfg.Home, RegistrationsFile)
	if err := regs.Save(path); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := Remove(ctx, cfg, "aa", false); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("Remove(aa) = %v, want ambiguous", err)
	}
	out, err := Remove(ctx, cfg, "aa1", false)
	if err != nil || len(out) != 1 || out[0].RoverID != "aa11" || out[0].RevokeErr != nil {
		t.Fatalf("Remove(aa1) = %+v, %v", out, err)
	}
	c := &client{server: f.URL(), token: regs["aa11"].Token, hc: http.DefaultClient}
	if _, err := c.connect(ctx, wire.Profile{}); !errors.Is(err, ErrRevoked) {
		t.Errorf("connect with the removed rover's token = %v, want it refused", err)
	}
	out, err = Remove(ctx, cfg, "", true)
	if err != nil || len(out) != 2 {
		t.Fatalf("Remove --all = %+v, %v", out, err)
	}
	for _, r := range out {
		if (r.RoverID == "bb33") != (r.RevokeErr != nil) {
			t.Errorf("%s: revoke error %v; want one only for the unreachable server", r.RoverID, r.RevokeErr)
		}
	}
	if left, _ := LoadRegistrations(path); len(left) != 0 {
		t.Errorf("registrations left: %+v", left)
	}
}

func TestConcurrentEnrollmentsAndRemovalsKeepEveryRegistration(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	path := filepath.Join(cfg.Home, RegistrationsFile)
	const n = 12
	old := Registrations{}
	for i := range n {
		id := fmt.Sprintf("old%02d", i)
		old[id] = Registration{Server: f.URL(), RoverID: id, Token: f.AddRover(id)}
	}
	if err := old.Save(path); err != nil {
		t.Fatal(err)
	}
	// One goroutine per fleet, as ufo up runs them: each enrolls a rover
	// while others remove theirs.
	ctx := context.Background()
	enrolled := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := cfg
			c.EnrollmentCode = f.AddCode()
			reg, _, err := Enroll(ctx, c)
			if err != nil {
				t.Errorf("Enroll %d: %v", i, err)
			}
			enrolled[i] = reg.RoverID
		})
		wg.Go(func() {
			if _, err := Remove(ctx, cfg, fmt.Sprintf("old%02d", i), false); err != nil {
				t.Errorf("Remove old%02d: %v", i, err)
			}
		})
	}
	wg.Wait()
	regs, err := LoadRegistrations(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := slices.Sorted(maps.Keys(regs))
	want := slices.Sorted(slices.Values(enrolled))
	if !slices.Equal(ids, want) {
		t.Errorf("registrations file holds %q, want the %d enrolled %q and none of the removed", ids, n, want)
	}
}

// A rover already served on this host (ufo up beside ufo rover start on
// one UFO_HOME) is left to that process: the second stops with ErrBusy,
// at once, rather than sharing its work dirs; once the first has stopped,
// a new one serves it.
func TestRoverServedOnceOnAHost(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-once")
	stop := startRun(t, cfg)
	waitFor(t, 5*time.Second, "the first to connect", func() bool {
		_, err := os.Stat(filepath.Join(cfg.Outpost, "rovers", "rv-once.lock"))
		return err == nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Run(ctx, cfg); !errors.Is(err, ErrBusy) || ctx.Err() != nil {
		t.Fatalf("a second process's rover = %v, want ErrBusy at once", err)
	}
	if _, err := Once(ctx, cfg); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second process's Once = %v, want ErrBusy", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	again := startRun(t, cfg)
	time.Sleep(300 * time.Millisecond)
	if err := again(); err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
}

// The sessions file keeps each session's thread usage for the next
// resume, the last recorded winning, and reads lines without one.
func TestSessionsFileKeepsThreadUsage(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "op")
	if err := os.WriteFile(sessionsFile(dir), []byte("old-session\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*wire.Usage{nil, {InputTokens: 600, OutputTokens: 120}, {InputTokens: 800, OutputTokens: 160}} {
		if err := recordSession(dir, "thread-1", u); err != nil {
			t.Fatal(err)
		}
	}
	if !madeHere(dir, "old-session") || !madeHere(dir, "thread-1") || madeHere(dir, "thread-2") {
		t.Error("madeHere does not read the file's sessions")
	}
	if u := threadUsage(dir, "thread-1"); u == nil || u.InputTokens != 800 || u.OutputTokens != 160 {
		t.Errorf("thread usage = %+v, want the last recorded", u)
	}
	if u := threadUsage(dir, "old-session"); u != nil {
		t.Errorf("a session without usage: %+v", u)
	}
}

func TestPilotEnvDropsRoverSecrets(t *testing.T) {
	t.Parallel()
	got := pilotEnv([]string{"PATH=/bin", "UFO_ROVER_TOKEN=t", "UFO_ENROLLMENT_CODE=c", "UFO_SERVER=http://x", "CLAUDE_CONFIG_DIR=/c",
		"ANTHROPIC_API_KEY=k", "UFO_GITHUB_PRIVATE_KEY=-----BEGIN", "UFO_SLACK_SIGNING_SECRET=s", "DATABASE_URL=postgres://u:p@h/db", "PGHOST=/run"})
	want := []string{"PATH=/bin", "CLAUDE_CONFIG_DIR=/c", "ANTHROPIC_API_KEY=k", "PGHOST=/run"}
	if !slices.Equal(got, want) {
		t.Errorf("pilotEnv = %q, want %q", got, want)
	}
}

func TestMemTotal(t *testing.T) {
	t.Parallel()
	if got := memTotalMB([]byte("MemTotal:       24683264 kB\nMemFree:  1 kB\n")); got != 24104 {
		t.Errorf("memTotalMB = %d, want 24104", got)
	}
	if got := memTotalMB([]byte("nothing here\n")); got != 0 {
		t.Errorf("memTotalMB of junk = %d", got)
	}
}

// The tests below run the real pilot package: an exec pilot is a real
// process group started with sh -c.

func TestExecPilotEndToEnd(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.RunPilot = nil // pilot.Run
	cfg.Token = f.AddRover("rv-exec")
	run := f.Enqueue(wire.Claim{
		Operation: wire.Operation{ID: "op-x", Code: "MSJ-7", Title: "Hello"},
		Prompt:    "write hello",
		Pilot:     wire.Pilot{Name: "sh", Kind: "exec", Settings: wire.PilotSettings{Command: `echo "prompt: $UFO_PROMPT"; echo hello > HELLO.md; echo "token: ${UFO_ROVER_TOKEN:-none}"`}},
	})
	startRun(t, cfg)
	got := f.WaitDone(t, run, 20*time.Second)
	assertInOrder(t, got)
	if c := got.Completion; c.Status != wire.RunSucceeded || c.Artifact == nil || c.Artifact.Files != 1 || !strings.Contains(c.Artifact.Diff, "+hello") {
		t.Fatalf("completion = %+v, artifact %+v", c, c.Artifact)
	}
	var texts []string
	for _, e := range got.Events {
		if e.Type == wire.EventText {
			texts = append(texts, textOf(t, e))
		}
	}
	if want := []string{"prompt: write hello", "token: none"}; !slices.Equal(texts, want) {
		t.Errorf("text events = %q, want %q", texts, want)
	}
}

func TestExecPilotFailureIsReported(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.RunPilot = nil
	cfg.Token = f.AddRover("rv-exec-fail")
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec", Settings: wire.PilotSettings{Command: "echo oops >&2; exit 3"}}})
	startRun(t, cfg)
	got := f.WaitDone(t, run, 20*time.Second)
	c := got.Completion
	if c.Status != wire.RunFailed || c.FailureReason != pilot.ReasonExitStatus || !strings.Contains(c.FailureMessage, "oops") {
		t.Errorf("completion = %+v", c)
	}
	if last := got.Events[len(got.Events)-1]; last.Type != wire.EventError || !strings.Contains(textOf(t, last), "exit status 3") {
		t.Errorf("last event = %s %s, want the failure as an error event", last.Type, last.Data)
	}
}

func TestCancelKillsTheExecPilotsProcessGroup(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	f.SetTimings(3, 1, 1)
	cfg := testConfig(t, f.URL())
	cfg.RunPilot = nil
	cfg.Token = f.AddRover("rv-exec-cancel")
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec", Settings: wire.PilotSettings{
		Command: `sleep 60 & echo $! > child.pid; echo started; wait`}}})
	startRun(t, cfg)
	waitFor(t, 10*time.Second, "the pilot's first line", func() bool {
		for _, e := range f.Snapshot(run).Events {
			if e.Type == wire.EventText {
				return true
			}
		}
		return false
	})
	f.RequestCancel(run)
	got := f.WaitDone(t, run, 10*time.Second)
	if got.Completion.Status != wire.RunCanceled {
		t.Fatalf("completion = %+v", got.Completion)
	}
	pidFile := filepath.Join(cfg.Outpost, "rovers", "rv-exec-cancel", "operations", got.Claim.Operation.ID, "child.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if pid := strings.TrimSpace(string(b)); running(pid) {
		t.Errorf("the pilot's child %s survived the cancel", pid)
	}
}

// running reports whether process pid exists and is not a zombie (an
// orphan's zombie may wait long for a reaper in a container).
func running(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && rest != "" && rest[0] != 'Z' && rest[0] != 'X'
}

func TestOversizedOutputFitsTheServer(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-big")
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		big := strings.Repeat("<line>\t\"quoted\"\n", 80<<10) // 1.4 MB, much of it escaped in JSON
		emit(wire.EventToolResult, map[string]any{"tool_use_id": "t1", "content": big})
		for range 20 {
			emit(wire.EventText, map[string]string{"text": strings.Repeat("y", 100<<10)})
		}
		os.WriteFile(filepath.Join(spec.WorkDir, "big.txt"), []byte(big), 0o644)
		return pilot.Result{FinalMessage: strings.Repeat("z", 1<<20)}
	}
	run := f.Enqueue(wire.Claim{Pilot: wire.Pilot{Kind: "exec"}})
	startRun(t, cfg)
	got := f.WaitDone(t, run, 20*time.Second)
	assertInOrder(t, got)
	if len(got.Events) != 22 {
		t.Errorf("%d events arrived, want all 22", len(got.Events))
	}
	a := got.Completion.Artifact
	if got.Completion.Status != wire.RunSucceeded || a == nil || a.Insertions != 80<<10 || !strings.Contains(a.Diff, "[diff truncated: ") {
		t.Errorf("completion %+v, artifact stats %d, diff truncated: %v", got.Completion.Status, a.Insertions, strings.Contains(a.Diff, "truncated"))
	}
}

// A follow-up resumes its session only on the rover where the session was
// made, in the operation's work dir it kept. Anywhere else (no work dir of
// the operation yet, or a session another rover made since) the rover
// starts a fresh session on the claim's fresh prompt (the operation and
// its whole conversation) rather than resuming nothing with the last
// message alone.
func TestFollowUpResumesOnlyWhereTheSessionWasMade(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.Token = f.AddRover("rv-follow")
	var specs []pilot.Spec
	cfg.RunPilot = func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
		specs = append(specs, spec)
		return pilot.Result{FinalMessage: "ok", SessionID: fmt.Sprintf("sess-here-%d", len(specs))}
	}
	ctx := context.Background()
	const fresh = "Fix it\n\nann: and the docs?"
	for _, tc := range []struct {
		session string
		want    pilot.Spec
	}{
		{"sess-elsewhere", pilot.Spec{Prompt: fresh}},                                  // no work dir of the operation here yet
		{"sess-here-1", pilot.Spec{Prompt: "and the docs?", SessionID: "sess-here-1"}}, // made here by the first run
		{"sess-other-rover", pilot.Spec{Prompt: fresh}},                                // the work dir is here, the session is not
		{"sess-here-3", pilot.Spec{Prompt: "and the docs?", SessionID: "sess-here-3"}}, // the fresh one made here
	} {
		f.Enqueue(wire.Claim{Operation: wire.Operation{ID: "op-follow", Code: "ABC-7"}, Pilot: wire.Pilot{Kind: "exec"},
			Prompt: "and the docs?", SessionID: tc.session, FreshPrompt: fresh, FollowUp: true})
		if out, err := Once(ctx, cfg); err != nil || out.Status != wire.RunSucceeded {
			t.Fatalf("Once = %+v, %v", out, err)
		}
		got := specs[len(specs)-1]
		if got.Prompt != tc.want.Prompt || got.SessionID != tc.want.SessionID {
			t.Errorf("resuming %s: pilot got prompt %q, session %q; want %q, %q", tc.session, got.Prompt, got.SessionID, tc.want.Prompt, tc.want.SessionID)
		}
	}
}

// dropFirstEnrollAnswer sends every request on, but loses the answer to
// the first enrollment, after the server used the code.
type dropFirstEnrollAnswer struct{ dropped atomic.Bool }

func (d *dropFirstEnrollAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "/enroll") && d.dropped.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// An enrollment whose answer was lost is tried again; the code is used by
// then, and the refusal says an earlier attempt may have used it, rather
// than leaving the person to wonder why a fresh code was refused.
func TestEnrollWhoseAnswerWasLostSaysTheCodeMayBeUsed(t *testing.T) {
	t.Parallel()
	f := rovertest.NewServer(t)
	cfg := testConfig(t, f.URL())
	cfg.EnrollmentCode = f.AddCode()
	tr := &dropFirstEnrollAnswer{}
	cfg.HTTPClient = &http.Client{Transport: tr}
	_, _, err := Enroll(context.Background(), cfg)
	if !tr.dropped.Load() {
		t.Fatal("no enrollment was sent")
	}
	if err == nil || !strings.Contains(err.Error(), "refused the enrollment") || !strings.Contains(err.Error(), "may have used the code") {
		t.Errorf("Enroll after a lost answer = %v, want a refusal that says the lost attempt may have used the code", err)
	}
}
