package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// KindNotify is the job the store enqueues for every change-feed event
// about runs, operations and their conversations, in the transaction that
// numbers the event's feed row (shortly after the change commits).
const KindNotify = "notify"

// Notifier reacts to such an event: edits a GitHub status comment, opens a
// pull request, updates a Slack thread. It must be idempotent: a job may
// run again after a crash.
type Notifier interface {
	Notify(ctx context.Context, ev app.Event) error
}

// failedStep marks, after a notifier's name, a notify job's step that
// failed for good.
const failedStep = ":failed"

// NotifyHandler hands each notify job's event to every notifier, named by
// its key in ns. Each notifier's outcome is its own. While one has failed
// in a way a retry may fix, the job retries, and those already through with
// the event, because they succeeded or failed for good, are recorded as the
// job's done steps and not called again: a Slack message that is gone does
// not stop GitHub's retries, nor does GitHub's retry edit Slack again. A
// failure for good is logged with the notifier's name when it happens and,
// once no notifier has a retry left to make, fails the job.
func NotifyHandler(log *slog.Logger, ns map[string]Notifier) Handler {
	names := slices.Sorted(maps.Keys(ns))
	return func(ctx context.Context, j store.Job) error {
		var ev app.Event
		if err := json.Unmarshal(j.Payload, &ev); err != nil {
			return Permanent(err)
		}
		var done []string
		var retry, failed []error
		for _, name := range names {
			if slices.Contains(j.Done, name) {
				continue
			}
			if slices.Contains(j.Done, name+failedStep) {
				failed = append(failed, fmt.Errorf("%s: failed for good in an earlier attempt", name))
				continue
			}
			err := ns[name].Notify(ctx, ev)
			var p permanent
			switch {
			case err == nil:
				done = append(done, name)
			case errors.As(err, &p):
				log.Warn("notifier failed for good", "notifier", name, "job", j.ID, "event", ev.Kind, "err", err)
				done = append(done, name+failedStep)
				failed = append(failed, fmt.Errorf("%s: %w", name, err))
			default:
				retry = append(retry, fmt.Errorf("%s: %w", name, err))
			}
		}
		if len(retry) > 0 {
			return Progress(errors.Join(retry...), done...)
		}
		if len(failed) > 0 {
			return Permanent(errors.Join(failed...))
		}
		return nil
	}
}
