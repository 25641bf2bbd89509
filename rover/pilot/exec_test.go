package pilot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

func execSpec(t *testing.T, command string) Spec {
	return Spec{
		Kind:     KindExec,
		Settings: wire.PilotSettings{Command: command},
		Prompt:   "Say hello.",
		WorkDir:  t.TempDir(),
		Env:      []string{"PATH=" + os.Getenv("PATH")},
	}
}

func TestExecWritesFile(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, "echo hello > HELLO.md")
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(spec.WorkDir, "HELLO.md"))
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("HELLO.md = %q, %v; want %q", b, err, "hello\n")
	}
}

func TestExecEnvAndStdin(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `printf 'prompt=%s\ncode=%s\ntitle=%s\nbody=%s\nworkdir=%s\n' "$UFO_PROMPT" "$UFO_OPERATION_CODE" "$UFO_OPERATION_TITLE" "$UFO_OPERATION_BODY" "$UFO_WORKDIR"; printf 'stdin=%s\n' "$(cat)"; echo done`)
	spec.Operation = wire.Operation{ID: "op1", Code: "UFO-7", Title: "Fix the thing", Body: "It is broken."}
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	var got []string
	for _, e := range rec.ofType(wire.EventText) {
		got = append(got, e.str("text"))
	}
	want := []string{
		"prompt=Say hello.", "code=UFO-7", "title=Fix the thing", "body=It is broken.",
		"workdir=" + spec.WorkDir, "stdin=Say hello.", "done",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("text events:\n got %q\nwant %q", got, want)
	}
	if res.FinalMessage != "done" {
		t.Fatalf("final message = %q, want %q", res.FinalMessage, "done")
	}
}

// A prompt longer than the kernel takes in one environment string still
// starts the pilot: the variable is cut and says so, stdin has it whole.
func TestExecLongPrompt(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `printf 'env=%s cut=%s stdin=%s\n' "${#UFO_PROMPT}" "$UFO_PROMPT_CUT" "$(wc -c)"`)
	spec.Prompt = strings.Repeat("é", 150<<10) // 300 KiB
	spec.Operation.Body = strings.Repeat("b", 200<<10)
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	var env, stdin int
	var cut string
	if _, err := fmt.Sscanf(res.FinalMessage, "env=%d cut=%s stdin=%d", &env, &cut, &stdin); err != nil {
		t.Fatalf("final message %q: %v", res.FinalMessage, err)
	}
	if stdin != len(spec.Prompt) || cut != "1" || env == 0 || env >= len(spec.Prompt) {
		t.Fatalf("%q: want the whole prompt (%d bytes) on stdin, a cut one in UFO_PROMPT", res.FinalMessage, len(spec.Prompt))
	}
}

func TestExecJSONPassthrough(t *testing.T) {
	t.Parallel()
	script := `cat <<'EOF'
{"type":"tool_use","data":{"id":"t1","name":"Write","input":{"file_path":"a.txt","n":12345678901234567890}}}
{"type":"tool_result","tool_use_id":"t1","content":"ok","is_error":false}
{"type":"usage","data":{"input_tokens":10,"output_tokens":5,"cost_usd":0.25}}
{"type":"bogus","text":"not a wire type"}
{"type":"text","data":{"text":"from json"}}
{broken json

   
plain last line
EOF`
	spec := execSpec(t, script)
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	ev := rec.all()
	wantTypes := "tool_use tool_result usage text text text text"
	if got := strings.Join(rec.types(), " "); got != wantTypes {
		t.Fatalf("event types = %q, want %q", got, wantTypes)
	}
	if got := string(ev[0].Raw); got != `{"id":"t1","input":{"file_path":"a.txt","n":12345678901234567890},"name":"Write"}` {
		t.Errorf("tool_use data = %s", got)
	}
	if got := string(ev[1].Raw); got != `{"content":"ok","is_error":false,"tool_use_id":"t1"}` {
		t.Errorf("tool_result data (rest of the object) = %s", got)
	}
	if ev[3].str("text") != `{"type":"bogus","text":"not a wire type"}` || ev[5].str("text") != "{broken json" {
		t.Errorf("unknown and malformed lines should be text events: %s, %s", ev[3].Raw, ev[5].Raw)
	}
	if ev[4].str("text") != "from json" || ev[6].str("text") != "plain last line" {
		t.Errorf("text events: %s, %s", ev[4].Raw, ev[6].Raw)
	}
	if res.FinalMessage != "plain last line" {
		t.Errorf("final message = %q", res.FinalMessage)
	}
	if res.Usage == nil || *res.Usage != (wire.Usage{InputTokens: 10, OutputTokens: 5, CostUSD: 0.25}) {
		t.Errorf("usage = %+v", res.Usage)
	}
}

