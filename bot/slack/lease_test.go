package slack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
	"github.com/ufo-run/ufo/rover/wire"
)

// slowSlack holds chat.update (until the function it returns is called,
// or the test ends) and runs start, which makes the bot edit a status
// message; it returns once that edit is waiting on Slack.
func (e *env) slowSlack(start func()) (release func()) {
	e.t.Helper()
	before := len(e.fake.Calls("chat.update"))
	release = e.fake.Hold("chat.update")
	e.t.Cleanup(release)
	start()
	e.fake.Wait(e.t, 10*time.Second, "an edit waiting on Slack", func() bool { return len(e.fake.Calls("chat.update")) > before })
	return release
}

// noTransactionOnThread fails when a connection of this database sits in a
// transaction, or holds a lock on the thread's row, while Slack answers.
func (e *env) noTransactionOnThread(opID string) {
	e.t.Helper()
	ctx := context.Background()
	if n := e.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND state LIKE 'idle in transaction%' AND query ILIKE '%slack_threads%'`); n != 0 {
		e.t.Fatalf("%d connections idle in a transaction on slack_threads while Slack answers", n)
	}
	tx, err := e.st.Pool().Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var id string
	if err := tx.QueryRow(ctx, `SELECT id FROM slack_threads WHERE operation_id = $1 FOR UPDATE NOWAIT`, opID).Scan(&id); err != nil {
		e.t.Fatalf("the thread's row is locked while Slack answers: %v", err)
	}
}

// within runs f, failing the test when it takes longer than d (f is left
// running; the held Slack call is let go by the test's cleanup).
func within(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s waited more than %s on a status-message edit waiting on Slack", what, d)
	}
}

// TestEditCallsSlackOutsideTransactions: while Slack is slow to answer an
// edit of a status message, no transaction is open and no row is locked;
// another refresh neither waits nor edits at the same time, and the final
// state is still written once Slack answers; deleting the operation does
// not wait on Slack either.
func TestEditCallsSlackOutsideTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the slow Slack")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	e.message(op.SlackChannel, op.SlackTS, "the queued status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "queued") })

	rv := e.enroll()
	var cl wire.Claim
	release := e.slowSlack(func() { cl = rv.claim() }) // the run is claimed: its message is being edited, and Slack is slow
	edits := len(e.fake.Calls("chat.update"))
	e.noTransactionOnThread(op.ID)

	// The run starts meanwhile; a refresh for it returns at once, without a
	// second edit in flight.
	rv.start(cl)
	ev := app.Event{FleetID: e.fleet, Kind: "run.started", Data: json.RawMessage(`{"operation_id":"` + op.ID + `"}`)}
	within(t, 3*time.Second, "a refresh", func() error { return e.bot.Notify(context.Background(), ev) })
	time.Sleep(200 * time.Millisecond)
	if n := len(e.fake.Calls("chat.update")); n != edits {
		t.Fatalf("%d edits began while one waited on Slack, want none", n-edits)
	}
	release()
	e.message(op.SlackChannel, op.SlackTS, "the running status, after Slack answered", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "running")
	})
	checkSpacing(t, e.updates(op.SlackChannel, op.SlackTS), 2*time.Second)

	// Slack is slow again (a further edit proves the last one let go of
	// the message); the operation is deleted meanwhile.
	release = e.slowSlack(func() { rv.events(cl, text(1, "working on it")) }) // shown by the next progress refresh
	e.noTransactionOnThread(op.ID)
	within(t, 3*time.Second, "deleting the operation", func() error {
		return e.st.DeleteOperation(context.Background(), e.fleet, op.ID)
	})
	release()
	time.Sleep(300 * time.Millisecond)
	if n := e.count(`SELECT count(*) FROM slack_threads WHERE operation_id = $1`, op.ID); n != 0 {
		t.Fatalf("the thread outlived its operation")
	}
}

// TestLapsedLeaseIsTakenOver: a writer that died holding a status message
// lets go when its lease lapses, and the next refresh edits it.
func TestLapsedLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the dead writer")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	e.message(op.SlackChannel, op.SlackTS, "the queued status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "queued") })
	edits := len(e.updates(op.SlackChannel, op.SlackTS))
	var lapses time.Time
	if err := e.st.Pool().QueryRow(context.Background(), `UPDATE slack_threads
		SET edit_lease = gen_random_uuid(), edit_lease_until = clock_timestamp() + interval '3 seconds'
		WHERE operation_id = $1 RETURNING edit_lease_until`, op.ID).Scan(&lapses); err != nil {
		t.Fatal(err)
	}
	rv := e.enroll()
	rv.claim()
	time.Sleep(time.Second)
	if n := len(e.updates(op.SlackChannel, op.SlackTS)); n != edits {
		t.Fatalf("%d edits while another writer held the message", n-edits)
	}
	e.message(op.SlackChannel, op.SlackTS, "the claimed status, once the lease lapsed", func(m slackfake.Message) bool {
		return !strings.Contains(m.Text, "queued")
	})
	if first := e.updates(op.SlackChannel, op.SlackTS)[edits]; first.At.Before(lapses.Add(-50 * time.Millisecond)) {
		t.Fatalf("edited at %s, before the lease lapsed at %s", first.At, lapses)
	}
}
