package slack

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
)

// Buttons on a status message, by action_id. Open PR and Open on board are
// links: Slack still reports their clicks, which need no work.
const (
	actionCancel = "cancel"
	actionRetry  = "retry"
)

// interaction takes an interactivity payload (from HTTP or Socket Mode):
// a click on Cancel or Retry is recorded as a job keyed by the action's
// time and the user, so a delivery seen twice acts once.
func (b *Bot) interaction(ctx context.Context, raw []byte) error {
	var ic slack.InteractionCallback
	if err := json.Unmarshal(raw, &ic); err != nil {
		return errMalformed
	}
	if ic.Type != slack.InteractionTypeBlockActions {
		return nil
	}
	acts := ic.ActionCallback.BlockActions
	if len(acts) == 0 || ic.User.ID == "" || ic.Team.ID == "" {
		return errMalformed
	}
	work := false
	for _, a := range acts {
		work = work || a.ActionID == actionCancel || a.ActionID == actionRetry
	}
	if !work {
		return nil
	}
	ts := acts[0].ActionTs
	if ts == "" {
		ts = ic.ActionTs
	}
	if ts == "" {
		return errMalformed
	}
	_, err := b.enqueue(ctx, KindAction, "action:"+ts+":"+ic.User.ID, withoutToken(raw), 0)
	return err
}

func (b *Bot) runAction(ctx context.Context, j store.Job) error {
	var ic slack.InteractionCallback
	if err := json.Unmarshal(j.Payload, &ic); err != nil {
		return bot.Permanent(fmt.Errorf("decode interaction: %w", err))
	}
	fleetID, _, err := b.store.SlackWorkspace(ctx, ic.Team.ID)
	if err != nil {
		return b.tell(ctx, ic.ResponseURL, notFound(err, notLinked))
	}
	if _, err := b.actor(ctx, fleetID, ic.Team.ID, ic.User.ID, ic.User.Name); err != nil {
		return b.tell(ctx, ic.ResponseURL, err)
	}
	for _, a := range ic.ActionCallback.BlockActions {
		var err error
		switch a.ActionID {
		case actionCancel:
			_, err = b.cancel(ctx, fleetID, a.Value)
		case actionRetry:
			_, err = b.retry(ctx, fleetID, a.Value, j.Key+":"+a.ActionID+":"+a.Value)
		default:
			continue
		}
		if err != nil {
			if app.IsCode(err, app.ENotFound) {
				err = app.Errorf(app.ENotFound, "operation not found")
			}
			return b.tell(ctx, ic.ResponseURL, err)
		}
	}
	return nil
}
