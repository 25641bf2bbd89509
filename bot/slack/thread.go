package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
)

// Notify keeps status messages in step with the change feed: a run or an
// operation that changed gets its message edited (or, for an operation
// created elsewhere in a mission with a Slack channel, posted). It reads
// the state afresh each time, so events may arrive in any order and more
// than once.
func (b *Bot) Notify(ctx context.Context, ev app.Event) error {
	opID := ""
	switch {
	case strings.HasPrefix(ev.Kind, "run."):
		var d struct {
			OperationID string `json:"operation_id"`
		}
		_ = json.Unmarshal(ev.Data, &d) // an event without one is not about a run's operation
		opID = d.OperationID
	case ev.Kind == "operation.created" || ev.Kind == "operation.updated":
		if ev.SubjectID != nil {
			opID = *ev.SubjectID
		}
	}
	if opID == "" {
		return nil
	}
	if ev.Kind == "operation.created" {
		if err := b.mirror(ctx, ev.FleetID, opID); err != nil {
			return err
		}
	}
	return b.refresh(ctx, ev.FleetID, opID)
}

// refreshJob is a KindRefresh job's payload.
type refreshJob struct {
	FleetID     string `json:"fleet_id"`
	OperationID string `json:"operation_id"`
}

func (b *Bot) runRefresh(ctx context.Context, j store.Job) error {
	var r refreshJob
	if err := unmarshalJob(j.Payload, &r); err != nil {
		return err
	}
	return b.refresh(ctx, r.FleetID, r.OperationID)
}

// editLease is the longest one writer holds a status message for an
// edit; a writer that dies lets go when it lapses. An edit gives up before
// it does (see refresh).
const editLease = 30 * time.Second

// refresh edits an operation's status message to show its state now. Edits
// of one message are at least UpdateGap apart: one that comes too soon is
// left to a refresh job due when the gap has passed, which renders the
// state as it is then, so the final state is always written. While a run
// is in flight another refresh is scheduled a gap later to show its
// progress (run events are too many to be notify jobs).
//
// One writer at a time edits a message, across replicas: it claims the
// thread with a lease (a single UPDATE, no transaction), calls Slack, and
// releases the lease recording what it wrote. No transaction or row lock
// is held while Slack answers. A refresh that finds the message claimed
// by another writer, which may be rendering an older state, comes back a
// gap later as a job, so the final state is still written. Every decision
// uses the database's clock.
func (b *Bot) refresh(ctx context.Context, fleetID, opID string) error {
	t, c, err := b.store.ClaimSlackThread(ctx, fleetID, opID, editLease)
	if app.IsCode(err, app.ENotFound) {
		return nil // the operation has no thread (or is gone)
	}
	if err != nil {
		return err
	}
	if c.Lease == "" {
		return b.schedule(ctx, fleetID, opID, c.Now, tick(c.Now, b.cfg.UpdateGap))
	}
	ectx, cancel := context.WithTimeout(ctx, editLease-5*time.Second)
	wrote, err := b.edit(ectx, fleetID, opID, t, c.Now)
	cancel()
	// Released even when the job's context is done: else the message
	// would wait for the lease to lapse.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	kept, rerr := b.store.ReleaseSlackThread(rctx, fleetID, t.ID, c.Lease, wrote)
	if rerr != nil && !app.IsCode(rerr, app.ENotFound) {
		b.log.Warn("slack: release a status message", "operation", opID, "err", rerr)
		if err == nil {
			err = rerr
		}
	} else if !kept && wrote != "" {
		b.log.Info("slack: a status message's lease was gone before its edit was recorded (lapsed, or the operation was deleted)", "operation", opID)
	}
	return err
}

