package pilottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// NewAnthropic starts a fake Anthropic Messages API for claude. Point
// ANTHROPIC_BASE_URL at the returned server's URL.
func NewAnthropic(t testing.TB, script Script) *Server {
	t.Helper()
	return start(t, script, serveAnthropic)
}

type anthropicRequest struct {
	Model        string             `json:"model"`
	Stream       bool               `json:"stream"`
	System       json.RawMessage    `json:"system"`
	Messages     []anthropicMessage `json:"messages"`
	OutputConfig struct {
		Format struct {
			Type string `json:"type"`
		} `json:"format"`
	} `json:"output_config"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// blocks returns the message's content blocks; a plain string content is a
// single text block.
func (m anthropicMessage) blocks() []map[string]any {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return []map[string]any{{"type": "text", "text": s}}
	}
	var bs []map[string]any
	_ = json.Unmarshal(m.Content, &bs)
	return bs
}

func (m anthropicMessage) hasToolResult() bool {
	for _, b := range m.blocks() {
		if b["type"] == "tool_result" {
			return true
		}
	}
	return false
}

func serveAnthropic(s *Server, w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		s.t.Logf("pilottest: anthropic fake: unexpected %s %s", r.Method, r.URL.Path)
		writeJSON(w, http.StatusNotFound, map[string]any{"type": "error", "error": map[string]any{"type": "not_found_error", "message": "not found"}})
		return
	}
	if s.script.FailStatus != 0 {
		writeJSON(w, s.script.FailStatus, map[string]any{"type": "error", "error": map[string]any{
			"type": "overloaded_error", "message": fmt.Sprintf("scripted failure %d", s.script.FailStatus),
		}})
		return
	}
	var req anthropicRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]any{"type": "invalid_request_error", "message": err.Error()}})
		return
	}
	// The CLI merges consecutive assistant messages that share an id, so
	// every answer gets its own.
	n := len(s.ModelRequests("/v1/messages"))
	id := fmt.Sprintf("msg_%02d", n)
	blocks := s.anthropicAnswer(req, n)
	if !req.Stream {
		writeJSON(w, http.StatusOK, map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content": blocks, "stop_reason": stopReason(blocks), "stop_sequence": nil,
			"usage": map[string]any{"input_tokens": 120, "output_tokens": 30},
		})
		return
	}
	streamAnthropic(newSSE(w), id, req.Model, blocks)
}

// anthropicAnswer returns the content blocks of the next assistant message.
func (s *Server) anthropicAnswer(req anthropicRequest, n int) []map[string]any {
	if req.OutputConfig.Format.Type == "json_schema" {
		return []map[string]any{{"type": "text", "text": `{"title":"Fake session"}`}}
	}
	prompt := -1
	for i, m := range req.Messages {
		if m.Role == "user" && !m.hasToolResult() {
			prompt = i
		}
	}
	results := 0
	for _, m := range req.Messages[prompt+1:] {
		if m.Role == "user" {
			results++
		}
	}
	resumed := false
	for _, m := range req.Messages[:max(prompt, 0)] {
		if m.Role == "assistant" {
			resumed = true
		}
	}
	id := fmt.Sprintf("toolu_%02d", n)
	switch s.script.next(results, resumed) {
	case stepWrite:
		var out []map[string]any
		if s.script.Thinking != "" {
			out = append(out, map[string]any{"type": "thinking", "thinking": s.script.Thinking, "signature": "fake-signature"})
		}
		path := filepath.Join(workingDirectory(req.System), s.script.File)
		return append(out,
			map[string]any{"type": "text", "text": "I will create " + s.script.File + "."},
			map[string]any{"type": "tool_use", "id": id, "name": "Write", "input": map[string]any{"file_path": path, "content": s.script.Content}},
		)
	case stepCommand:
		return []map[string]any{{"type": "tool_use", "id": id, "name": "Bash", "input": map[string]any{"command": s.script.Command, "description": "Run the scripted command"}}}
	case stepFollowUp:
		return []map[string]any{{"type": "text", "text": s.script.FollowUp}}
	default:
		return []map[string]any{{"type": "text", "text": s.script.Final}}
	}
}

// workingDirectory reads "Primary working directory: <cwd>" from the
// system prompt, which is a string or a list of text blocks.
func workingDirectory(system json.RawMessage) string {
	var text string
	if json.Unmarshal(system, &text) != nil {
		var blocks []struct {
			Text string `json:"text"`
		}
		_ = json.Unmarshal(system, &blocks)
		for _, b := range blocks {
			text += b.Text + "\n"
		}
	}
	const marker = "Primary working directory: "
	i := strings.Index(text, marker)
	if i < 0 {
		return "."
	}
	rest := text[i+len(marker):]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

func stopReason(blocks []map[string]any) string {
	for _, b := range blocks {
		if b["type"] == "tool_use" {
			return "tool_use"
		}
	}
	return "end_turn"
}

// streamAnthropic sends blocks as a Messages API event stream.
func streamAnthropic(e sse, id, model string, blocks []map[string]any) {
	e.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 120, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
	}})
	for i, b := range blocks {
		switch b["type"] {
		case "thinking":
			e.send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}})
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "thinking_delta", "thinking": b["thinking"]}})
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "signature_delta", "signature": b["signature"]}})
		case "tool_use":
			input, _ := json.Marshal(b["input"])
			e.send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}})
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "input_json_delta", "partial_json": string(input)}})
		default:
			e.send("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": map[string]any{"type": "text", "text": ""}})
			e.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]any{"type": "text_delta", "text": b["text"]}})
		}
		e.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	e.send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stopReason(blocks), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": 30}})
	e.send("message_stop", map[string]any{"type": "message_stop"})
}
