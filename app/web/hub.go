package web

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// Hub holds the server's one LISTEN connection and fans notifications out:
// queued-run wake-ups to long-polling rovers, change-feed rows to event
// streams. Never one connection per waiter.
type Hub struct {
	url   string
	store *store.Store
	log   *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[string][]*RunWaiter // fleet → group → in arrival order
	subs    map[string]map[*subscriber]struct{}
	ready   chan struct{}

	// What the hub knows of each fleet's queue, by the queued runs'
	// notifications, which name the run. gen counts a fleet's
	// notifications (epoch counts reconnects: one may have missed some);
	// queues holds, per fleet and group, the last claim that found
	// nothing and the runs queued since that no claim through this hub
	// has got. While the group's claims under way are as many as those
	// runs, a claim can wait for a wake-up without asking the database
	// first. (Runs claimed through other servers stay in the list until
	// the group's next claim that finds nothing: they only make the hub
	// ask the database more often.)
	gen    map[string]uint64
	epoch  uint64
	queues map[string]map[string]*queueState // fleet → group
	// early holds, per fleet, runs claimed through this hub before their
	// notification arrived (the claim saw the commit first), so that the
	// notification does not count them again.
	early map[string]map[string]time.Time
}

// queueState is what the hub knows of one group's queue in a fleet.
type queueState struct {
	inflight int // claims of the group under way
	// The last claim that found nothing, when it counts: gen and epoch as
	// it started, and when it ended. Unknown (zero) until one did, and
	// again after a claim failed: the run it had locked is queued again.
	empty struct {
		gen, epoch uint64
		at         time.Time
	}
	queued map[string]uint64 // run → gen of its notification: queued since, not claimed here
}

// queuedMax bounds the runs a group's list holds; beyond it the group's
// queue is unknown until its next claim that finds nothing.
const queuedMax = 4096

// emptyFor bounds how long a claim that found nothing stands for its
// group: a notification lost with a server that died between its commit
// and its NOTIFY costs at most this long.
const emptyFor = time.Second

// subscriber receives a fleet's change-feed rows. When it falls behind, its
// lagged channel fires and it catches up from the database instead.
type subscriber struct {
	events chan app.Event
	lagged chan struct{}
}

// NewHub makes a hub for the database at url.
func NewHub(url string, st *store.Store, log *slog.Logger) *Hub {
	return &Hub{url: url, store: st, log: log, waiters: map[string]map[string][]*RunWaiter{},
		subs: map[string]map[*subscriber]struct{}{}, ready: make(chan struct{}),
		gen: map[string]uint64{}, queues: map[string]map[string]*queueState{}, early: map[string]map[string]time.Time{}}
}

// Ready is closed once the hub listens.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run listens until ctx ends, reconnecting with backoff. After a reconnect
// everyone is woken, since notifications may have been missed.
func (h *Hub) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := h.listen(ctx, func() {
			if first {
				close(h.ready)
				first = false
			}
			backoff = 100 * time.Millisecond
			h.wakeAll()
		})
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("listen connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *Hub) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.Connect(ctx, h.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range []string{store.ChannelRuns, store.ChannelEvents} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return err
		}
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		switch n.Channel {
		case store.ChannelRuns:
			fleet, run, _ := strings.Cut(n.Payload, ":")
			h.wakeFleet(fleet, run)
		case store.ChannelEvents:
			fleet, first, last, ok := parseFeedNote(n.Payload)
			if !ok {
				h.log.Warn("unreadable change-feed notification", "payload", n.Payload)
				continue
			}
			h.publish(ctx, fleet, first, last)
		}
	}
}

// RunWaiter is one long-polling claim. Waiters of a fleet are grouped by
// what they can claim (pilot kinds and tags), in arrival order.
//
// A queued run wakes one waiter of each group, not all of them: all fifty
// idle rovers of a fleet trying to claim the same run would cost fifty
// claim transactions for one claim. A waiter that claims passes the wake on
// to the next of its group, since more runs may be queued; the chain ends
// at the first waiter that finds nothing, and no other of its group would.
type RunWaiter struct {
	C <-chan struct{}

	h     *Hub
	fleet string
	group string
	ch    chan struct{}
	done  bool // stopped; guarded by h.mu
	// claiming is set while its claim is under way; guarded by h.mu. A
	// wake-up goes to a waiter that is not: one that is would act on it
	// only after its claim.
	claiming bool

	// Woken is set by the waiting goroutine when it took a wake-up and
	// cleared once a claim attempt after it finished: a waiter that stops
	// in between (its rover hung up, the claim failed) passes it on.
	Woken bool
}

