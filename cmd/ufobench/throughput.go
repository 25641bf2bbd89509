package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/pilot"
	"github.com/ufo-run/ufo/rover/wire"
)

// creators is how many clients create and assign operations at once
// during the throughput figure, each in a mission of its own: enough that
// the 50 rovers, not the creating clients, wait for work.
const creators = 16

// lifecycleSteps are the transactions a run needs at the least: create and
// assign, claim, start, one batch of events, complete.
const lifecycleSteps = 5

// throughput pushes runs through the whole lifecycle over HTTP: create and
// assign, claim, start, one batch of events, complete with a small diff,
// operation to in_review. It does so twice with cfg.Rovers rovers in this
// process: rovers that speak the protocol and nothing else (the issue's
// no-op pilot, no subprocess: the server's figure), then rovers of package
// rover, whose runtime prepares a git work dir for every run even with a
// no-op pilot. The ceiling is the rate of single-row UPDATE transactions on
// the same cluster divided by the write transactions the server spent per
// run. Beside them: the same lifecycle through the store alone, the
// calls of a run measured one by one, and the floor (floor.go).
func (b *bench) throughput(ctx context.Context) ([]Figure, error) {
	// The ceiling is measured in two halves, just before and just after the
	// protocol runs: this machine's speed drifts by tens of percent over a
	// minute, and the mean of both sides follows the drift better than one
	// window taken later.
	before, err := b.updateCeiling(ctx, b.cfg.Rovers, b.cfg.CeilingTime/2)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	proto, err := b.lifecycle(ctx, "throughput", b.cfg.ThroughputRuns, b.protoRovers)
	if err != nil {
		return nil, err
	}
	// Read now, while the cluster still holds that WAL; the figure stands
	// without it.
	walTable, walErr := b.walProfile(ctx, proto.walFrom, proto.walTo, proto.runs)
	calls, err := b.callCosts(ctx, b.cfg.CeilingTime/4)
	if err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	direct, err := b.storeRuns(ctx, b.cfg.CeilingTime/4)
	if err != nil {
		return nil, fmt.Errorf("store lifecycle: %w", err)
	}
	floorHTTP, err := b.floorRuns(ctx, b.cfg.CeilingTime/4, true)
	if err != nil {
		return nil, fmt.Errorf("floor over HTTP: %w", err)
	}
	floorSQL, err := b.floorRuns(ctx, b.cfg.CeilingTime/4, false)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	after, err := b.updateCeiling(ctx, b.cfg.Rovers, b.cfg.CeilingTime/2)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	txps := (before.perSecond + after.perSecond) / 2
	// The CPU of one UPDATE transaction, beside that of one run: the same
	// ratio by work done rather than time taken. A run's CPU moves little
	// between runs; the UPDATE's moves as much as its rate.
	txCPU := (before.cpuMS + after.cpuMS) / 2
	full, err := b.lifecycle(ctx, "runtime", b.cfg.RuntimeRuns, func(ctx context.Context, rovers []enrolled, h *hooks) (func(), error) {
		return b.startRovers(ctx, rovers, "runtime", noopPilot, h)
	})
	if err != nil {
		return nil, err
	}
	row := func(name string, l lifecycleRun, bound float64, what string) Figure {
		note := fmt.Sprintf("%d runs in %s, %d rovers (%s); the server spent %.1f write transactions per run (xids); "+
			"ceiling = %.0f single-row UPDATE tx/s on %d connections (mean of %.0f before and %.0f after the protocol runs) ÷ %.1f (÷ the %d lifecycle steps it would be %.0f runs/s); "+
			"%d clients creating; a run's mean time queued %.0f ms, claimed to started %.0f ms, started to finished %.0f ms; %s; "+
			"CPU per run %.2f ms (%.2f in this process), per UPDATE transaction %.3f ms: a run costs the CPU of %.1f UPDATE transactions, "+
			"%.1f per write transaction (%.2f× by CPU; 0.25× is 4); %s; jobs pending for the worker at the end: %d; "+
			"a run wrote %s, an UPDATE transaction %s",
			l.runs, l.took.Round(time.Millisecond), b.cfg.Rovers, what, l.writes, txps, b.cfg.Rovers, before.perSecond, after.perSecond, l.writes,
			lifecycleSteps, txps/lifecycleSteps, creators, l.queued, l.starting, l.flying, l.cpu,
			l.cpuMS, l.selfMS, txCPU, l.cpuMS/txCPU, l.cpuMS/txCPU/l.writes, txCPU*l.writes/l.cpuMS, l.waits, l.backlog, l.wal, before.wal)
		return vsCeiling("throughput", name, "runs/s", l.rate(), txps/l.writes, bound, true, note)
	}
	// Where a run's CPU goes, in UPDATE transactions: the calls measured
	// alone, and the rest by difference.
	budget := 4 * proto.writes // what 0.25× allows a run
	whole := proto.cpuMS / txCPU
	rest := whole
	var parts []string
	var costs []Figure
	for _, c := range calls {
		eq := c.cpuMS / txCPU
		rest -= float64(c.perRun) * eq
		if c.perRun > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f", c.name, eq))
		}
		costs = append(costs, absolute("throughput", "2 cost of a call: "+c.name, "UPDATEs", eq, nil, 0, fmt.Sprintf(
			"%.0f calls/s from %d clients over HTTP, alone, at %.3f ms of CPU each: the CPU of %.1f single-row UPDATE transactions (%.1f by rate); "+
				"%s; at 0.25× a whole run may cost %.1f (4 for each of its %.1f write transactions), and it costs %.1f",
			c.perSecond, c.loops, c.cpuMS, eq, txps/c.perSecond, c.inRun(), budget, proto.writes, whole)))
	}
	first := row("2 run throughput", proto, 0.25, "protocol only, no-op pilot in process, no subprocess")
	first.Note += fmt.Sprintf("; of a run's %.1f, its calls measured alone cost %s; the rest, %.1f, is the claims (the one that gets the run, and those that find nothing), "+
		"its completion, and the numbering of its feed rows and its wake-up", whole, strings.Join(parts, ", "), rest)
	switch {
	case first.Status != StatusMiss:
	case walErr != nil:
		first.Note += fmt.Sprintf("; no WAL by relation: %v", walErr)
	default:
		path := filepath.Join(b.cfg.ProfileDir, "throughput.wal.txt")
		text := fmt.Sprintf("WAL written during %q, per run (%d runs): %s.\nA single-row UPDATE transaction of the ceiling: %s.\n\n%s",
			first.Name, proto.runs, proto.wal, before.wal, walTable)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, err
		}
		first.Note += fmt.Sprintf("; the run's WAL by relation and record: %s", path)
	}
	directEq := direct.cpuMS / txCPU
	first.Note += fmt.Sprintf("; through the store alone, no HTTP, a run costs %.1f (row \"2 run throughput, store alone\")", directEq)
	store := vsCeiling("throughput", "2 run throughput, store alone", "runs/s", direct.perSecond, txps/proto.writes, 0, true, fmt.Sprintf(
		"%d loops, each creating and assigning an operation in a mission of its own, claiming a run, starting it, storing a batch of 5 events and "+
			"completing it with a small diff, with the store's calls (the server's for those requests, without HTTP and the session lookup); "+
			"CPU per run %.2f ms: the CPU of %.1f single-row UPDATE transactions, where at 0.25× a whole run over HTTP may cost %.1f; "+
			"its ratio is the most the figure could reach if HTTP cost nothing",
		b.cfg.Rovers, direct.cpuMS, directEq, budget))
	floorRow := func(name, how string, r rate) Figure {
		eq := r.cpuMS / txCPU
		return vsCeiling("throughput", name, "runs/s", r.perSecond, txps/floorSteps, 0, true, fmt.Sprintf(
			"the floor: the run's five steps as bare SQL on scratch tables, %s, from %d loops, each step one round trip and one write transaction "+
				"(ceiling: the UPDATE rate ÷ %d), without a change feed, foreign keys, sessions, rover or claim checks beyond the token, "+
				"numbered operations, wake-ups or a claim's payload; CPU per run %.2f ms: the CPU of %.1f single-row UPDATE transactions, "+
				"%.1f per write transaction (0.25× is 4); UFO's run costs %.1f over HTTP and %.1f through the store alone",
			how, b.cfg.Rovers, floorSteps, r.cpuMS, eq, eq/floorSteps, whole, directEq))
	}
	floors := []Figure{
		floorRow("2 run throughput, floor over HTTP", "each a JSON request to a handler that makes it", floorHTTP),
		floorRow("2 run throughput, floor, SQL alone", "sent by the loops themselves", floorSQL),
	}
	first.Note += fmt.Sprintf("; the same steps as bare SQL with none of UFO's work cost %.1f over HTTP and %.1f alone (rows \"floor\")",
		floorHTTP.cpuMS/txCPU, floorSQL.cpuMS/txCPU)
	figs := append([]Figure{first, store}, floors...)
	figs = append(figs, costs...)
	figs = append(figs, row("2 run throughput, package rover", full, 0, "rover.Run with a no-op RunPilot writing one file; its runtime runs git for every run"))
	return figs, nil
}

