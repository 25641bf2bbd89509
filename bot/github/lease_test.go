package github_test

import (
	"context"
	"testing"
	"time"

	"github.com/ufo-run/ufo/store"
)

// TestIssueWorkHoldsNoTransaction: while the App waits on GitHub for an
// issue (here, editing its status comment), no database connection sits
// idle in a transaction, and deleting the issue's operation (whose cascade
// deletes the issue's row) goes ahead at once instead of waiting on
// GitHub. The held work then finishes without failing.
func TestIssueWorkHoldsNoTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	e.waitStatus(1, "is queued")
	e.settle()
	op := e.operations()[0]

	arrived, release := e.gh.Hold("issues/update-comment")
	defer release()
	rv := e.enrollRover("r1")
	rv.claim() // the run moves: a notify job edits the status comment
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("the status comment was not edited")
	}
	// A transaction held across the GitHub call sits idle for as long as
	// GitHub is held; others' short transactions are idle between their
	// round trips for a moment, which a single look could catch.
	time.Sleep(time.Second)
	var idle int
	err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'
		  AND state_change < now() - interval '500 milliseconds'`).Scan(&idle)
	if err != nil || idle != 0 {
		t.Fatalf("%d connections idle in a transaction for over 0.5 s while GitHub answers (%v)", idle, err)
	}
	deleted := make(chan error, 1)
	go func() {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		deleted <- e.st.DeleteOperation(dctx, e.fleet, op.ID)
	}()
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatalf("delete the operation: %v", err)
		}
	case <-time.After(5 * time.Second):
		release()
		t.Fatal("deleting the operation waited on GitHub")
	}
	release()
	e.settle()
	if ops := e.operations(); len(ops) != 0 {
		t.Fatalf("operations = %+v", ops)
	}
}

// TestIssueLease: WithGitHubIssue lets one holder at a time work on an
// issue, the next one seeing what the first saved; a holder whose lease
// lapsed (it died, or lost the database) loses the row to the next one and
// its changes are not saved.
func TestIssueLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	e.settle()
	e.stopW()
	gi, err := e.st.FindGitHubIssue(ctx, e.fleet, repoID, 1)
	if err != nil {
		t.Fatal(err)
	}
	set := func(login string, entered chan<- struct{}, leave <-chan struct{}, saw *string) func(*store.GitHubIssue) error {
		return func(g *store.GitHubIssue) error {
			if saw != nil {
				*saw = g.TriggeredBy
			}
			if entered != nil {
				close(entered)
				<-leave
			}
			g.TriggeredBy = login
			return nil
		}
	}
	triggeredBy := func() string {
		g, err := e.st.FindGitHubIssue(ctx, e.fleet, repoID, 1)
		if err != nil {
			t.Fatal(err)
		}
		return g.TriggeredBy
	}

	entered, leave := make(chan struct{}), make(chan struct{})
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- e.st.WithGitHubIssue(ctx, e.fleet, gi.ID, set("first", entered, leave, nil)) }()
	<-entered
	var saw string
	go func() { second <- e.st.WithGitHubIssue(ctx, e.fleet, gi.ID, set("second", nil, nil, &saw)) }()
	select {
	case err := <-second:
		t.Fatalf("a second holder ran while the first held the issue (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(leave)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil || saw != "first" || triggeredBy() != "second" {
		t.Fatalf("second holder: %v, saw %q, saved %q", err, saw, triggeredBy())
	}

	entered, leave = make(chan struct{}), make(chan struct{})
	late := make(chan error, 1)
	go func() { late <- e.st.WithGitHubIssue(ctx, e.fleet, gi.ID, set("late", entered, leave, nil)) }()
	<-entered
	if _, err := e.st.Pool().Exec(ctx, `UPDATE github_issues SET lease_until = now() - interval '1 second' WHERE id = $1`, gi.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.WithGitHubIssue(ctx, e.fleet, gi.ID, set("taker", nil, nil, nil)); err != nil {
		t.Fatalf("take a lapsed lease: %v", err)
	}
	close(leave)
	if err := <-late; err == nil || triggeredBy() != "taker" {
		t.Fatalf("the late holder: %v, saved %q; want an error and the taker's change", err, triggeredBy())
	}
	if err := e.st.WithGitHubIssue(ctx, e.fleet, 999999, set("x", nil, nil, nil)); err == nil {
		t.Fatal("an unknown issue was claimed")
	}
}
