package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

// A lookup by key that also checks a state finds its row by the key,
// whatever the statistics say. Where the check is the predicate of a
// partial index (runs_active, runs_queue, jobs_pending, signals_fleet),
// statistics taken while few rows were in that state make the index look
// one page small, and the planner chose it over the primary key: the
// lookup then read every row in that state (every run under way, every
// queued run, every pending job) to find its own. With 10,000 runs under
// way a heartbeat took 1.5 ms instead of 0.1 ms (pgbench, one client).
// These tests reproduce such statistics and read the plans.

// explainer is a session that receives the plan of every statement it
// runs, those inside functions too, as LOG messages (auto_explain).
type explainer struct {
	conn  *pgx.Conn
	plans []string
}

func newExplainer(t *testing.T, url string) *explainer {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	e := &explainer{}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { e.plans = append(e.plans, n.Message) }
	if e.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close(context.Background()) })
	for _, set := range []string{`LOAD 'auto_explain'`, `SET auto_explain.log_min_duration = 0`,
		`SET auto_explain.log_nested_statements = on`, `SET client_min_messages = log`} {
		if _, err := e.conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// modes are the plans a session makes: for each call's values, and the
// generic plan it settles on after five calls.
var modes = []string{"force_custom_plan", "force_generic_plan"}

// check runs query (called name in messages) in mode and fails t unless
// each of its statements whose plan contains stmt ("Update on runs") reads
// by use ("runs_pkey on runs"), and none of its statements uses the
// partial index avoid.
func (e *explainer) check(t *testing.T, mode, name, query, stmt, use, avoid string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	e.plans = e.plans[:0]
	if _, err := e.conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	seen := false
	for _, p := range e.plans {
		if strings.Contains(p, stmt) {
			seen = true
			if !strings.Contains(p, use) {
				t.Errorf("%s (%s) does not read by %s:\n%s", name, mode, use, p)
			}
		}
		if strings.Contains(p, avoid) {
			t.Errorf("%s (%s) uses %s:\n%s", name, mode, avoid, p)
		}
	}
	if !seen {
		t.Errorf("%s (%s): no plan with %q among:\n%s", name, mode, stmt, strings.Join(e.plans, "\n"))
	}
}

// analyze takes fresh statistics of table, in which few rows are in the
// state under test.
func analyze(t *testing.T, s *Store, table string) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), "ANALYZE "+table); err != nil {
		t.Fatal(err)
	}
}

// finishedRuns gives the operation of run a history of n finished runs.
func finishedRuns(t *testing.T, s *Store, run string, n int) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO runs (fleet_id, operation_id, pilot_kind, status, finished_at)
		SELECT r.fleet_id, r.operation_id, r.pilot_kind, 'succeeded', now() FROM runs r, generate_series(1, $2)
		WHERE r.id = $1`, run, n); err != nil {
		t.Fatal(err)
	}
}

func TestRunCallsFindTheRunByItsKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	// A run to complete under each plan mode, held by one rover; the
	// statistics are taken while one of them is under way.
	first, rv := claimedRun(t, s)
	op := first.Operation
	if _, err := s.CreateOperation(ctx, op.FleetID, OperationInput{MissionID: op.MissionID, Title: "another",
		AssigneeType: "pilot", AssigneeID: &first.Pilot.ID}); err != nil {
		t.Fatal(err)
	}
	finishedRuns(t, s, first.RunID, 5000)
	analyze(t, s, "runs")
	second, err := s.Claim(ctx, op.FleetID, rv.RoverID, []string{app.KindExec}, []string{}, time.Minute)
	if err != nil || second == nil {
		t.Fatalf("claim: %v, %v", second, err)
	}
	runs := []*Claimed{first, second}
	e := newExplainer(t, url)
	const upd, pkey, active = "Update on runs", "runs_pkey on runs", "runs_active"
	events := []any{[]int64{1}, []string{"text"}, []json.RawMessage{json.RawMessage(`{"text":"hi"}`)}, []time.Time{time.Now()}}
	for i, mode := range modes {
		c := runs[i]
		hash := app.HashToken(c.Token)
		call := func(name, stmt string, args ...any) { e.check(t, mode, name, q(name), stmt, pkey, active, args...) }
		call("StartRun", upd, c.RunID, rv.RoverID, hash, 60.0)
		call("Heartbeat", upd, c.RunID, rv.RoverID, hash, 60.0)
		call("AppendEvents", upd, append([]any{c.RunID, rv.RoverID, hash, 60.0}, events...)...)
		call("RequestCancel", upd, c.RunID, "looking")
		call("LockExpiredRun", "LockRows", c.RunID)
		call("ReleaseClaim", upd, c.RunID, []byte("not its token"))
		call("CompleteRun", upd, c.RunID, rv.RoverID, hash, app.RunSucceeded, "", "done", nil, "", "", nil, nil, nil)
		var status string
		if err := s.pool.QueryRow(ctx, `SELECT status FROM runs WHERE id = $1`, c.RunID).Scan(&status); err != nil || status != app.RunSucceeded {
			t.Fatalf("run after its completion: %q, %v", status, err)
		}
	}
}

func TestCancelOfAQueuedRunFindsItByItsKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	_, _, op := queuedOperation(t, s, "CQR", "queued")
	var run string
	if err := s.pool.QueryRow(ctx, `SELECT id FROM runs WHERE operation_id = $1`, op.ID).Scan(&run); err != nil {
		t.Fatal(err)
	}
	finishedRuns(t, s, run, 5000)
	analyze(t, s, "runs")
	e := newExplainer(t, url)
	for _, mode := range modes {
		e.check(t, mode, "CancelQueuedRun", q("CancelQueuedRun"), "Update on runs", "runs_pkey on runs", "runs_queue", run, "not wanted")
	}
}

func TestJobsAreSettledByTheirKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	// A worker's history: thousands of jobs done, one pending.
	if _, err := s.pool.Exec(ctx, `INSERT INTO jobs (kind, key, payload, status, finished_at)
		SELECT 'notify', g::text, '{}', 'done', now() FROM generate_series(1, 5000) g`); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.pool.QueryRow(ctx, `INSERT INTO jobs (kind, key, payload) VALUES ('notify', 'pending', '{}') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	analyze(t, s, "jobs")
	e := newExplainer(t, url)
	for _, mode := range modes {
		// Attempt 7 is not the job's: each call matches no row and
		// changes nothing, and its plan is the one a real call gets.
		e.check(t, mode, "FinishJob", q("FinishJob"), "Update on jobs", "jobs_pkey on jobs", "jobs_pending", id, 7)
		e.check(t, mode, "RetryJob", q("RetryJob"), "Update on jobs", "jobs_pkey on jobs", "jobs_pending", id, "why", 1.0, 7, []string{"a"})
		e.check(t, mode, "FailJob", q("FailJob"), "Update on jobs", "jobs_pkey on jobs", "jobs_pending", id, "why", 7)
	}
}

func TestSignalIsResolvedByItsKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	c, _ := claimedRun(t, s)
	// A fleet's history: thousands of signals resolved, one open.
	if _, err := s.pool.Exec(ctx, `INSERT INTO signals (fleet_id, operation_id, kind, message, resolved_at)
		SELECT $1, $2, 'review_requested', 'seen', now() FROM generate_series(1, 5000)`, c.Operation.FleetID, c.Operation.ID); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := s.pool.QueryRow(ctx, `INSERT INTO signals (fleet_id, operation_id, kind, message)
		VALUES ($1, $2, 'review_requested', 'open') RETURNING id`, c.Operation.FleetID, c.Operation.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	analyze(t, s, "signals")
	e := newExplainer(t, url)
	for _, mode := range modes {
		e.check(t, mode, "ResolveSignal", q("ResolveSignal"), "Update on signals", "signals_pkey on signals", "signals_fleet", c.Operation.FleetID, id)
	}
}

// The trigger that gives a new run its GitHub issue's rover tags reads the
// run's operation by its key: it runs on every run inserted.
func TestRunTagsFindTheOperationByItsKey(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	fleet, m, op := queuedOperation(t, s, "TAG", "tagged")
	// A fleet's operations, none of them from a GitHub issue yet.
	if _, err := s.pool.Exec(ctx, `INSERT INTO operations (fleet_id, mission_id, number, title)
		SELECT $1, $2, 1000 + g, 'made here' FROM generate_series(1, 20000) g`, fleet, m.ID); err != nil {
		t.Fatal(err)
	}
	analyze(t, s, "operations")
	e := newExplainer(t, url)
	for _, mode := range modes {
		e.check(t, mode, "run insert", `INSERT INTO runs (fleet_id, operation_id, pilot_kind) VALUES ($1, $2, 'exec')`,
			"github_issues", "operations_pkey on operations", "operations_issue_url", fleet, op.ID)
	}
}

// The stamper finds the rows it numbers by their ctid, through a TID
// scan, even when the statistics show a table of unnumbered rows: a join
// on ctid alone was planned as a hash join over a scan of every row
// (migration 0022).
func TestStamperFindsItsRowsByCtid(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (fleet_id, kind, data)
		SELECT gen_random_uuid(), 'run.events', '{}' FROM generate_series(1, 5000)`); err != nil {
		t.Fatal(err)
	}
	analyze(t, s, "events")
	e := newExplainer(t, url)
	for _, mode := range modes {
		e.check(t, mode, "StampEvents", q("StampEvents"), "Update on events", "Tid Scan on events", "Seq Scan on events", 1000)
	}
	// Numbered in insertion order, each row once.
	var numbered, ordered int
	if err := s.pool.QueryRow(ctx, `SELECT count(id), count(*) FILTER (WHERE id = (SELECT min(id) FROM events) + (seq - (SELECT min(seq) FROM events)))
		FROM events WHERE id IS NOT NULL`).Scan(&numbered, &ordered); err != nil {
		t.Fatal(err)
	}
	if numbered != 2000 || ordered != numbered {
		t.Errorf("%d rows numbered (want 2000), %d of them in insertion order", numbered, ordered)
	}
}
