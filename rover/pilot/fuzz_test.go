package pilot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSecret must never survive into an event, however the input spells it.
const fuzzSecret = "fuzz-secret-value"

// fuzzParser feeds data to a parser of kind and checks what comes out:
// known event types only, valid JSON data, no secret. The seed corpus is
// testdata/fuzz/<target> (malformed and ill-typed lines) plus the recorded
// transcripts of the kind.
func fuzzParser(f *testing.F, kind string) {
	files, _ := filepath.Glob(filepath.Join("testdata", kind+"-*.jsonl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		red := newRedactor([]string{fuzzSecret}, nil)
		tu := &turn{emit: (&sink{red: red, to: func(typ string, d any) {
			raw, ok := d.(json.RawMessage)
			if !ok || !json.Valid(raw) {
				t.Fatalf("%s event with invalid data %v", typ, d)
			}
			if !eventTypes[typ] {
				t.Fatalf("unknown event type %q", typ)
			}
			var v any
			_ = json.Unmarshal(raw, &v)
			if containsSecret(v) {
				t.Fatalf("%s event leaks the secret: %s", typ, raw)
			}
		}}).emit}
		p := newParser(kind, tu)
		readLines(bytes.NewReader(data), &activity{}, p.line)
		p.end()
		res := red.result(tu.result())
		if strings.Contains(res.FinalMessage+res.Message+res.SessionID, fuzzSecret) {
			t.Fatalf("result leaks the secret: %+v", res)
		}
	})
}

func containsSecret(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, fuzzSecret)
	case []any:
		for _, e := range v {
			if containsSecret(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, fuzzSecret) || containsSecret(e) {
				return true
			}
		}
	}
	return false
}

func FuzzClaudeParser(f *testing.F) { fuzzParser(f, KindClaude) }

func FuzzCodexParser(f *testing.F) { fuzzParser(f, KindCodex) }

// FuzzExecParser has no recorded transcripts: exec output is whatever the
// command prints; its corpus covers JSON passthrough.
func FuzzExecParser(f *testing.F) { fuzzParser(f, KindExec) }
