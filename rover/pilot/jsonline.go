package pilot

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/ufo-run/ufo/rover/wire"
)

// object is one decoded JSON line with lenient accessors: a missing field
// or one of an unexpected type reads as its zero value, so drift in a CLI's
// output format degrades to missing details, never to a panic.
type object map[string]any

// parseObject decodes a line that holds exactly one JSON object.
func parseObject(b []byte) (object, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // keeps tool inputs' numbers as they were written
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return object(m), true
}

func asObject(v any) object {
	m, _ := v.(map[string]any)
	return object(m)
}

func (o object) str(k string) string {
	s, _ := o[k].(string)
	return s
}

func (o object) obj(k string) object { return asObject(o[k]) }

func (o object) list(k string) []any {
	l, _ := o[k].([]any)
	return l
}

func (o object) boolean(k string) bool {
	b, _ := o[k].(bool)
	return b
}

func (o object) int(k string) int64 {
	n, ok := o[k].(json.Number)
	if !ok {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return int64(f)
}

func (o object) float(k string) float64 {
	n, ok := o[k].(json.Number)
	if !ok {
		return 0
	}
	f, _ := n.Float64()
	return f
}

// textEvent emits a text (or thinking) event unless s is blank.
func (t *turn) textEvent(typ, s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	t.emit(typ, map[string]string{"text": s})
}

// rawLine emits a line the parser does not understand as a text event.
func (t *turn) rawLine(b []byte) {
	t.textEvent(wire.EventText, string(b))
}

func (t *turn) status(msg string) {
	t.emit(wire.EventStatus, map[string]string{"message": msg})
}

// setThreadUsage records usage summed over the thread (codex): the run's
// own is what it adds to prior, the thread's before the run.
func (t *turn) setThreadUsage(u wire.Usage, prior *wire.Usage) {
	thread := u
	t.threadUsage = &thread
	if prior != nil {
		u.InputTokens = max(u.InputTokens-prior.InputTokens, 0)
		u.OutputTokens = max(u.OutputTokens-prior.OutputTokens, 0)
		u.CacheReadTokens = max(u.CacheReadTokens-prior.CacheReadTokens, 0)
	}
	t.setUsage(u)
}

func (t *turn) setUsage(u wire.Usage) {
	t.usage = &u
	t.emit(wire.EventUsage, u)
}
