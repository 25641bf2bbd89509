package pilot

import (
	"strings"

	"github.com/ufo-run/ufo/rover/wire"
)

// codexCommand runs `codex exec --json`, or `codex exec resume <id> --json`
// for a follow-up. The prompt goes on stdin, selected by the "-" prompt
// argument: a prompt argument together with a piped stdin would make codex
// append stdin to it, and stdin keeps long prompts out of the process list.
//
// resume has no --sandbox flag and silently falls back to read-only, so it
// gets the sandbox as -c sandbox_mode. ExtraArgs go to both forms; they
// carry the model provider (-c model_provider=… -c model_providers.…) and
// must be options both accept (-c, --enable, --disable, -m).
func codexCommand(spec Spec, t *turn) *pilotCommand {
	var args []string
	if spec.SessionID != "" {
		args = []string{"exec", "resume", spec.SessionID, "--json", "-c", `sandbox_mode="workspace-write"`}
	} else {
		args = []string{"exec", "--json", "--sandbox", "workspace-write"}
	}
	args = append(args, "--skip-git-repo-check")
	if m := spec.Settings.Model; m != "" {
		args = append(args, "-m", m)
	}
	args = append(args, spec.Settings.ExtraArgs...)
	args = append(args, "-")
	return &pilotCommand{
		path:   spec.binary("codex"),
		args:   args,
		env:    effectiveEnv(spec.Env),
		stdin:  spec.Prompt,
		parser: &codexParser{t: t, open: map[string]bool{}, prior: spec.ThreadUsage},
	}
}

// codexParser reads `codex exec --json`.
type codexParser struct {
	t *turn
	// open holds the items whose tool_use was emitted and whose
	// tool_result was not yet.
	open map[string]bool
	// prior is the thread's usage before this run (Spec.ThreadUsage):
	// turn.completed reports the thread's, summed.
	prior *wire.Usage
	// lastErr is the last error message emitted, so that turn.failed does
	// not repeat the error that caused it.
	lastErr string
	// pendingErr is an error not followed by turn.completed. codex also
	// reports stream retries as errors, so an error alone does not fail
	// the turn; one the turn did not recover from does.
	pendingErr string
}

func (p *codexParser) end() {
	if p.t.modelError == "" && p.pendingErr != "" {
		p.t.modelError = p.pendingErr
	}
}

func (p *codexParser) line(b []byte) {
	o, ok := parseObject(b)
	if !ok {
		p.t.rawLine(b)
		return
	}
	switch typ := o.str("type"); typ {
	case "thread.started":
		id := o.str("thread_id")
		if id != "" {
			p.t.sessionID = id
		}
		p.t.status("codex thread " + id)
	case "turn.started":
	case "turn.completed":
		p.pendingErr = ""
		u := o.obj("usage")
		p.t.setThreadUsage(wire.Usage{
			InputTokens:     u.int("input_tokens"),
			OutputTokens:    u.int("output_tokens"),
			CacheReadTokens: u.int("cached_input_tokens"),
		}, p.prior)
	case "turn.failed":
		msg := o.obj("error").str("message")
		if msg == "" {
			msg = "codex turn failed"
		}
		if msg != p.lastErr {
			p.error(msg)
		}
		p.t.modelError = msg
	case "error":
		msg := o.str("message")
		p.error(msg)
		p.pendingErr = msg
	case "item.started", "item.updated", "item.completed":
		p.item(strings.TrimPrefix(typ, "item."), o.obj("item"), b)
	default:
		p.t.rawLine(b)
	}
}

func (p *codexParser) error(msg string) {
	p.lastErr = msg
	p.t.emit(wire.EventError, map[string]string{"message": msg})
}

// item handles one item event; phase is started, updated or completed.
func (p *codexParser) item(phase string, it object, raw []byte) {
	id := it.str("id")
	done := phase == "completed"
	switch it.str("type") {
	case "agent_message":
		if done {
			p.t.textEvent(wire.EventText, it.str("text"))
			p.t.final = it.str("text")
		}
	case "reasoning":
		if done {
			p.t.textEvent(wire.EventThinking, it.str("text"))
		}
	case "command_execution":
		failed := it.str("status") == "failed" || it.str("status") == "declined" ||
			(it["exit_code"] != nil && it.int("exit_code") != 0)
		p.tool(phase, id, "exec_command", map[string]any{"command": it.str("command")},
			it.str("aggregated_output"), failed)
	case "file_change":
		// A patch is a tool call like any other: the changes are its
		// input, their summary its result.
		var lines []string
		for _, c := range it.list("changes") {
			ch := asObject(c)
			lines = append(lines, ch.str("kind")+" "+ch.str("path"))
		}
		p.tool(phase, id, "apply_patch", map[string]any{"changes": it["changes"]},
			strings.Join(lines, "\n"), it.str("status") == "failed")
	case "mcp_tool_call":
		out := flattenContent(it.obj("result").list("content"))
		if e := it.obj("error").str("message"); e != "" {
			out = e
		}
		args := it["arguments"]
		if args == nil {
			args = map[string]any{}
		}
		p.tool(phase, id, it.str("server")+"."+it.str("tool"), args, out,
			it.str("status") == "failed" || it["error"] != nil)
	case "web_search":
		p.tool(phase, id, "web_search", map[string]any{"query": it.str("query")}, "", false)
	case "todo_list":
		var lines []string
		for _, e := range it.list("items") {
			todo := asObject(e)
			mark := "[ ]"
			if todo.boolean("completed") {
				mark = "[x]"
			}
			lines = append(lines, mark+" "+todo.str("text"))
		}
		p.t.status("plan:\n" + strings.Join(lines, "\n"))
	case "error":
		// A non-fatal warning (an unknown model name, a config problem);
		// a fatal one comes as a top-level error or turn.failed.
		if done {
			p.error(it.str("message"))
		}
	default:
		if done {
			p.t.rawLine(raw)
		}
	}
}

// tool emits tool_use when an item starts (or completes unseen) and
// tool_result when it completes.
func (p *codexParser) tool(phase, id, name string, input any, output string, failed bool) {
	if !p.open[id] {
		if phase == "updated" {
			return // not announced yet; completed will do it
		}
		p.t.emit(wire.EventToolUse, map[string]any{"id": id, "name": name, "input": input})
		p.open[id] = true
	}
	if phase != "completed" {
		return
	}
	delete(p.open, id)
	p.t.emit(wire.EventToolResult, map[string]any{"tool_use_id": id, "content": output, "is_error": failed})
}