// WaitRun registers a claim waiting in fleet for runs of the given pilot
// kinds needing at most tags; call Stop when done.
func (h *Hub) WaitRun(fleet string, kinds, tags []string) *RunWaiter {
	ch := make(chan struct{}, 1)
	w := &RunWaiter{C: ch, h: h, fleet: fleet, group: waitGroup(kinds, tags), ch: ch}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters[fleet] == nil {
		h.waiters[fleet] = map[string][]*RunWaiter{}
	}
	h.waiters[fleet][w.group] = append(h.waiters[fleet][w.group], w)
	return w
}

func waitGroup(kinds, tags []string) string {
	k, t := slices.Clone(kinds), slices.Clone(tags)
	slices.Sort(k)
	slices.Sort(t)
	return strings.Join(k, ",") + "|" + strings.Join(t, ",")
}

// Stop ends the wait; calling it again does nothing. A wake-up it received
// but did not act on goes to the next waiter of its group.
func (w *RunWaiter) Stop() {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	g := h.waiters[w.fleet]
	g[w.group] = slices.DeleteFunc(g[w.group], func(x *RunWaiter) bool { return x == w })
	if len(g[w.group]) == 0 {
		delete(g, w.group)
	}
	if len(g) == 0 {
		delete(h.waiters, w.fleet)
	}
	select {
	case <-w.ch:
		w.Woken = true
	default:
	}
	if w.Woken {
		h.wakeOneLocked(w.fleet, w.group, nil)
	}
}

// QueueEmpty reports whether a claim of this waiter's group found nothing
// less than emptyFor ago, and every run queued in the fleet since was
// claimed by the group through this hub or can be by one of its claims
// under way: a claim now would find nothing those will not take. Until is
// when that stops counting: a claim that waits on it must look again then,
// unless woken before. (A claim under way that gets none of those runs
// wakes the next waiter as it ends.)
func (w *RunWaiter) QueueEmpty() (empty bool, until time.Time) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queueLocked(w.fleet, w.group)
	return h.coveredLocked(q), q.empty.at.Add(emptyFor)
}

func (h *Hub) queueLocked(fleet, group string) *queueState {
	g := h.queues[fleet]
	if g == nil {
		g = map[string]*queueState{}
		h.queues[fleet] = g
	}
	q := g[group]
	if q == nil {
		q = &queueState{queued: map[string]uint64{}}
		g[group] = q
	}
	return q
}

func (h *Hub) coveredLocked(q *queueState) bool {
	e := q.empty
	return !e.at.IsZero() && e.epoch == h.epoch && time.Since(e.at) < emptyFor && len(q.queued) <= q.inflight
}

// QueueState is what the hub had heard of a fleet's queue when a claim
// started.
type QueueState struct{ gen, epoch uint64 }

// ClaimStarted records a claim of this waiter's group going to the
// database; pass what it returns to ClaimFinished.
func (w *RunWaiter) ClaimStarted() QueueState {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queueLocked(w.fleet, w.group).inflight++
	w.claiming = true
	return QueueState{gen: h.gen[w.fleet], epoch: h.epoch}
}

// ClaimFinished records how a claim started under seen ended: ok when it
// did not fail, and run, the run it got ("" when none).
//
// The run a claim got is off every group's list. A claim that found
// nothing takes off its group's list every run whose notification came
// before it started: that run was committed before the claim looked, and
// was claimed already or locked by another claim under way, which gets
// it. A claim that failed makes its group's queue unknown: the run it had
// locked, if any, is queued again.
//
// Whatever the outcome, when the group's queue is not covered now (a run
// may be waiting that no claim under way will take) the wake-up goes on
// to the next waiter of the group.
func (w *RunWaiter) ClaimFinished(seen QueueState, ok bool, run string) {
	h := w.h
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queueLocked(w.fleet, w.group)
	q.inflight--
	w.claiming = false
	switch {
	case run != "":
		h.claimedLocked(w.fleet, run)
	case !ok:
		q.empty.at = time.Time{}
	case h.epoch == seen.epoch:
		q.empty.gen, q.empty.epoch, q.empty.at = seen.gen, seen.epoch, time.Now()
		for r, gen := range q.queued {
			if gen <= seen.gen {
				delete(q.queued, r)
			}
		}
	}
	if !h.coveredLocked(q) {
		h.wakeOneLocked(w.fleet, w.group, w)
	}
}

// claimedLocked takes a run claimed through this hub off the lists of its
// fleet's groups, or, when it is on none, remembers it until its
// notification comes.
func (h *Hub) claimedLocked(fleet, run string) {
	listed := false
	for _, q := range h.queues[fleet] {
		if _, ok := q.queued[run]; ok {
			delete(q.queued, run)
			listed = true
		}
	}
	if listed {
		return
	}
	early := h.early[fleet]
	if early == nil {
		early = map[string]time.Time{}
		h.early[fleet] = early
	}
	now := time.Now()
	if len(early) >= queuedMax {
		for r, at := range early {
			if now.Sub(at) > emptyFor {
				delete(early, r)
			}
		}
	}
	if len(early) < queuedMax {
		early[run] = now
	}
}

