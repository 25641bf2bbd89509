package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot/command"
	"github.com/ufo-run/ufo/store"
)

// reply is the immediate answer to a slash command, shown only to the
// person who typed it.
type reply struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       *slack.Blocks `json:"blocks,omitempty"`
}

func ephemeral(format string, args ...any) reply {
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: fmt.Sprintf(format, args...)}
}

// usage answers a command that could not be read, with the list of
// commands.
func usage(problem string) reply {
	text := "```" + command.Usage + "```"
	if problem != "" {
		text = problem + "\n" + text
	}
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: text}
}

const notLinked = "This Slack workspace is not linked to a UFO fleet yet. A fleet admin makes a link code " +
	"(`POST /api/slack/link-codes?fleet=…`, or on the board) and types `/ufo link <code>` here."

const troubled = "UFO could not do that just now; try again in a moment."

// command answers a slash command within Slack's 3 seconds. Help, link
// and reads are answered at once; commands that change something are
// checked, recorded as a job keyed by the command's trigger id, and
// acknowledged.
func (b *Bot) command(ctx context.Context, sc slack.SlashCommand) reply {
	cmd, err := command.Parse(plainText(sc.Text))
	if err != nil {
		var pe *command.Error
		if errors.As(err, &pe) {
			return usage(pe.Msg)
		}
		return usage("UFO could not read that command.")
	}
	switch cmd.Name {
	case command.Help:
		return usage("")
	case command.Link:
		return b.link(ctx, sc, cmd.Arg)
	case command.Pilot:
		return usage("`/ufo pilot` works on a GitHub issue or pull request; here, use `/ufo assign KEY-12 NAME`.")
	}
	fleetID, _, err := b.store.SlackWorkspace(ctx, sc.TeamID)
	if app.IsCode(err, app.ENotFound) {
		return ephemeral(notLinked)
	}
	if err != nil {
		b.log.Error("slack: find workspace", "err", err)
		return ephemeral(troubled)
	}
	var r reply
	switch cmd.Name {
	case command.List:
		r, err = b.list(ctx, fleetID, sc, cmd)
	case command.Status:
		r, err = b.status(ctx, fleetID, cmd)
	case command.Rovers:
		r, err = b.rovers(ctx, fleetID)
	default:
		r, err = b.accept(ctx, fleetID, sc, cmd)
	}
	if err != nil {
		if app.ErrorCode(err) == app.EInternal {
			b.log.Error("slack: command", "command", cmd.Name, "err", err)
			return ephemeral(troubled)
		}
		return ephemeral("%s", app.ErrorMessage(err))
	}
	return r
}

// commandJob is a KindCommand job's payload: the command as Slack sent it.
type commandJob struct {
	Command slack.SlashCommand `json:"command"`
}

// accept checks a command that changes something and records it; the job
// does the work and reports through the command's response_url.
func (b *Bot) accept(ctx context.Context, fleetID string, sc slack.SlashCommand, cmd command.Command) (reply, error) {
	switch cmd.Name {
	case command.New, command.Cancel, command.Retry, command.Assign:
		actx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		_, err := b.actor(actx, fleetID, sc.TeamID, sc.UserID, sc.UserName)
		cancel()
		if err != nil {
			return reply{}, err
		}
	}
	var ack string
	switch cmd.Name {
	case command.New:
		m, err := b.mission(ctx, fleetID, cmd.Key, sc.ChannelID)
		if err != nil {
			return reply{}, err
		}
		p, err := b.pilot(ctx, fleetID, m, cmd.Pilot)
		if err != nil {
			return reply{}, err
		}
		ack = fmt.Sprintf("Starting *%s* in %s", escape(cmd.Title), m.Key)
		if p != nil {
			ack += " for pilot *" + escape(p.Name) + "*…"
		} else {
			ack += "… No pilot is set for " + m.Key + ", so it will wait in the backlog for `/ufo assign`."
		}
	case command.Cancel, command.Retry, command.Assign:
		if cmd.Code == "" {
			return usage(fmt.Sprintf("usage: /ufo %s KEY-12", cmd.Name)), nil
		}
		if _, err := b.operation(ctx, fleetID, cmd.Code); err != nil {
			return reply{}, err
		}
		if cmd.Name == command.Assign {
			if _, err := b.store.FindPilot(ctx, fleetID, cmd.Pilot); err != nil {
				return reply{}, notFound(err, "pilot %s not found", cmd.Pilot)
			}
			ack = fmt.Sprintf("Assigning %s to %s…", cmd.Code, cmd.Pilot)
		} else {
			ack = fmt.Sprintf("%s %s…", map[string]string{command.Cancel: "Canceling", command.Retry: "Retrying"}[cmd.Name], cmd.Code)
		}
	default:
		return usage(fmt.Sprintf("unknown command %q", cmd.Name)), nil
	}
	key := sc.TriggerID
	if key == "" {
		key = sc.ResponseURL
	}
	sc.Token = "" // the deprecated verification token: not needed, not kept
	added, err := b.enqueue(ctx, KindCommand, "cmd:"+key, commandJob{Command: sc}, 0)
	if err != nil {
		return reply{}, err
	}
	if !added {
		return ephemeral("UFO is already on it."), nil
	}
	return ephemeral("%s", ack), nil
}

