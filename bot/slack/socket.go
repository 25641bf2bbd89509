package slack

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives deliveries over a Socket Mode connection until ctx
// ends, for a server Slack cannot reach. They are the payloads the HTTP
// endpoints receive, handed to the same code; each is acknowledged on the
// socket, a command's acknowledgement carrying its answer. slack-go
// reconnects by itself.
func (b *Bot) RunSocketMode(ctx context.Context) error {
	if b.cfg.AppToken == "" {
		return errors.New("slack: Socket Mode needs an app-level token (UFO_SLACK_APP_TOKEN)")
	}
	sm := socketmode.New(b.api, socketmode.OptionLog(slog.NewLogLogger(b.log.Handler(), slog.LevelDebug)))
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case evt := <-sm.Events:
				wg.Add(1)
				go func() {
					defer wg.Done()
					b.socketEvent(ctx, sm, evt)
				}()
			}
		}
	}()
	return sm.RunContext(ctx)
}

func (b *Bot) socketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.log.Info("slack: Socket Mode connected")
		return
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("slack: Socket Mode refused the app-level token")
		return
	case socketmode.EventTypeConnectionError:
		b.log.Warn("slack: Socket Mode connection failed; retrying", "err", evt.Data)
		return
	}
	if evt.Request == nil {
		return
	}
	var answer any
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || sc.TeamID == "" || sc.UserID == "" || sc.ChannelID == "" {
			b.log.Warn("slack: malformed slash command over Socket Mode")
			break
		}
		cctx, cancel := context.WithTimeout(ctx, answerWithin)
		answer = b.command(cctx, sc)
		cancel()
	case socketmode.EventTypeEventsAPI:
		challenge, err := b.event(ctx, evt.Request.Payload)
		if err != nil && !errors.Is(err, errMalformed) {
			// Not acknowledged: Slack redelivers, and the event id keeps
			// the work single.
			b.log.Error("slack: record event", "err", err)
			return
		}
		if challenge != "" {
			answer = map[string]string{"challenge": challenge}
		}
	case socketmode.EventTypeInteractive:
		if err := b.interaction(ctx, evt.Request.Payload); err != nil && !errors.Is(err, errMalformed) {
			b.log.Error("slack: record interaction", "err", err)
			return
		}
	default:
		return
	}
	if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, answer); err != nil {
		b.log.Warn("slack: acknowledge over Socket Mode", "err", err)
	}
}
