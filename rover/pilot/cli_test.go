package pilot

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/pilot/pilottest"
	"github.com/ufo-run/ufo/rover/wire"
)

// These tests run the real claude and codex CLIs against the scripted fake
// model servers of pilottest. With -record they rewrite the transcripts in
// testdata that the parser tests read:
//
//	go test ./rover/pilot -run CLI -args -record
var record = flag.Bool("record", false, "rewrite testdata/{claude,codex}-*.jsonl from the real CLIs' output")

// liveScript is what the fake models answer; the checks below hold for the
// live runs and for their recorded transcripts alike.
var liveScript = pilottest.Script{
	File:     "hello.txt",
	Content:  "hello from the fake",
	Thinking: "The user wants a greeting file.",
	Command:  "cat hello.txt",
	Final:    "Wrote hello.txt.",
	FollowUp: "Yes: hello.txt is still there.",
}

const (
	firstPrompt  = "Create hello.txt with a greeting, then show it."
	secondPrompt = "Is hello.txt still there?"
)

// tapTo records the pilot's raw stdout into testdata/name when -record is
// set.
func tapTo(t *testing.T, spec *Spec, name string) {
	if !*record {
		return
	}
	var mu sync.Mutex
	var buf bytes.Buffer
	spec.tap = func(line []byte) {
		mu.Lock()
		defer mu.Unlock()
		buf.Write(line)
		buf.WriteByte('\n')
	}
	t.Cleanup(func() {
		if err := os.WriteFile(filepath.Join("testdata", name), buf.Bytes(), 0o644); err != nil {
			t.Errorf("record %s: %v", name, err)
		}
	})
}

func liveRun(t *testing.T, spec Spec, transcript string) (*recorder, Result) {
	t.Helper()
	tapTo(t, &spec, transcript)
	rec := newRecorder(t)
	start := time.Now()
	res := Run(context.Background(), spec, rec.emit)
	t.Logf("%s: %s in %s", transcript, strings.Join(rec.types(), " "), time.Since(start).Round(time.Millisecond))
	return rec, res
}

func TestClaudeCLI(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	t.Logf("claude %s", clis.ClaudeVersion)
	srv := pilottest.NewAnthropic(t, liveScript)
	home, work := t.TempDir(), t.TempDir()
	spec := Spec{
		Kind: KindClaude, Binary: clis.Claude, WorkDir: work, Env: srv.ClaudeEnv(home),
		Prompt: firstPrompt, Timeout: time.Minute,
	}
	rec, res := liveRun(t, spec, "claude-run.jsonl")
	checkClaudeRun(t, rec, res)
	if b, err := os.ReadFile(filepath.Join(work, liveScript.File)); err != nil || string(b) != liveScript.Content {
		t.Fatalf("%s = %q, %v; want %q", liveScript.File, b, err, liveScript.Content)
	}

	spec.SessionID, spec.Prompt = res.SessionID, secondPrompt
	rec2, res2 := liveRun(t, spec, "claude-resume.jsonl")
	checkClaudeResume(t, rec2, res2, res.SessionID)
	reqs := srv.ModelRequests("/v1/messages")
	last := string(reqs[len(reqs)-1].Body)
	writeID := rec.ofType(wire.EventToolUse)[0].str("id")
	if !strings.Contains(last, firstPrompt) || !strings.Contains(last, writeID) || !strings.Contains(last, secondPrompt) {
		t.Errorf("the resumed request does not carry the earlier conversation (%q, %s)", firstPrompt, writeID)
	}
}

func TestClaudeCLIModelError(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	srv := pilottest.NewAnthropic(t, pilottest.Script{FailStatus: 529})
	spec := Spec{
		Kind: KindClaude, Binary: clis.Claude, WorkDir: t.TempDir(), Env: srv.ClaudeEnv(t.TempDir()),
		Prompt: firstPrompt, Timeout: time.Minute,
	}
	rec, res := liveRun(t, spec, "claude-error.jsonl")
	checkModelError(t, rec, res, "529")
	if e := rec.ofType(wire.EventError); len(e) == 0 || e[0].Data["api_error_status"] != float64(529) {
		t.Errorf("error event should carry api_error_status 529: %v", e)
	}
}

