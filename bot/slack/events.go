package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/command"
	"github.com/ufo-run/ufo/store"
)

// errMalformed is a delivery that verified but cannot be read: answered
// 400 over HTTP, and nothing is stored.
var errMalformed = errors.New("malformed Slack payload")

// outerEvent is the Events API envelope, read before slack-go parses it, to
// tell a malformed delivery from an event UFO does not subscribe to.
type outerEvent struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// event takes an Events API payload (from HTTP or Socket Mode). It answers a
// url_verification with its challenge, and records a mention, or a reply in
// an operation's thread, as a job keyed by the event id: Slack retries a
// delivery with the same event id, so the work happens once.
func (b *Bot) event(ctx context.Context, raw []byte) (challenge string, err error) {
	var o outerEvent
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", errMalformed
	}
	switch o.Type {
	case slackevents.URLVerification:
		if o.Challenge == "" {
			return "", errMalformed
		}
		return o.Challenge, nil
	case slackevents.CallbackEvent:
	default:
		return "", nil // app_rate_limited and kinds UFO does not use
	}
	var inner struct {
		Type string `json:"type"`
	}
	if o.EventID == "" || o.TeamID == "" || json.Unmarshal(o.Event, &inner) != nil || inner.Type == "" {
		return "", errMalformed
	}
	if inner.Type != "app_mention" && inner.Type != "message" {
		return "", nil
	}
	ev, err := slackevents.ParseEvent(raw, slackevents.OptionNoVerifyToken())
	if err != nil {
		return "", errMalformed
	}
	wanted, err := b.wants(ctx, o.TeamID, ev.InnerEvent.Data)
	if err != nil || !wanted {
		return "", err
	}
	_, err = b.enqueue(ctx, KindEvent, "event:"+o.EventID, withoutToken(raw), 0)
	return "", err
}

// withoutToken drops the deprecated verification token from a payload
// before it is stored: UFO verifies signatures instead, and keeps no
// secret it does not need.
func withoutToken(raw []byte) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	delete(m, "token")
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

// replySubtypes are the message subtypes that are a person's reply: a plain
// message, one also sent to the channel, one with a file. Edits, deletions
// and bots' messages are not.
var replySubtypes = map[string]bool{"": true, "thread_broadcast": true, "file_share": true}

// wants tells the events worth a job: mentions by people, and people's
// replies in a thread UFO started. Only a workspace or thread not found
// makes a reply unwanted: any other failure of the lookups is returned, so
// the delivery is answered 500 and Slack sends it again.
func (b *Bot) wants(ctx context.Context, teamID string, data any) (bool, error) {
	switch e := data.(type) {
	case *slackevents.AppMentionEvent:
		return e.BotID == "" && e.User != "" && e.Channel != "", nil
	case *slackevents.MessageEvent:
		if !replySubtypes[e.SubType] || e.BotID != "" || e.User == "" || e.ThreadTimeStamp == "" || e.ThreadTimeStamp == e.TimeStamp {
			return false, nil
		}
		fleetID, _, err := b.store.SlackWorkspace(ctx, teamID)
		if app.IsCode(err, app.ENotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("find the Slack workspace: %w", err)
		}
		_, err = b.store.FindSlackThreadByMessage(ctx, fleetID, teamID, e.Channel, e.ThreadTimeStamp)
		if app.IsCode(err, app.ENotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("find the thread replied in: %w", err)
		}
		return true, nil
	}
	return false, nil
}

func (b *Bot) runEvent(ctx context.Context, j store.Job) error {
	ev, err := slackevents.ParseEvent(j.Payload, slackevents.OptionNoVerifyToken())
	if err != nil {
		return bot.Permanent(fmt.Errorf("parse event: %w", err))
	}
	cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		return bot.Permanent(fmt.Errorf("event %s is not an event callback", j.Key))
	}
	fleetID, _, err := b.store.SlackWorkspace(ctx, cb.TeamID)
	if app.IsCode(err, app.ENotFound) {
		return nil // not linked (any more): nothing to do
	}
	if err != nil {
		return err
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		return b.mention(ctx, fleetID, cb.TeamID, j.Key, e)
	case *slackevents.MessageEvent:
		return b.threadReply(ctx, fleetID, cb.TeamID, j.Key, e)
	}
	return nil
}

