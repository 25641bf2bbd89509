package bot

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// KindNotify is the job the store enqueues for every change-feed event
// about runs, operations and their conversations, in the transaction that
// numbers the event's feed row (shortly after the change commits).
const KindNotify = "notify"

// Notifier reacts to such an event: edits a GitHub status comment, opens a
// pull request, updates a Slack thread. It must be idempotent: a job may
// run again after a failure of another notifier or a crash.
type Notifier interface {
	Notify(ctx context.Context, ev app.Event) error
}

// NotifyHandler hands each notify job to every notifier; one failing makes
// the job retry (and the others see the event again).
func NotifyHandler(ns ...Notifier) Handler {
	return func(ctx context.Context, j store.Job) error {
		var ev app.Event
		if err := json.Unmarshal(j.Payload, &ev); err != nil {
			return Permanent(err)
		}
		var errs []error
		for _, n := range ns {
			if err := n.Notify(ctx, ev); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}
