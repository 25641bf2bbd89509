package bot_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), pgtest.NewDB(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func waitStatus(t *testing.T, st *store.Store, kind, key, want string) store.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		j, err := st.FindJob(context.Background(), kind, key)
		if err == nil && j.Status == want {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	j, err := st.FindJob(context.Background(), kind, key)
	t.Fatalf("job %s/%s: %+v, %v; want status %s", kind, key, j, err, want)
	return j
}

func TestWorkerRunsEachJobOnceAndRetries(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls, flaky atomic.Int32
	w := bot.NewWorker(st, slog.New(slog.DiscardHandler))
	w.Poll = 20 * time.Millisecond
	w.Handle("echo", func(ctx context.Context, j store.Job) error { calls.Add(1); return nil })
	w.Handle("flaky", func(ctx context.Context, j store.Job) error {
		if flaky.Add(1) < 2 {
			return errors.New("upstream 502")
		}
		return nil
	})
	w.Handle("broken", func(ctx context.Context, j store.Job) error { return bot.Permanent(errors.New("malformed payload")) })
	go w.Run(ctx)

	for range 3 { // a redelivered job is recorded once
		if _, err := st.EnqueueJob(ctx, "echo", "delivery-1", map[string]string{"x": "y"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	first, err := st.EnqueueJob(ctx, "flaky", "d2", map[string]int{}, 0)
	if err != nil || !first {
		t.Fatalf("enqueue: %v %v", first, err)
	}
	again, _ := st.EnqueueJob(ctx, "flaky", "d2", map[string]int{}, 0)
	if again {
		t.Fatal("a second enqueue of the same key reported a new job")
	}
	st.EnqueueJob(ctx, "broken", "d3", map[string]int{}, 0)
	waitStatus(t, st, "echo", "delivery-1", "done")
	j := waitStatus(t, st, "flaky", "d2", "done")
	if j.Attempts != 2 {
		t.Fatalf("flaky job took %d attempts, want 2", j.Attempts)
	}
	b := waitStatus(t, st, "broken", "d3", "failed")
	if b.Attempts != 1 || b.LastError == "" {
		t.Fatalf("permanent failure: %+v", b)
	}
	time.Sleep(100 * time.Millisecond)
	if calls.Load() != 1 {
		t.Fatalf("echo handler ran %d times, want 1", calls.Load())
	}
}

// TestWorkerPicksUpAfterCrash: a job locked by a worker that died is
// retried by another once its lock expires.
func TestWorkerPicksUpAfterCrash(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	st.EnqueueJob(ctx, "echo", "k", map[string]int{}, 0)
	jobs, err := st.ClaimJobs(ctx, []string{"echo"}, 1, 300*time.Millisecond) // the "dead" worker
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	var calls atomic.Int32
	w := bot.NewWorker(st, slog.New(slog.DiscardHandler))
	w.Poll = 20 * time.Millisecond
	w.Handle("echo", func(ctx context.Context, j store.Job) error { calls.Add(1); return nil })
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(rctx)
	j := waitStatus(t, st, "echo", "k", "done")
	if j.Attempts != 2 || calls.Load() != 1 {
		t.Fatalf("after crash: %+v, %d calls", j, calls.Load())
	}
}

// TestFailedJobIsRevived: EnqueueOrReviveJob takes a failed job as new
// again, with the new payload and its attempts counted anew; a pending or
// done one it leaves alone, and EnqueueJob (Slack's dedupe) leaves every
// job alone, a failed one too.
func TestFailedJobIsRevived(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var broken atomic.Bool
	broken.Store(true)
	w := bot.NewWorker(st, slog.New(slog.DiscardHandler))
	w.Poll = 20 * time.Millisecond
	w.Handle("delivery", func(ctx context.Context, j store.Job) error {
		if broken.Load() {
			return bot.Permanent(errors.New("upstream refused"))
		}
		return nil
	})
	go w.Run(ctx)

	if added, err := st.EnqueueOrReviveJob(ctx, "delivery", "d1", map[string]int{"try": 1}, 0); err != nil || !added {
		t.Fatalf("first enqueue: %v %v", added, err)
	}
	waitStatus(t, st, "delivery", "d1", "failed")
	if added, err := st.EnqueueJob(ctx, "delivery", "d1", map[string]int{"try": 2}, 0); err != nil || added {
		t.Fatalf("EnqueueJob of a failed job: %v %v, want a duplicate", added, err)
	}
	if j, _ := st.FindJob(ctx, "delivery", "d1"); j.Status != "failed" || string(j.Payload) != `{"try": 1}` {
		t.Fatalf("EnqueueJob changed the failed job: %+v", j)
	}
	broken.Store(false)
	if added, err := st.EnqueueOrReviveJob(ctx, "delivery", "d1", map[string]int{"try": 3}, 0); err != nil || !added {
		t.Fatalf("revive: %v %v, want it taken as new", added, err)
	}
	j := waitStatus(t, st, "delivery", "d1", "done")
	if j.Attempts != 1 || string(j.Payload) != `{"try": 3}` {
		t.Fatalf("revived job = %+v, want one attempt with the new payload", j)
	}
	if added, err := st.EnqueueOrReviveJob(ctx, "delivery", "d1", map[string]int{"try": 4}, 0); err != nil || added {
		t.Fatalf("revive of a done job: %v %v, want a duplicate", added, err)
	}
	// Not due for an hour: pending all along.
	if added, err := st.EnqueueOrReviveJob(ctx, "delivery", "d2", map[string]int{}, time.Hour); err != nil || !added {
		t.Fatalf("enqueue: %v %v", added, err)
	}
	if added, err := st.EnqueueOrReviveJob(ctx, "delivery", "d2", map[string]int{}, 0); err != nil || added {
		t.Fatalf("revive of a pending job: %v %v, want a duplicate", added, err)
	}
	if j, _ := st.FindJob(ctx, "delivery", "d2"); j.Status != "pending" || j.Attempts != 0 {
		t.Fatalf("pending job after a redelivery = %+v", j)
	}
}
