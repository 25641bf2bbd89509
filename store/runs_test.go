package store

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

// missionWithPilot makes a fleet with a mission of the given key and an
// exec pilot named exec.
func missionWithPilot(t *testing.T, s *Store, key string) (fleet string, m app.Mission, p app.Pilot) {
	t.Helper()
	ctx := context.Background()
	fleet = newFleet(t, s)
	m, err := s.CreateMission(ctx, app.Mission{FleetID: fleet, Name: key, Key: key, BaseBranch: "main", BranchPrefix: "ufo/", Reviewers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err = s.CreatePilot(ctx, app.Pilot{FleetID: fleet, Name: "exec", Kind: app.KindExec, Settings: json.RawMessage(`{"command":"true"}`)})
	if err != nil {
		t.Fatal(err)
	}
	return fleet, m, p
}

// queuedOperation creates, in a new fleet with a mission of that key and
// an exec pilot, an operation assigned to the pilot: it has a queued run.
func queuedOperation(t *testing.T, s *Store, key, title string) (fleet string, m app.Mission, op app.Operation) {
	t.Helper()
	fleet, m, p := missionWithPilot(t, s, key)
	op, err := s.CreateOperation(context.Background(), fleet, OperationInput{MissionID: m.ID, Title: title, AssigneeType: "pilot", AssigneeID: &p.ID})
	if err != nil {
		t.Fatal(err)
	}
	return fleet, m, op
}

// claimedRun queues one run in a new fleet and has a rover claim it.
func claimedRun(t *testing.T, s *Store) (*Claimed, Enrolled) {
	t.Helper()
	ctx := context.Background()
	fleet, _, _ := queuedOperation(t, s, "LSE", "lease")
	code, _, err := s.CreateEnrollmentCode(ctx, fleet, "", []string{}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := s.Enroll(ctx, code, "r", json.RawMessage(`{}`), []string{app.KindExec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(ctx, fleet, rv.RoverID, []string{app.KindExec}, []string{}, time.Minute)
	if err != nil || c == nil {
		t.Fatalf("claim: %v, %v", c, err)
	}
	return c, rv
}

// updates runs fn in a transaction and returns how many rows of table it
// updated, and how many of those were heap-only (HOT) updates, which write
// no index. The backend's counts not yet reported include its earlier
// transactions: it compares before and after.
func updates(t *testing.T, s *Store, table string, fn func(tx pgx.Tx) error) (updated, hot int) {
	t.Helper()
	ctx := context.Background()
	counts := func(tx pgx.Tx) (updated, hot int, err error) {
		err = tx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated($1::regclass),
			pg_stat_get_xact_tuples_hot_updated($1::regclass)`, table).Scan(&updated, &hot)
		return updated, hot, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		u0, h0, err := counts(tx)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		u1, h1, err := counts(tx)
		updated, hot = u1-u0, h1-h0
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return updated, hot
}

// Renewing a lease and recording events' last sequence are the run's most
// frequent writes; they must be heap-only (HOT) updates, which write no
// index, or every heartbeat rewrites every index of runs.
func TestLeaseRenewalsAreHeapOnlyUpdates(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	hash := app.HashToken(c.Token)
	updated, hot := updates(t, s, "runs", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, q("Heartbeat"), c.RunID, rv.RoverID, hash, 60.0); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, q("AppendEvents"), c.RunID, rv.RoverID, hash, 60.0,
			[]int64{5}, []string{"text"}, []json.RawMessage{json.RawMessage(`{"text":"hi"}`)}, []time.Time{time.Now()})
		return err
	})
	if updated != 2 || hot != 2 {
		t.Errorf("lease renewal and last_seq: %d updates, %d of them heap-only; want 2 and 2", updated, hot)
	}
}

// A run moves its operation twice, to running as it starts and to
// in_review as it succeeds. Neither change may write an index of
// operations: no index holds the status, and pages keep room beside the
// row (migration 0018).
func TestOperationStatusChangesAreHeapOnlyUpdates(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	hash := app.HashToken(c.Token)
	var status string
	updated, hot := updates(t, s, "operations", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, q("StartRun"), c.RunID, rv.RoverID, hash, 60.0); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q("CompleteRun"), c.RunID, rv.RoverID, hash, app.RunSucceeded, "", "done",
			nil, "", "", nil, nil, nil); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT status FROM operations WHERE id = $1", c.Operation.ID).Scan(&status)
	})
	if status != app.StatusInReview {
		t.Errorf("operation %s after the run succeeded, want %s", status, app.StatusInReview)
	}
	if updated != 2 || hot != 2 {
		t.Errorf("start and completion: %d updates of the operation, %d of them heap-only; want 2 and 2", updated, hot)
	}
}

// The sweeper still finds an expired lease through the new index.
func TestSweepFindsExpiredLease(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, _ := claimedRun(t, s)
	if _, err := s.pool.Exec(ctx, `UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, c.RunID); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepLeases(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep: settled %d, err %v; want 1", n, err)
	}
	var status string
	if err := s.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, c.RunID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != app.RunQueued {
		t.Fatalf("after the sweep the run is %s, want %s (requeued for its next attempt)", status, app.RunQueued)
	}
}

// A claim is one statement: its answer carries the operation, mission and
// pilot as stored, and its feed row is written with it.
func TestClaimAnswersWithWhatItClaimed(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	if c.Operation.Code != "LSE-1" || c.Operation.Title != "lease" || c.Operation.Status != app.StatusQueued ||
		c.Operation.Labels == nil || c.Operation.CreatedAt.IsZero() {
		t.Errorf("claimed operation = %+v", c.Operation)
	}
	if c.Mission.Key != "LSE" || c.Mission.BaseBranch != "main" || c.Mission.BranchPrefix != "ufo/" || c.Mission.FleetID != rv.FleetID {
		t.Errorf("claimed mission = %+v", c.Mission)
	}
	if c.Pilot.Name != "exec" || c.Pilot.Kind != app.KindExec || string(c.Pilot.Settings) != `{"command": "true"}` {
		t.Errorf("claimed pilot = %+v (settings %s)", c.Pilot, c.Pilot.Settings)
	}
	if c.Attempt != 1 || c.Token == "" {
		t.Errorf("claim = attempt %d, token %q", c.Attempt, c.Token)
	}
	var kind string
	var data map[string]any
	err := s.pool.QueryRow(ctx, `SELECT kind, data FROM events WHERE subject_id = $1 AND kind = 'run.claimed'`, c.RunID).Scan(&kind, &data)
	if err != nil || kind != "run.claimed" || data["rover_id"] != rv.RoverID || data["attempt"] != 1.0 || data["operation_id"] != c.Operation.ID {
		t.Errorf("claim's feed row = %q %v, %v", kind, data, err)
	}
	// Nothing else is queued: the next claim finds nothing and writes nothing.
	again, err := s.Claim(ctx, rv.FleetID, rv.RoverID, []string{app.KindExec}, []string{}, time.Minute)
	if err != nil || again != nil {
		t.Errorf("second claim = %+v, %v; want nothing", again, err)
	}
}

// Starting a run twice renews its lease and changes nothing else; its
// completion hands the operation to review, with the feed rows of each
// step once and in order.
func TestStartTwiceThenComplete(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	for range 2 {
		if cancel, err := s.StartRun(ctx, c.RunID, rv.RoverID, c.Token, time.Hour); err != nil || cancel {
			t.Fatalf("start = %v, %v", cancel, err)
		}
	}
	var status, opStatus string
	var lease time.Time
	err := s.pool.QueryRow(ctx, `SELECT r.status, r.lease_expires_at, o.status FROM runs r JOIN operations o ON o.id = r.operation_id
		WHERE r.id = $1`, c.RunID).Scan(&status, &lease, &opStatus)
	if err != nil || status != app.RunRunning || opStatus != app.StatusRunning || time.Until(lease) < 50*time.Minute {
		t.Fatalf("after two starts: run %s, operation %s, lease in %v (%v)", status, opStatus, time.Until(lease), err)
	}
	if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunSucceeded, FinalMessage: "done"}); err != nil {
		t.Fatal(err)
	}
	err = s.pool.QueryRow(ctx, `SELECT r.status, o.status FROM runs r JOIN operations o ON o.id = r.operation_id
		WHERE r.id = $1`, c.RunID).Scan(&status, &opStatus)
	if err != nil || status != app.RunSucceeded || opStatus != app.StatusInReview {
		t.Fatalf("after completion: run %s, operation %s (%v)", status, opStatus, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT kind FROM events WHERE fleet_id = $1
		AND (kind LIKE 'run.%' OR kind LIKE 'signal.%' OR kind = 'operation.updated') ORDER BY seq`, rv.FleetID)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{"run.queued", "run.claimed", "run.started", "operation.updated", "run.succeeded", "signal.raised", "operation.updated"}
	if err != nil || !slices.Equal(kinds, want) {
		t.Errorf("feed = %v (%v), want %v", kinds, err, want)
	}
	// A completed run refuses another completion.
	if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunFailed}); !app.IsCode(err, app.EConflict) {
		t.Errorf("second completion = %v, want conflict", err)
	}
}

// A completion sent again, as a rover does when the answer to the first
// was lost, is answered as done and changes nothing: no second artifact,
// signal or feed row. A different completion of the finished run, or the
// same one from a stale token, is still refused.
func TestCompletionRepeatedIsAnsweredAsDone(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	if _, err := s.StartRun(ctx, c.RunID, rv.RoverID, c.Token, time.Hour); err != nil {
		t.Fatal(err)
	}
	done := Completion{Status: app.RunSucceeded, FinalMessage: "done", Artifact: &app.Artifact{
		Diff: "diff --git a/f b/f\n", Files: 1, Insertions: 1, Branch: "ufo/lse-1", Pushed: true}}
	if finished, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, done); err != nil || !finished {
		t.Fatalf("the completion: finished %v, %v", finished, err)
	}
	written := func() (feed, artifacts, signals int) {
		t.Helper()
		err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE fleet_id = $1),
			(SELECT count(*) FROM artifacts WHERE run_id = $2), (SELECT count(*) FROM signals WHERE run_id = $2)`,
			rv.FleetID, c.RunID).Scan(&feed, &artifacts, &signals)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	feed, artifacts, signals := written()
	if artifacts != 1 || signals != 1 {
		t.Fatalf("after the completion: %d artifacts, %d signals, want 1 and 1", artifacts, signals)
	}
	for range 2 {
		if finished, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, done); err != nil || finished {
			t.Fatalf("the completion again = finished %v, %v; want it answered as done by an earlier one", finished, err)
		}
	}
	if f, a, sg := written(); f != feed || a != artifacts || sg != signals {
		t.Errorf("a repeat wrote: feed %d → %d rows, artifacts %d → %d, signals %d → %d", feed, f, artifacts, a, signals, sg)
	}
	var status, opStatus string
	err := s.pool.QueryRow(ctx, `SELECT r.status, o.status FROM runs r JOIN operations o ON o.id = r.operation_id
		WHERE r.id = $1`, c.RunID).Scan(&status, &opStatus)
	if err != nil || status != app.RunSucceeded || opStatus != app.StatusInReview {
		t.Fatalf("after the repeats: run %s, operation %s (%v)", status, opStatus, err)
	}
	if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunFailed}); !app.IsCode(err, app.EConflict) {
		t.Errorf("another completion of the finished run = %v, want conflict", err)
	}
	if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, "ufoc_stale", done); !app.IsCode(err, app.EConflict) {
		t.Errorf("the completion with another token = %v, want conflict", err)
	}
	if _, err := s.StartRun(ctx, c.RunID, rv.RoverID, c.Token, time.Hour); !app.IsCode(err, app.EConflict) {
		t.Errorf("a start with the finished run's token = %v, want conflict", err)
	}
}

