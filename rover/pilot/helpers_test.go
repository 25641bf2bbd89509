package pilot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

// event is an emitted event with its data decoded.
type event struct {
	Type string
	Raw  json.RawMessage
	Data map[string]any
}

func (e event) str(k string) string {
	s, _ := e.Data[k].(string)
	return s
}

// recorder collects emitted events.
type recorder struct {
	t      testing.TB
	mu     sync.Mutex
	events []event
}

func newRecorder(t testing.TB) *recorder { return &recorder{t: t} }

func (r *recorder) emit(typ string, data any) {
	raw, ok := data.(json.RawMessage)
	if !ok {
		r.t.Errorf("emit %s: data is %T, want json.RawMessage", typ, data)
		return
	}
	if !json.Valid(raw) {
		r.t.Errorf("emit %s: invalid JSON %q", typ, raw)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{Type: typ, Raw: append(json.RawMessage(nil), raw...), Data: m})
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func (r *recorder) ofType(typ string) []event {
	var out []event
	for _, e := range r.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// types lists the events' types in order.
func (r *recorder) types() []string {
	var out []string
	for _, e := range r.all() {
		out = append(out, e.Type)
	}
	return out
}

// parseFile feeds a recorded stdout transcript to a fresh parser of kind,
// the way Run does, and returns what it learned.
func parseFile(t *testing.T, kind, name string) (*recorder, *turn) {
	return parseFileAfter(t, kind, name, nil)
}

// parseFileAfter is parseFile for a resumed session whose thread had
// reported prior (Spec.ThreadUsage).
func parseFileAfter(t *testing.T, kind, name string, prior *wire.Usage) (*recorder, *turn) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read transcript: %v", err)
	}
	rec := newRecorder(t)
	tu := &turn{emit: (&sink{to: rec.emit}).emit}
	p := newParser(kind, tu)
	if cp, ok := p.(*codexParser); ok {
		cp.prior = prior
	}
	readLines(bytes.NewReader(b), &activity{}, p.line)
	p.end()
	return rec, tu
}

func newParser(kind string, t *turn) parser {
	switch kind {
	case KindClaude:
		return &claudeParser{t: t}
	case KindCodex:
		return &codexParser{t: t, open: map[string]bool{}}
	default:
		return &execParser{t: t}
	}
}

// groupMembers lists the live (non-zombie) processes of group pgid, read
// from /proc independently of the code under test.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("read /proc: %v", err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if pg, _ := strconv.Atoi(f[2]); pg == pgid && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// processGone reports whether pid no longer runs. An orphan whose init
// does not reap it (as in some containers) stays a zombie: gone too.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return f[0] == "Z"
}

func usageOfEvent(t *testing.T, e event) wire.Usage {
	t.Helper()
	var u wire.Usage
	if err := json.Unmarshal(e.Raw, &u); err != nil {
		t.Fatalf("usage event %s: %v", e.Raw, err)
	}
	return u
}
