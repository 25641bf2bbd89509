package pilot

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ufo-run/ufo/rover/wire"
)

// claudeCommand runs Claude Code in print mode with stream-json output and
// the prompt on stdin. acceptEdits lets it write files and run commands
// that write inside the work dir, and it works as root, where
// bypassPermissions refuses to start.
func claudeCommand(spec Spec, t *turn) *pilotCommand {
	args := []string{"-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits"}
	if m := spec.Settings.Model; m != "" {
		args = append(args, "--model", m)
	}
	if n := spec.Settings.MaxTurns; n > 0 {
		args = append(args, "--max-turns", strconv.Itoa(n))
	}
	if spec.SessionID != "" {
		args = append(args, "--resume", spec.SessionID)
	}
	args = append(args, spec.Settings.ExtraArgs...)
	return &pilotCommand{
		path:   spec.binary("claude"),
		args:   args,
		env:    effectiveEnv(spec.Env),
		stdin:  spec.Prompt,
		parser: &claudeParser{t: t},
	}
}

// claudeParser reads `claude -p --output-format stream-json --verbose`.
type claudeParser struct {
	t *turn
}

func (p *claudeParser) end() {}

func (p *claudeParser) line(b []byte) {
	o, ok := parseObject(b)
	if !ok {
		p.t.rawLine(b)
		return
	}
	switch o.str("type") {
	case "system":
		p.system(o)
	case "assistant":
		// A failed model call shows up as a synthetic assistant message
		// with an "error" field, followed by the result that reports it.
		if o["error"] == nil {
			p.assistant(o.obj("message"))
		}
	case "user":
		p.user(o.obj("message"))
	case "result":
		p.result(o)
	case "stream_event", "rate_limit_event", "tool_progress", "tool_use_summary",
		"keep_alive", "auth_status", "prompt_suggestion", "control_request", "control_response":
		// Partial messages (--include-partial-messages) repeat what the
		// assistant lines say whole; the rest is the SDK's bookkeeping.
	default:
		p.t.rawLine(b)
	}
}

func (p *claudeParser) system(o object) {
	switch o.str("subtype") {
	case "init":
		if id := o.str("session_id"); id != "" {
			p.t.sessionID = id
		}
		p.t.status(fmt.Sprintf("claude %s: session %s, model %s, permission mode %s",
			o.str("claude_code_version"), o.str("session_id"), o.str("model"), o.str("permissionMode")))
	case "api_retry":
		msg := fmt.Sprintf("model API retry %d of %d", o.int("attempt"), o.int("max_retries"))
		if s := o.int("error_status"); s != 0 {
			msg += fmt.Sprintf(" after HTTP %d", s)
		}
		if e := o.str("error"); e != "" {
			msg += ": " + e
		}
		p.t.status(msg)
	}
	// Other subtypes (thinking_tokens, hooks, compaction) are bookkeeping.
}

func (p *claudeParser) assistant(msg object) {
	for _, c := range msg.list("content") {
		b := asObject(c)
		switch b.str("type") {
		case "text":
			p.t.textEvent(wire.EventText, b.str("text"))
		case "thinking":
			p.t.textEvent(wire.EventThinking, b.str("thinking"))
		case "tool_use", "server_tool_use", "mcp_tool_use":
			input := b["input"]
			if input == nil {
				input = map[string]any{}
			}
			p.t.emit(wire.EventToolUse, map[string]any{"id": b.str("id"), "name": b.str("name"), "input": input})
		}
	}
}

func (p *claudeParser) user(msg object) {
	for _, c := range msg.list("content") {
		b := asObject(c)
		if b.str("type") != "tool_result" {
			continue
		}
		p.t.emit(wire.EventToolResult, map[string]any{
			"tool_use_id": b.str("tool_use_id"),
			"content":     flattenContent(b["content"]),
			"is_error":    b.boolean("is_error"),
		})
	}
}

// flattenContent turns a tool result's content (a string or a list of
// content blocks) into text.
func flattenContent(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			b := asObject(e)
			switch typ := b.str("type"); typ {
			case "text":
				parts = append(parts, b.str("text"))
			case "":
				if s, ok := e.(string); ok {
					parts = append(parts, s)
				}
			default:
				parts = append(parts, "["+typ+"]")
			}
		}
		return strings.Join(parts, "\n")
	default:
		return ""
	}
}

func (p *claudeParser) result(o object) {
	if id := o.str("session_id"); id != "" {
		p.t.sessionID = id
	}
	if u := o.obj("usage"); u != nil {
		p.t.setUsage(claudeUsage(u, o.float("total_cost_usd")))
	}
	if d := o.list("permission_denials"); len(d) > 0 {
		names := make([]string, 0, len(d))
		for _, e := range d {
			names = append(names, asObject(e).str("tool_name"))
		}
		p.t.status(fmt.Sprintf("permission denied for %d tool call(s): %s", len(d), strings.Join(names, ", ")))
	}
	// Judge by is_error: a model error still says "subtype":"success".
	if !o.boolean("is_error") {
		p.t.final = o.str("result")
		p.t.modelError = ""
		return
	}
	msg := o.str("result")
	if msg == "" {
		var errs []string
		for _, e := range o.list("errors") {
			if s, ok := e.(string); ok {
				errs = append(errs, s)
			}
		}
		msg = strings.Join(errs, "; ")
	}
	if msg == "" {
		msg = "claude reported an error: " + o.str("subtype")
	}
	data := map[string]any{"message": msg}
	if s := o.int("api_error_status"); s != 0 {
		data["api_error_status"] = s
	}
	p.t.emit(wire.EventError, data)
	p.t.modelError = msg
}

// claudeUsage maps Claude's usage to wire.Usage. Anthropic counts cache
// reads and cache writes apart from input_tokens; InputTokens here is every
// prompt token, as OpenAI counts it, so the pilots' numbers compare.
func claudeUsage(u object, cost float64) wire.Usage {
	read := u.int("cache_read_input_tokens")
	return wire.Usage{
		InputTokens:     u.int("input_tokens") + u.int("cache_creation_input_tokens") + read,
		OutputTokens:    u.int("output_tokens"),
		CacheReadTokens: read,
		CostUSD:         cost,
	}
}