// runCommand does a recorded command's work. Refusals (not found, nothing
// to cancel) go back to the person; other failures retry the job.
func (b *Bot) runCommand(ctx context.Context, j store.Job) error {
	var p commandJob
	if err := unmarshalJob(j.Payload, &p); err != nil {
		return err
	}
	sc := p.Command
	cmd, err := command.Parse(plainText(sc.Text))
	if err != nil {
		return b.tell(ctx, sc.ResponseURL, app.Errorf(app.EInvalid, "%v", err))
	}
	fleetID, _, err := b.store.SlackWorkspace(ctx, sc.TeamID)
	if err != nil {
		return b.tell(ctx, sc.ResponseURL, notFound(err, notLinked))
	}
	// Checked again when the work is done: the person may have been
	// removed from the fleet (or the workspace) since the command.
	who, err := b.actor(ctx, fleetID, sc.TeamID, sc.UserID, sc.UserName)
	if err != nil {
		return b.tell(ctx, sc.ResponseURL, err)
	}
	var done string
	switch cmd.Name {
	case command.New:
		_, err = b.start(ctx, startRequest{FleetID: fleetID, TeamID: sc.TeamID, Channel: sc.ChannelID,
			SlackUser: sc.UserID, SlackName: sc.UserName, Who: who, Key: j.Key, Command: cmd})
	case command.Cancel:
		done, err = b.cancel(ctx, fleetID, cmd.Code)
	case command.Retry:
		done, err = b.retry(ctx, fleetID, cmd.Code, j.Key)
	case command.Assign:
		done, err = b.assign(ctx, fleetID, cmd.Code, cmd.Pilot, j.Key)
	}
	if err != nil {
		return b.tell(ctx, sc.ResponseURL, err)
	}
	if done != "" {
		b.say(ctx, sc.ResponseURL, done)
	}
	return nil
}

// tell reports a refusal to the person and finishes the job; an internal
// error is returned, so the job retries.
func (b *Bot) tell(ctx context.Context, responseURL string, err error) error {
	msg := app.ErrorMessage(err)
	switch code := slackErrorCode(err); {
	case code == "not_in_channel" || code == "channel_not_found":
		msg = "UFO cannot post in this channel: invite it with `/invite @UFO`, then try again."
	case code != "" || app.ErrorCode(err) == app.EInternal:
		return err
	}
	b.say(ctx, responseURL, msg)
	return nil
}

// say posts an ephemeral answer; it is best effort (a lost answer must
// not redo the work).
func (b *Bot) say(ctx context.Context, responseURL, text string) {
	if err := b.respond(ctx, responseURL, text); err != nil {
		b.log.Warn("slack: answer a command", "err", err)
	}
}

// notFound gives a not-found error a message fit for Slack, and passes
// other errors through.
func notFound(err error, format string, args ...any) error {
	if app.IsCode(err, app.ENotFound) {
		return app.Errorf(app.ENotFound, format, args...)
	}
	return err
}

// operation finds an operation of the fleet by code; a code of another
// fleet is as unknown as one that does not exist.
func (b *Bot) operation(ctx context.Context, fleetID, code string) (app.Operation, error) {
	op, err := b.store.FindOperation(ctx, fleetID, code)
	return op, notFound(err, "%s not found", code)
}

