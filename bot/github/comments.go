package github

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot/command"
	"github.com/ufo-run/ufo/store"
)

// onIssueComment handles a new comment on an issue or a pull request: a
// `/ufo <command>` line is a command (parsed by bot/command, as in Slack),
// and any other comment that mentions the bot is a message to the pilot.
func (a *App) onIssueComment(ctx context.Context, delivery string, e *gh.IssueCommentEvent) error {
	body := e.GetComment().GetBody()
	if e.GetAction() != "created" || a.fromSelf(ctx, e.GetSender()) || strings.Contains(body, markerPrefix) {
		return nil
	}
	text, isCmd := command.FindInComment(body)
	if !isCmd && !a.mentioned(ctx, body) {
		return nil
	}
	fleet, err := a.linkedFleet(ctx, e.GetInstallation().GetID())
	if err != nil {
		return err
	}
	ref := issueRef{installation: e.GetInstallation().GetID(), fleet: fleet, repo: e.GetRepo(),
		number: e.GetIssue().GetNumber(), url: e.GetIssue().GetHTMLURL(), delivery: delivery}
	c, err := a.client(ref.installation)
	if err != nil {
		return err
	}
	sender := &commenter{login: e.GetSender().GetLogin()}
	if fleet == "" {
		return a.answer(ctx, c, ref, sender, "reply.md", map[string]string{"Text": a.unlinkedNotice()})
	}
	cmd := command.Command{}
	if isCmd {
		if cmd, err = command.Parse(text); err != nil {
			var pe *command.Error
			if errors.As(err, &pe) {
				return a.answerText(ctx, c, ref, sender, pe.Msg+". `/ufo help` lists the commands.")
			}
			return err
		}
		switch cmd.Name {
		case command.Help:
			return a.answer(ctx, c, ref, sender, "help.md", map[string]string{"Bot": a.appSlug(ctx), "Label": defaultLabel})
		case command.Status, command.Cancel, command.Retry, command.Pilot:
		default:
			return a.answerText(ctx, c, ref, sender, fmt.Sprintf("`/ufo %s` works in Slack. On GitHub: `status`, `retry`, `cancel`, `pilot <name>` and `help`.", cmd.Name))
		}
	}
	gi, err := a.store.FindGitHubIssue(ctx, fleet, ref.repo.GetID(), ref.number)
	if app.IsCode(err, app.ENotFound) {
		return a.unlinkedIssue(ctx, c, ref, cmd, sender)
	}
	if err != nil {
		return err
	}
	if cmd.Name != command.Status {
		ok, err := sender.canWrite(ctx, a, c, ref)
		if err != nil {
			return err
		}
		if !ok {
			return a.deny(ctx, c, ref, sender.login, "ask UFO for it")
		}
	}
	var answer string
	err = a.store.WithGitHubIssue(ctx, fleet, gi.ID, func(gi *store.GitHubIssue) error {
		if gi.OperationID == nil {
			answer = "This issue has no operation yet: label it `" + defaultLabel + "` to start one."
			return nil
		}
		op, err := a.store.FindOperation(ctx, fleet, *gi.OperationID)
		if err != nil {
			return err
		}
		if cmd.Code != "" && cmd.Code != op.Code {
			answer = fmt.Sprintf("This issue is %s, not %s.", op.Code, cmd.Code)
			return nil
		}
		if cmd.Name != command.Status {
			gi.TriggeredBy = sender.login
		}
		if answer, err = a.runCommand(ctx, c, gi, op, cmd, sender.login, body, e.GetComment().GetID(), ref); err != nil {
			return err
		}
		a.syncAfterChange(ctx, c, gi)
		return nil
	})
	if err != nil || answer == "" {
		return err
	}
	return a.answerText(ctx, c, ref, sender, answer)
}

// commenter is the person a comment came from, with their write access
// asked of GitHub at most once per comment.
type commenter struct {
	login   string
	checked bool
	writer  bool
}

func (p *commenter) canWrite(ctx context.Context, a *App, c *installation, ref issueRef) (bool, error) {
	if !p.checked {
		ok, err := a.canWrite(ctx, c, ref.owner(), ref.name(), p.login)
		if err != nil {
			return false, err
		}
		p.checked, p.writer = true, ok
	}
	return p.writer, nil
}

// answer posts a rendered template in answer to a comment. People with
// write access get every answer. Anyone else gets one answer per issue,
// whatever they ask (help, status, a command that does not parse…):
// anyone can comment on a public repository, and the App's replies must
// not be theirs to multiply. The answer carries their login in its marker,
// as deny's refusal does, and is not posted again while one is on the
// issue; a refusal (deny) is counted apart, so someone who read the help
// and then asks for work still learns why nothing runs.
func (a *App) answer(ctx context.Context, c *installation, ref issueRef, p *commenter, tmpl string, data map[string]string) error {
	ok, err := p.canWrite(ctx, a, c, ref)
	if err != nil {
		return err
	}
	data["To"] = ""
	if !ok {
		found, err := a.findComment(ctx, c, ref.owner(), ref.name(), ref.number, marker("reply", p.login))
		if err != nil || found != 0 {
			return err
		}
		data["To"] = p.login
	}
	return a.comment(ctx, c, ref, tmpl, data)
}

