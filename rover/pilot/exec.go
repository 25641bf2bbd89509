package pilot

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/ufo-run/ufo/rover/wire"
)

// execCommand runs Settings.Command with /bin/sh in the work dir. The prompt
// is on stdin and in UFO_PROMPT, next to the operation and the work dir.
// Linux refuses to start a program with any one environment string over
// 128 KiB, so a prompt or body longer than maxEnvValue is cut there in its
// variable (UFO_PROMPT_CUT=1 says so); stdin always has the whole prompt.
//
// stderr lines become text events like plain stdout lines: commands write
// progress and diagnostics there, and only the exit status says whether
// the turn failed.
func execCommand(spec Spec, t *turn) *pilotCommand {
	env := append([]string(nil), effectiveEnv(spec.Env)...)
	prompt, cut := cutForEnv(spec.Prompt)
	body, _ := cutForEnv(spec.Operation.Body)
	title, _ := cutForEnv(spec.Operation.Title)
	env = append(env,
		"UFO_PROMPT="+prompt,
		"UFO_OPERATION_CODE="+spec.Operation.Code,
		"UFO_OPERATION_TITLE="+title,
		"UFO_OPERATION_BODY="+body,
		"UFO_WORKDIR="+spec.WorkDir,
	)
	if cut {
		env = append(env, "UFO_PROMPT_CUT=1")
	}
	return &pilotCommand{
		path:       "/bin/sh",
		args:       []string{"-c", spec.Settings.Command},
		env:        env,
		stdin:      spec.Prompt,
		parser:     &execParser{t: t},
		stderrText: true,
	}
}

// maxEnvValue is the most of a prompt or body put in one variable, well
// under the kernel's 128 KiB for one environment string.
const maxEnvValue = 100 << 10

// cutForEnv is s cut to maxEnvValue bytes on a character boundary, and
// whether it was cut.
func cutForEnv(s string) (string, bool) {
	if len(s) <= maxEnvValue {
		return s, false
	}
	i := maxEnvValue
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i], true
}

var eventTypes = map[string]bool{
	wire.EventText: true, wire.EventThinking: true, wire.EventToolUse: true,
	wire.EventToolResult: true, wire.EventUsage: true, wire.EventError: true,
	wire.EventStatus: true,
}

// execParser reads an exec pilot's stdout. A JSON object whose "type" is a
// wire event type passes through as that event, with its "data" (or the
// rest of the object) as data; any other non-blank line is a text event.
// The final message is the last text.
type execParser struct {
	t *turn
}

func (p *execParser) end() {}

func (p *execParser) line(b []byte) {
	o, ok := parseObject(b)
	if !ok || !eventTypes[o.str("type")] {
		p.text(string(b))
		return
	}
	typ := o.str("type")
	data, has := o["data"]
	if !has {
		rest := make(map[string]any, len(o))
		for k, v := range o {
			if k != "type" {
				rest[k] = v
			}
		}
		data = rest
	}
	switch typ {
	case wire.EventText:
		if s := asObject(data).str("text"); s != "" {
			p.t.final = s
		}
	case wire.EventUsage:
		if u, ok := usageOf(data); ok {
			p.t.usage = &u
		}
	}
	p.t.emit(typ, data)
}

func (p *execParser) text(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	p.t.textEvent(wire.EventText, s)
	p.t.final = s
}

func usageOf(data any) (wire.Usage, bool) {
	b, err := json.Marshal(data)
	if err != nil {
		return wire.Usage{}, false
	}
	var u wire.Usage
	if err := json.Unmarshal(b, &u); err != nil {
		return wire.Usage{}, false
	}
	return u, true
}