// mission picks the mission of a new operation: the one named, else the
// channel's (a mission whose Slack channel it is), else the fleet's only
// one.
func (b *Bot) mission(ctx context.Context, fleetID, key, channel string) (app.Mission, error) {
	if key != "" {
		m, err := b.store.FindMission(ctx, fleetID, key)
		return m, notFound(err, "mission %s not found", key)
	}
	ms, err := b.store.Missions(ctx, fleetID)
	if err != nil {
		return app.Mission{}, err
	}
	for _, m := range ms {
		if m.SlackChannel != "" && m.SlackChannel == channel {
			return m, nil
		}
	}
	switch len(ms) {
	case 0:
		return app.Mission{}, app.Errorf(app.EInvalid, "this fleet has no mission yet: create one on the board first")
	case 1:
		return ms[0], nil
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.Key
	}
	return app.Mission{}, app.Errorf(app.EInvalid, "name the mission: /ufo new KEY <title>, with KEY one of %s", strings.Join(keys, ", "))
}

// pilot picks the pilot of a new operation: the one named, else the
// mission's default, else the fleet's only one; nil leaves it in backlog.
func (b *Bot) pilot(ctx context.Context, fleetID string, m app.Mission, name string) (*app.Pilot, error) {
	if name != "" {
		p, err := b.store.FindPilot(ctx, fleetID, name)
		if err != nil {
			return nil, notFound(err, "pilot %s not found", name)
		}
		return &p, nil
	}
	if m.DefaultPilotID != nil {
		p, err := b.store.FindPilot(ctx, fleetID, *m.DefaultPilotID)
		if err == nil {
			return &p, nil
		}
		if !app.IsCode(err, app.ENotFound) {
			return nil, err
		}
	}
	ps, err := b.store.Pilots(ctx, fleetID)
	if err != nil || len(ps) != 1 {
		return nil, err
	}
	return &ps[0], nil
}

