package pilottest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sseEvent is one server-sent event, its data decoded.
type sseEvent struct {
	name string
	data map[string]any
}

func post(t *testing.T, url, body string) (int, []sseEvent) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []sseEvent
	var name string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("event %s: %v", name, err)
			}
			events = append(events, sseEvent{name, d})
		}
	}
	return resp.StatusCode, events
}

func names(events []sseEvent) string {
	var out []string
	for _, e := range events {
		out = append(out, e.name)
	}
	return strings.Join(out, " ")
}

var script = Script{File: "hello.txt", Content: "hi", Final: "done", FollowUp: "again"}

func TestAnthropicScript(t *testing.T) {
	t.Parallel()
	s := NewAnthropic(t, script)
	if resp, err := http.Head(s.URL); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD / = %v, %v", resp, err)
	}
	url := s.URL + "/v1/messages?beta=true"
	system := `"system":[{"type":"text","text":"You are Claude.\nPrimary working directory: /work/dir\nIs a git repository: false"}]`

	_, ev := post(t, url, `{"model":"m","stream":true,`+system+`,"messages":[{"role":"user","content":"make a file"}]}`)
	if got := names(ev); got != "message_start content_block_start content_block_delta content_block_stop content_block_start content_block_delta content_block_stop message_delta message_stop" {
		t.Fatalf("events = %s", got)
	}
	block := ev[4].data["content_block"].(map[string]any)
	partial := ev[5].data["delta"].(map[string]any)["partial_json"].(string)
	if block["name"] != "Write" || partial != `{"content":"hi","file_path":"/work/dir/hello.txt"}` {
		t.Errorf("tool call = %v %s", block, partial)
	}
	if ev[7].data["delta"].(map[string]any)["stop_reason"] != "tool_use" {
		t.Errorf("stop reason = %v", ev[7].data)
	}

	_, ev = post(t, url, `{"model":"m","stream":true,`+system+`,"messages":[{"role":"user","content":"make a file"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"Write","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"ok"}]}]}`)
	if len(ev) != 6 || ev[2].data["delta"].(map[string]any)["text"] != "done" {
		t.Errorf("after the tool result: %s %v", names(ev), ev)
	}

	_, ev = post(t, url, `{"model":"m","stream":true,"messages":[{"role":"user","content":"make a file"},{"role":"assistant","content":[{"type":"text","text":"done"}]},{"role":"user","content":"still there?"}]}`)
	if len(ev) != 6 || ev[2].data["delta"].(map[string]any)["text"] != "again" {
		t.Errorf("follow-up: %s %v", names(ev), ev)
	}
	if n := len(s.ModelRequests("/v1/messages")); n != 3 {
		t.Errorf("recorded %d model requests, want 3", n)
	}

	failing := NewAnthropic(t, Script{FailStatus: 529})
	if code, _ := post(t, failing.URL+"/v1/messages", `{"stream":true,"messages":[]}`); code != 529 {
		t.Errorf("failing server answered %d", code)
	}
}

func TestOpenAIScript(t *testing.T) {
	t.Parallel()
	s := NewOpenAI(t, Script{File: "hello.txt", Content: "hi", Command: "cat hello.txt", Final: "done", FollowUp: "again"})
	url := s.URL + "/v1/responses"
	prompt := `{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"make a file"}]}`

	_, ev := post(t, url, `{"model":"gpt-5.5","stream":true,"input":[`+prompt+`]}`)
	if got := names(ev); got != "response.created response.output_item.added response.output_item.done response.completed" {
		t.Fatalf("events = %s", got)
	}
	item := ev[2].data["item"].(map[string]any)
	if item["type"] != "custom_tool_call" || item["name"] != "apply_patch" || item["input"] != "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch\n" {
		t.Errorf("first item = %v", item)
	}

	_, ev = post(t, url, `{"stream":true,"input":[`+prompt+`,{"type":"custom_tool_call_output","call_id":"c","output":"ok"}]}`)
	if item := ev[2].data["item"].(map[string]any); item["type"] != "function_call" || item["name"] != "exec_command" || item["arguments"] != `{"cmd":"cat hello.txt"}` {
		t.Errorf("second item = %v", item)
	}

	_, ev = post(t, url, `{"stream":true,"input":[`+prompt+`,{"type":"custom_tool_call_output","call_id":"c","output":"ok"},{"type":"function_call_output","call_id":"d","output":"hi"}]}`)
	if got := names(ev); got != "response.created response.output_item.added response.output_text.delta response.output_item.done response.completed" || ev[2].data["delta"] != "done" {
		t.Errorf("final: %s %v", got, ev)
	}

	_, ev = post(t, url, `{"stream":true,"input":[`+prompt+`,{"type":"message","role":"assistant","content":[{"type":"output_text","text":"done"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"still there?"}]}]}`)
	if len(ev) != 5 || ev[2].data["delta"] != "again" {
		t.Errorf("follow-up: %s %v", names(ev), ev)
	}
	usage := ev[4].data["response"].(map[string]any)["usage"].(map[string]any)
	if usage["input_tokens"] != float64(200) || usage["output_tokens"] != float64(40) {
		t.Errorf("usage = %v", usage)
	}

	failing := NewOpenAI(t, Script{FailStatus: 500})
	if code, _ := post(t, failing.URL+"/v1/responses", `{"stream":true,"input":[]}`); code != 500 {
		t.Errorf("failing server answered %d", code)
	}
}
