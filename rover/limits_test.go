package rover

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

func TestShrinkEvent(t *testing.T) {
	t.Parallel()
	small := json.RawMessage(`{"text":"hi"}`)
	if got := shrinkEvent(wire.EventText, small); string(got) != string(small) {
		t.Errorf("a small event changed: %s", got)
	}

	// A tool result with a huge content keeps its shape, the content cut.
	huge := strings.Repeat("é", 200<<10)
	raw, _ := json.Marshal(map[string]any{"tool_use_id": "t1", "content": huge, "is_error": false, "n": 12345678901234567})
	got := shrinkEvent(wire.EventToolResult, raw)
	var d struct {
		ToolUseID string      `json:"tool_use_id"`
		Content   string      `json:"content"`
		N         json.Number `json:"n"`
	}
	if err := json.Unmarshal(got, &d); err != nil || len(got) > maxEventBytes {
		t.Fatalf("shrunk to %d bytes: %v", len(got), err)
	}
	if d.ToolUseID != "t1" || !strings.HasPrefix(d.Content, "éé") || !strings.Contains(d.Content, "bytes cut]") || d.N != "12345678901234567" {
		t.Errorf("shrunk event = %.200s", got)
	}

	// Too many fields to fit even cut: a note takes its place.
	many := map[string]string{}
	for i := range 20000 {
		many[strings.Repeat("k", 8)+string(rune('a'+i%26))+strings.Repeat("v", i%7)+string(rune(i))] = "value"
	}
	raw, _ = json.Marshal(many)
	got = shrinkEvent(wire.EventToolUse, raw)
	if len(got) > maxEventBytes || !strings.Contains(string(got), "too large to send") {
		t.Errorf("unshrinkable event became %.200s", got)
	}
}

func TestFitCompletion(t *testing.T) {
	t.Parallel()
	// A diff full of characters JSON escapes, larger than a request may be.
	diff := strings.Repeat("+\t\"<tag>\"\t\\\n", 80<<10)
	c := wire.Completion{Status: wire.RunSucceeded, FailureMessage: strings.Repeat("m", 100<<10),
		Artifact: &wire.Artifact{Diff: diff, Files: 1, Insertions: 80 << 10}}
	fitCompletion(&c)
	b, err := encode(c)
	if err != nil || len(b) > maxCompletionBytes {
		t.Fatalf("completion is %d bytes, want at most %d (%v)", len(b), maxCompletionBytes, err)
	}
	if !strings.Contains(c.Artifact.Diff, "[diff truncated: ") || c.Artifact.Insertions != 80<<10 || len(c.Artifact.Diff) < 100<<10 {
		t.Errorf("diff cut to %d bytes, stats %+v", len(c.Artifact.Diff), c.Artifact.Insertions)
	}
	if len(c.FailureMessage) > maxMessageBytes+40 {
		t.Errorf("failure message kept %d bytes", len(c.FailureMessage))
	}
	small := wire.Completion{Artifact: &wire.Artifact{Diff: "+a\n"}}
	if fitCompletion(&small); small.Artifact.Diff != "+a\n" {
		t.Errorf("a small diff changed: %q", small.Artifact.Diff)
	}
}

func TestCutStringKeepsRunes(t *testing.T) {
	t.Parallel()
	got := cutString("héllo wörld", 2)
	if got != "h…[12 bytes cut]" { // é is two bytes: cut before it, not inside
		t.Errorf("cutString = %q", got)
	}
}