func (b *Bot) cancel(ctx context.Context, fleetID, code string) (string, error) {
	op, err := b.operation(ctx, fleetID, code)
	if err != nil {
		return "", err
	}
	runs, err := b.store.Runs(ctx, fleetID, store.RunFilter{OperationID: &op.ID, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(runs) == 0 || (runs[0].Status != app.RunQueued && runs[0].Status != app.RunClaimed && runs[0].Status != app.RunRunning) {
		return "", app.Errorf(app.EConflict, "%s has no active run", op.Code)
	}
	if _, err := b.store.CancelRun(ctx, fleetID, runs[0].ID); err != nil {
		return "", err
	}
	return fmt.Sprintf("Canceled %s's run.", op.Code), nil
}

// retry queues a fresh run of the operation, once for the job (its key):
// the job run again after a crash finds it queued.
func (b *Bot) retry(ctx context.Context, fleetID, code, job string) (string, error) {
	op, err := b.operation(ctx, fleetID, code)
	if err != nil {
		return "", err
	}
	if _, err := b.store.Retry(ctx, fleetID, op.ID, "slack:"+job+":run"); err != nil {
		return "", err
	}
	return fmt.Sprintf("Queued %s again.", op.Code), nil
}

func (b *Bot) assign(ctx context.Context, fleetID, code, pilot, job string) (string, error) {
	op, err := b.operation(ctx, fleetID, code)
	if err != nil {
		return "", err
	}
	p, err := b.store.FindPilot(ctx, fleetID, pilot)
	if err != nil {
		return "", notFound(err, "pilot %s not found", pilot)
	}
	op, err = b.store.UpdateOperation(ctx, fleetID, op.ID, store.OperationPatch{Assign: true, AssigneeType: "pilot", AssigneeID: &p.ID,
		Once: "slack:" + job + ":run"})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Assigned %s to %s; it is %s.", op.Code, p.Name, words(op.Status)), nil
}

// link trades a link code: it links the workspace to the code's fleet (when
// it is not linked yet) and the person to the member who made the code.
func (b *Bot) link(ctx context.Context, sc slack.SlashCommand, code string) reply {
	l, err := b.store.UseSlackLinkCode(ctx, code, sc.TeamID, sc.TeamDomain, sc.UserID, sc.UserName)
	switch {
	case app.IsCode(err, app.ENotFound):
		return ephemeral("Link code not found: it may be mistyped, used already, or expired (codes work for 15 minutes).")
	case err != nil && app.ErrorCode(err) != app.EInternal:
		return ephemeral("%s", app.ErrorMessage(err))
	case err != nil:
		b.log.Error("slack: link", "err", err)
		return ephemeral(troubled)
	}
	var parts []string
	if l.NewWorkspace {
		parts = append(parts, fmt.Sprintf("Linked this workspace to the fleet *%s*.", escape(l.FleetName)))
	}
	if l.UserID != nil {
		parts = append(parts, fmt.Sprintf("You are *%s* in *%s* now.", escape(l.UserName), escape(l.FleetName)))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("This workspace is linked to *%s*.", escape(l.FleetName)))
	}
	return ephemeral("%s", strings.Join(parts, " "))
}

func (b *Bot) list(ctx context.Context, fleetID string, sc slack.SlashCommand, cmd command.Command) (reply, error) {
	f := store.SlackOperationFilter{Limit: 20}
	title := "Open operations"
	if cmd.Key != "" {
		m, err := b.store.FindMission(ctx, fleetID, cmd.Key)
		if err != nil {
			return reply{}, notFound(err, "mission %s not found", cmd.Key)
		}
		f.MissionID = &m.ID
		title += " in " + m.Key
	}
	if cmd.Arg == "mine" {
		pctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		who := b.person(pctx, fleetID, sc.TeamID, sc.UserID, sc.UserName)
		cancel()
		f.Mine, f.UserID, f.TeamID, f.SlackUser = true, who.UserID, sc.TeamID, sc.UserID
		title = "Your open operations"
	}
	ops, err := b.store.SlackOperations(ctx, fleetID, f)
	if err != nil {
		return reply{}, err
	}
	if len(ops) == 0 {
		return ephemeral("No open operations."), nil
	}
	var s strings.Builder
	s.WriteString("*" + title + "*")
	for _, op := range ops {
		fmt.Fprintf(&s, "\n• <%s|%s> %s · %s", b.boardURL(fleetID, op.Code), op.Code, escape(op.Title), words(op.Status))
	}
	if len(ops) == f.Limit {
		s.WriteString("\n…and maybe more on the board.")
	}
	return ephemeral("%s", s.String()), nil
}

func (b *Bot) status(ctx context.Context, fleetID string, cmd command.Command) (reply, error) {
	if cmd.Code == "" {
		return usage("usage: /ufo status KEY-12"), nil
	}
	op, err := b.operation(ctx, fleetID, cmd.Code)
	if err != nil {
		return reply{}, err
	}
	v, err := b.view(ctx, fleetID, op.ID, time.Now())
	if err != nil {
		return reply{}, err
	}
	m, err := b.tmpl.render("status_message", v)
	if err != nil {
		return reply{}, err
	}
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: m.Text, Blocks: &m.Blocks}, nil
}

func (b *Bot) rovers(ctx context.Context, fleetID string) (reply, error) {
	rs, err := b.store.Rovers(ctx, fleetID)
	if err != nil {
		return reply{}, err
	}
	if len(rs) == 0 {
		return ephemeral("No rovers yet: add one on the board, or run `ufo rover enroll` with an enrollment code."), nil
	}
	var s strings.Builder
	s.WriteString("*Rovers*")
	for _, r := range rs {
		fmt.Fprintf(&s, "\n• *%s* %s", escape(r.Name), r.Status)
		if r.CurrentRun != nil {
			if run, err := b.store.FindRun(ctx, fleetID, *r.CurrentRun); err == nil {
				fmt.Fprintf(&s, " on %s", run.OperationCode)
			}
		}
		var p struct {
			OS   string `json:"os"`
			Arch string `json:"arch"`
		}
		if json.Unmarshal(r.Profile, &p) == nil && p.OS != "" {
			fmt.Fprintf(&s, " · %s/%s", p.OS, p.Arch)
		}
		if len(r.Tags) > 0 {
			fmt.Fprintf(&s, " · tags: %s", escape(strings.Join(r.Tags, ", ")))
		}
	}
	return ephemeral("%s", s.String()), nil
}