// A message on an operation in review starts a follow-up run. It resumes
// the last run's session with the message alone as its prompt, and its
// claim carries, for a rover that cannot resume that session, a fresh
// prompt: the operation and its whole conversation. When the last run left
// no session, the prompt itself is the whole conversation, or the pilot
// would start with only the last message.
func TestFollowUpWithoutSessionGetsTheWholeConversation(t *testing.T) {
	ctx := context.Background()
	followUp := func(session, earlier, last string) *Claimed {
		t.Helper()
		s := open(t, pgtest.NewDB(t))
		c, rv := claimedRun(t, s)
		message := func(body string, wantRun bool) {
			t.Helper()
			_, started, err := s.CreateMessage(ctx, rv.FleetID, c.Operation.ID, MessageInput{AuthorType: "user", AuthorName: "ann", Body: body})
			if err != nil || started != wantRun {
				t.Fatalf("message %q: follow-up started %v (%v), want %v", body, started, err, wantRun)
			}
		}
		message(earlier, false) // while the run is under way
		if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunSucceeded, SessionID: session}); err != nil {
			t.Fatal(err)
		}
		message(last, true)
		next, err := s.Claim(ctx, rv.FleetID, rv.RoverID, []string{app.KindExec}, []string{}, time.Minute)
		if err != nil || next == nil || !next.FollowUp {
			t.Fatalf("claim of the follow-up: %+v, %v", next, err)
		}
		return next
	}
	whole := func(prompt string) bool {
		return strings.HasPrefix(prompt, "lease") && strings.Contains(prompt, "ann: first note") &&
			strings.HasSuffix(strings.TrimSpace(prompt), "ann: and the docs?")
	}
	c := followUp("sess-1", "first note", "and the docs?")
	if c.Prompt != "and the docs?" || c.Resume != "sess-1" || !whole(c.FreshPrompt) {
		t.Errorf("with a session: prompt %q, resume %q, fresh prompt %q; want the message alone, resuming sess-1, "+
			"and the title then the whole conversation", c.Prompt, c.Resume, c.FreshPrompt)
	}
	c = followUp("", "first note", "and the docs?")
	if c.Resume != "" || !whole(c.Prompt) || c.FreshPrompt != "" {
		t.Errorf("without a session: prompt %q, resume %q, fresh prompt %q; want the title, then the whole conversation",
			c.Prompt, c.Resume, c.FreshPrompt)
	}
}

