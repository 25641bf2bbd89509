// Package command parses `/ufo …` commands, one grammar for every surface:
// GitHub comments (`/ufo retry` on an issue or PR) and Slack (`/ufo new
// API fix the test`, where the `/ufo` is the slash command itself).
package command

import (
	"fmt"
	"regexp"
	"strings"
)

// Names of the commands.
const (
	New    = "new"
	List   = "list"
	Status = "status"
	Cancel = "cancel"
	Retry  = "retry"
	Assign = "assign"
	Pilot  = "pilot"
	Rovers = "rovers"
	Link   = "link"
	Help   = "help"
)

// Command is one parsed command. Fields not used by Name are empty.
type Command struct {
	Name  string
	Code  string // KEY-12, for status/cancel/retry/assign (optional on GitHub, where the issue says which)
	Key   string // mission KEY for new and list
	Title string // new
	Body  string // new: text after a blank line or after " -- "
	Pilot string // new --pilot, assign NAME, pilot NAME
	Arg   string // list: "mine"; link: the code
}

// Error is a parse error; its message is fit to show the person who typed
// the command, followed by Usage.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func fail(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Usage is the help text for every command.
const Usage = "Commands:\n" +
	"  /ufo new [KEY] <title> [--pilot NAME]   start an operation (body after a blank line or after --)\n" +
	"  /ufo list [mine|KEY]                    list open operations\n" +
	"  /ufo status KEY-12                      show an operation\n" +
	"  /ufo cancel KEY-12                      cancel its active run\n" +
	"  /ufo retry KEY-12                       run it again\n" +
	"  /ufo assign KEY-12 NAME                 assign it to a pilot\n" +
	"  /ufo pilot NAME                         (on an issue or PR) switch the pilot and run again\n" +
	"  /ufo rovers                             list rovers\n" +
	"  /ufo link <code>                        link this workspace (or yourself) to a fleet\n" +
	"  /ufo help                               this text"

var (
	code      = regexp.MustCompile(`^[A-Z]{2,6}-[1-9][0-9]{0,8}$`)
	key       = regexp.MustCompile(`^[A-Z]{2,6}$`)
	pilotName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
)

// FindInComment returns the text after the first line of a comment that
// starts with "/ufo", or ok=false when there is none.
func FindInComment(comment string) (string, bool) {
	for _, line := range strings.Split(comment, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "/ufo"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// Parse parses the text after "/ufo". An empty text is help.
func Parse(text string) (Command, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	head, body, hasBody := strings.Cut(text, "\n\n")
	head = strings.TrimSpace(head)
	fields := strings.Fields(head)
	if len(fields) == 0 {
		return Command{Name: Help}, nil
	}
	name := strings.ToLower(fields[0])
	args := fields[1:]
	c := Command{Name: name}
	switch name {
	case Help, Rovers:
		if len(args) > 0 {
			return c, fail("`%s` takes no arguments", name)
		}
	case List:
		switch {
		case len(args) == 0:
		case len(args) == 1 && strings.EqualFold(args[0], "mine"):
			c.Arg = "mine"
		case len(args) == 1 && key.MatchString(strings.ToUpper(args[0])):
			c.Key = strings.ToUpper(args[0])
		default:
			return c, fail("usage: /ufo list [mine|KEY]")
		}
	case Status, Cancel, Retry:
		switch {
		case len(args) == 0:
		case len(args) == 1 && code.MatchString(strings.ToUpper(args[0])):
			c.Code = strings.ToUpper(args[0])
		default:
			return c, fail("usage: /ufo %s KEY-12", name)
		}
	case Assign:
		if len(args) != 2 || !code.MatchString(strings.ToUpper(args[0])) || !pilotName.MatchString(strings.ToLower(args[1])) {
			return c, fail("usage: /ufo assign KEY-12 NAME")
		}
		c.Code, c.Pilot = strings.ToUpper(args[0]), strings.ToLower(args[1])
	case Pilot:
		if len(args) != 1 || !pilotName.MatchString(strings.ToLower(args[0])) {
			return c, fail("usage: /ufo pilot NAME")
		}
		c.Pilot = strings.ToLower(args[0])
	case Link:
		if len(args) != 1 {
			return c, fail("usage: /ufo link <code>")
		}
		c.Arg = args[0]
	case New:
		return parseNew(head, body, hasBody)
	default:
		return c, fail("unknown command %q", fields[0])
	}
	if hasBody && strings.TrimSpace(body) != "" {
		return c, fail("`%s` takes no text after a blank line", name)
	}
	return c, nil
}

// parseNew reads `new [KEY] <title> [--pilot NAME] [-- body]`.
func parseNew(head, body string, hasBody bool) (Command, error) {
	c := Command{Name: New}
	rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(head), strings.Fields(head)[0]))
	if before, after, ok := strings.Cut(" "+rest+" ", " -- "); ok {
		rest = strings.TrimSpace(before)
		c.Body = strings.TrimSpace(after)
	}
	if hasBody {
		if c.Body != "" {
			c.Body += "\n\n"
		}
		c.Body += strings.TrimSpace(body)
	}
	words := strings.Fields(rest)
	var title []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--pilot" || w == "-p":
			if i+1 >= len(words) || !pilotName.MatchString(strings.ToLower(words[i+1])) {
				return c, fail("--pilot needs a pilot name")
			}
			c.Pilot = strings.ToLower(words[i+1])
			i++
		case strings.HasPrefix(w, "--pilot="):
			p := strings.ToLower(strings.TrimPrefix(w, "--pilot="))
			if !pilotName.MatchString(p) {
				return c, fail("--pilot needs a pilot name")
			}
			c.Pilot = p
		case i == 0 && key.MatchString(w) && len(words) > 1:
			c.Key = w
		case i == 0 && code.MatchString(w) && len(words) > 1:
			// "new API-12 fix the test" names an existing reference: the
			// mission is API and the reference stays in the title.
			c.Key = w[:strings.IndexByte(w, '-')]
			title = append(title, w)
		default:
			title = append(title, w)
		}
	}
	c.Title = strings.Join(title, " ")
	if c.Title == "" {
		return c, fail("usage: /ufo new [KEY] <title> [--pilot NAME]")
	}
	if len(c.Title) > 300 {
		return c, fail("the title is longer than 300 characters; put the rest in the body, after --")
	}
	return c, nil
}