func TestCodexCLI(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	t.Logf("codex %s", clis.CodexVersion)
	srv := pilottest.NewOpenAI(t, liveScript)
	home, work := t.TempDir(), t.TempDir()
	spec := Spec{
		Kind: KindCodex, Binary: clis.Codex, WorkDir: work, Env: pilottest.CodexEnv(t, home),
		Settings: wire.PilotSettings{Model: pilottest.CodexModel, ExtraArgs: srv.CodexArgs()},
		Prompt:   firstPrompt, Timeout: time.Minute,
	}
	rec, res := liveRun(t, spec, "codex-run.jsonl")
	checkCodexRun(t, rec, res)
	if b, err := os.ReadFile(filepath.Join(work, liveScript.File)); err != nil || strings.TrimSpace(string(b)) != liveScript.Content {
		t.Fatalf("%s = %q, %v; want %q", liveScript.File, b, err, liveScript.Content)
	}

	spec.SessionID, spec.Prompt, spec.ThreadUsage = res.SessionID, secondPrompt, res.ThreadUsage
	rec2, res2 := liveRun(t, spec, "codex-resume.jsonl")
	checkCodexResume(t, rec2, res2, res)
	reqs := srv.ModelRequests("/v1/responses")
	last := string(reqs[len(reqs)-1].Body)
	if !strings.Contains(last, firstPrompt) || !strings.Contains(last, "custom_tool_call_output") || !strings.Contains(last, secondPrompt) {
		t.Errorf("the resumed request does not carry the earlier conversation")
	}
}

// codex quotes the HTTP status of a failed model call, except for 500,
// which it reports as "high demand" without the status.
func TestCodexCLIModelError(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	for _, tc := range []struct {
		status     int
		transcript string
		want       string
	}{
		{503, "codex-error.jsonl", "503"},
		{500, "codex-error-500.jsonl", ""},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			srv := pilottest.NewOpenAI(t, pilottest.Script{FailStatus: tc.status})
			spec := Spec{
				Kind: KindCodex, Binary: clis.Codex, WorkDir: t.TempDir(), Env: pilottest.CodexEnv(t, t.TempDir()),
				Settings: wire.PilotSettings{Model: pilottest.CodexModel, ExtraArgs: srv.CodexArgs()},
				Prompt:   firstPrompt, Timeout: time.Minute,
			}
			rec, res := liveRun(t, spec, tc.transcript)
			checkModelError(t, rec, res, tc.want)
			if n := len(srv.ModelRequests("/v1/responses")); n != 1 {
				t.Errorf("codex sent %d model requests, want 1 (no retries)", n)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	got := detect(context.Background(), filepath.Dir(clis.Claude)+string(os.PathListSeparator)+os.Getenv("PATH"))
	want := []wire.CLI{
		{Kind: KindClaude, Path: clis.Claude, Version: clis.ClaudeVersion + " (Claude Code)"},
		{Kind: KindCodex, Path: clis.Codex, Version: "codex-cli " + clis.CodexVersion},
		{Kind: KindExec},
	}
	if len(got) != len(want) {
		t.Fatalf("Detect = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Detect[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestDetectNothing(t *testing.T) {
	t.Parallel()
	if got := detect(context.Background(), t.TempDir()); len(got) != 1 || got[0] != (wire.CLI{Kind: KindExec}) {
		t.Errorf("Detect with nothing on PATH = %+v, want only exec", got)
	}
}

// Canceling a pilot while a tool command runs stops the command too, even
// where the CLI runs it outside the pilot's process group (claude starts
// each Bash command in a new session).
func TestCLICancelStopsTools(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	for i, kind := range []string{KindClaude, KindCodex} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// A sleep with a duration no other process has, found by its
			// command line: codex runs commands in a pid namespace, where
			// the command cannot tell its pid.
			duration := fmt.Sprintf("300.%d%d", os.Getpid(), i)
			script := pilottest.Script{File: "a.txt", Content: "a", Command: "sleep " + duration}
			spec := Spec{Kind: kind, WorkDir: t.TempDir(), Prompt: firstPrompt, Timeout: time.Minute}
			if kind == KindClaude {
				srv := pilottest.NewAnthropic(t, script)
				spec.Binary, spec.Env = clis.Claude, srv.ClaudeEnv(t.TempDir())
			} else {
				srv := pilottest.NewOpenAI(t, script)
				spec.Binary, spec.Env = clis.Codex, pilottest.CodexEnv(t, t.TempDir())
				spec.Settings = wire.PilotSettings{Model: pilottest.CodexModel, ExtraArgs: srv.CodexArgs()}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan Result, 1)
			go func() { done <- Run(ctx, spec, newRecorder(t).emit) }()
			pid := 0
			for deadline := time.Now().Add(30 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				pid = findProcess(t, "sleep\x00"+duration+"\x00")
			}
			if pid == 0 {
				cancel()
				t.Fatalf("the tool command did not start; result %+v", <-done)
			}
			cancel()
			if res := <-done; res.Reason != ReasonCanceled {
				t.Errorf("result = %+v, want %s", res, ReasonCanceled)
			}
			if !processGone(pid) {
				t.Errorf("the tool command (pid %d) survived the cancel", pid)
			}
		})
	}
}

// findProcess returns a live process whose command line is cmdline.
func findProcess(t *testing.T, cmdline string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if string(b) == cmdline && !processGone(pid) {
			return pid
		}
	}
	return 0
}