// answerText answers a comment with a short text (see answer).
func (a *App) answerText(ctx context.Context, c *installation, ref issueRef, p *commenter, text string) error {
	return a.answer(ctx, c, ref, p, "reply.md", map[string]string{"Text": text})
}

// runCommand carries out a command (or, with no command, a message) on an
// issue's operation and returns the answer to post, if any.
func (a *App) runCommand(ctx context.Context, c *installation, gi *store.GitHubIssue, op app.Operation, cmd command.Command, sender, body string, commentID int64, ref issueRef) (string, error) {
	switch cmd.Name {
	case command.Status:
		run, err := a.lastRun(ctx, gi.FleetID, op.ID)
		if err != nil {
			return "", err
		}
		v, err := a.view(ctx, gi, op, run)
		if err != nil {
			return "", err
		}
		s, err := a.tmpl.render("status.md", v)
		return stripMarker(s), err
	case command.Cancel:
		canceled, err := a.cancelActive(ctx, gi.FleetID, op.ID)
		if err != nil || !canceled {
			return op.Code + " has no active run to cancel.", err
		}
		return "Canceling the active run of " + op.Code + ".", nil
	case command.Retry:
		if _, err := a.store.Retry(ctx, gi.FleetID, op.ID, ref.once("run")); err != nil {
			if app.IsCode(err, app.EConflict) || app.IsCode(err, app.EInvalid) {
				return app.ErrorMessage(err) + ".", nil
			}
			return "", err
		}
		return "", nil // the status comment says it is queued
	case command.Pilot:
		p, err := a.store.FindPilot(ctx, gi.FleetID, cmd.Pilot)
		if app.IsCode(err, app.ENotFound) {
			_, why, err := a.pickPilot(ctx, gi.FleetID, cmd.Pilot, app.Mission{})
			return why, err
		}
		if err != nil {
			return "", err
		}
		if op.AssigneeType == "pilot" && op.AssigneeID != nil && *op.AssigneeID == p.ID {
			if _, err := a.store.Retry(ctx, gi.FleetID, op.ID, ref.once("run")); err != nil && !app.IsCode(err, app.EConflict) {
				return "", err
			}
			return "", nil
		}
		_, err = a.store.UpdateOperation(ctx, gi.FleetID, op.ID, store.OperationPatch{Assign: true, AssigneeType: "pilot", AssigneeID: &p.ID, Once: ref.once("run")})
		return "", err
	}
	// A message to the pilot: a follow-up run when the operation is in
	// review or done, a fresh run when its last one failed or was canceled.
	// A delivery processed again stores it, and runs it, once (ref.once).
	if _, _, err := c.rest.Reactions.CreateIssueCommentReaction(ctx, ref.owner(), ref.name(), commentID, "eyes"); err != nil && status(err) != 404 {
		return "", fmt.Errorf("react to comment %d: %w", commentID, err)
	}
	// The fresh run is queued in the message's transaction, under its key:
	// a second attempt finds both done, whatever the operation did since.
	_, _, err := a.store.CreateMessage(ctx, gi.FleetID, op.ID, store.MessageInput{
		AuthorType: "github", AuthorID: sender, AuthorName: "@" + sender, Body: body, Once: ref.once("message"), Restart: true})
	return "", err
}

// unlinkedIssue answers a command on an issue that is not an operation:
// `/ufo pilot NAME` on an issue starts it with that pilot.
func (a *App) unlinkedIssue(ctx context.Context, c *installation, ref issueRef, cmd command.Command, sender *commenter) error {
	if cmd.Name == command.Pilot && !strings.Contains(ref.url, "/pull/") {
		return a.start(ctx, ref, sender.login, cmd.Pilot)
	}
	return a.answerText(ctx, c, ref, sender, "This is not a UFO operation yet: label the issue `"+defaultLabel+"` (or `"+defaultLabel+":<pilot>`) to start one.")
}

// mentioned reports whether a comment mentions the App's bot (@slug or
// @slug[bot]).
func (a *App) mentioned(ctx context.Context, body string) bool {
	slug := a.appSlug(ctx)
	if slug == "" {
		return false
	}
	re := regexp.MustCompile(`(?i)(^|[^\w@/-])@` + regexp.QuoteMeta(slug) + `(\[bot\])?($|[^\w-])`)
	return re.MatchString(body)
}

func stripMarker(s string) string {
	if i := strings.LastIndex(s, markerPrefix); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