func TestExecExitStatusAndStderr(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, "echo working; echo 'oops: disk full' >&2; exit 3")
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if !res.Failed || res.Reason != ReasonExitStatus {
		t.Fatalf("result = %+v, want failed with %s", res, ReasonExitStatus)
	}
	if !strings.Contains(res.Message, "exit status 3") || !strings.Contains(res.Message, "oops: disk full") {
		t.Errorf("message = %q, want the exit status and stderr", res.Message)
	}
	var texts []string
	for _, e := range rec.ofType(wire.EventText) {
		texts = append(texts, e.str("text"))
	}
	if len(texts) != 2 || !strings.Contains(strings.Join(texts, "|"), "oops: disk full") {
		t.Errorf("text events = %q, want stdout and stderr lines", texts)
	}
	if res.FinalMessage != "working" {
		t.Errorf("final message = %q, want the last stdout text", res.FinalMessage)
	}
}

// groupCommand starts two background sleeps, records the shell's pid (the
// group leader) and theirs, then waits.
const groupCommand = `echo $$ > pids; sleep 300 & echo $! >> pids; sleep 300 & echo $! >> pids; echo started; wait`

// waitPids waits for groupCommand to have written all three pids.
func waitPids(t *testing.T, dir string) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "pids"))
		f := strings.Fields(string(b))
		if len(f) == 3 {
			var pids []int
			for _, s := range f {
				n, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("pids file: %q", b)
				}
				pids = append(pids, n)
			}
			return pids
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the command did not write its pids")
	return nil
}

func assertGroupGone(t *testing.T, pids []int) {
	t.Helper()
	if m := groupMembers(t, pids[0]); len(m) > 0 {
		t.Errorf("process group %d still has live members %v", pids[0], m)
	}
	for _, pid := range pids {
		if !processGone(pid) {
			t.Errorf("process %d survived", pid)
		}
	}
}

func TestExecTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, groupCommand)
	spec.Timeout = 500 * time.Millisecond
	start := time.Now()
	res := Run(context.Background(), spec, newRecorder(t).emit)
	if !res.Failed || res.Reason != ReasonTimeout {
		t.Fatalf("result = %+v, want %s", res, ReasonTimeout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after a 500ms timeout", d)
	}
	assertGroupGone(t, waitPids(t, spec.WorkDir))
}

func TestExecCancelKillsChildren(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, groupCommand)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, spec, newRecorder(t).emit) }()
	pids := waitPids(t, spec.WorkDir)
	for _, pid := range pids {
		if processGone(pid) {
			t.Fatalf("process %d is not running before the cancel", pid)
		}
	}
	cancel()
	res := <-done
	if !res.Failed || res.Reason != ReasonCanceled {
		t.Fatalf("result = %+v, want %s", res, ReasonCanceled)
	}
	assertGroupGone(t, pids)
}

// A process that ignores SIGTERM is killed after the grace period.
func TestExecKillAfterGrace(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `trap '' TERM; echo $$ > pids; sleep 300 & echo $! >> pids; sh -c 'trap "" TERM; sleep 300' & echo $! >> pids; wait`)
	spec.Timeout = 300 * time.Millisecond
	spec.KillGrace = 300 * time.Millisecond
	res := Run(context.Background(), spec, newRecorder(t).emit)
	if res.Reason != ReasonTimeout {
		t.Fatalf("result = %+v, want %s", res, ReasonTimeout)
	}
	assertGroupGone(t, waitPids(t, spec.WorkDir))
}

