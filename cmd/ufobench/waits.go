package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitSampler samples what PostgreSQL's busy sessions of the bench
// database wait on, to say where a figure's time went inside the database.
type waitSampler struct {
	counts  map[string]int
	samples int
	stop    chan struct{}
	done    chan struct{}
}

// sampleWaits samples every 20 ms until stop is called.
func (b *bench) sampleWaits(ctx context.Context) (*waitSampler, error) {
	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		return nil, err
	}
	w := &waitSampler{counts: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A lock wait names what is locked: the lock type and the
			// catalog of the object (pg_database's is NOTIFY's queue lock).
			rows, err := conn.Query(ctx, `SELECT coalesce(a.wait_event_type || ':' || a.wait_event, 'CPU') ||
					coalesce(' (' || (SELECT l.locktype || coalesce(' ' || l.classid::regclass::text, '') || coalesce(' ' || l.relation::regclass::text, '')
						FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) || ')', '')
				FROM pg_stat_activity a
				WHERE a.datname = current_database() AND a.state = 'active' AND a.pid <> pg_backend_pid()
				  AND a.query NOT LIKE 'LISTEN%'`)
			if err != nil {
				return
			}
			waits, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return
			}
			w.samples++
			for _, e := range waits {
				w.counts[e]++
			}
		}
	}()
	return w, nil
}

// summary stops sampling and names the commonest states of an active
// session, with the mean number of sessions in each.
func (w *waitSampler) summary() string {
	close(w.stop)
	<-w.done
	if len(w.counts) == 0 {
		return fmt.Sprintf("no busy PostgreSQL session in %d samples", w.samples)
	}
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range w.counts {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return b.n - a.n })
	var parts []string
	for _, e := range all[:min(4, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %.1f", e.k, float64(e.n)/float64(w.samples)))
	}
	return "busy PostgreSQL sessions on average: " + strings.Join(parts, ", ")
}
