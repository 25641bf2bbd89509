package slack

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ufo-run/ufo/bot/command"
)

// FuzzCommandText feeds arbitrary text through what a Slack command or
// mention goes through: Slack's formatting undone, the bot's mention cut,
// the shared parser, and the status message rendered with the text in every
// field. Nothing panics, a parsed command is well formed, and the message
// is always valid Block Kit JSON with the text escaped.
func FuzzCommandText(f *testing.F) {
	for _, s := range []string{
		"new MSJ fix the flaky test --pilot cc",
		"new fix it -- the body\n\nmore body",
		"list mine", "list msj", "status msj-12", "cancel API-1", "assign API-1 cc", "link ufol_abc", "rovers", "help", "",
		"<@U0UFOBOT> fix &lt;the&gt; test &amp; more\nsecond line",
		"<@U0UFOBOT> <@U0OTHER|bob> look at <#C0DEV|dev> and <https://example.com/a?b=c|the page>",
		"<!here> <!subteam^S0123|@team> <mailto:a@b.c|a@b.c>",
		"new \"}]} {\"type\":\"divider\" --pilot x",
		"new " + strings.Repeat("long ", 80),
	} {
		f.Add(s)
	}
	ts, err := parseTemplates()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, text := range []string{plainText(s), plainText(withoutMention(s, "U0UFOBOT"))} {
			cmd, err := command.Parse(text)
			var ce *command.Error
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("Parse(%q): %v is not a command.Error", text, err)
			}
			if err == nil && cmd.Name == command.New && (strings.TrimSpace(cmd.Title) == "" || len(cmd.Title) > 300) {
				t.Fatalf("Parse(%q): title %q", text, cmd.Title)
			}
		}
		if cmd, err := mentionCommand(s, "U0UFOBOT"); err == nil && cmd.Name != command.New {
			t.Fatalf("a mention parsed as %q", cmd.Name)
		}
		if e := escape(s); strings.ContainsAny(e, "<>") {
			t.Fatalf("escape(%q) = %q", s, e)
		}
		if !utf8.ValidString(s) {
			return // Slack sends UTF-8; json.Marshal would replace the bad bytes
		}
		v := statusView{OperationID: s, Code: "MSJ-1", Title: s, BoardURL: "http://ufo.test/operations/MSJ-1", Emoji: ":x:",
			Status: "failed", Stage: s, Pilot: s, Rover: s, Elapsed: s, Progress: s, Outcome: s, Diff: true, Branch: s,
			PRURL: "https://github.com/o/r/pull/1", Cancel: true, Retry: true}
		m, err := ts.render("status_message", v)
		if err != nil {
			t.Fatalf("render with %q: %v", s, err)
		}
		raw, err := json.Marshal(m.Blocks)
		if err != nil {
			t.Fatal(err)
		}
		if s != "" && !strings.Contains(string(raw), strings.Trim(string(mustJSON(escape(s))), `"`)) {
			t.Fatalf("the escaped text %q is not in the message: %s", escape(s), raw)
		}
	})
}

func mustJSON(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
