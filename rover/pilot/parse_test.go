package pilot

import (
	"strings"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

// parseLines feeds lines to a fresh parser of kind.
func parseLines(t *testing.T, kind string, lines ...string) (*recorder, Result) {
	t.Helper()
	rec := newRecorder(t)
	tu := &turn{emit: (&sink{to: rec.emit}).emit}
	p := newParser(kind, tu)
	for _, l := range lines {
		p.line([]byte(l))
	}
	p.end()
	return rec, tu.result()
}

func TestClaudeParserEdges(t *testing.T) {
	t.Parallel()
	rec, res := parseLines(t, KindClaude,
		`{"type":"system","subtype":"init","session_id":"s1","model":"m","claude_code_version":"9.9","permissionMode":"acceptEdits"}`,
		`{"type":"system","subtype":"api_retry","attempt":1,"max_retries":3,"error_status":529,"error":"overloaded"}`,
		`{"type":"system","subtype":"thinking_tokens","estimated_tokens":4}`,
		`{"type":"stream_event","event":{"type":"message_start"}}`,
		`{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Read"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"  "}]}}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"line 1"},{"type":"image","source":{}},{"type":"text","text":"line 2"}]}]}}`,
		`{"type":"user","message":{"content":"a plain prompt echo"}}`,
		`{"type":"future_thing","x":1}`,
		`not json at all`,
		`{"type":"assistant","message":{"content":"not a list"}}`,
		`{"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"s1","num_turns":3,"usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7},"total_cost_usd":0.5,"permission_denials":[{"tool_name":"Bash"},{"tool_name":"WebFetch"}]}`,
	)
	checkTypes(t, rec, "status status tool_use tool_result text text usage status error")
	ev := rec.all()
	if got := ev[1].str("message"); got != "model API retry 1 of 3 after HTTP 529: overloaded" {
		t.Errorf("retry status = %q", got)
	}
	if string(ev[2].Raw) != `{"id":"t1","input":{},"name":"Read"}` {
		t.Errorf("tool_use without input = %s", ev[2].Raw)
	}
	if string(ev[3].Raw) != `{"content":"line 1\n[image]\nline 2","is_error":true,"tool_use_id":"t1"}` {
		t.Errorf("flattened tool_result = %s", ev[3].Raw)
	}
	if ev[4].str("text") != `{"type":"future_thing","x":1}` || ev[5].str("text") != "not json at all" {
		t.Errorf("unknown lines = %s, %s", ev[4].Raw, ev[5].Raw)
	}
	if u := usageOfEvent(t, ev[6]); u != (wire.Usage{InputTokens: 115, OutputTokens: 7, CacheReadTokens: 100, CostUSD: 0.5}) {
		t.Errorf("usage = %+v", u)
	}
	if got := ev[7].str("message"); got != "permission denied for 2 tool call(s): Bash, WebFetch" {
		t.Errorf("denials status = %q", got)
	}
	if !res.Failed || res.Reason != ReasonModelError || !strings.Contains(res.Message, "error_max_turns") {
		t.Errorf("result = %+v", res)
	}
	if _, ok := ev[8].Data["api_error_status"]; ok {
		t.Errorf("error without a status should not carry one: %s", ev[8].Raw)
	}
}

func TestCodexParserEdges(t *testing.T) {
	t.Parallel()
	rec, res := parseLines(t, KindCodex,
		`{"type":"thread.started","thread_id":"th1"}`,
		`{"type":"turn.started"}`,
		`{"type":"error","message":"Reconnecting... 1/5"}`,
		`{"type":"item.completed","item":{"id":"i0","type":"command_execution","command":"false","aggregated_output":"","exit_code":1,"status":"failed"}}`,
		`{"type":"item.started","item":{"id":"i1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"x"},"status":"in_progress"}}`,
		`{"type":"item.updated","item":{"id":"i1","type":"mcp_tool_call","server":"docs","tool":"search","status":"in_progress"}}`,
		`{"type":"item.completed","item":{"id":"i1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{"q":"x"},"result":{"content":[{"type":"text","text":"found"}]},"error":null,"status":"completed"}}`,
		`{"type":"item.updated","item":{"id":"i2","type":"todo_list","items":[{"text":"write","completed":true},{"text":"test","completed":false}]}}`,
		`{"type":"item.completed","item":{"id":"i3","type":"error","message":"model metadata not found"}}`,
		`{"type":"item.completed","item":{"id":"i4","type":"future_item"}}`,
		`{"type":"item.started","item":{"id":"i4","type":"future_item"}}`,
		`{"type":"item.completed","item":{"id":"i5","type":"agent_message","text":"first"}}`,
		`{"type":"item.completed","item":{"id":"i6","type":"agent_message","text":"last"}}`,
		`{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":50,"output_tokens":40}}`,
		`{"type":"turn.completed","usage":{"input_tokens":400,"cached_input_tokens":100,"output_tokens":80}}`,
		`{"broken":`,
	)
	checkTypes(t, rec, "status error tool_use tool_result tool_use tool_result status error text text text usage usage text")
	ev := rec.all()
	if ev[3].Data["is_error"] != true || ev[3].str("tool_use_id") != "i0" {
		t.Errorf("failed command result = %s", ev[3].Raw)
	}
	if string(ev[4].Raw) != `{"id":"i1","input":{"q":"x"},"name":"docs.search"}` || ev[5].str("content") != "found" || ev[5].Data["is_error"] != false {
		t.Errorf("mcp tool call = %s, %s", ev[4].Raw, ev[5].Raw)
	}
	if got := ev[6].str("message"); got != "plan:\n[x] write\n[ ] test" {
		t.Errorf("todo status = %q", got)
	}
	// A retry notice followed by a completed turn is no failure, and the
	// usage kept is the latest, as codex reports it.
	if res.Failed || res.SessionID != "th1" || res.FinalMessage != "last" {
		t.Errorf("result = %+v", res)
	}
	if res.Usage == nil || *res.Usage != (wire.Usage{InputTokens: 400, OutputTokens: 80, CacheReadTokens: 100}) {
		t.Errorf("usage = %+v", res.Usage)
	}
}

// An error the turn does not recover from fails it, even without
// turn.failed (codex killed, or an older release).
func TestCodexParserUnrecoveredError(t *testing.T) {
	t.Parallel()
	_, res := parseLines(t, KindCodex,
		`{"type":"thread.started","thread_id":"th1"}`,
		`{"type":"error","message":"stream disconnected"}`,
	)
	if !res.Failed || res.Reason != ReasonModelError || res.Message != "stream disconnected" {
		t.Errorf("result = %+v", res)
	}
}
