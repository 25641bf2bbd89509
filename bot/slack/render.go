package slack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/slack-go/slack"

	slacktmpl "github.com/ufo-run/ufo/templates/slack"
)

// templates are the Slack templates, parsed once.
type templates struct {
	t *template.Template
}

// parseTemplates parses templates/slack; a missing or broken file fails
// start-up rather than the first message.
func parseTemplates() (*templates, error) {
	ts := &templates{}
	funcs := template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"esc": escape,
		// text renders a named template into a string, so a line can be
		// written as a template and then quoted with json.
		"text": func(name string, data any) (string, error) {
			var b strings.Builder
			err := ts.t.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
	}
	t, err := template.New("slack").Funcs(funcs).ParseFS(slacktmpl.FS, "*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse Slack templates: %w", err)
	}
	for _, name := range []string{"status_message", "manifest.json.tmpl"} {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("parse Slack templates: %s is missing", name)
		}
	}
	ts.t = t
	return ts, nil
}

// escape applies Slack's escaping to text a person or a pilot wrote, so it
// never turns into a mention or a link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// message is a rendered Block Kit message.
type message struct {
	Text   string       `json:"text"`
	Blocks slack.Blocks `json:"blocks"`
	// Hash identifies the content, so an edit that would change nothing is
	// skipped.
	Hash string `json:"-"`
}

func (m message) options() []slack.MsgOption {
	return []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks.BlockSet...)}
}

// render executes a message template and checks the result is Block Kit.
func (ts *templates) render(name string, data any) (message, error) {
	var b bytes.Buffer
	if err := ts.t.ExecuteTemplate(&b, name, data); err != nil {
		return message{}, fmt.Errorf("render %s: %w", name, err)
	}
	var m message
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		return message{}, fmt.Errorf("render %s: not Block Kit: %w", name, err)
	}
	sum := sha256.Sum256(b.Bytes())
	m.Hash = hex.EncodeToString(sum[:16])
	return m, nil
}

// Manifest returns the Slack app manifest (JSON) for a server at publicURL;
// with socketMode it asks for Socket Mode instead of request URLs.
func Manifest(publicURL string, socketMode bool) ([]byte, error) {
	ts, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	data := struct {
		Name       string
		PublicURL  string
		SocketMode bool
	}{"UFO", strings.TrimRight(publicURL, "/"), socketMode}
	if err := ts.t.ExecuteTemplate(&b, "manifest.json.tmpl", data); err != nil {
		return nil, fmt.Errorf("render manifest: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("render manifest: not JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
