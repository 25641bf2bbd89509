package pilot

import (
	"strings"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

// The checks here hold for a live run of a CLI against liveScript and for
// the transcript recorded from it, so a CLI release that changes its output
// fails both the live tests and, once re-recorded, these.

func TestClaudeTranscripts(t *testing.T) {
	t.Parallel()
	rec, tu := parseFile(t, KindClaude, "claude-run.jsonl")
	checkClaudeRun(t, rec, tu.result())
	rec2, tu2 := parseFile(t, KindClaude, "claude-resume.jsonl")
	checkClaudeResume(t, rec2, tu2.result(), tu.sessionID)
	rec3, tu3 := parseFile(t, KindClaude, "claude-error.jsonl")
	checkModelError(t, rec3, tu3.result(), "529")
}

func TestCodexTranscripts(t *testing.T) {
	t.Parallel()
	rec, tu := parseFile(t, KindCodex, "codex-run.jsonl")
	first := tu.result()
	checkCodexRun(t, rec, first)
	rec2, tu2 := parseFileAfter(t, KindCodex, "codex-resume.jsonl", first.ThreadUsage)
	checkCodexResume(t, rec2, tu2.result(), first)
	rec3, tu3 := parseFile(t, KindCodex, "codex-error.jsonl")
	checkModelError(t, rec3, tu3.result(), "503")
	rec4, tu4 := parseFile(t, KindCodex, "codex-error-500.jsonl")
	checkModelError(t, rec4, tu4.result(), "")
}

// result is the Result a parser's findings make for a process that exited
// 0, for the transcript tests.
func (t *turn) result() Result {
	res := Result{SessionID: t.sessionID, FinalMessage: t.final, Usage: t.usage, ThreadUsage: t.threadUsage}
	if t.modelError != "" {
		res.Failed, res.Reason, res.Message = true, ReasonModelError, t.modelError
	}
	return res
}

func checkTypes(t *testing.T, rec *recorder, want string) {
	t.Helper()
	if got := strings.Join(rec.types(), " "); got != want {
		t.Fatalf("event types:\n got %s\nwant %s", got, want)
	}
}

func checkClaudeRun(t *testing.T, rec *recorder, res Result) {
	t.Helper()
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	checkTypes(t, rec, "status thinking text tool_use tool_result tool_use tool_result text usage")
	ev := rec.all()
	if res.SessionID == "" || !strings.Contains(ev[0].str("message"), res.SessionID) {
		t.Errorf("session id %q, status %q", res.SessionID, ev[0].str("message"))
	}
	if ev[1].str("text") != liveScript.Thinking || ev[2].str("text") != "I will create hello.txt." {
		t.Errorf("thinking, text = %s, %s", ev[1].Raw, ev[2].Raw)
	}
	write, wrote := ev[3], ev[4]
	input, _ := write.Data["input"].(map[string]any)
	if write.str("name") != "Write" || write.str("id") == "" || input["content"] != liveScript.Content ||
		!strings.HasSuffix(input["file_path"].(string), "/"+liveScript.File) {
		t.Errorf("Write tool_use = %s", write.Raw)
	}
	if wrote.str("tool_use_id") != write.str("id") || wrote.Data["is_error"] != false || !strings.Contains(wrote.str("content"), liveScript.File) {
		t.Errorf("Write tool_result = %s", wrote.Raw)
	}
	bash, ran := ev[5], ev[6]
	if input, _ := bash.Data["input"].(map[string]any); bash.str("name") != "Bash" || input["command"] != liveScript.Command {
		t.Errorf("Bash tool_use = %s", bash.Raw)
	}
	if ran.str("tool_use_id") != bash.str("id") || ran.Data["is_error"] != false || !strings.Contains(ran.str("content"), liveScript.Content) {
		t.Errorf("Bash tool_result = %s", ran.Raw)
	}
	if ev[7].str("text") != liveScript.Final || res.FinalMessage != liveScript.Final {
		t.Errorf("final text %s, final message %q; want %q", ev[7].Raw, res.FinalMessage, liveScript.Final)
	}
	u := usageOfEvent(t, ev[8])
	if u.InputTokens <= 0 || u.OutputTokens <= 0 || u.CostUSD <= 0 {
		t.Errorf("usage = %+v, want tokens and a cost", u)
	}
	if res.Usage == nil || *res.Usage != u {
		t.Errorf("result usage = %+v, want %+v", res.Usage, u)
	}
}

func checkClaudeResume(t *testing.T, rec *recorder, res Result, session string) {
	t.Helper()
	if res.Failed {
		t.Fatalf("resumed run failed: %+v", res)
	}
	checkTypes(t, rec, "status text usage")
	if res.SessionID != session {
		t.Errorf("resumed session id = %q, want %q", res.SessionID, session)
	}
	if res.FinalMessage != liveScript.FollowUp {
		t.Errorf("final message = %q, want %q", res.FinalMessage, liveScript.FollowUp)
	}
}

func checkCodexRun(t *testing.T, rec *recorder, res Result) {
	t.Helper()
	if res.Failed {
		t.Fatalf("run failed: %+v", res)
	}
	checkTypes(t, rec, "status thinking tool_use tool_result tool_use tool_result text usage")
	ev := rec.all()
	if res.SessionID == "" || !strings.Contains(ev[0].str("message"), res.SessionID) {
		t.Errorf("session id %q, status %q", res.SessionID, ev[0].str("message"))
	}
	if ev[1].str("text") != liveScript.Thinking {
		t.Errorf("thinking = %s", ev[1].Raw)
	}
	patch, patched := ev[2], ev[3]
	input, _ := patch.Data["input"].(map[string]any)
	changes, _ := input["changes"].([]any)
	if patch.str("name") != "apply_patch" || patch.str("id") == "" || len(changes) != 1 {
		t.Fatalf("apply_patch tool_use = %s", patch.Raw)
	}
	change, _ := changes[0].(map[string]any)
	if p, _ := change["path"].(string); !strings.HasSuffix(p, "/"+liveScript.File) || change["kind"] != "add" {
		t.Errorf("apply_patch change = %v", change)
	}
	if patched.str("tool_use_id") != patch.str("id") || patched.Data["is_error"] != false || !strings.HasPrefix(patched.str("content"), "add ") {
		t.Errorf("apply_patch tool_result = %s", patched.Raw)
	}
	cmd, ran := ev[4], ev[5]
	if input, _ := cmd.Data["input"].(map[string]any); cmd.str("name") != "exec_command" || !strings.Contains(input["command"].(string), liveScript.Command) {
		t.Errorf("exec_command tool_use = %s", cmd.Raw)
	}
	if ran.str("tool_use_id") != cmd.str("id") || ran.Data["is_error"] != false || !strings.Contains(ran.str("content"), liveScript.Content) {
		t.Errorf("exec_command tool_result = %s", ran.Raw)
	}
	if ev[6].str("text") != liveScript.Final || res.FinalMessage != liveScript.Final {
		t.Errorf("final text %s, final message %q; want %q", ev[6].Raw, res.FinalMessage, liveScript.Final)
	}
	u := usageOfEvent(t, ev[7])
	if u.InputTokens <= 0 || u.OutputTokens <= 0 || u.CacheReadTokens <= 0 {
		t.Errorf("usage = %+v, want input, cached and output tokens", u)
	}
	if res.Usage == nil || *res.Usage != u {
		t.Errorf("result usage = %+v, want %+v", res.Usage, u)
	}
}

func checkCodexResume(t *testing.T, rec *recorder, res, first Result) {
	t.Helper()
	if res.Failed {
		t.Fatalf("resumed run failed: %+v", res)
	}
	checkTypes(t, rec, "status text usage")
	if res.SessionID != first.SessionID {
		t.Errorf("resumed thread id = %q, want %q", res.SessionID, first.SessionID)
	}
	if res.FinalMessage != liveScript.FollowUp {
		t.Errorf("final message = %q, want %q", res.FinalMessage, liveScript.FollowUp)
	}
	// codex reports usage summed over the thread: the run's own is what
	// the resumed turn added to the first's.
	if res.ThreadUsage == nil || first.ThreadUsage == nil || res.ThreadUsage.InputTokens <= first.ThreadUsage.InputTokens {
		t.Fatalf("resumed thread usage %+v should include the first turn's %+v", res.ThreadUsage, first.ThreadUsage)
	}
	if res.Usage == nil || res.Usage.InputTokens != res.ThreadUsage.InputTokens-first.ThreadUsage.InputTokens ||
		res.Usage.OutputTokens != res.ThreadUsage.OutputTokens-first.ThreadUsage.OutputTokens {
		t.Errorf("resumed run's usage %+v, want the thread's %+v less the first's %+v", res.Usage, res.ThreadUsage, first.ThreadUsage)
	}
	if u := rec.ofType(wire.EventUsage); len(u) != 1 || u[0].Data["input_tokens"] != float64(res.Usage.InputTokens) {
		t.Errorf("usage event %v, want the run's own %+v", u, res.Usage)
	}
}

func checkModelError(t *testing.T, rec *recorder, res Result, status string) {
	t.Helper()
	if !res.Failed || res.Reason != ReasonModelError || res.Message == "" || !strings.Contains(res.Message, status) {
		t.Fatalf("result = %+v, want %s mentioning %s", res, ReasonModelError, status)
	}
	// One error event even where the CLI reports the failure twice
	// (codex: error, then turn.failed).
	errs := rec.ofType(wire.EventError)
	if len(errs) != 1 || errs[0].str("message") != res.Message {
		t.Errorf("error events = %v, want one saying %q", errs, res.Message)
	}
}
