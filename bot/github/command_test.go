package github_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/bot/command"
)

// FuzzCommentCommand feeds comments through the comment-command parser as
// the App does (FindInComment, then Parse): nothing panics, a parse error
// is always a *command.Error with a message to show, and a parsed command
// is one of the names the App answers.
func FuzzCommentCommand(f *testing.F) {
	for _, s := range []string{"/ufo retry", "/ufo", "Please.\n/ufo pilot cc\nthanks", "/ufo status HW-1", "/ufo cancel\r\n",
		"/ufo new API fix it -- body", "/ufox retry", "  /ufo\thelp", "/ufo pilot", "/ufo retry HW-0", "@ufo-test do it", "/ufo \x00"} {
		f.Add(s)
	}
	names := []string{command.New, command.List, command.Status, command.Cancel, command.Retry, command.Assign,
		command.Pilot, command.Rovers, command.Link, command.Help}
	f.Fuzz(func(t *testing.T, comment string) {
		text, ok := command.FindInComment(comment)
		if !ok {
			if strings.HasPrefix(strings.TrimSpace(comment), "/ufo ") {
				t.Fatalf("%q starts with a command that was not found", comment)
			}
			return
		}
		c, err := command.Parse(text)
		if err != nil {
			var pe *command.Error
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("Parse(%q) error %v is not a *command.Error with a message", text, err)
			}
			return
		}
		found := false
		for _, n := range names {
			found = found || c.Name == n
		}
		if !found {
			t.Fatalf("Parse(%q) = %+v: unknown name", text, c)
		}
	})
}
