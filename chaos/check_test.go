//go:build unix

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// tally is what the checks counted, for the summary.
type tally struct {
	operations, inReview, leaseLost int
	attempts                        map[int]int // runs by their attempt count
	events                          int64
	took, total                     time.Duration
}

// check asserts the invariants in the database once everything stopped.
func (w *world) check(ctx context.Context) tally {
	t := w.t
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	s := tally{attempts: map[int]int{}}
	fail := func(format string, args ...any) { t.Errorf(format, args...) }

	// No operation lost or doubled: each title once, each with one run.
	rows, err := conn.Query(ctx, `SELECT o.title, o.status, count(r.id)
		FROM operations o LEFT JOIN runs r ON r.operation_id = o.id
		WHERE o.fleet_id = $1 GROUP BY o.id, o.title, o.status`, w.fleet)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for rows.Next() {
		var title, status string
		var runs int
		if err := rows.Scan(&title, &status, &runs); err != nil {
			t.Fatal(err)
		}
		seen[title]++
		s.operations++
		if runs != 1 {
			fail("operation %s has %d runs, want exactly 1 (a run was doubled or lost)", title, runs)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range w.form.operations {
		if n := seen[opTitle(i)]; n != 1 {
			fail("operation %s exists %d times, want once", opTitle(i), n)
		}
		delete(seen, opTitle(i))
	}
	for title := range seen {
		fail("operation %q was never asked for", title)
	}

	// Every run in exactly one terminal state; every operation in review,
	// or failed with lease_lost after at most three attempts.
	rows, err = conn.Query(ctx, `SELECT r.id, o.title, o.status, r.status, r.attempt, r.failure_reason, r.failure_message,
			r.finished_at IS NOT NULL, r.lease_expires_at IS NULL, r.claim_token_hash IS NULL, r.last_seq, r.final_message,
			coalesce(a.files, -1), coalesce(a.diff, '')
		FROM runs r JOIN operations o ON o.id = r.operation_id LEFT JOIN artifacts a ON a.run_id = r.id
		WHERE r.fleet_id = $1`, w.fleet)
	if err != nil {
		t.Fatal(err)
	}
	lastSeq := map[string]int64{}
	for rows.Next() {
		var id, title, opStatus, status, reason, message, final, diff string
		var attempt, files int
		var finished, released, tokenCleared bool
		var last int64
		if err := rows.Scan(&id, &title, &opStatus, &status, &attempt, &reason, &message, &finished, &released, &tokenCleared, &last, &final, &files, &diff); err != nil {
			t.Fatal(err)
		}
		lastSeq[id] = last
		s.attempts[attempt]++
		if !finished || !released {
			fail("run %s (%s) is %s but finished=%v, lease released=%v", id, title, status, finished, released)
		}
		if attempt < 1 || attempt > maxAttempts {
			fail("run %s (%s) took %d attempts, want 1 to %d", id, title, attempt, maxAttempts)
		}
		if final == zombieText {
			fail("run %s (%s) carries the zombie's final message: a stale claim token was accepted", id, title)
		}
		switch {
		case status == "succeeded":
			s.inReview++
			if opStatus != "in_review" {
				fail("run %s succeeded but operation %s is %s, want in_review", id, title, opStatus)
			}
			if files != 1 || !strings.Contains(diff, "chaos.txt") || !strings.Contains(diff, "CHS-") {
				fail("run %s (%s) succeeded without the pilot's one-file diff (files %d): %.200q", id, title, files, diff)
			}
		case status == "failed" && reason == "lease_lost":
			s.leaseLost++
			if attempt != maxAttempts {
				fail("run %s (%s) failed with lease_lost after %d attempts, want %d", id, title, attempt, maxAttempts)
			}
			if opStatus != "backlog" {
				fail("run %s failed but operation %s is %s, want backlog", id, title, opStatus)
			}
			// A run the server settled keeps no claim token (one its rover
			// completed keeps the token's hash, to answer a repeat).
			if !tokenCleared {
				fail("run %s (%s) failed with lease_lost but still has a claim token", id, title)
			}
		default:
			fail("run %s (%s) ended %s (%s: %.300s); want succeeded, or failed with lease_lost", id, title, status, reason, message)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lastSeq) != w.form.operations {
		fail("%d runs, want %d", len(lastSeq), w.form.operations)
	}

	// Run events: contiguous from 1, no duplicate, last_seq the highest.
	rows, err = conn.Query(ctx, `SELECT run_id::text, count(*), count(DISTINCT seq), min(seq), max(seq),
			count(*) FILTER (WHERE data->>'text' = $2)
		FROM run_events WHERE fleet_id = $1 GROUP BY run_id`, w.fleet, zombieText)
	if err != nil {
		t.Fatal(err)
	}
	withEvents := map[string]bool{}
	for rows.Next() {
		var id string
		var n, distinct, lo, hi, zombie int64
		if err := rows.Scan(&id, &n, &distinct, &lo, &hi, &zombie); err != nil {
			t.Fatal(err)
		}
		withEvents[id] = true
		s.events += n
		if n != distinct || lo != 1 || hi != n {
			fail("run %s: %d events, %d distinct, seq %d…%d: not contiguous from 1 without duplicates", id, n, distinct, lo, hi)
		}
		if lastSeq[id] != hi {
			fail("run %s: last_seq %d, highest stored event %d", id, lastSeq[id], hi)
		}
		if zombie > 0 {
			fail("run %s holds %d events of the zombie: a stale claim token was accepted", id, zombie)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, last := range lastSeq {
		if !withEvents[id] && last != 0 {
			fail("run %s: last_seq %d but no events stored", id, last)
		}
	}

	w.checkFeed(ctx, conn)
	w.mu.Lock()
	z := w.zombie
	w.mu.Unlock()
	for _, v := range z.accepted {
		fail("stale claim token accepted: %s", v)
	}
	if z.plays-z.idle > 0 && z.refused == 0 {
		fail("the zombie claimed runs but no stale call was refused")
	}
	return s
}

// checkFeed replays each run's change-feed rows (commit order) through the
// run's state machine: queued, then claimed, optionally started, then
// requeued or ended; ended once, last. A stale claim token that changed a
// run would show as a start, an event or an end with no claim before it.
func (w *world) checkFeed(ctx context.Context, conn *pgx.Conn) {
	// Every committed row was numbered by some server's stamper, even the
	// rows of servers killed between their commit and their stamp.
	var unnumbered int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events WHERE id IS NULL`).Scan(&unnumbered); err != nil {
		w.t.Fatal(err)
	}
	if unnumbered > 0 {
		w.t.Errorf("%d change-feed rows were never numbered", unnumbered)
	}
	rows, err := conn.Query(ctx, `SELECT subject_id::text, kind, data FROM events
		WHERE fleet_id = $1 AND kind LIKE 'run.%' ORDER BY id`, w.fleet)
	if err != nil {
		w.t.Fatal(err)
	}
	type life struct {
		state   string
		attempt int
		trail   []string
	}
	runs := map[string]*life{}
	bad := map[string]string{}
	for rows.Next() {
		var id, kind string
		var data json.RawMessage
		if err := rows.Scan(&id, &kind, &data); err != nil {
			w.t.Fatal(err)
		}
		l := runs[id]
		if l == nil {
			l = &life{state: "none"}
			runs[id] = l
		}
		l.trail = append(l.trail, kind)
		if bad[id] != "" {
			continue
		}
		ok := true
		switch kind {
		case "run.queued":
			ok = l.state == "none"
			l.state = "queued"
		case "run.claimed":
			var d struct {
				Attempt int `json:"attempt"`
			}
			json.Unmarshal(data, &d)
			ok = l.state == "queued" && d.Attempt == l.attempt+1
			l.state, l.attempt = "claimed", d.Attempt
		case "run.started":
			ok = l.state == "claimed"
			l.state = "running"
		case "run.events":
			ok = l.state == "claimed" || l.state == "running"
		case "run.requeued":
			ok = l.state == "claimed" || l.state == "running"
			l.state = "queued"
		case "run.succeeded", "run.failed", "run.canceled":
			ok = l.state == "claimed" || l.state == "running"
			l.state = "ended"
		default:
			ok = false
		}
		if !ok {
			bad[id] = kind
		}
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	for id, l := range runs {
		if bad[id] != "" {
			w.t.Errorf("run %s: %s out of order in the change feed: %s", id, bad[id], strings.Join(l.trail, " → "))
		} else if l.state != "ended" {
			w.t.Errorf("run %s: the change feed never ended it: %s", id, strings.Join(l.trail, " → "))
		}
	}
	if len(runs) != w.form.operations {
		w.t.Errorf("the change feed tells of %d runs, want %d", len(runs), w.form.operations)
	}
}

// summary is the report printed at the end.
func (w *world) summary(s tally) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "chaos (%s form) finished in %s (%s with set-up): %d operations through %d servers and %d rovers\n",
		w.form.name, s.took.Round(100*time.Millisecond), s.total.Round(100*time.Millisecond), s.operations, servers, w.form.rovers)
	fmt.Fprintf(&b, "  operations in review: %d; failed with lease_lost after %d attempts: %d\n", s.inReview, maxAttempts, s.leaseLost)
	var keys []int
	for k := range s.attempts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d attempt(s): %d", k, s.attempts[k]))
	}
	fmt.Fprintf(&b, "  runs by attempts: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(&b, "  run events stored: %d, contiguous and unique per run\n", s.events)
	kills := 0
	for _, r := range w.rovers {
		kills += r.kills
	}
	serverKills := 0
	for _, sv := range w.servers {
		serverKills += sv.kills
	}
	fmt.Fprintf(&b, "  rover SIGKILLs: %d; server SIGKILLs: %d; PostgreSQL restarts: %d; balancer 502s: %d; creations whose answer was lost: %d\n",
		kills, serverKills, w.restarts, w.lb.failed.Load(), w.ambiguous)
	w.api.mu.Lock()
	for answer, n := range w.api.wrong {
		fmt.Fprintf(&b, "  FINDING: POST /api/operations answered %q %d times during the chaos, for a signed-in owner and a mission that exists; retried\n", answer, n)
	}
	w.api.mu.Unlock()
	fmt.Fprintf(&b, "  zombie: %d claims (%d found nothing), %d stale calls refused with 409, %d accepted\n",
		w.zombie.plays, w.zombie.idle, w.zombie.refused, len(w.zombie.accepted))
	fmt.Fprintf(&b, "  checked: every run in one terminal state; operations in review or lease_lost after ≤%d attempts; "+
		"events contiguous; change feed in order per run; no stale token accepted; none lost or doubled\n", maxAttempts)
	b.WriteString("  timeline:\n")
	for _, l := range w.log {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}
