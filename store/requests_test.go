package store

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

// TestRequestKeysApplyOnce: a creation, a retry and a message sent with a
// request key (Once) take effect once, however many times (or however
// concurrently) they are sent again, and only in their fleet.
func TestRequestKeysApplyOnce(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet, m, p := missionWithPilot(t, s, "ONC")
	runs := func(opID string) int {
		t.Helper()
		rs, err := s.Runs(ctx, fleet, RunFilter{OperationID: &opID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}

	// Creation, eight at once with one key.
	in := OperationInput{MissionID: m.ID, Title: "once", AssigneeType: "pilot", AssigneeID: &p.ID, Once: "test:create"}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			op, err := s.CreateOperation(ctx, fleet, in)
			if err != nil {
				t.Error(err)
			}
			ids[i] = op.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("creations with one key answered %v, want one operation", ids)
		}
	}
	ops, err := s.Operations(ctx, fleet, OperationFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || runs(ids[0]) != 1 {
		t.Fatalf("%d operations (%d runs), want one with one run", len(ops), runs(ids[0]))
	}
	op := ops[0]

	// A retry with a key, eight at once, after the run was canceled.
	canceled := app.StatusCanceled
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &canceled}); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		wg.Go(func() {
			// Those that find the run already queued are refused as ever;
			// none queues a second.
			if _, err := s.Retry(ctx, fleet, op.Code, "test:retry"); err != nil && !app.IsCode(err, app.EConflict) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := runs(op.ID); n != 2 {
		t.Fatalf("%d runs after retries with one key, want 2", n)
	}
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &canceled}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Retry(ctx, fleet, op.ID, "test:retry")
	if err != nil || got.Status != app.StatusCanceled || runs(op.ID) != 2 {
		t.Fatalf("the key again once the run is over: %s, %v, %d runs; want nothing done", got.Status, err, runs(op.ID))
	}
	if _, err := s.Retry(ctx, fleet, op.ID, "test:retry-2"); err != nil || runs(op.ID) != 3 {
		t.Fatalf("another key: %v, %d runs; want a third run", err, runs(op.ID))
	}

	// A message with a key on an operation in review: stored once, one
	// follow-up run.
	review := app.StatusInReview
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &canceled}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &review}); err != nil {
		t.Fatal(err)
	}
	msg := MessageInput{AuthorType: "user", AuthorID: "u", AuthorName: "U", Body: "and the docs", Once: "test:message"}
	first, followUp, err := s.CreateMessage(ctx, fleet, op.ID, msg)
	if err != nil || !followUp {
		t.Fatalf("first message: %v, follow-up %v", err, followUp)
	}
	again, followUp, err := s.CreateMessage(ctx, fleet, op.ID, msg)
	if err != nil || followUp || again.ID != first.ID || again.Body != msg.Body {
		t.Fatalf("the message again: %+v, follow-up %v, %v; want the first, no run", again, followUp, err)
	}
	if msgs, err := s.Messages(ctx, fleet, op.ID); err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages (%v), want 1", len(msgs), err)
	}
	if n := runs(op.ID); n != 4 {
		t.Fatalf("%d runs, want 4 (one follow-up)", n)
	}

	// A key is its fleet's: another fleet's request with it is another.
	_, other, _, err := s.SignUp(ctx, "grace@example.com", "Grace", "x", "Other")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.CreateMission(ctx, app.Mission{FleetID: other.ID, Name: "OTH", Key: "OTH", BaseBranch: "main", BranchPrefix: "ufo/", Reviewers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.CreatePilot(ctx, app.Pilot{FleetID: other.ID, Name: "exec", Kind: app.KindExec, Settings: json.RawMessage(`{"command":"true"}`)})
	if err != nil {
		t.Fatal(err)
	}
	in2 := OperationInput{MissionID: m2.ID, Title: "once", AssigneeType: "pilot", AssigneeID: &p2.ID, Once: "test:create"}
	op2, err := s.CreateOperation(ctx, other.ID, in2)
	if err != nil || op2.ID == op.ID || op2.FleetID != other.ID {
		t.Fatalf("the key in another fleet: %+v, %v; want an operation of its own", op2, err)
	}
	// A retry refused because a run is active records that answer: the same
	// key after the run is over still does nothing.
	if _, err := s.Retry(ctx, fleet, op.ID, "test:while-active"); !app.IsCode(err, app.EConflict) {
		t.Fatalf("a retry while the follow-up is active: %v, want a conflict", err)
	}
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &canceled}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Retry(ctx, fleet, op.ID, "test:while-active"); err != nil || runs(op.ID) != 4 {
		t.Fatalf("the refused retry again: %v, %d runs; want nothing done", err, runs(op.ID))
	}
	// A message that restarts a canceled operation does so in its own
	// transaction, once: sent again after that run is canceled, nothing.
	restart := MessageInput{AuthorType: "github", AuthorID: "ada", Body: "try again", Once: "test:restart", Restart: true}
	if _, followUp, err := s.CreateMessage(ctx, fleet, op.ID, restart); err != nil || followUp || runs(op.ID) != 5 {
		t.Fatalf("a restarting message: %v, follow-up %v, %d runs; want a fresh run (5)", err, followUp, runs(op.ID))
	}
	if _, err := s.UpdateOperation(ctx, fleet, op.ID, OperationPatch{Status: &canceled}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateMessage(ctx, fleet, op.ID, restart); err != nil || runs(op.ID) != 5 {
		t.Fatalf("the restarting message again: %v, %d runs; want nothing done", err, runs(op.ID))
	}

	// Keys go with finished jobs of their age: a week later the key is new.
	if _, err := s.pool.Exec(ctx, `UPDATE requests SET created_at = now() - interval '8 days' WHERE key = 'test:retry'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneJobs(ctx, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"test:retry": false, "test:create": true} {
		var n int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE fleet_id = $1 AND key = $2`, fleet, key).Scan(&n)
		if got := n == 1; err != nil || got != want {
			t.Fatalf("%s applied after the prune: %v, %v; want %v", key, got, err, want)
		}
	}
	// A key applied to a creation is not taken for a message's.
	if _, _, err := s.CreateMessage(ctx, fleet, op.ID, MessageInput{AuthorType: "user", Body: "x", Once: "test:create"}); !app.IsCode(err, app.EConflict) {
		t.Fatalf("a creation's key on a message: %v, want a conflict", err)
	}
}