// callCost is one kind of call a run makes, measured alone: many clients
// making it at once, over HTTP.
type callCost struct {
	name   string
	perRun int // how many of them a run makes
	loops  int // clients making it at once
	rate
}

func (c callCost) inRun() string {
	if c.perRun == 0 {
		return "a run of the no-op pilot makes none: it is here for comparison"
	}
	return fmt.Sprintf("a run makes %d", c.perRun)
}

// callCosts measures, each for d with many clients calling at once, the
// calls of a run that can be repeated on their own: creating and assigning
// an operation, and a rover's start (again), batch of events and heartbeat
// on a run it holds. Their CPU, beside the ceiling's UPDATE and the whole
// run's, says where a run's cost goes; what no loop can repeat (a claim
// that gets the run, its completion) and the server's own work around
// them (numbering feed rows, wake-ups, claims that find nothing) is the
// rest. The heartbeat is the cheapest call there is: one HTTP request, one
// statement, one write transaction.
func (b *bench) callCosts(ctx context.Context, d time.Duration) ([]callCost, error) {
	tb, err := b.newFleet(ctx, "calls")
	if err != nil {
		return nil, err
	}
	var out []callCost
	measure := func(name string, perRun int, loops int, loop func(ctx context.Context, i int, done func()) error) error {
		r, err := loopRate(ctx, loops, d, name, loop)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, callCost{name: name, perRun: perRun, loops: loops, rate: r})
		return nil
	}
	// Operations created here stay queued: this fleet's rovers hold a run
	// each and never claim again.
	missions, err := b.creatorMissions(ctx, tb)
	if err != nil {
		return nil, err
	}
	var n atomic.Int64
	if err := measure("create and assign", 1, creators, func(ctx context.Context, i int, done func()) error {
		for ctx.Err() == nil {
			if _, _, err := tb.assign(ctx, missions[i], fmt.Sprintf("calls %d", n.Add(1))); err != nil {
				return err
			}
			done()
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rovers, err := b.enroll(ctx, tb, b.cfg.Rovers)
	if err != nil {
		return nil, err
	}
	type held struct {
		r   *protoRover
		cl  *wire.Claim
		seq int64
	}
	hs := make([]held, len(rovers))
	for i, rv := range rovers {
		r := newProtoRover(b.base, rv.Token)
		if err := r.connect(ctx); err != nil {
			return nil, err
		}
		cl, err := r.claimOne(ctx)
		if err != nil {
			return nil, err
		}
		hs[i] = held{r: r, cl: cl}
	}
	repeat := func(action string, body func(h *held) any) func(ctx context.Context, i int, done func()) error {
		return func(ctx context.Context, i int, done func()) error {
			h := &hs[i]
			for ctx.Err() == nil {
				if _, err := h.r.runCall(ctx, h.cl.RunID, action, body(h)); err != nil {
					return err
				}
				done()
			}
			return nil
		}
	}
	token := func(h *held) any { return wire.RunCall{ClaimToken: h.cl.ClaimToken} }
	if err := measure("start (repeated)", 1, len(hs), repeat("start", token)); err != nil {
		return nil, err
	}
	if err := measure("a batch of 5 events", 1, len(hs), repeat("events", func(h *held) any {
		var batch []wire.Event
		noopEvents(func(typ string, data any) {
			raw, _ := json.Marshal(data)
			h.seq++
			batch = append(batch, wire.Event{Seq: h.seq, Type: typ, Data: raw, At: time.Now()})
		})
		return wire.EventBatch{ClaimToken: h.cl.ClaimToken, Events: batch}
	})); err != nil {
		return nil, err
	}
	if err := measure("heartbeat", 0, len(hs), repeat("heartbeat", token)); err != nil {
		return nil, err
	}
	return out, nil
}

// creatorMissions returns a mission of tb's fleet for each of the
// clients that create operations at once, its first mission among them:
// a mission numbers its operations one at a time.
func (b *bench) creatorMissions(ctx context.Context, tb *testbed) ([]string, error) {
	missions := []string{tb.mission}
	for len(missions) < creators {
		m, err := tb.newMission(ctx, b.uniq(), "")
		if err != nil {
			return nil, err
		}
		missions = append(missions, m)
	}
	return missions, nil
}

// lifecycleRun is one measured batch of runs.
type lifecycleRun struct {
	runs                     int
	took                     time.Duration
	writes                   float64 // write transactions per run
	queued, starting, flying float64 // mean milliseconds per phase
	waits                    string  // what busy database sessions waited on
	cpu                      string  // how busy the processors were, and with what
	cpuMS, selfMS            float64 // CPU per run, milliseconds: the machine's, and this process's
	backlog                  int     // jobs left pending for the worker at the end
	wal                      walUse  // WAL written per run
	walFrom, walTo           walMark // where that WAL starts and ends
}

func (l lifecycleRun) rate() float64 { return float64(l.runs) / l.took.Seconds() }

// roverStarter starts rovers for the given tokens, reporting through h;
// stop ends them.
type roverStarter func(ctx context.Context, rovers []enrolled, h *hooks) (stop func(), err error)

// lifecycle creates and assigns n operations from several clients at once
// and times them until the rovers completed all n, after an untimed
// warm-up batch through the same fleet and rovers.
func (b *bench) lifecycle(ctx context.Context, what string, n int, start roverStarter) (lifecycleRun, error) {
	out := lifecycleRun{runs: n}
	tb, err := b.newFleet(ctx, what)
	if err != nil {
		return out, err
	}
	missions, err := b.creatorMissions(ctx, tb)
	if err != nil {
		return out, err
	}
	rovers, err := b.enroll(ctx, tb, b.cfg.Rovers)
	if err != nil {
		return out, err
	}
	var completed atomic.Int64
	var target atomic.Int64
	reached := make(chan struct{}, 1)
	stop, err := start(ctx, rovers, &hooks{onComplete: func() {
		if completed.Add(1) == target.Load() {
			reached <- struct{}{}
		}
	}})
	if err != nil {
		return out, err
	}
	defer stop()
	if err := tb.waitOnline(ctx, len(rovers), 30*time.Second); err != nil {
		return out, err
	}
	time.Sleep(500 * time.Millisecond) // every rover is in its long-poll
	// push creates and assigns count operations from every creator at once
	// and waits until the rovers completed them.
	var created atomic.Int64
	push := func(count int) error {
		last := created.Load() + int64(count)
		target.Store(last)
		errc := make(chan error, creators)
		for _, m := range missions {
			go func() {
				for {
					i := created.Add(1)
					if i > last {
						errc <- nil
						return
					}
					if _, _, err := tb.assign(ctx, m, fmt.Sprintf("%s %d", what, i)); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		for range creators {
			if err := <-errc; err != nil {
				return err
			}
		}
		created.Store(last)
		select {
		case <-reached:
			return nil
		case <-time.After(10 * time.Minute):
			return fmt.Errorf("%d of %d runs completed within 10 minutes", completed.Load(), last)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// A warm-up, untimed, as the ceiling has one: the server's connections
	// are opened, and each has compiled the functions and planned the
	// statements of a run, as they are in a server that has been up a while.
	warm := max(n/10, 2*creators)
	if err := push(warm); err != nil {
		return out, fmt.Errorf("warm-up: %w", err)
	}
	xid0, err := b.nextXID(ctx)
	if err != nil {
		return out, err
	}
	wal0, err := b.markWAL(ctx)
	if err != nil {
		return out, err
	}
	ws, err := b.sampleWaits(ctx)
	if err != nil {
		return out, err
	}
	t0, cpu0 := time.Now(), markCPU()
	if err := push(n); err != nil {
		return out, err
	}
	out.took = time.Since(t0)
	use := cpu0.use()
	out.cpu = use.String()
	out.cpuMS, out.selfMS = 1000*use.busy/float64(n), 1000*use.self/float64(n)
	out.waits = ws.summary()
	xid1, err := b.nextXID(ctx)
	if err != nil {
		return out, err
	}
	out.writes = float64(xid1-xid0) / float64(n)
	wal1, err := b.markWAL(ctx)
	if err != nil {
		return out, err
	}
	if out.wal, err = b.walUse(ctx, wal0, wal1, n); err != nil {
		return out, err
	}
	out.walFrom, out.walTo = wal0, wal1
	var inReview, withDiff int
	err = b.st.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM operations WHERE fleet_id = $1 AND status = 'in_review'),
		(SELECT count(*) FROM artifacts WHERE fleet_id = $1 AND files = 1)`, tb.fleet).Scan(&inReview, &withDiff)
	if err != nil {
		return out, err
	}
	if total := int(created.Load()); inReview != total || withDiff != total {
		return out, fmt.Errorf("%s: after %d completions, %d operations in review and %d artifacts with a one-file diff, want %d each",
			what, completed.Load(), inReview, withDiff, total)
	}
	if err := b.st.Pool().QueryRow(ctx, "SELECT count(*) FROM jobs WHERE status = 'pending'").Scan(&out.backlog); err != nil {
		return out, err
	}
	// Where a run's time went, by the server's clock.
	err = b.st.Pool().QueryRow(ctx, `SELECT
		avg(extract(epoch FROM claimed_at - queued_at)) * 1000,
		avg(extract(epoch FROM started_at - claimed_at)) * 1000,
		avg(extract(epoch FROM finished_at - started_at)) * 1000
		FROM runs WHERE fleet_id = $1 AND queued_at >= $2`, tb.fleet, t0).Scan(&out.queued, &out.starting, &out.flying)
	return out, err
}

// protoRovers start rovers that speak the protocol and nothing else: claim,
// start, one batch of events, complete with a small diff.
func (b *bench) protoRovers(ctx context.Context, rovers []enrolled, h *hooks) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, rv := range rovers {
		r := newProtoRover(b.base, rv.Token)
		wg.Go(func() {
			if err := r.connect(ctx); err != nil {
				b.log.Error("protocol rover: connect", "err", err)
				return
			}
			for ctx.Err() == nil {
				if err := r.fly(ctx, h); err != nil && ctx.Err() == nil {
					b.log.Error("protocol rover", "err", err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	return func() { cancel(); wg.Wait() }, nil
}

// fly claims one run (waiting for it) and takes it to its completion.
func (r *protoRover) fly(ctx context.Context, h *hooks) error {
	cl, _, err := r.claim(ctx, serverLongPoll)
	if err != nil || cl == nil {
		return err
	}
	if _, err := r.runCall(ctx, cl.RunID, "start", wire.RunCall{ClaimToken: cl.ClaimToken}); err != nil {
		return err
	}
	var batch []wire.Event
	noopEvents(func(typ string, data any) {
		raw, _ := json.Marshal(data)
		batch = append(batch, wire.Event{Seq: int64(len(batch) + 1), Type: typ, Data: raw, At: time.Now()})
	})
	if _, err := r.runCall(ctx, cl.RunID, "events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: batch}); err != nil {
		return err
	}
	diff := noopDiff(cl.Operation.Code)
	_, err = r.runCall(ctx, cl.RunID, "complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunSucceeded, FinalMessage: "done",
		Usage:    &wire.Usage{InputTokens: 10, OutputTokens: 5},
		Artifact: &wire.Artifact{Diff: diff, Files: 1, Insertions: 1, Branch: cl.Branch, BaseBranch: "main", HeadCommit: noopHead}})
	if err == nil && h.onComplete != nil {
		h.onComplete()
	}
	return err
}

// noopDiff is the diff of the no-op pilot's one file for the operation
// code, and noopHead the commit its runs report.
func noopDiff(code string) string {
	return fmt.Sprintf("diff --git a/ufobench.txt b/ufobench.txt\nnew file mode 100644\n--- /dev/null\n+++ b/ufobench.txt\n@@ -0,0 +1 @@\n+%s\n", code)
}

const noopHead = "0123456789abcdef0123456789abcdef01234567"

// noopPilot is a pilot that runs in the rover's process: it writes one small
// file, so the run has a diff, and emits a few events.
func noopPilot(_ context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result {
	if err := os.WriteFile(filepath.Join(spec.WorkDir, "ufobench.txt"), []byte(spec.Operation.Code+"\n"), 0o644); err != nil {
		return pilot.Result{Failed: true, Reason: pilot.ReasonExitStatus, Message: err.Error()}
	}
	noopEvents(emit)
	return pilot.Result{FinalMessage: "done", Usage: &wire.Usage{InputTokens: 10, OutputTokens: 5}}
}

// noopEvents are what the no-op pilot says: one batch's worth.
func noopEvents(emit pilot.Emit) {
	emit(wire.EventText, map[string]string{"text": "no-op pilot at work"})
	emit(wire.EventToolUse, map[string]any{"id": "t1", "name": "Write", "input": map[string]string{"file_path": "ufobench.txt"}})
	emit(wire.EventToolResult, map[string]any{"tool_use_id": "t1", "content": "ok", "is_error": false})
	emit(wire.EventUsage, wire.Usage{InputTokens: 10, OutputTokens: 5})
	emit(wire.EventText, map[string]string{"text": "done"})
}

// hooks observe a rover's calls as its HTTP client sees them.
type hooks struct {
	onClaim    func(at time.Time) // a claim answered 200
	onComplete func()             // a completion answered 200
}

type hookTransport struct {
	rt http.RoundTripper
	h  *hooks
}

func (t hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	switch {
	case req.URL.Path == "/api/rover/claim" && t.h.onClaim != nil:
		t.h.onClaim(time.Now())
	case strings.HasSuffix(req.URL.Path, "/complete") && t.h.onComplete != nil:
		t.h.onComplete()
	}
	return resp, nil
}

// startRovers runs one rover of package rover per token in this process,
// each with its own connections and folder; stop ends them all.
func (b *bench) startRovers(ctx context.Context, rovers []enrolled, what string, run func(context.Context, pilot.Spec, pilot.Emit) pilot.Result, h *hooks) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	for i, rv := range rovers {
		home := filepath.Join(b.tmp, what, fmt.Sprintf("rover-%d", i))
		if err := os.MkdirAll(home, 0o700); err != nil {
			stop()
			return nil, err
		}
		cfg := rover.Config{
			Server:     b.base,
			Home:       home,
			Token:      rv.Token,
			Name:       fmt.Sprintf("%s-%d", what, i),
			Version:    "bench",
			Logger:     b.log,
			HTTPClient: &http.Client{Transport: hookTransport{rt: newTransport(), h: h}},
			RunPilot:   run,
			Detect:     func(context.Context) []wire.CLI { return []wire.CLI{{Kind: "exec"}} },
		}
		wg.Go(func() {
			if err := rover.Run(ctx, cfg); err != nil && !errors.Is(err, context.Canceled) {
				b.log.Error("rover stopped", "err", err)
			}
		})
	}
	return stop, nil
}

// nextXID is the cluster's next transaction id: the difference of two
// readings counts the write transactions in between.
func (b *bench) nextXID(ctx context.Context) (int64, error) {
	var x int64
	err := b.st.Pool().QueryRow(ctx, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint").Scan(&x)
	return x, err
}

// updateCeiling runs single-row UPDATE transactions on conns connections
// for d (after a second of warm-up) and returns their rate and CPU.
func (b *bench) updateCeiling(ctx context.Context, conns int, d time.Duration) (rate, error) {
	pcfg, err := pgxpool.ParseConfig(b.dbURL)
	if err != nil {
		return rate{}, err
	}
	pcfg.MaxConns, pcfg.MinConns = int32(conns), int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return rate{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE ufobench_rows (id integer PRIMARY KEY, n bigint NOT NULL DEFAULT 0)`); err != nil {
		return rate{}, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO ufobench_rows (id) SELECT generate_series(1, $1)`, conns); err != nil {
		return rate{}, err
	}
	defer pool.Exec(context.Background(), "DROP TABLE ufobench_rows")
	wal0, err := b.markWAL(ctx)
	if err != nil {
		return rate{}, err
	}
	var all atomic.Int64
	r, err := loopRate(ctx, conns, d, "an update loop", func(ctx context.Context, i int, done func()) error {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer c.Release()
		for ctx.Err() == nil {
			if _, err := c.Exec(ctx, "UPDATE ufobench_rows SET n = n + 1 WHERE id = $1", i+1); err != nil {
				return err
			}
			all.Add(1)
			done()
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	wal1, err := b.markWAL(ctx)
	if err != nil {
		return r, err
	}
	r.wal, err = b.walUse(ctx, wal0, wal1, int(all.Load()))
	return r, err
}

// rate is what loopRate measured: steps a second, and the machine's CPU
// time per step in milliseconds (all processes, every core).
type rate struct {
	perSecond, cpuMS float64
	wal              walUse // per step, where measured
}

// loopRate runs n loops at once, each until its context ends, and returns
// how many steps a second they made together (each calls done after a
// step) over d, after a second of warm-up, and the CPU each step took. A
// loop that fails, or stops before the end, is an error; what, named in it.
func loopRate(ctx context.Context, n int, d time.Duration, what string, loop func(ctx context.Context, i int, done func()) error) (rate, error) {
	var count atomic.Int64
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, n)
	for i := range n {
		go func() {
			err := loop(rctx, i, func() { count.Add(1) })
			if rctx.Err() != nil {
				err = nil // stopped, or failed as it was stopped
			} else if err == nil {
				err = fmt.Errorf("%s stopped early", what)
			}
			errc <- err
		}()
	}
	time.Sleep(time.Second)
	c0, t0, cpu0 := count.Load(), time.Now(), markCPU()
	select {
	case <-time.After(d):
	case err := <-errc:
		if err == nil {
			err = ctx.Err() // the bench is being stopped
		}
		return rate{}, err
	}
	steps := float64(count.Load() - c0)
	r := rate{perSecond: steps / time.Since(t0).Seconds(), cpuMS: 1000 * cpu0.use().busy / max(steps, 1)}
	cancel()
	for range n {
		if err := <-errc; err != nil {
			return rate{}, err
		}
	}
	return r, nil
}
