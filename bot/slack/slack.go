// Package slack is UFO's Slack bot. It answers the /ufo slash command,
// @mentions, replies in operation threads and the buttons on its messages,
// over HTTP (signed requests to /slack/commands, /slack/events and
// /slack/interactivity) or over Socket Mode, and keeps one status message
// per operation up to date from the change feed.
//
// Every delivery is verified, answered within Slack's 3 seconds and, when
// it needs more than a read or two, recorded as a durable job keyed by
// Slack's own id for it (a command's trigger id, an event's event id, a
// button's action time and user), so a retried or replayed delivery does
// its work once.
//
// It uses github.com/slack-go/slack for the Web API client, slash-command
// and interaction parsing, the Events API types and Socket Mode.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
)

// Job kinds the bot records and runs.
const (
	KindCommand = "slack.command" // a /ufo command that changes something
	KindEvent   = "slack.event"   // an @mention or a reply in a thread
	KindAction  = "slack.action"  // a button on a status message
	KindRefresh = "slack.refresh" // a throttled or periodic edit of a status message
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Config is what the bot needs; cmd builds it from UFO_SLACK_* variables.
type Config struct {
	// SigningSecret verifies HTTP deliveries; without it the /slack/*
	// endpoints are not mounted (Socket Mode needs none).
	SigningSecret string
	// BotToken (xoxb-…) calls the Web API.
	BotToken string
	// AppToken (xapp-…) turns on Socket Mode, for servers Slack cannot reach.
	AppToken string
	// APIURL is the Web API's base URL; default Slack's.
	APIURL string
	// PublicURL is where people reach the board, for links in messages.
	PublicURL string
	// UpdateGap is the least time between two edits of one message
	// (default 2 s); the final state is always written, at most this late.
	UpdateGap time.Duration
	// Now is the clock signatures are checked against (default time.Now).
	Now func() time.Time
	// Wake is called after the bot records a job, so the local worker
	// picks it up at once (nil: the worker finds it on its next poll).
	Wake func()
	// HTTPClient calls Slack (default: one with a 15 s timeout).
	HTTPClient *http.Client
}

// Bot is the Slack bot. It is a web.Mounter (its endpoints) and a
// bot.Notifier (status messages); Register adds its jobs to a worker.
type Bot struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	api   *slack.Client
	tmpl  *templates
	// botUser is the bot's own Slack user id, learned from auth.test, so
	// its own messages and the mention of it are recognised.
	botUser atomic.Pointer[string]
}

// New makes the bot. It parses its templates (a broken one fails here) but
// calls nothing on Slack; Check does.
func New(cfg Config, st *store.Store, log *slog.Logger) (*Bot, error) {
	if cfg.BotToken == "" {
		return nil, errors.New("slack: a bot token is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/" // slack-go joins method names onto it
	}
	if cfg.UpdateGap <= 0 {
		cfg.UpdateGap = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	ts, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	opts := []slack.Option{slack.OptionAPIURL(cfg.APIURL), slack.OptionHTTPClient(cfg.HTTPClient)}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	return &Bot{cfg: cfg, store: st, log: log, api: slack.New(cfg.BotToken, opts...), tmpl: ts}, nil
}

// Identity is who the bot is on Slack, from auth.test.
type Identity struct {
	Team, TeamID, User, UserID string
}

// Check calls auth.test: it proves the bot token works and learns the
// bot's user id.
func (b *Bot) Check(ctx context.Context) (Identity, error) {
	r, err := b.api.AuthTestContext(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("slack auth.test: %w", err)
	}
	id := r.UserID
	b.botUser.Store(&id)
	return Identity{Team: r.Team, TeamID: r.TeamID, User: r.User, UserID: r.UserID}, nil
}

// botUserID is the bot's user id, asking Slack once when it is not known.
func (b *Bot) botUserID(ctx context.Context) string {
	if p := b.botUser.Load(); p != nil {
		return *p
	}
	if _, err := b.Check(ctx); err != nil {
		b.log.Warn("slack: could not learn the bot's user id", "err", err)
		return ""
	}
	return *b.botUser.Load()
}

// Register adds the bot's job handlers to a worker.
func (b *Bot) Register(w *bot.Worker) {
	w.Handle(KindCommand, b.runCommand)
	w.Handle(KindEvent, b.runEvent)
	w.Handle(KindAction, b.runAction)
	w.Handle(KindRefresh, b.runRefresh)
}

// enqueue records a job once by key and wakes the worker.
func (b *Bot) enqueue(ctx context.Context, kind, key string, payload any, delay time.Duration) (bool, error) {
	added, err := b.store.EnqueueJob(ctx, kind, key, payload, delay)
	if err != nil {
		return false, fmt.Errorf("record %s job: %w", kind, err)
	}
	if added && delay <= 0 && b.cfg.Wake != nil {
		b.cfg.Wake()
	}
	return added, nil
}

// respond posts an ephemeral message to a response_url (a slash command's
// or a button's). Only Slack's hooks host, or the configured API's host (a
// test server or a proxy), is called: a response_url is a URL from outside.
// Its errors never contain the URL: for half an hour it lets anyone post as
// the app, so it must not reach a log or a job's last error.
func (b *Bot) respond(ctx context.Context, responseURL, text string) error {
	if responseURL == "" {
		return nil
	}
	if !b.allowedResponseURL(responseURL) {
		return bot.Permanent(errors.New("slack: refusing a response_url not on hooks.slack.com (or the API's host)"))
	}
	msg := &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: text}
	if err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, b.cfg.HTTPClient, msg); err != nil {
		return responseURLError(err)
	}
	return nil
}

// responseURLError describes a failed post to a response_url without the
// URL: a failed request's *url.Error names it in full, so only its
// operation and cause are kept.
func responseURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("slack: post to response_url: %s: %w", ue.Op, ue.Err)
	}
	return fmt.Errorf("slack: post to response_url: %w", err)
}

func (b *Bot) allowedResponseURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if u.Scheme == "https" && u.Host == "hooks.slack.com" {
		return true
	}
	api, err := url.Parse(b.cfg.APIURL)
	return err == nil && u.Scheme == api.Scheme && u.Host == api.Host
}

// slackError classifies a Web API failure: errors retrying cannot fix are
// permanent.
func slackError(action string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("slack %s: %w", action, err)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "channel_not_found", "not_in_channel", "is_archived", "message_not_found", "cant_update_message",
			"invalid_auth", "not_authed", "account_inactive", "token_revoked", "missing_scope", "invalid_blocks", "msg_too_long":
			return bot.Permanent(err)
		}
	}
	return err
}

// slackErrorCode returns the error code of a Web API failure, or "".
func slackErrorCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func unmarshalJob(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return bot.Permanent(fmt.Errorf("decode job payload: %w", err))
	}
	return nil
}
