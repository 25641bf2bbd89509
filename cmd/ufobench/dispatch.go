package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/rover/wire"
)

// dispatchWarmup runs are assigned and claimed before timing starts.
const dispatchWarmup = 20

// dispatch times, with cfg.Rovers rovers long-polling over HTTP, the gap
// between the answer to an assign request and the claim answer reaching a
// rover; beside it the raw NOTIFY→LISTEN round trip plus one claim
// transaction on the same cluster.
func (b *bench) dispatch(ctx context.Context) ([]Figure, error) {
	ceiling, err := b.dispatchCeiling(ctx, min(b.cfg.DispatchRuns, 1000))
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}

	tb, err := b.newFleet(ctx, "dispatch")
	if err != nil {
		return nil, err
	}
	rovers, err := b.enroll(ctx, tb, b.cfg.Rovers)
	if err != nil {
		return nil, err
	}
	type seen struct {
		opID string
		at   time.Time
	}
	claims := make(chan seen, b.cfg.Rovers)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for _, rv := range rovers {
		r := newProtoRover(b.base, rv.Token)
		wg.Go(func() {
			if err := r.connect(rctx); err != nil {
				b.log.Error("dispatch rover: connect", "err", err)
				return
			}
			for rctx.Err() == nil {
				cl, at, err := r.claim(rctx, serverLongPoll)
				if err != nil {
					if rctx.Err() == nil {
						b.log.Error("dispatch rover: claim", "err", err)
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				if cl == nil {
					continue
				}
				select {
				case claims <- seen{opID: cl.Operation.ID, at: at}:
				case <-rctx.Done():
					return
				}
				// Finish the run at once so the rover long-polls again.
				r.runCall(rctx, cl.RunID, "start", wire.RunCall{ClaimToken: cl.ClaimToken})
				r.runCall(rctx, cl.RunID, "complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunSucceeded})
			}
		})
	}
	if err := tb.waitOnline(ctx, len(rovers), 30*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // every rover is back in its long-poll

	lat := make([]time.Duration, 0, b.cfg.DispatchRuns)
	early := 0
	for i := range dispatchWarmup + b.cfg.DispatchRuns {
		opID, answered, err := tb.assign(ctx, tb.mission, fmt.Sprintf("dispatch %d", i))
		if err != nil {
			return nil, err
		}
		var c seen
		select {
		case c = <-claims:
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("run %d was not claimed within 30 s", i)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if c.opID != opID {
			return nil, fmt.Errorf("a rover claimed operation %s while %s was the only one queued", c.opID, opID)
		}
		if i < dispatchWarmup {
			continue
		}
		d := c.at.Sub(answered)
		if d < 0 {
			early++ // the claim reached the rover before the assign answer reached its caller
			d = 0
		}
		lat = append(lat, d)
	}
	note := fmt.Sprintf("%d runs, %d rovers long-polling over HTTP; ceiling: pg_notify → LISTEN → the store's claim transaction, %d times",
		len(lat), len(rovers), min(b.cfg.DispatchRuns, 1000))
	if early > 0 {
		note += fmt.Sprintf("; %d claims reached their rover before the assign answer reached its caller (counted as 0)", early)
	}
	p := func(q float64) (float64, float64) { return ms(percentile(lat, q)), ms(percentile(ceiling, q)) }
	v50, c50 := p(50)
	v99, c99 := p(99)
	v100, c100 := p(100)
	return []Figure{
		vsCeiling("dispatch", "1 dispatch latency p50", "ms", v50, c50, 0, false, ""),
		vsCeiling("dispatch", "1 dispatch latency p99", "ms", v99, c99, 5, false, note),
		vsCeiling("dispatch", "1 dispatch latency max", "ms", v100, c100, 0, false, ""),
	}, nil
}

// dispatchCeiling times n rounds of: NOTIFY on one connection, its arrival
// on a LISTENing one, then one claim transaction (the server's own) of a
// queued run.
func (b *bench) dispatchCeiling(ctx context.Context, n int) ([]time.Duration, error) {
	tb, err := b.newFleet(ctx, "ceiling")
	if err != nil {
		return nil, err
	}
	for i := range n {
		if _, _, err := tb.assign(ctx, tb.mission, fmt.Sprintf("ceiling %d", i)); err != nil {
			return nil, err
		}
	}
	rv, err := b.enroll(ctx, tb, 1)
	if err != nil {
		return nil, err
	}
	nt, err := b.newNotifyTimer(ctx)
	if err != nil {
		return nil, err
	}
	defer nt.close()
	var total []time.Duration
	for i := range n {
		t0 := time.Now()
		if _, err := nt.roundTrip(ctx); err != nil {
			return nil, err
		}
		// A lease far longer than the bench, so the sweeper never requeues
		// these runs while other figures are measured.
		c, err := b.st.Claim(ctx, tb.fleet, rv[0].ID, []string{"exec"}, []string{}, 24*time.Hour)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("ceiling claim %d found no queued run", i)
		}
		total = append(total, time.Since(t0))
	}
	return total, nil
}

// notifyTimer times NOTIFY on one connection to its arrival on another.
type notifyTimer struct {
	listener, sender *pgx.Conn
	n                int
}

func (b *bench) newNotifyTimer(ctx context.Context) (*notifyTimer, error) {
	l, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		return nil, err
	}
	s, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		l.Close(context.Background())
		return nil, err
	}
	nt := &notifyTimer{listener: l, sender: s}
	if _, err := l.Exec(ctx, "LISTEN ufobench"); err != nil {
		nt.close()
		return nil, err
	}
	return nt, nil
}

func (nt *notifyTimer) close() {
	nt.listener.Close(context.Background())
	nt.sender.Close(context.Background())
}

// roundTrip sends one notification and waits for it.
func (nt *notifyTimer) roundTrip(ctx context.Context) (time.Duration, error) {
	nt.n++
	want := fmt.Sprint(nt.n)
	t0 := time.Now()
	if _, err := nt.sender.Exec(ctx, "SELECT pg_notify('ufobench', $1)", want); err != nil {
		return 0, err
	}
	for {
		n, err := nt.listener.WaitForNotification(ctx)
		if err != nil {
			return 0, err
		}
		if n.Payload == want {
			return time.Since(t0), nil
		}
	}
}
