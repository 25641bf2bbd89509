package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ufo-run/ufo/store"
)

// fanoutGap separates the timed state changes.
const fanoutGap = 20 * time.Millisecond

// fanout opens cfg.SSEClients Server-Sent Events streams on one fleet and
// times, for each state change, the gap between its commit and its arrival
// at the last client. Beside it: the raw NOTIFY→LISTEN round trip.
func (b *bench) fanout(ctx context.Context) ([]Figure, error) {
	nt, err := b.newNotifyTimer(ctx)
	if err != nil {
		return nil, err
	}
	var raw []time.Duration
	for range 200 {
		d, err := nt.roundTrip(ctx)
		if err != nil {
			nt.close()
			return nil, err
		}
		raw = append(raw, d)
	}
	nt.close()

	tb, err := b.newFleet(ctx, "fanout")
	if err != nil {
		return nil, err
	}
	var op idOnly
	if err := tb.do(ctx, "POST", tb.fleetPath("/api/operations"), map[string]string{"title": "fan-out", "mission_id": tb.mission}, &op, http.StatusCreated); err != nil {
		return nil, err
	}
	after, err := b.st.LatestEventID(ctx, tb.fleet)
	if err != nil {
		return nil, err
	}

	n, changes := b.cfg.SSEClients, b.cfg.SSEChanges
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := &http.Client{Jar: tb.hc.Jar, Transport: newTransport()}
	arrivals := make([]map[int64]time.Time, n)
	var ready sync.WaitGroup
	var done sync.WaitGroup
	var got atomic.Int64
	all := make(chan struct{})
	want := int64(n * changes)
	errc := make(chan error, n)
	for i := range n {
		arrivals[i] = make(map[int64]time.Time, changes)
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			err := follow(sctx, hc, b.base+tb.fleetPath(fmt.Sprintf("/api/events/stream?after=%d", after)), ready.Done, func(id int64, at time.Time) {
				arrivals[i][id] = at
				if got.Add(1) == want {
					close(all)
				}
			})
			if err != nil && sctx.Err() == nil {
				errc <- err
			}
		}()
	}
	readyc := make(chan struct{})
	go func() { ready.Wait(); close(readyc) }()
	select {
	case <-readyc:
	case err := <-errc:
		return nil, fmt.Errorf("event stream: %w", err)
	case <-time.After(time.Minute):
		return nil, fmt.Errorf("%d event streams not open within a minute", n)
	}

	committed := make(map[int64]time.Time, changes)
	for i := range changes {
		prio := 1 + i%2
		// The clock starts before the call: the commit happens inside it,
		// and UpdateOperation reads the operation back after committing.
		at := time.Now()
		if _, err := b.st.UpdateOperation(ctx, tb.fleet, op.ID, store.OperationPatch{Priority: &prio}); err != nil {
			return nil, err
		}
		// The change's feed id: LatestEventID waits until the feed row
		// the call committed has been numbered.
		id, err := b.st.LatestEventID(ctx, tb.fleet)
		if err != nil {
			return nil, err
		}
		committed[id] = at
		time.Sleep(fanoutGap)
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
	case err := <-errc:
		return nil, fmt.Errorf("event stream: %w", err)
	}
	cancel()
	done.Wait()

	var lat []time.Duration
	missing := 0
	for id, at := range committed {
		var last time.Duration
		for _, a := range arrivals {
			t, ok := a[id]
			if !ok {
				missing++
				continue
			}
			last = max(last, t.Sub(at))
		}
		lat = append(lat, last)
	}
	if got.Load() != want && missing == 0 {
		return nil, fmt.Errorf("clients received %d events, want %d", got.Load(), want)
	}
	note := fmt.Sprintf("%d changes %s apart, each timed from the start of the call that commits it (an upper bound) to its arrival at the last of %d clients; ceiling: NOTIFY→LISTEN",
		changes, fanoutGap, n)
	rows := []Figure{
		absolute("fanout", "6 fan-out to all clients p50", "ms", ms(percentile(lat, 50)), ptr(ms(percentile(raw, 50))), 0, ""),
		absolute("fanout", "6 fan-out to all clients p99", "ms", ms(percentile(lat, 99)), ptr(ms(percentile(raw, 99))), 100, note),
	}
	if missing > 0 {
		rows[1].Status = StatusMiss
		rows[1].Note += fmt.Sprintf("; %d deliveries never arrived", missing)
	}
	return rows, nil
}

// follow reads one event stream, calling ready once the stream is open and
// seen for each event id as it arrives, until ctx ends.
func follow(ctx context.Context, hc *http.Client, url string, ready func(), seen func(id int64, at time.Time)) error {
	once := sync.OnceFunc(ready)
	defer once()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "retry:"):
			once()
		case strings.HasPrefix(line, "id: "):
			id, err := strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			if err != nil {
				return fmt.Errorf("bad event id %q", line)
			}
			seen(id, time.Now())
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("GET %s: the stream ended", url)
}
