package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/rover/wire"
)

// runView is one run on an operation's page: its header and its timeline.
type runView struct {
	app.Run
	Rover string
	Open  bool // the newest run is shown unfolded
	Items []timelineItem
	Usage *usage
	// Partial is set when the timeline shows only the run's first events.
	Partial bool
}

// timelineItem is one typed event as the timeline shows it. A tool_use
// carries the output of its tool_result, so both fold together.
type timelineItem struct {
	Key         string // unique on the page: run id and sequence number
	Seq         int64
	Type        string // text, thinking, tool_use, tool_result, usage, error, status
	At          time.Time
	Text        string
	Tool        string
	Hint        string // what the tool was pointed at: a command, a file
	Input       string
	Output      string
	HasOutput   bool
	OutputError bool
	Usage       *usage
}

type usage struct {
	Input, Output, CacheRead int64
	Cost                     float64
}

// CostText is the cost in dollars, or "" when the pilot reported none.
func (u usage) CostText() string {
	if u.Cost <= 0 {
		return ""
	}
	return "$" + strconv.FormatFloat(u.Cost, 'f', 4, 64)
}

func parseUsage(raw json.RawMessage) *usage {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "{}" {
		return nil
	}
	var u wire.Usage
	if json.Unmarshal(raw, &u) != nil {
		return nil
	}
	return &usage{Input: u.InputTokens, Output: u.OutputTokens, CacheRead: u.CacheReadTokens, Cost: u.CostUSD}
}

