package web

import (
	"context"
	"log/slog"
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
	waiters map[string]map[chan struct{}]struct{}
	subs    map[string]map[*subscriber]struct{}
	ready   chan struct{}
}

// subscriber receives a fleet's change-feed rows. When it falls behind, its
// lagged channel fires and it catches up from the database instead.
type subscriber struct {
	events chan app.Event
	lagged chan struct{}
}

// NewHub makes a hub for the database at url.
func NewHub(url string, st *store.Store, log *slog.Logger) *Hub {
	return &Hub{url: url, store: st, log: log, waiters: map[string]map[chan struct{}]struct{}{},
		subs: map[string]map[*subscriber]struct{}{}, ready: make(chan struct{})}
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
			h.wakeFleet(n.Payload)
		case store.ChannelEvents:
			fleet, id, ok := strings.Cut(n.Payload, ":")
			if !ok {
				continue
			}
			eid, _ := strconv.ParseInt(id, 10, 64)
			h.publish(ctx, fleet, eid)
		}
	}
}

// WaitRun returns a channel that fires when a run may be claimable in the
// fleet; call cancel when done waiting.
func (h *Hub) WaitRun(fleet string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[fleet] == nil {
		h.waiters[fleet] = map[chan struct{}]struct{}{}
	}
	h.waiters[fleet][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[fleet], ch)
		if len(h.waiters[fleet]) == 0 {
			delete(h.waiters, fleet)
		}
		h.mu.Unlock()
	}
}

func (h *Hub) wakeFleet(fleet string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[fleet] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ws := range h.waiters {
		for ch := range ws {
			select {
			case ch <- struct{}{}:
			default:
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

// publish reads one feed row once and hands it to every subscriber of its
// fleet.
func (h *Hub) publish(ctx context.Context, fleet string, id int64) {
	h.mu.Lock()
	n := len(h.subs[fleet])
	h.mu.Unlock()
	if n == 0 {
		return
	}
	evs, err := h.store.Events(ctx, fleet, id-1, 1)
	if err != nil || len(evs) == 0 || evs[0].ID != id {
		h.mu.Lock()
		for s := range h.subs[fleet] {
			select {
			case s.lagged <- struct{}{}:
			default:
			}
		}
		h.mu.Unlock()
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[fleet] {
		select {
		case s.events <- evs[0]:
		default:
			select {
			case s.lagged <- struct{}{}:
			default:
			}
		}
	}
}
