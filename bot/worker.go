// Package bot connects UFO to the places a team works (bot/github,
// bot/slack) and runs their slow work durably: a delivery is recorded as a
// job in PostgreSQL when it arrives and processed by a Worker, so a restart
// or a redelivery never loses or doubles work.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ufo-run/ufo/store"
)

// Handler processes one job. Returning nil finishes it; an error schedules a
// retry with backoff, unless wrapped with Permanent.
type Handler func(ctx context.Context, job store.Job) error

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks an error that retrying cannot fix (a malformed payload):
// the job fails at once.
func Permanent(err error) error { return permanent{err} }

type progress struct {
	err  error
	done []string
}

func (p progress) Error() string { return p.err.Error() }
func (p progress) Unwrap() error { return p.err }

// Progress marks the failure of a job made of named steps, some of which
// (done) are through: the job retries, and the retry finds them in
// store.Job.Done, beside those of earlier attempts, and skips them.
func Progress(err error, done ...string) error { return progress{err, done} }

// Worker claims due jobs and runs their handlers, several at a time.
type Worker struct {
	store    *store.Store
	log      *slog.Logger
	handlers map[string]Handler
	wake     chan struct{}
	// Poll is how often the worker looks for due jobs when not woken.
	Poll time.Duration
	// Lock is how long a claimed job stays locked; a worker that dies
	// mid-job loses it after this and another worker retries it.
	Lock time.Duration
	// Concurrency bounds the handlers running at once.
	Concurrency int
}

// NewWorker makes a worker; register handlers with Handle before Run.
func NewWorker(st *store.Store, log *slog.Logger) *Worker {
	return &Worker{store: st, log: log, handlers: map[string]Handler{}, wake: make(chan struct{}, 1),
		Poll: 250 * time.Millisecond, Lock: 2 * time.Minute, Concurrency: 8}
}

// Handle registers the handler for a job kind.
func (w *Worker) Handle(kind string, h Handler) { w.handlers[kind] = h }

// Wake makes the worker look for jobs now (after an enqueue in this process).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Backoff is the delay before attempt n+1: exponential from 1 s, capped at
// 10 minutes, with jitter.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 10)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// Run processes jobs until ctx ends, then waits for running handlers.
func (w *Worker) Run(ctx context.Context) {
	kinds := make([]string, 0, len(w.handlers))
	for k := range w.handlers {
		kinds = append(kinds, k)
	}
	sem := make(chan struct{}, w.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := w.Concurrency - len(sem)
		if free > 0 {
			jobs, err := w.store.ClaimJobs(ctx, kinds, free, w.Lock)
			if err != nil && ctx.Err() == nil {
				w.log.Error("claim jobs", "err", err)
			}
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					// A freed slot wakes the loop, so a backlog drains at the
					// handlers' pace rather than one poll at a time.
					defer func() { <-sem; wg.Done(); w.Wake() }()
					w.run(context.WithoutCancel(ctx), j)
				}()
			}
			if len(jobs) == free {
				continue // there may be more due now
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-time.After(w.Poll):
		}
	}
}

func (w *Worker) run(ctx context.Context, j store.Job) {
	hctx, cancel := context.WithTimeout(ctx, w.Lock)
	err := w.call(hctx, j)
	cancel()
	// The bookkeeping gets a context of its own: a handler that used its
	// whole time must still be recorded, or it would run again.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err == nil {
		if err := w.store.FinishJob(ctx, j.ID, j.Attempts); err != nil {
			w.log.Error("finish job", "job", j.ID, "kind", j.Kind, "err", err)
		}
		return
	}
	var p permanent
	var status string
	var rerr error
	if errors.As(err, &p) {
		status, rerr = "failed", w.store.FailJob(ctx, j.ID, j.Attempts, err.Error())
	} else {
		status, rerr = w.store.RetryJob(ctx, j.ID, j.Attempts, err.Error(), Backoff(j.Attempts), doneSteps(j, err))
	}
	if rerr != nil {
		w.log.Error("record job failure", "job", j.ID, "kind", j.Kind, "err", rerr)
		return
	}
	w.log.Warn("job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "status", status, "err", err)
}

// doneSteps are the steps of a job through after an attempt that failed
// with err: those of earlier attempts and those err reports (see Progress).
func doneSteps(j store.Job, err error) []string {
	done := slices.Clone(j.Done)
	var p progress
	if errors.As(err, &p) {
		for _, s := range p.done {
			if !slices.Contains(done, s) {
				done = append(done, s)
			}
		}
	}
	return done
}

func (w *Worker) call(ctx context.Context, j store.Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v", r))
		}
	}()
	h, ok := w.handlers[j.Kind]
	if !ok {
		return Permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	}
	return h(ctx, j)
}