// When the leader exits, what it left behind in its group is stopped too,
// and Run does not wait for it to close the output pipes.
func TestExecLeftoversStopped(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `echo $$ > pids; sleep 300 & echo $! >> pids; sleep 300 & echo $! >> pids; echo bye`)
	start := time.Now()
	res := Run(context.Background(), spec, newRecorder(t).emit)
	if res.Failed || res.FinalMessage != "bye" {
		t.Fatalf("result = %+v, want success with final message bye", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s", d)
	}
	assertGroupGone(t, waitPids(t, spec.WorkDir))
}

// A process that leaves the pilot's group and is orphaned before any scan
// sees it (a tool's `setsid server &` whose shell exits at once) is still
// the pilot's: it carries the run's mark in its environment, and is
// stopped with the rest.
func TestExecOrphanInItsOwnSessionStopped(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `echo $$ > pids; setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo $! >> pids; setsid sleep 301 >/dev/null 2>&1 < /dev/null & echo $! >> pids; echo bye`)
	res := Run(context.Background(), spec, newRecorder(t).emit)
	if res.Failed || res.FinalMessage != "bye" {
		t.Fatalf("result = %+v, want success with final message bye", res)
	}
	pids := waitPids(t, spec.WorkDir)
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids[1:] {
		for !processGone(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !processGone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the orphan %d in a session of its own survived the run", pid)
		}
	}
}

func TestExecLongLines(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `head -c 1000000 /dev/zero | tr '\0' a; echo; head -c 17000000 /dev/zero | tr '\0' b; echo; echo end`)
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	texts := rec.ofType(wire.EventText)
	if len(texts) != 3 {
		t.Fatalf("got %d text events, want 3", len(texts))
	}
	if n := len(texts[0].str("text")); n != 1000000 {
		t.Errorf("1 MB line arrived as %d bytes", n)
	}
	if s := texts[1].str("text"); len(s) != maxLine || strings.Trim(s, "b") != "" {
		t.Errorf("17 MB line arrived as %d bytes, want it cut to %d", len(s), maxLine)
	}
	if texts[2].str("text") != "end" {
		t.Errorf("line after the long ones = %q", texts[2].str("text"))
	}
}

func TestStartFailed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"missing binary", Spec{Kind: KindClaude, Binary: "/nonexistent/claude", WorkDir: t.TempDir()}},
		{"not on PATH", Spec{Kind: KindCodex, WorkDir: t.TempDir(), Env: []string{"PATH=" + t.TempDir()}}},
		{"missing work dir", Spec{Kind: KindExec, Settings: wire.PilotSettings{Command: "true"}, WorkDir: "/nonexistent/dir"}},
		{"no command", Spec{Kind: KindExec, WorkDir: t.TempDir()}},
		{"unknown kind", Spec{Kind: "gemini", WorkDir: t.TempDir()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(context.Background(), tc.spec, newRecorder(t).emit)
			if !res.Failed || res.Reason != ReasonStartFailed || res.Message == "" {
				t.Fatalf("result = %+v, want %s with a message", res, ReasonStartFailed)
			}
		})
	}
}

func TestCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, "echo hello > HELLO.md")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Run(ctx, spec, newRecorder(t).emit)
	if res.Reason != ReasonCanceled {
		t.Fatalf("result = %+v, want %s", res, ReasonCanceled)
	}
	if _, err := os.Stat(filepath.Join(spec.WorkDir, "HELLO.md")); err == nil {
		t.Error("the command ran after its context was canceled")
	}
}

func TestTimeoutSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec Spec
		want time.Duration
	}{
		{Spec{}, 60 * time.Minute},
		{Spec{Settings: wire.PilotSettings{TimeoutMinutes: 5}}, 5 * time.Minute},
		{Spec{Settings: wire.PilotSettings{TimeoutMinutes: 5}, Timeout: time.Second}, time.Second},
	} {
		if got := tc.spec.timeout(); got != tc.want {
			t.Errorf("timeout of %+v = %s, want %s", tc.spec, got, tc.want)
		}
	}
}