// mention starts an operation from a message that mentions the bot: its
// first line is the title (with the grammar of /ufo new: an optional
// mission KEY first, --pilot NAME), the rest the body. A mention inside an
// operation's thread is a reply, handled as such by its message event.
func (b *Bot) mention(ctx context.Context, fleetID, teamID, key string, e *slackevents.AppMentionEvent) error {
	if e.ThreadTimeStamp != "" {
		_, err := b.store.FindSlackThreadByMessage(ctx, fleetID, teamID, e.Channel, e.ThreadTimeStamp)
		if err == nil {
			return nil
		}
		if !app.IsCode(err, app.ENotFound) {
			// Not knowing whether this is a thread's reply, start nothing:
			// the job retries.
			return fmt.Errorf("find the thread mentioned in: %w", err)
		}
	}
	who, err := b.actor(ctx, fleetID, teamID, e.User, "")
	if app.IsCode(err, app.EForbidden) {
		return b.whisper(ctx, e.Channel, e.User, e.ThreadTimeStamp, app.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	cmd, err := mentionCommand(e.Text, b.botUserID(ctx))
	if err != nil {
		return b.whisper(ctx, e.Channel, e.User, e.ThreadTimeStamp, "Mention me with what to do, e.g. `@UFO fix the flaky login test --pilot cc` "+
			"(a mission KEY first when the channel has none). Details go on the next lines.")
	}
	_, err = b.start(ctx, startRequest{FleetID: fleetID, TeamID: teamID, Channel: e.Channel, SlackUser: e.User, Who: who, Key: key, Command: cmd})
	if err == nil {
		return nil
	}
	if code := slackErrorCode(err); code == "not_in_channel" || code == "channel_not_found" {
		b.log.Warn("slack: cannot post where mentioned", "channel", e.Channel, "err", err)
		return nil
	}
	if app.ErrorCode(err) == app.EInternal {
		return err
	}
	return b.whisper(ctx, e.Channel, e.User, e.ThreadTimeStamp, app.ErrorMessage(err))
}

// mentionCommand reads a mention as `/ufo new`: the first line (after the
// mention) is the title with its options, the rest the body.
func mentionCommand(text, botUser string) (command.Command, error) {
	text = plainText(withoutMention(text, botUser))
	first, rest, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line := "new " + first
	if rest = strings.TrimSpace(rest); rest != "" {
		line += "\n\n" + rest
	}
	return command.Parse(line)
}

// whisper tells one person something in a channel, or in a thread when
// threadTS is set (chat.postEphemeral), best effort.
func (b *Bot) whisper(ctx context.Context, channel, user, threadTS, text string) error {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	if _, err := b.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
		b.log.Warn("slack: chat.postEphemeral", "err", err)
	}
	return nil
}

// startRequest asks for an operation started from Slack.
type startRequest struct {
	FleetID, TeamID, Channel string
	SlackUser, SlackName     string
	// Who is the person asking, as actor allowed them.
	Who person
	// Key is the delivery that asked (its job key): the message posted and
	// the operation created for it are found again if it is processed twice.
	Key     string
	Command command.Command
}

// start creates an operation started from Slack and its status message:
// first a "starting" message, recorded under the request's key; then the
// operation, carrying that message's channel and ts (so a second attempt
// finds it rather than creating another); then the status.
func (b *Bot) start(ctx context.Context, s startRequest) (app.Operation, error) {
	m, err := b.mission(ctx, s.FleetID, s.Command.Key, s.Channel)
	if err != nil {
		return app.Operation{}, err
	}
	p, err := b.pilot(ctx, s.FleetID, m, s.Command.Pilot)
	if err != nil {
		return app.Operation{}, err
	}
	who := s.Who
	first, err := b.tmpl.render("starting_message", map[string]string{"Title": s.Command.Title, "Mission": m.Key})
	if err != nil {
		return app.Operation{}, bot.Permanent(err)
	}
	t, err := b.post(ctx, store.SlackThread{FleetID: s.FleetID, TeamID: s.TeamID, RequestKey: s.Key,
		Channel: s.Channel, SlackUser: s.SlackUser}, first)
	if err != nil {
		return app.Operation{}, err
	}
	var op app.Operation
	if t.OperationID != nil {
		op, err = b.store.FindOperation(ctx, s.FleetID, *t.OperationID)
	} else {
		op, err = b.store.FindOperationBySlackMessage(ctx, s.FleetID, t.Channel, t.TS)
		if app.IsCode(err, app.ENotFound) {
			in := store.OperationInput{MissionID: m.ID, Title: s.Command.Title, Body: s.Command.Body,
				SlackChannel: t.Channel, SlackTS: t.TS, CreatedBy: who.UserID,
				// Two attempts at once (a job whose lock lapsed) make one.
				Once: "slack:" + s.Key + ":run"}
			if p != nil {
				in.AssigneeType, in.AssigneeID = "pilot", &p.ID
			}
			op, err = b.store.CreateOperation(ctx, s.FleetID, in)
		}
		if err == nil {
			err = b.store.AttachSlackThread(ctx, s.FleetID, t.ID, op.ID)
		}
	}
	if err != nil {
		return op, err
	}
	return op, b.refresh(ctx, s.FleetID, op.ID)
}

// threadReply adds a reply in an operation's thread to its conversation;
// on an operation in review or done, that starts a follow-up run.
func (b *Bot) threadReply(ctx context.Context, fleetID, teamID, job string, e *slackevents.MessageEvent) error {
	t, err := b.store.FindSlackThreadByMessage(ctx, fleetID, teamID, e.Channel, e.ThreadTimeStamp)
	if app.IsCode(err, app.ENotFound) || (err == nil && t.OperationID == nil) {
		return nil
	}
	if err != nil {
		return err
	}
	body := strings.TrimSpace(plainText(e.Text))
	if body == "" {
		return nil
	}
	who, err := b.actor(ctx, fleetID, teamID, e.User, "")
	if app.IsCode(err, app.EForbidden) {
		return b.whisper(ctx, e.Channel, e.User, e.ThreadTimeStamp, app.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	typ, id, name := who.author()
	dup, err := b.recorded(ctx, fleetID, *t.OperationID, id, body, slackTime(e.TimeStamp))
	if err != nil || dup {
		return err
	}
	_, _, err = b.store.CreateMessage(ctx, fleetID, *t.OperationID, store.MessageInput{AuthorType: typ, AuthorID: id, AuthorName: name, Body: body,
		Once: "slack:" + job + ":message"})
	if app.IsCode(err, app.ENotFound) {
		return nil // the operation is gone
	}
	return err
}

// recorded reports whether this reply is already in the conversation: the
// job may run again after a crash between storing it and finishing.
func (b *Bot) recorded(ctx context.Context, fleetID, opID, authorID, body string, at time.Time) (bool, error) {
	msgs, err := b.store.Messages(ctx, fleetID, opID)
	if err != nil {
		return false, err
	}
	for _, m := range msgs {
		if m.AuthorID == authorID && m.Body == body && !m.CreatedAt.Before(at.Add(-time.Second)) {
			return true, nil
		}
	}
	return false, nil
}

// slackTime reads a message ts ("1712345678.000200") as a time.
func slackTime(ts string) time.Time {
	f, err := strconv.ParseFloat(ts, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(int64(f * 1e6))
}
