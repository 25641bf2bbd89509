package pilottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// NewOpenAI starts a fake OpenAI Responses API for codex. Configure codex
// with a model provider whose base_url is the returned server's URL + "/v1"
// and wire_api "responses".
func NewOpenAI(t testing.TB, script Script) *Server {
	t.Helper()
	return start(t, script, serveOpenAI)
}

type openAIRequest struct {
	Model  string           `json:"model"`
	Stream bool             `json:"stream"`
	Input  []map[string]any `json:"input"`
}

func serveOpenAI(s *Server, w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/responses" {
		s.t.Logf("pilottest: openai fake: unexpected %s %s", r.Method, r.URL.Path)
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"type": "not_found", "message": "not found"}})
		return
	}
	if s.script.FailStatus != 0 {
		writeJSON(w, s.script.FailStatus, map[string]any{"error": map[string]any{
			"type": "server_error", "message": fmt.Sprintf("scripted failure %d", s.script.FailStatus),
		}})
		return
	}
	var req openAIRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"type": "invalid_request_error", "message": err.Error()}})
		return
	}
	streamOpenAI(newSSE(w), len(s.ModelRequests("/v1/responses")), s.openAIAnswer(req))
}

// openAIAnswer returns the output items of the next response.
func (s *Server) openAIAnswer(req openAIRequest) []map[string]any {
	prompt := -1
	for i, it := range req.Input {
		if it["type"] == "message" && it["role"] == "user" {
			prompt = i
		}
	}
	results := 0
	for _, it := range req.Input[prompt+1:] {
		if it["type"] == "custom_tool_call_output" || it["type"] == "function_call_output" {
			results++
		}
	}
	resumed := false
	for _, it := range req.Input[:max(prompt, 0)] {
		if it["role"] == "assistant" || it["type"] == "custom_tool_call" || it["type"] == "function_call" {
			resumed = true
		}
	}
	callID := fmt.Sprintf("call_%02d", len(req.Input))
	message := func(text string) map[string]any {
		return map[string]any{"type": "message", "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
	}
	switch s.script.next(results, resumed) {
	case stepWrite:
		var out []map[string]any
		if s.script.Thinking != "" {
			out = append(out, map[string]any{"type": "reasoning", "summary": []any{
				map[string]any{"type": "summary_text", "text": s.script.Thinking}}})
		}
		patch := "*** Begin Patch\n*** Add File: " + s.script.File + "\n+" + s.script.Content + "\n*** End Patch\n"
		return append(out, map[string]any{"type": "custom_tool_call", "status": "completed",
			"call_id": callID, "name": "apply_patch", "input": patch})
	case stepCommand:
		args, _ := json.Marshal(map[string]any{"cmd": s.script.Command})
		return []map[string]any{{"type": "function_call", "call_id": callID, "name": "exec_command", "arguments": string(args)}}
	case stepFollowUp:
		return []map[string]any{message(s.script.FollowUp)}
	default:
		return []map[string]any{message(s.script.Final)}
	}
}

// streamOpenAI sends items as a Responses API event stream.
func streamOpenAI(e sse, n int, items []map[string]any) {
	respID := fmt.Sprintf("resp_%02d", n)
	e.send("response.created", map[string]any{"type": "response.created", "response": map[string]any{"id": respID}})
	for i, it := range items {
		id := fmt.Sprintf("item_%02d_%d", n, i)
		it["id"] = id
		if it["type"] == "message" {
			text := it["content"].([]any)[0].(map[string]any)["text"]
			e.send("response.output_item.added", map[string]any{"type": "response.output_item.added", "output_index": i,
				"item": map[string]any{"type": "message", "id": id, "role": "assistant", "status": "in_progress", "content": []any{}}})
			e.send("response.output_text.delta", map[string]any{"type": "response.output_text.delta",
				"item_id": id, "output_index": i, "content_index": 0, "delta": text})
		} else {
			e.send("response.output_item.added", map[string]any{"type": "response.output_item.added", "output_index": i, "item": it})
		}
		e.send("response.output_item.done", map[string]any{"type": "response.output_item.done", "output_index": i, "item": it})
	}
	e.send("response.completed", map[string]any{"type": "response.completed", "response": map[string]any{
		"id": respID, "status": "completed",
		"usage": map[string]any{
			"input_tokens": 200, "input_tokens_details": map[string]any{"cached_tokens": 50},
			"output_tokens": 40, "output_tokens_details": map[string]any{"reasoning_tokens": 10},
			"total_tokens": 240,
		},
	}})
}
