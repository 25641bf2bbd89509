package main

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

// The floor does a run's work, straight and over its HTTP handlers: an
// operation and its queued run are made, the claim takes that run and no
// other, start, events and completion land on it only with its token, and
// the run ends succeeded with its five events and artifact, the operation
// in review.
func TestFloorStepsDoARunsWork(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	st, err := store.Open(ctx, url, slog.New(slog.DiscardHandler)) // migrations, as the bench has them
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, floorDrop+";"+floorSchema); err != nil {
		t.Fatal(err)
	}
	db := newFloorDB(pool)
	token := []byte("t")

	check := func(t *testing.T, fleet int, run, status string, events, artifacts int, opStatus string) {
		t.Helper()
		var gotStatus, gotOp string
		var gotEvents, gotArtifacts int
		err := pool.QueryRow(ctx, `SELECT r.status, o.status,
    (SELECT count(*) FROM ufobench_floor_events e WHERE e.run = r.id),
    (SELECT count(*) FROM ufobench_floor_artifacts a WHERE a.run = r.id)
FROM ufobench_floor_runs r JOIN ufobench_floor_ops o ON o.id = r.op WHERE r.id = $1 AND r.fleet = $2`, run, fleet).
			Scan(&gotStatus, &gotOp, &gotEvents, &gotArtifacts)
		if err != nil {
			t.Fatal(err)
		}
		if gotStatus != status || gotEvents != events || gotArtifacts != artifacts || gotOp != opStatus {
			t.Errorf("run %s: status %s, %d events, %d artifacts, operation %s; want %s, %d, %d, %s",
				run, gotStatus, gotEvents, gotArtifacts, gotOp, status, events, artifacts, opStatus)
		}
	}

	t.Run("direct", func(t *testing.T) {
		if err := db.create(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if s, err := db.claim(ctx, 2, token); err != nil || s != nil {
			t.Fatalf("claim of another queue: %v, %v; want none", s, err)
		}
		s, err := db.claim(ctx, 1, token)
		if err != nil || s == nil {
			t.Fatalf("claim: %v, %v", s, err)
		}
		if again, err := db.claim(ctx, 1, token); err != nil || again != nil {
			t.Fatalf("second claim: %v, %v; want none", again, err)
		}
		wrong := *s
		wrong.Token = []byte("other")
		if err := db.start(ctx, wrong); err != nil {
			t.Fatal(err)
		}
		check(t, 1, s.Run, "claimed", 0, 0, "running") // the run row needs its token
		if err := db.start(ctx, *s); err != nil {
			t.Fatal(err)
		}
		if err := db.events(ctx, *s); err != nil {
			t.Fatal(err)
		}
		if err := db.complete(ctx, *s); err != nil {
			t.Fatal(err)
		}
		check(t, 1, s.Run, "succeeded", len(db.types), 1, "in_review")
	})

	t.Run("over HTTP", func(t *testing.T) {
		base, stop, err := floorServer(db)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		c := newFloorHTTP(base)
		if none, err := c.claim(ctx, 3, token); err != nil || none != nil {
			t.Fatalf("claim of an empty queue: %+v, %v; want no run", none, err)
		}
		if err := c.create(ctx, 3); err != nil {
			t.Fatal(err)
		}
		s, err := c.claim(ctx, 3, token)
		if err != nil || s == nil || s.Run == "" || s.Op == "" || string(s.Token) != string(token) {
			t.Fatalf("claim answered %+v, %v", s, err)
		}
		for _, step := range []func(context.Context, floorStep) error{c.start, c.events, c.complete} {
			if err := step(ctx, *s); err != nil {
				t.Fatal(err)
			}
		}
		check(t, 3, s.Run, "succeeded", len(db.types), 1, "in_review")
		if err := call(ctx, c.hc, http.MethodPost, base+"/start", "", "not a step", nil, http.StatusBadRequest); err != nil {
			t.Error(err)
		}
	})
}