func newRunView(run app.Run, evs []app.RunEvent, open bool) runView {
	rv := runView{Run: run, Open: open, Usage: parseUsage(run.Usage), Partial: len(evs) >= runEventsShown}
	tools := map[string]int{} // tool_use id → index in Items
	for _, ev := range evs {
		it := timelineItem{Key: run.ID + "-" + strconv.FormatInt(ev.Seq, 10), Seq: ev.Seq, Type: ev.Type, At: ev.At}
		var d struct {
			Text      string          `json:"text"`
			Message   string          `json:"message"`
			Dropped   int             `json:"dropped"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
			IsError   bool            `json:"is_error"`
		}
		_ = json.Unmarshal(ev.Data, &d) // an event of another shape shows as empty
		switch ev.Type {
		case wire.EventText, wire.EventThinking:
			it.Text = d.Text
		case wire.EventToolUse:
			it.Tool, it.Input, it.Hint = d.Name, prettyJSON(d.Input), toolHint(d.Input)
			if d.ID != "" {
				tools[d.ID] = len(rv.Items)
			}
		case wire.EventToolResult:
			out := toolOutput(d.Content)
			if i, ok := tools[d.ToolUseID]; ok && !rv.Items[i].HasOutput {
				rv.Items[i].Output, rv.Items[i].HasOutput, rv.Items[i].OutputError = out, true, d.IsError
				continue
			}
			it.Output, it.HasOutput, it.OutputError = out, true, d.IsError
		case wire.EventUsage:
			it.Usage = parseUsage(ev.Data)
		case wire.EventError, wire.EventStatus:
			it.Text = d.Message
			if d.Dropped > 0 {
				it.Text = fmt.Sprintf("the rover dropped %d events while the server was unreachable", d.Dropped)
			}
		}
		rv.Items = append(rv.Items, it)
	}
	return rv
}

// toolHint picks what a tool call was pointed at from its input.
func toolHint(raw json.RawMessage) string {
	var in map[string]any
	if json.Unmarshal(raw, &in) != nil {
		return ""
	}
	for _, k := range []string{"command", "file_path", "path", "pattern", "url", "query", "description"} {
		if v, ok := in[k].(string); ok && v != "" {
			v, _, _ = strings.Cut(v, "\n")
			if len([]rune(v)) > 100 {
				v = string([]rune(v)[:100]) + "…"
			}
			return v
		}
	}
	return ""
}

// toolOutput reads a tool result's content: a string, or a list of text
// blocks as Claude Code reports them; anything else shows as JSON.
func toolOutput(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &blocks) == nil {
		var b strings.Builder
		for _, bl := range blocks {
			if bl.Type == "text" {
				b.WriteString(bl.Text)
			}
		}
		if b.Len() > 0 {
			return b.String()
		}
	}
	return prettyJSON(raw)
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// diffView is a run's artifact with its diff split by file.
type diffView struct {
	app.Artifact
	Files []diffFile
	// Cut is set when the diff has more lines than the page shows.
	Cut bool
}

type diffFile struct {
	Name           string
	Note           string // new file, deleted, renamed from …, binary
	Added, Removed int
	Lines          []diffLine
}

// Open reports whether the file starts unfolded: long ones start folded.
func (f diffFile) Open() bool { return len(f.Lines) <= 400 }

type diffLine struct {
	Kind     string // add, del, ctx, hunk, meta
	Old, New int
	Text     string
}

const diffLinesShown = 20000

// parseDiff splits a unified diff (git's format) by file and numbers its
// lines.
func parseDiff(a *app.Artifact) *diffView {
	d := &diffView{Artifact: *a}
	var f *diffFile
	inHunk := false
	oldN, newN, shown := 0, 0, 0
	start := func(name string) {
		d.Files = append(d.Files, diffFile{Name: name})
		f = &d.Files[len(d.Files)-1]
		inHunk = false
	}
	for _, line := range strings.Split(strings.TrimRight(a.Diff, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "diff --git "):
			name := line[len("diff --git "):]
			if i := strings.LastIndex(name, " b/"); i >= 0 {
				name = name[i+3:]
			}
			start(name)
			continue
		case f == nil && strings.HasPrefix(line, "--- "):
			start(strings.TrimPrefix(strings.TrimPrefix(line, "--- "), "a/"))
			continue
		case f == nil:
			continue
		case strings.HasPrefix(line, "@@"):
			inHunk = true
			oldN, newN = hunkStart(line)
			line = strings.TrimSpace(line)
		case !inHunk:
			fileHeader(f, line)
			continue
		}
		dl := diffLine{Kind: "ctx", Text: line}
		switch {
		case strings.HasPrefix(line, "@@"):
			dl.Kind = "hunk"
		case strings.HasPrefix(line, "+"):
			dl.Kind, dl.New, dl.Text = "add", newN, line[1:]
			newN++
			f.Added++
		case strings.HasPrefix(line, "-"):
			dl.Kind, dl.Old, dl.Text = "del", oldN, line[1:]
			oldN++
			f.Removed++
		case strings.HasPrefix(line, `\`):
			dl.Kind = "meta"
		default:
			dl.Old, dl.New, dl.Text = oldN, newN, strings.TrimPrefix(line, " ")
			oldN++
			newN++
		}
		if shown >= diffLinesShown {
			d.Cut = true
			continue
		}
		shown++
		f.Lines = append(f.Lines, dl)
	}
	return d
}

// hunkStart reads the first old and new line numbers of "@@ -a,b +c,d @@".
func hunkStart(line string) (oldN, newN int) {
	fields := strings.Fields(line)
	for _, field := range fields[1:min(len(fields), 3)] {
		num, _, _ := strings.Cut(field[1:], ",")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		switch field[0] {
		case '-':
			oldN = n
		case '+':
			newN = n
		}
	}
	return oldN, newN
}

func fileHeader(f *diffFile, line string) {
	switch {
	case strings.HasPrefix(line, "new file"):
		f.Note = "new file"
	case strings.HasPrefix(line, "deleted file"):
		f.Note = "deleted"
	case strings.HasPrefix(line, "rename from "):
		f.Note = "renamed from " + strings.TrimPrefix(line, "rename from ")
	case strings.HasPrefix(line, "Binary files"):
		f.Note = "binary file"
	case strings.HasPrefix(line, "+++ ") && line != "+++ /dev/null":
		f.Name = strings.TrimPrefix(strings.TrimPrefix(line, "+++ "), "b/")
	}
}
