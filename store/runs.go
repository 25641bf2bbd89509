package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

type activeRunRow struct {
	ID          string
	FleetID     string
	OperationID string
	Status      string
}

func activeRun(ctx context.Context, tx querier, opID string) (*activeRunRow, error) {
	var r activeRunRow
	err := tx.QueryRow(ctx, q("ActiveRun"), opID).Scan(&r.ID, &r.FleetID, &r.OperationID, &r.Status)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func lastRun(ctx context.Context, tx querier, opID string) (*app.Run, error) {
	r, err := one[app.Run](tx.Query(ctx, q("LastRun"), opID))
	if app.IsCode(err, app.ENotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// cancelRun ends a queued run at once, or asks the rover holding a claimed
// or running one to stop (it learns in its next heartbeat or event call).
func cancelRun(ctx context.Context, tx querier, r activeRunRow, why string) error {
	if r.Status == app.RunQueued {
		if _, err := tx.Exec(ctx, q("CancelQueuedRun"), r.ID, why); err != nil {
			return err
		}
		return emit(ctx, tx, r.FleetID, "run.canceled", &r.ID, map[string]any{"operation_id": r.OperationID, "reason": why})
	}
	if _, err := tx.Exec(ctx, q("RequestCancel"), r.ID, why); err != nil {
		return err
	}
	return emit(ctx, tx, r.FleetID, "run.cancel_requested", &r.ID, map[string]any{"operation_id": r.OperationID, "reason": why})
}

// CancelRun cancels one run of the fleet; a finished run is a conflict.
func (s *Store) CancelRun(ctx context.Context, fleetID, runID string) (app.Run, error) {
	err := s.tx(ctx, func(tx querier) error {
		r, err := one[app.Run](tx.Query(ctx, q("FindRun"), fleetID, runID))
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, q("LockOperationByID"), r.OperationID).Scan(new(string)); err != nil {
			return err
		}
		a, err := activeRun(ctx, tx, r.OperationID)
		if err != nil {
			return err
		}
		if a == nil || a.ID != r.ID {
			return app.Errorf(app.EConflict, "run is already %s", r.Status)
		}
		if err := cancelRun(ctx, tx, *a, "canceled by request"); err != nil {
			return err
		}
		if a.Status == app.RunQueued {
			return settleOperation(ctx, tx, fleetID, r.OperationID, r.ID, app.RunCanceled)
		}
		return nil
	})
	if err != nil {
		return app.Run{}, err
	}
	return s.FindRun(ctx, fleetID, runID)
}

// settleOperation moves an operation after its run ended: success hands it
// to review; failure or cancel returns it to backlog unless a person already
// closed it, or another run of it is already under way (a reassignment).
// The caller holds the operation's row locked. It is ufo_settle (migration
// 0012), sent with the COMMIT after the feed rows emitted so far.
func settleOperation(ctx context.Context, tx querier, fleetID, opID, runID, runStatus string) error {
	if err := emittedBySQL(tx); err != nil {
		return err
	}
	return later(ctx, tx, stmt(q("SettleOperation"), fleetID, opID, runID, runStatus))
}

// Claimed is a run a rover just claimed, with what the claim answer needs.
type Claimed struct {
	Token   string
	RunID   string
	Attempt int
	Prompt  string
	Resume  string
	// FreshPrompt is, when Resume is set, the prompt for a pilot that
	// cannot resume that session (a rover that did not run it): the
	// operation and its whole conversation.
	FreshPrompt string
	FollowUp    bool
	Operation   app.Operation
	Pilot       app.Pilot
	Mission     app.Mission
}

// Claim hands the oldest queued run the rover can take to it, or returns
// nil when there is none. kinds are the pilot kinds it has; tags its tags.
// It is one call of ufo_claim (migration 0014): the claim, its feed row
// and what the answer needs, in one round trip; a claim that finds nothing
// stops after the claim's UPDATE. A follow-up that resumes a session takes
// a second, to read the conversation for its fresh prompt. A revoked rover
// is refused.
func (s *Store) Claim(ctx context.Context, fleetID, roverID string, kinds, tags []string, lease time.Duration) (*Claimed, error) {
	token := app.NewToken("ufoc_")
	out := Claimed{Token: token}
	var active bool
	var runID, prompt, resume *string
	var attempt *int
	var followUp *bool
	var op, mission, pilot []byte
	err := s.pool.QueryRow(ctx, q("ClaimRun"), fleetID, kinds, tags, roverID, app.HashToken(token), lease.Seconds()).
		Scan(&active, &runID, &attempt, &prompt, &resume, &followUp, &op, &mission, &pilot)
	if err != nil {
		return nil, translate(err)
	}
	if !active {
		s.rovers.forgetRover(roverID)
		return nil, errRevoked()
	}
	if runID == nil {
		return nil, nil
	}
	out.RunID, out.Attempt, out.Prompt, out.Resume, out.FollowUp = *runID, *attempt, *prompt, *resume, *followUp
	s.stamp.poke()
	err = json.Unmarshal(op, &out.Operation)
	if err == nil {
		err = json.Unmarshal(mission, &out.Mission)
	}
	if err == nil && pilot != nil {
		err = json.Unmarshal(pilot, &out.Pilot)
	}
	if err == nil && out.Resume != "" {
		var msgs []app.Message
		if msgs, err = s.Messages(ctx, fleetID, out.Operation.ID); err == nil {
			out.FreshPrompt = initialPrompt(out.Operation.Title, out.Operation.Body, msgs)
		}
	}
	if err != nil {
		// An answer that cannot be made: the run goes back to the queue.
		if rerr := s.ReleaseClaim(context.WithoutCancel(ctx), out.RunID, token); rerr != nil {
			s.log.Error("release a claim", "run", out.RunID, "err", rerr)
		}
		return nil, fmt.Errorf("claimed run %s: %w", out.RunID, err)
	}
	return &out, nil
}

// A rover's calls on a run it holds are one statement each: functions of
// migrations 0012 to 0016 that lock the run (and its operation, first, for
// calls that change it), check the caller holds the run's current claim in
// the WHERE clause of their UPDATE of the run, write, and write their feed
// rows. A refusal is SQLSTATE UF409, a conflict, or UF401 for a revoked
// rover (see refused).

// refused translates a run call's error. A rover found revoked is dropped
// from the token cache, so that its next lookup answers 401 too.
func (s *Store) refused(roverID string, err error) error {
	err = translate(err)
	if app.IsCode(err, app.EUnauthorized) {
		s.rovers.forgetRover(roverID)
	}
	return err
}

// StartRun marks a claimed run running. It returns whether a cancel was
// requested.
func (s *Store) StartRun(ctx context.Context, runID, roverID, token string, lease time.Duration) (bool, error) {
	var cancel bool
	err := s.pool.QueryRow(ctx, q("StartRun"), runID, roverID, app.HashToken(token), lease.Seconds()).Scan(&cancel)
	if err != nil {
		return false, s.refused(roverID, err)
	}
	s.stamp.poke()
	return cancel, nil
}

// Heartbeat extends a run's lease and returns whether a cancel was
// requested.
func (s *Store) Heartbeat(ctx context.Context, runID, roverID, token string, lease time.Duration) (bool, error) {
	var cancel bool
	err := s.pool.QueryRow(ctx, q("Heartbeat"), runID, roverID, app.HashToken(token), lease.Seconds()).Scan(&cancel)
	if err != nil {
		return false, s.refused(roverID, err)
	}
	return cancel, nil
}

// EventInput is one run event as a rover sends it.
type EventInput struct {
	Seq  int64
	Type string
	Data json.RawMessage
	At   time.Time
}

// AppendEvents stores a batch of run events once each by (run, seq),
// extends the lease, and returns whether a cancel was requested and the
// highest sequence stored of this attempt. Each attempt numbers its events
// from 1; they are stored after the earlier attempts' events.
func (s *Store) AppendEvents(ctx context.Context, runID, roverID, token string, lease time.Duration, events []EventInput) (bool, int64, error) {
	seqs := make([]int64, len(events))
	types := make([]string, len(events))
	datas := make([]json.RawMessage, len(events))
	ats := make([]time.Time, len(events))
	for i, e := range events {
		seqs[i], types[i], datas[i], ats[i] = e.Seq, e.Type, e.Data, e.At
	}
	var cancel bool
	var last int64
	err := s.pool.QueryRow(ctx, q("AppendEvents"), runID, roverID, app.HashToken(token), lease.Seconds(), seqs, types, datas, ats).
		Scan(&cancel, &last)
	if err != nil {
		return false, 0, s.refused(roverID, err)
	}
	if len(events) > 0 {
		s.stamp.poke()
	}
	return cancel, last, nil
}

// Completion is a rover's terminal report.
type Completion struct {
	Status         string
	FailureReason  string
	FailureMessage string
	FinalMessage   string
	SessionID      string
	Usage          json.RawMessage
	Artifact       *app.Artifact
}

// CompleteRun records a run's one terminal state, its artifact, the
// operation's next status and the signal a person should see. finished is
// false for a repeat of the completion that finished the run (a rover that
// lost the answer), which changes nothing.
func (s *Store) CompleteRun(ctx context.Context, runID, roverID, token string, c Completion) (finished bool, err error) {
	reason, message := "", ""
	if c.Status != app.RunSucceeded {
		reason = c.FailureReason
		if reason == "" {
			reason = c.Status
		}
		message = c.FailureMessage
		if message == "" {
			message = c.FinalMessage
		}
	}
	var signalKind, signalMessage *string
	switch c.Status {
	case app.RunSucceeded:
		signalKind, signalMessage = ptr("review_requested"), ptr("review the pilot's changes")
	case app.RunFailed:
		signalKind, signalMessage = ptr("failed"), ptr(reason+": "+truncate(message, 500))
	}
	var artifact []byte
	if c.Artifact != nil {
		var err error
		if artifact, err = json.Marshal(c.Artifact); err != nil {
			return false, err
		}
	}
	err = s.pool.QueryRow(ctx, q("CompleteRun"), runID, roverID, app.HashToken(token), c.Status, c.SessionID, c.FinalMessage,
		c.Usage, reason, message, artifact, signalKind, signalMessage).Scan(&finished)
	if err != nil {
		return false, s.refused(roverID, err)
	}
	if finished {
		s.stamp.poke()
	}
	return finished, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SweepLeases requeues runs whose lease expired, or fails them with
// lease_lost after their last attempt, or marks them canceled when a cancel
// was pending. Each run is settled in a transaction of its own, locking in
// the usual order, and SKIP LOCKED lets several replicas sweep at once
// without double work. It returns how many runs it settled.
func (s *Store) SweepLeases(ctx context.Context) (int, error) {
	rows, err := s.pool.Query(ctx, q("ExpiredRuns"))
	if err != nil {
		return 0, translate(err)
	}
	type candidate struct{ id, opID string }
	var list []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.opID); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return 0, translate(err)
	}
	n := 0
	for _, c := range list {
		settled, err := s.sweepRun(ctx, c.id, c.opID)
		if err != nil {
			return n, err
		}
		if settled {
			n++
		}
	}
	return n, nil
}

// sweepRun settles one expired run, unless another sweeper has it or its
// rover renewed the lease meanwhile.
func (s *Store) sweepRun(ctx context.Context, runID, opID string) (bool, error) {
	settled := false
	err := s.tx(ctx, func(tx querier) error {
		if err := tx.QueryRow(ctx, q("LockOperationByID"), opID).Scan(new(string)); err != nil {
			return err
		}
		var e struct {
			id, fleetID, opID string
			attempt, max      int
			cancel            bool
		}
		err := tx.QueryRow(ctx, q("LockExpiredRun"), runID).Scan(&e.id, &e.fleetID, &e.opID, &e.attempt, &e.max, &e.cancel)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		var status, reason string
		switch {
		case e.cancel:
			status, reason = app.RunCanceled, "canceled"
		case e.attempt >= e.max:
			status, reason = app.RunFailed, "lease_lost"
		default:
			status = app.RunQueued
		}
		if status == app.RunQueued {
			if _, err := tx.Exec(ctx, q("RequeueRun"), e.id); err != nil {
				return err
			}
			if err := notifyAfter(ctx, tx, ChannelRuns, e.fleetID+":"+e.id); err != nil {
				return err
			}
			if err := emit(ctx, tx, e.fleetID, "run.requeued", &e.id, map[string]any{"operation_id": e.opID, "attempt": e.attempt}); err != nil {
				return err
			}
		} else {
			msg := "the rover stopped reporting and the lease expired"
			if _, err := tx.Exec(ctx, q("FinishRun"), e.id, status, "", "", nil, reason, msg); err != nil {
				return err
			}
			if err := emit(ctx, tx, e.fleetID, "run."+status, &e.id, map[string]any{"operation_id": e.opID, "reason": reason}); err != nil {
				return err
			}
			if status == app.RunFailed {
				if _, err := raiseSignal(ctx, tx, e.fleetID, e.opID, &e.id, "failed", reason+": "+msg); err != nil {
					return err
				}
			}
		}
		settled = true
		return settleOperation(ctx, tx, e.fleetID, e.opID, e.id, status)
	})
	return settled, err
}

// FindRun returns one run with its artifact.
func (s *Store) FindRun(ctx context.Context, fleetID, id string) (app.Run, error) {
	r, err := one[app.Run](s.pool.Query(ctx, q("FindRun"), fleetID, id))
	if err != nil {
		return r, err
	}
	a, err := one[app.Artifact](s.pool.Query(ctx, q("FindArtifact"), id))
	if err == nil {
		r.Artifact = &a
	} else if !app.IsCode(err, app.ENotFound) {
		return r, err
	}
	return r, nil
}

// RunFilter narrows Runs.
type RunFilter struct {
	OperationID *string
	Status      string
	RoverID     *string
	Limit       int
	Offset      int
}

// Runs lists a fleet's runs, newest first.
func (s *Store) Runs(ctx context.Context, fleetID string, f RunFilter) ([]app.Run, error) {
	return collect[app.Run](s.pool.Query(ctx, q("ListRuns"), fleetID, f.OperationID, f.Status, f.RoverID, f.Limit, f.Offset))
}

// RunEvents pages through a run's events after a sequence number.
func (s *Store) RunEvents(ctx context.Context, fleetID, runID string, after int64, limit int) ([]app.RunEvent, error) {
	return collect[app.RunEvent](s.pool.Query(ctx, q("ListRunEvents"), runID, fleetID, after, limit))
}

// Events pages through a fleet's change feed after an id. Rows committed
// before the call and not yet numbered are numbered first, so a reader
// always finds the changes that were made before it asked.
func (s *Store) Events(ctx context.Context, fleetID string, after int64, limit int) ([]app.Event, error) {
	if err := s.settleFeed(ctx, fleetID); err != nil {
		return nil, err
	}
	return s.NumberedEvents(ctx, fleetID, after, limit)
}

// settleFeed waits, when the fleet has feed rows committed but not yet
// numbered, for a stamper pass that numbers them.
func (s *Store) settleFeed(ctx context.Context, fleetID string) error {
	var pending bool
	if err := s.pool.QueryRow(ctx, q("FeedPending"), fleetID).Scan(&pending); err != nil {
		return translate(err)
	}
	if pending {
		s.stamp.wait(ctx)
	}
	return nil
}

// NumberedEvents pages through the rows of the change feed numbered so
// far, without waiting for the rest.
func (s *Store) NumberedEvents(ctx context.Context, fleetID string, after int64, limit int) ([]app.Event, error) {
	return collect[app.Event](s.pool.Query(ctx, q("ListEvents"), fleetID, after, limit))
}

// RunsByStatus counts runs in each state, for metrics.
func (s *Store) RunsByStatus(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, q("CountRunsByStatus"))
	if err != nil {
		return nil, translate(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, translate(rows.Err())
}

// LatestEventID is the id of the fleet's newest change-feed row (0 when
// there is none): where a page that shows the present starts following.
func (s *Store) LatestEventID(ctx context.Context, fleetID string) (int64, error) {
	if err := s.settleFeed(ctx, fleetID); err != nil {
		return 0, err
	}
	var id int64
	err := s.pool.QueryRow(ctx, q("LatestEventID"), fleetID).Scan(&id)
	return id, translate(err)
}

// ReleaseClaim puts a run just claimed back in the queue, as if the claim
// never happened, when its answer could not be made (the repository
// credential could not be minted): the attempt is not counted.
func (s *Store) ReleaseClaim(ctx context.Context, runID, token string) error {
	return s.tx(ctx, func(tx querier) error {
		var fleetID, opID string
		err := tx.QueryRow(ctx, q("ReleaseClaim"), runID, app.HashToken(token)).Scan(&fleetID, &opID)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		if err := notifyAfter(ctx, tx, ChannelRuns, fleetID+":"+runID); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "run.requeued", &runID, map[string]any{"operation_id": opID, "reason": "claim answer failed"})
	})
}