// A rover token stays in a server's memory for a moment after it was
// looked up, but a rover revoked meanwhile (here through another server)
// can neither claim nor act on the run it holds: each is refused as
// unauthorized, and drops the token from the cache, so its next lookup is
// refused too.
func TestRevokedRoverActsOnNothingWhileItsTokenIsCached(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s, other := open(t, url), open(t, url)
	c, rv := claimedRun(t, s)
	for _, st := range []*Store{s, other} {
		if _, err := st.AuthenticateRover(ctx, rv.Token); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateOperation(ctx, rv.FleetID, OperationInput{MissionID: c.Mission.ID, Title: "second", AssigneeType: "pilot", AssigneeID: &c.Pilot.ID}); err != nil {
		t.Fatal(err)
	}
	if err := other.RevokeRover(ctx, rv.FleetID, rv.RoverID); err != nil {
		t.Fatal(err)
	}
	// The server that revoked it had it cached too: there the refusal is
	// immediate.
	if _, err := other.AuthenticateRover(ctx, rv.Token); !app.IsCode(err, app.EUnauthorized) {
		t.Errorf("lookup on the revoking server = %v, want unauthorized", err)
	}
	id, err := s.AuthenticateRover(ctx, rv.Token)
	if err != nil || id.ID != rv.RoverID {
		t.Fatalf("cached lookup = %+v, %v", id, err)
	}
	if got, err := s.Claim(ctx, rv.FleetID, rv.RoverID, []string{app.KindExec}, []string{}, time.Minute); got != nil || !app.IsCode(err, app.EUnauthorized) {
		t.Errorf("claim by a revoked rover = %+v, %v; want unauthorized", got, err)
	}
	if _, err := s.AuthenticateRover(ctx, rv.Token); !app.IsCode(err, app.EUnauthorized) {
		t.Errorf("lookup after a refused claim = %v, want unauthorized", err)
	}
	calls := map[string]func() error{
		"start": func() error { _, err := s.StartRun(ctx, c.RunID, rv.RoverID, c.Token, time.Minute); return err },
		"heartbeat": func() error {
			_, err := s.Heartbeat(ctx, c.RunID, rv.RoverID, c.Token, time.Minute)
			return err
		},
		"events": func() error {
			_, _, err := s.AppendEvents(ctx, c.RunID, rv.RoverID, c.Token, time.Minute, nil)
			return err
		},
		"complete": func() error {
			_, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunSucceeded})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !app.IsCode(err, app.EUnauthorized) {
			t.Errorf("%s by a revoked rover = %v, want unauthorized", name, err)
		}
	}
	var status string
	if err := s.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, c.RunID).Scan(&status); err != nil || status != app.RunClaimed {
		t.Errorf("the revoked rover's run is %q (%v), want it still claimed, for the sweeper", status, err)
	}
}