// wakeFleet records a run queued in the fleet and wakes one waiter of each
// group whose claims under way do not cover it. A notification without a
// run (from a server of an earlier version) makes every group's queue
// unknown.
func (h *Hub) wakeFleet(fleet, run string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen[fleet]++
	gen := h.gen[fleet]
	if at, ok := h.early[fleet][run]; ok { // never for "": only claimed runs are there
		delete(h.early[fleet], run)
		if len(h.early[fleet]) == 0 {
			delete(h.early, fleet)
		}
		if time.Since(at) < emptyFor {
			return // claimed already
		}
		// Older: an entry that never met its notification (the run's came
		// first, and an empty claim took it off the list), and this is the
		// run queued again.
	}
	for _, q := range h.queues[fleet] {
		switch {
		case run == "" || len(q.queued) >= queuedMax:
			q.empty.at = time.Time{}
			clear(q.queued)
		default:
			q.queued[run] = gen
		}
	}
	for group := range h.waiters[fleet] {
		if !h.coveredLocked(h.queueLocked(fleet, group)) {
			h.wakeOneLocked(fleet, group, nil)
		}
	}
}

// wakeOneLocked wakes the longest-waiting waiter of the group, other than
// but, that is not claiming and has no wake-up pending yet; when every one
// is or has, nothing more is needed: a claim that ends looks again.
func (h *Hub) wakeOneLocked(fleet, group string, but *RunWaiter) {
	for _, w := range h.waiters[fleet][group] {
		if w == but || w.claiming {
			continue
		}
		select {
		case w.ch <- struct{}{}:
			return
		default:
		}
	}
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.epoch++
	for _, groups := range h.waiters {
		for _, ws := range groups {
			for _, w := range ws {
				select {
				case w.ch <- struct{}{}:
				default:
				}
			}
		}
	}
	for _, ss := range h.subs {
		for s := range ss {
			select {
			case s.lagged <- struct{}{}:
			default:
			}
		}
	}
}

// Subscribe follows a fleet's change feed.
func (h *Hub) Subscribe(fleet string) (*subscriber, func()) {
	s := &subscriber{events: make(chan app.Event, 256), lagged: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs[fleet] == nil {
		h.subs[fleet] = map[*subscriber]struct{}{}
	}
	h.subs[fleet][s] = struct{}{}
	h.mu.Unlock()
	return s, func() {
		h.mu.Lock()
		delete(h.subs[fleet], s)
		if len(h.subs[fleet]) == 0 {
			delete(h.subs, fleet)
		}
		h.mu.Unlock()
	}
}

// parseFeedNote reads "<fleet>:<first id>:<last id>".
func parseFeedNote(p string) (fleet string, first, last int64, ok bool) {
	fleet, rest, ok1 := strings.Cut(p, ":")
	a, b, ok2 := strings.Cut(rest, ":")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	return fleet, first, last, ok1 && ok2 && err1 == nil && err2 == nil && first <= last
}

// publishMax bounds the rows one notification is read with; a larger batch
// makes subscribers catch up from the database themselves.
const publishMax = 256

// publish reads the feed rows first..last of a fleet once (the stamper
// numbered them in one go) and hands them to every subscriber of the fleet.
func (h *Hub) publish(ctx context.Context, fleet string, first, last int64) {
	h.mu.Lock()
	n := len(h.subs[fleet])
	h.mu.Unlock()
	if n == 0 {
		return
	}
	var evs []app.Event
	var err error
	if last-first < publishMax {
		evs, err = h.store.NumberedEvents(ctx, fleet, first-1, int(last-first+1))
		// Ids between first and last may belong to other fleets, so the
		// page can reach into a later batch: that one has its own note.
		for len(evs) > 0 && evs[len(evs)-1].ID > last {
			evs = evs[:len(evs)-1]
		}
	}
	if last-first >= publishMax || err != nil || len(evs) == 0 || evs[0].ID != first || evs[len(evs)-1].ID != last {
		h.lag(fleet)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[fleet] {
		s.send(evs)
	}
}

// lag tells every subscriber of a fleet to catch up from the database.
func (h *Hub) lag(fleet string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[fleet] {
		select {
		case s.lagged <- struct{}{}:
		default:
		}
	}
}

// send hands rows to the subscriber, or marks it lagged when it cannot
// take them all.
func (s *subscriber) send(evs []app.Event) {
	if cap(s.events)-len(s.events) >= len(evs) {
		for _, ev := range evs {
			s.events <- ev // the hub is the only sender, under its lock: there is room
		}
		return
	}
	select {
	case s.lagged <- struct{}{}:
	default:
	}
}
