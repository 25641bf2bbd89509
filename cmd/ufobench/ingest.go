package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ufo-run/ufo/rover/wire"
)

// ingestBatch is the rover's batch size (package rover sends 100 at most).
const ingestBatch = 100

// ingestText is a typical line of pilot output.
const ingestText = `{"text":"Reading internal/store/runs.go to see how claims are leased before changing the sweeper"}`

// ingest times run events posted over HTTP by cfg.IngestRovers rovers at
// once, in batches of 100, checks they are stored and readable in order,
// and sets the rate beside a COPY of the same rows on one connection.
func (b *bench) ingest(ctx context.Context) ([]Figure, error) {
	tb, err := b.newFleet(ctx, "ingest")
	if err != nil {
		return nil, err
	}
	n := b.cfg.IngestRovers
	for i := range 2 * n { // n for the rovers, n for the COPY
		if _, _, err := tb.assign(ctx, tb.mission, fmt.Sprintf("ingest %d", i)); err != nil {
			return nil, err
		}
	}
	rovers, err := b.enroll(ctx, tb, n)
	if err != nil {
		return nil, err
	}
	type claimed struct {
		r  *protoRover
		cl *wire.Claim
	}
	var runs []claimed
	for _, rv := range rovers {
		r := newProtoRover(b.base, rv.Token)
		cl, err := r.claimOne(ctx)
		if err != nil {
			return nil, err
		}
		runs = append(runs, claimed{r, cl})
	}
	at := time.Now().UTC()
	perRun := b.cfg.IngestBatches * ingestBatch
	// Bodies are encoded before the clock starts: the rovers' own work is
	// not what is measured.
	bodies := make([][][]byte, n)
	for i, c := range runs {
		for k := range b.cfg.IngestBatches {
			batch := wire.EventBatch{ClaimToken: c.cl.ClaimToken, Events: make([]wire.Event, ingestBatch)}
			for j := range ingestBatch {
				batch.Events[j] = wire.Event{Seq: int64(k*ingestBatch + j + 1), Type: wire.EventText, Data: json.RawMessage(ingestText), At: at}
			}
			raw, err := json.Marshal(batch)
			if err != nil {
				return nil, err
			}
			bodies[i] = append(bodies[i], raw)
		}
	}
	ws, err := b.sampleWaits(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	errc := make(chan error, n)
	for i, c := range runs {
		go func() {
			for _, body := range bodies[i] {
				if err := c.r.postRaw(ctx, "/api/rover/runs/"+c.cl.RunID+"/events", body); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			return nil, err
		}
	}
	took := time.Since(start)
	waits := ws.summary()
	total := n * perRun
	for _, c := range runs {
		if err := tb.checkEvents(ctx, c.cl.RunID, perRun); err != nil {
			return nil, err
		}
	}

	var targets []string
	rows, err := b.st.Pool().Query(ctx, "SELECT id::text FROM runs WHERE fleet_id = $1 AND status = 'queued'", tb.fleet)
	if err != nil {
		return nil, err
	}
	if targets, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, err
	}
	if len(targets) != n {
		return nil, fmt.Errorf("%d runs left queued for the COPY, want %d", len(targets), n)
	}
	copyTook, err := b.copyEvents(ctx, tb.fleet, targets, perRun, at)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	rate := float64(total) / took.Seconds()
	ceiling := float64(total) / copyTook.Seconds()
	note := fmt.Sprintf("%d events from %d rovers in %s (%s), each run's events read back in order over the API; ceiling: COPY of the same %d rows on one connection in %s",
		total, n, took.Round(time.Millisecond), waits, total, copyTook.Round(time.Millisecond))
	return []Figure{vsCeiling("ingest", "4 event ingest", "events/s", rate, ceiling, 0.30, true, note)}, nil
}

// postRaw posts an encoded body and requires 200.
func (r *protoRover) postRaw(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", r.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return nil
}

// checkEvents reads a run's events through the API, page by page, and
// requires sequence numbers 1…want in order.
func (tb *testbed) checkEvents(ctx context.Context, runID string, want int) error {
	next := int64(1)
	for {
		var evs []struct {
			Seq int64 `json:"seq"`
		}
		if err := tb.do(ctx, "GET", tb.fleetPath(fmt.Sprintf("/api/runs/%s/events?after=%d", runID, next-1)), nil, &evs, http.StatusOK); err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if e.Seq != next {
				return fmt.Errorf("run %s: event %d read back where %d was expected", runID, e.Seq, next)
			}
			next++
		}
	}
	if next-1 != int64(want) {
		return fmt.Errorf("run %s: %d events read back, want %d", runID, next-1, want)
	}
	return nil
}

// copyEvents loads perRun events into each run with one COPY on one
// connection and returns how long it took.
func (b *bench) copyEvents(ctx context.Context, fleet string, runIDs []string, perRun int, at time.Time) (time.Duration, error) {
	conn, err := pgx.Connect(ctx, b.dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var fleetID pgtype.UUID
	if err := fleetID.Scan(fleet); err != nil {
		return 0, err
	}
	ids := make([]pgtype.UUID, len(runIDs))
	for i, s := range runIDs {
		if err := ids[i].Scan(s); err != nil {
			return 0, err
		}
	}
	data := []byte(ingestText)
	start := time.Now()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"run_events"}, []string{"run_id", "seq", "fleet_id", "type", "data", "at"},
		pgx.CopyFromSlice(len(ids)*perRun, func(i int) ([]any, error) {
			return []any{ids[i/perRun], int64(i%perRun + 1), fleetID, wire.EventText, data, at}, nil
		}))
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if int(n) != len(ids)*perRun {
		return 0, fmt.Errorf("COPY stored %d rows, want %d", n, len(ids)*perRun)
	}
	return took, nil
}
