package bot_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
)

// notifier is a stand-in for an adapter: it fails its first failures
// calls with the error fail returns, then succeeds.
type notifier struct {
	calls    atomic.Int32
	failures int32
	fail     func() error
}

func (n *notifier) Notify(ctx context.Context, ev app.Event) error {
	if n.calls.Add(1) <= n.failures {
		return n.fail()
	}
	return nil
}

// syncBuffer is a log sink the worker's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestNotifyRetriesPastAPermanentFailure: one notifier failing for good (a
// Slack message that is gone) does not stop another's retry (GitHub
// answering 502 once); the retry calls only the notifier that must retry.
func TestNotifyRetriesPastAPermanentFailure(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	github := &notifier{failures: 1, fail: func() error { return errors.New("PATCH status comment: 502 Server Error") }}
	slack := &notifier{failures: 1 << 30, fail: func() error { return bot.Permanent(errors.New("slack chat.update: message_not_found")) }}
	board := &notifier{}
	w := bot.NewWorker(st, log)
	w.Poll = 20 * time.Millisecond
	w.Handle(bot.KindNotify, bot.NotifyHandler(log, map[string]bot.Notifier{"github": github, "slack": slack, "board": board}))
	go w.Run(ctx)
	if _, err := st.EnqueueJob(ctx, bot.KindNotify, "1", app.Event{ID: 1, Kind: "run.succeeded"}, 0); err != nil {
		t.Fatal(err)
	}
	j := waitStatus(t, st, bot.KindNotify, "1", "failed")
	if github.calls.Load() != 2 || slack.calls.Load() != 1 || board.calls.Load() != 1 {
		t.Fatalf("calls: github %d, slack %d, board %d; want 2, 1, 1", github.calls.Load(), slack.calls.Load(), board.calls.Load())
	}
	if j.Attempts != 2 || !slices.Equal(j.Done, []string{"board", "slack:failed"}) || !strings.Contains(j.LastError, "slack: failed for good") {
		t.Fatalf("job = %+v, want 2 attempts, done board and slack (failed), and Slack's failure as its last error", j)
	}
	if !strings.Contains(logs.String(), `msg="notifier failed for good" notifier=slack`) || !strings.Contains(logs.String(), "message_not_found") {
		t.Fatalf("log does not name Slack's failure:\n%s", logs.String())
	}
}

// TestNotifyWithoutRetries: a job every notifier takes is done at once; one
// only failing for good fails at once.
func TestNotifyWithoutRetries(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	ok := &notifier{}
	gone := &notifier{failures: 1, fail: func() error { return bot.Permanent(errors.New("message_not_found")) }}
	w := bot.NewWorker(st, log)
	w.Poll = 20 * time.Millisecond
	w.Handle(bot.KindNotify, bot.NotifyHandler(log, map[string]bot.Notifier{"github": ok, "slack": gone}))
	go w.Run(ctx)
	st.EnqueueJob(ctx, bot.KindNotify, "1", app.Event{ID: 1, Kind: "run.started"}, 0)
	if j := waitStatus(t, st, bot.KindNotify, "1", "failed"); j.Attempts != 1 || !strings.Contains(j.LastError, "slack: message_not_found") {
		t.Fatalf("job with a permanent failure = %+v", j)
	}
	st.EnqueueJob(ctx, bot.KindNotify, "2", app.Event{ID: 2, Kind: "run.succeeded"}, 0)
	if j := waitStatus(t, st, bot.KindNotify, "2", "done"); j.Attempts != 1 || ok.calls.Load() != 2 || gone.calls.Load() != 2 {
		t.Fatalf("job = %+v after %d and %d calls", j, ok.calls.Load(), gone.calls.Load())
	}
}