// edit is one claimed edit of a status message: it renders the state at
// now and writes it unless nothing changed or the gap since the last edit
// has not passed (then a refresh job comes back when it has). It returns
// the hash of what it wrote, or "".
func (b *Bot) edit(ctx context.Context, fleetID, opID string, t store.SlackThread, now time.Time) (string, error) {
	v, err := b.view(ctx, fleetID, opID, now)
	if app.IsCode(err, app.ENotFound) {
		return "", nil // deleted meanwhile
	}
	if err != nil {
		return "", err
	}
	m, err := b.tmpl.render("status_message", v)
	if err != nil {
		return "", bot.Permanent(err)
	}
	if v.Moving {
		if err := b.schedule(ctx, fleetID, opID, now, tick(now, b.cfg.UpdateGap)); err != nil {
			return "", err
		}
	}
	if m.Hash == t.Hash {
		return "", nil
	}
	if t.UpdatedAt != nil && now.Sub(*t.UpdatedAt) < b.cfg.UpdateGap {
		return "", b.schedule(ctx, fleetID, opID, now, t.UpdatedAt.Add(b.cfg.UpdateGap))
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, _, _, err := b.api.UpdateMessageContext(cctx, t.Channel, t.TS, m.options()...); err != nil {
		return "", slackError("chat.update", err)
	}
	return m.Hash, nil
}

// schedule records a refresh of an operation's message due at a time,
// keyed by that time: every edit held back by the throttle asks for the
// same time (the last edit's plus the gap), so they make one job, and
// progress polls round to gap boundaries (see tick). A job is only ever due
// at its key's time, which is still to come when it is asked for again, so
// one already recorded has not run yet and will render the latest state.
func (b *Bot) schedule(ctx context.Context, fleetID, opID string, now, due time.Time) error {
	if t := due.Truncate(time.Millisecond); t.Before(due) {
		due = t.Add(time.Millisecond) // never early: a job due before the gap ends would find it closed
	}
	key := opID + "@" + strconv.FormatInt(due.UnixMilli(), 10)
	_, err := b.enqueue(ctx, KindRefresh, key, refreshJob{FleetID: fleetID, OperationID: opID}, due.Sub(now))
	return err
}

// tick is when to look at a run in flight again: the first gap boundary
// (of the Unix clock) a gap or more from now, so the refreshes of one
// window share a job.
func tick(now time.Time, gap time.Duration) time.Time {
	g := gap.Milliseconds()
	return time.UnixMilli((now.Add(gap).UnixMilli() + g - 1) / g * g)
}

// post puts a new status message in a channel and records it under key,
// once: a delivery processed again finds the message it posted before. A
// crash between posting and recording leaves one extra message; Slack has
// no idempotency key to do better.
func (b *Bot) post(ctx context.Context, t store.SlackThread, m message) (store.SlackThread, error) {
	prev, err := b.store.FindSlackThreadByRequest(ctx, t.FleetID, t.RequestKey)
	if err == nil {
		return prev, nil
	}
	if !app.IsCode(err, app.ENotFound) {
		return t, err
	}
	channel, ts, err := b.api.PostMessageContext(ctx, t.Channel, m.options()...)
	if err != nil {
		return t, slackError("chat.postMessage", err)
	}
	t.Channel, t.TS, t.Hash = channel, ts, m.Hash
	if _, err := b.store.CreateSlackThread(ctx, t); err != nil {
		return t, fmt.Errorf("record Slack message: %w", err)
	}
	return b.store.FindSlackThreadByRequest(ctx, t.FleetID, t.RequestKey)
}

// mirror posts the status message of an operation created outside Slack
// (on the board, from GitHub) into its mission's Slack channel, when the
// mission names one and the fleet has a linked workspace.
func (b *Bot) mirror(ctx context.Context, fleetID, opID string) error {
	op, err := b.store.FindOperation(ctx, fleetID, opID)
	if app.IsCode(err, app.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if op.SlackTS != "" {
		return nil // started from Slack: it has its message
	}
	m, err := b.store.FindMission(ctx, fleetID, op.MissionID)
	if app.IsCode(err, app.ENotFound) {
		return nil
	}
	if err != nil {
		return err // retried: a blip must not lose the channel's message
	}
	if m.SlackChannel == "" {
		return nil
	}
	team, err := b.store.SlackTeamOfFleet(ctx, fleetID)
	if app.IsCode(err, app.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	v, err := b.view(ctx, fleetID, op.ID, time.Now())
	if err != nil {
		return err
	}
	msg, err := b.tmpl.render("status_message", v)
	if err != nil {
		return bot.Permanent(err)
	}
	t, err := b.post(ctx, store.SlackThread{FleetID: fleetID, TeamID: team, RequestKey: "mirror:" + op.ID,
		Channel: m.SlackChannel, OperationID: &op.ID}, msg)
	if err != nil {
		if code := slackErrorCode(err); code == "not_in_channel" || code == "channel_not_found" {
			b.log.Warn("slack: cannot post to the mission's channel; invite the bot there", "mission", m.Key, "channel", m.SlackChannel, "err", err)
			return nil
		}
		return err
	}
	_, err = b.store.UpdateOperation(ctx, fleetID, op.ID, store.OperationPatch{SlackChannel: &t.Channel, SlackTS: &t.TS})
	return err
}
