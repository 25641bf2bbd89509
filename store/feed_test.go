package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newFleet(t *testing.T, s *Store) string {
	t.Helper()
	_, f, _, err := s.SignUp(context.Background(), "ada@example.com", "Ada", "x", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// A row whose transaction commits after a later-started one's must still
// come after it in the feed: a reader that has paged past the second never
// misses the first.
func TestFeedLateCommitGetsLaterID(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	seen, err := s.LatestEventID(ctx, fleet)
	if err != nil {
		t.Fatal(err)
	}

	slow, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	if err := emit(ctx, slow, fleet, "test.slow", nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLabel(ctx, app.Label{FleetID: fleet, Name: "fast", Color: "#000000"}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, fleet, seen, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != "label.created" {
		t.Fatalf("after the fast write the feed holds %v, want its label.created at once", kinds(evs))
	}
	seen = evs[0].ID

	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stamp(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err = s.Events(ctx, fleet, seen, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != "test.slow" || evs[0].ID <= seen {
		t.Fatalf("after %d the feed holds %v, want the slow row with a later id", seen, kinds(evs))
	}
}

// Rows committed by a server that died before numbering them are numbered
// by another server's periodic pass.
func TestFeedOrphanRowsGetNumbered(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	s := open(t, url)
	fleet := newFleet(t, s)
	seen, _ := s.LatestEventID(ctx, fleet)

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		return writeFeed(ctx, tx, []feedRow{{fleetID: fleet, kind: "test.orphan", data: map[string]any{}}})
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * stampEvery)
	for {
		evs, err := s.Events(ctx, fleet, seen, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 1 && evs[0].Kind == "test.orphan" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphan row was not numbered within %s; feed after %d: %v", 10*stampEvery, seen, kinds(evs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Many writers on two stores (two servers) while a reader pages with
// after=ID: the reader ends with every row once, ids strictly increasing.
func TestFeedConcurrentWritersNeverSkip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := pgtest.NewDB(t)
	a, b := open(t, url), open(t, url)
	fleet := newFleet(t, a)
	after, _ := a.LatestEventID(ctx, fleet)

	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		s := []*Store{a, b}[w%2]
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, err := s.CreateLabel(ctx, app.Label{FleetID: fleet, Name: name, Color: "#000000"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	got := map[string]int{}
	var ids []int64
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	finished := false
	for len(ids) < writers*each {
		select {
		case <-writing:
			finished = true
		default:
		}
		evs, err := b.Events(ctx, fleet, after, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.ID <= after {
				t.Fatalf("id %d after %d", e.ID, after)
			}
			after = e.ID
			ids = append(ids, e.ID)
			var l app.Label
			if err := json.Unmarshal(e.Data, &l); err != nil {
				t.Fatal(err)
			}
			got[l.Name]++
		}
		if finished && len(evs) == 0 {
			break
		}
	}
	// The reader can see every row before the last writer's call has
	// returned (a row is numbered once committed); the test's context
	// must outlive the writers.
	<-writing
	if t.Failed() {
		return
	}
	if len(ids) != writers*each {
		t.Fatalf("the reader saw %d rows, want %d", len(ids), writers*each)
	}
	for w := range writers {
		for i := range each {
			if n := got[fmt.Sprintf("w%d-%d", w, i)]; n != 1 {
				t.Errorf("label w%d-%d seen %d times", w, i, n)
			}
		}
	}
}

func kinds(evs []app.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s", e.ID, e.Kind)
	}
	return out
}

// The stamper makes a "notify" job of each numbered run or operation
// change of a fleet linked to GitHub or Slack, once, with the row's id;
// other kinds, and fleets linked to neither, get none. A row whose job
// already exists (made before migration 0019, when ufo_emit made them)
// is numbered all the same, and keeps its one job.
func TestStamperMakesNotifyJobsOfLinkedFleets(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	linked := newFleet(t, s)
	_, other, _, err := s.SignUp(ctx, "bob@example.com", "Bob", "x", "Other")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.LinkGitHubInstallation(ctx, linked, GitHubInstallation{ID: 42, AccountLogin: "acme", AccountType: "Organization"}, nil); err != nil {
		t.Fatal(err)
	}
	subject := app.NewID()
	rows := func(fleet string) []feedRow {
		return []feedRow{
			{fleetID: fleet, kind: "run.claimed", subjectID: &subject, data: map[string]any{"attempt": 1}},
			{fleetID: fleet, kind: "run.events", subjectID: &subject, data: map[string]any{}},
			{fleetID: fleet, kind: "label.created", data: map[string]any{}},
			{fleetID: fleet, kind: "operation.updated", subjectID: &subject, data: map[string]any{"status": "running"}},
		}
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := writeFeed(ctx, tx, rows(linked)); err != nil {
			return err
		}
		if err := writeFeed(ctx, tx, rows(other.ID)); err != nil {
			return err
		}
		// The job of the linked fleet's operation.updated exists already.
		_, err := tx.Exec(ctx, `INSERT INTO jobs (kind, key, payload)
			SELECT 'notify', seq::text, '{}' FROM events WHERE fleet_id = $1 AND kind = 'operation.updated' AND id IS NULL`, linked)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Stamp(ctx); err != nil {
		t.Fatal(err)
	}
	var pending int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM events WHERE id IS NULL").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("%d feed rows left unnumbered", pending)
	}
	type job struct {
		Kind  string
		Fleet string
		ID    int64
	}
	got, err := collect[job](s.pool.Query(ctx, `SELECT e.kind, e.fleet_id::text AS fleet, coalesce((j.payload->>'id')::bigint, 0) AS id
		FROM jobs j JOIN events e ON e.seq::text = j.key WHERE j.kind = 'notify' ORDER BY e.seq`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Kind != "run.claimed" || got[0].Fleet != linked || got[1].Kind != "operation.updated" || got[1].Fleet != linked {
		t.Fatalf("notify jobs %+v, want the linked fleet's run.claimed (new) and operation.updated (made before)", got)
	}
	var id int64
	if err := s.pool.QueryRow(ctx, "SELECT id FROM events WHERE fleet_id = $1 AND kind = 'run.claimed'", linked).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if got[0].ID != id {
		t.Errorf("the run.claimed job carries id %d, want the row's %d", got[0].ID, id)
	}
}