// The claim check refuses a missing token as it refuses a wrong one, and
// a refused call changes nothing.
func TestRunCallWithoutTokenIsRefused(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	c, rv := claimedRun(t, s)
	var lease0 time.Time
	if err := s.pool.QueryRow(ctx, `SELECT lease_expires_at FROM runs WHERE id = $1`, c.RunID).Scan(&lease0); err != nil {
		t.Fatal(err)
	}
	for _, token := range [][]byte{nil, app.HashToken("ufoc_wrong")} {
		_, err := s.pool.Exec(ctx, q("Heartbeat"), c.RunID, rv.RoverID, token, 3600.0)
		if !app.IsCode(translate(err), app.EConflict) {
			t.Errorf("heartbeat with token hash %x = %v, want conflict", token, err)
		}
		_, err = s.pool.Exec(ctx, q("AppendEvents"), c.RunID, rv.RoverID, token, 3600.0,
			[]int64{1}, []string{"text"}, []json.RawMessage{json.RawMessage(`{"text":"no"}`)}, []time.Time{time.Now()})
		if !app.IsCode(translate(err), app.EConflict) {
			t.Errorf("events with token hash %x = %v, want conflict", token, err)
		}
	}
	var lease time.Time
	var events int
	err := s.pool.QueryRow(ctx, `SELECT lease_expires_at, (SELECT count(*) FROM run_events WHERE run_id = $1) FROM runs WHERE id = $1`, c.RunID).
		Scan(&lease, &events)
	if err != nil || !lease.Equal(lease0) || events != 0 {
		t.Errorf("after refused calls: lease %v (was %v), %d events, %v; want both unchanged", lease, lease0, events, err)
	}
	// The rover's own token still works, and a finished run refuses it.
	if _, last, err := s.AppendEvents(ctx, c.RunID, rv.RoverID, c.Token, time.Minute,
		[]EventInput{{Seq: 1, Type: "text", Data: json.RawMessage(`{"text":"yes"}`)}}); err != nil || last != 1 {
		t.Fatalf("events with the claim's token = %d, %v", last, err)
	}
	if _, err := s.CompleteRun(ctx, c.RunID, rv.RoverID, c.Token, Completion{Status: app.RunSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, c.RunID, rv.RoverID, c.Token, time.Minute); !app.IsCode(err, app.EConflict) {
		t.Errorf("heartbeat on a finished run = %v, want conflict", err)
	}
}

// Feed rows keep the order in which things happened, also when the
// operation's next status is written by SQL (ufo_settle) after rows the
// Go code emitted.
func TestFeedKeepsOrderOfSettling(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet, _, op := queuedOperation(t, s, "ORD", "cancel me")
	runs, err := s.Runs(ctx, fleet, RunFilter{OperationID: &op.ID, Limit: 10})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	if _, err := s.CancelRun(ctx, fleet, runs[0].ID); err != nil {
		t.Fatal(err)
	}
	events, err := s.Events(ctx, fleet, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		if e.Kind == "run.canceled" || (e.Kind == "operation.updated" && e.SubjectID != nil && *e.SubjectID == op.ID) {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) != 2 || kinds[0] != "run.canceled" || kinds[1] != "operation.updated" {
		t.Errorf("feed after a cancel = %v, want run.canceled then operation.updated", kinds)
	}
}

// CreateOperation answers without reading operation_view when there are
// no labels: its answer must be what a read answers afterwards.
func TestCreateOperationAnswersAsStored(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet, m, p := missionWithPilot(t, s, "ANS")
	parent, err := s.CreateOperation(ctx, fleet, OperationInput{MissionID: m.ID, Title: "parent", Body: "b", Priority: 2})
	if err != nil {
		t.Fatal(err)
	}
	name := "exec"
	inputs := []OperationInput{
		{MissionID: m.ID, Title: "by pilot name", Body: "do it", AssigneeType: "pilot", AssigneeID: &name, ParentID: &parent.ID,
			IssueURL: "https://example.com/i/1", SlackChannel: "C1", SlackTS: "1.2", Priority: 3},
		{MissionID: m.ID, Title: "by pilot id", AssigneeType: "pilot", AssigneeID: &p.ID},
		{MissionID: m.ID, Title: "with labels", Labels: []string{"b", "a"}},
	}
	for _, in := range append([]OperationInput{{MissionID: m.ID, Title: "plain"}}, inputs...) {
		got, err := s.CreateOperation(ctx, fleet, in)
		if err != nil {
			t.Fatal(err)
		}
		read, err := s.FindOperation(ctx, fleet, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(read)
		if string(a) != string(b) {
			t.Errorf("created %q:\nanswer %s\nread   %s", in.Title, a, b)
		}
	}
}
