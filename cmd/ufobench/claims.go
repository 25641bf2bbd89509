package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// claimBaseline is the queue the others are compared with.
const claimBaseline = 1000

// claimWarmup claims are made before timing at each size.
const claimWarmup = 20

// claimScene is what the claims are made against.
type claimScene struct {
	st       *store.Store
	conn     *pgx.Conn
	fleet    pgtype.UUID
	fleetID  string
	op       pgtype.UUID
	pilot    pgtype.UUID
	roverID  string
	loaded   int       // rows loaded so far, for their queued_at
	baseTime time.Time // queued_at of the first row
}

// claims times the store's claim transaction (the one the server runs for
// every claim) with 1,000, 100,000 and cfg.Queued queued runs, then with
// 1,000 queued beside cfg.Queued finished ones. The rows are loaded with
// COPY into a scratch database of the same cluster. It must stay flat: the
// queue is a partial index, not a scan.
func (b *bench) claims(ctx context.Context) ([]Figure, error) {
	name := fmt.Sprintf("ufobench_claims_%d", time.Now().Unix())
	if err := adminExec(ctx, b.adminURL, "CREATE DATABASE "+name); err != nil {
		return nil, err
	}
	defer dropDatabase(b.adminURL, name)
	url := b.dbFor(name)
	if err := store.Migrate(ctx, url, b.log); err != nil {
		return nil, err
	}
	sc, err := newClaimScene(ctx, url, b.log)
	if err != nil {
		return nil, err
	}
	defer sc.close()

	levels := []int{claimBaseline}
	if b.cfg.Queued > 100_000 {
		levels = append(levels, 100_000)
	}
	if b.cfg.Queued > claimBaseline {
		levels = append(levels, b.cfg.Queued)
	}
	type level struct {
		name     string
		p50, p99 time.Duration
		load     time.Duration
	}
	var measured []level
	for _, size := range levels {
		queued, err := sc.count(ctx, "queued")
		if err != nil {
			return nil, err
		}
		b.say("claims: loading %d queued runs", size-queued)
		t0 := time.Now()
		if err := sc.load(ctx, "queued", size-queued); err != nil {
			return nil, err
		}
		load := time.Since(t0)
		lat, err := sc.time(ctx, b.cfg.Claims)
		if err != nil {
			return nil, err
		}
		measured = append(measured, level{fmt.Sprintf("%s queued", thousands(size)), percentile(lat, 50), percentile(lat, 99), load})
	}
	b.say("claims: replacing the queue with %d finished runs and %d queued", b.cfg.Queued, claimBaseline)
	if _, err := sc.conn.Exec(ctx, "TRUNCATE runs CASCADE"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sc.load(ctx, "succeeded", b.cfg.Queued); err != nil {
		return nil, err
	}
	if err := sc.load(ctx, "queued", claimBaseline); err != nil {
		return nil, err
	}
	load := time.Since(t0)
	lat, err := sc.time(ctx, b.cfg.Claims)
	if err != nil {
		return nil, err
	}
	measured = append(measured, level{fmt.Sprintf("%s queued + %s finished", thousands(claimBaseline), thousands(b.cfg.Queued)),
		percentile(lat, 50), percentile(lat, 99), load})

	base := measured[0]
	rows := []Figure{absolute("claims", "3 claim latency p50, "+base.name, "ms", ms(base.p50), nil, 0,
		fmt.Sprintf("the store's claim transaction, %d timed at each size (after %d untimed); p99 %.2f ms", b.cfg.Claims, claimWarmup, ms(base.p99)))}
	for _, l := range measured[1:] {
		rows = append(rows, vsCeiling("claims", "3 claim latency p50, "+l.name, "ms", ms(l.p50), ms(base.p50), 1.5, false,
			fmt.Sprintf("p99 %.2f ms; rows loaded with COPY in %s; ceiling: p50 at %s queued", ms(l.p99), l.load.Round(100*time.Millisecond), thousands(claimBaseline))))
	}
	return rows, nil
}

func newClaimScene(ctx context.Context, url string, log *slog.Logger) (*claimScene, error) {
	st, err := store.Open(ctx, url, log)
	if err != nil {
		return nil, err
	}
	sc := &claimScene{st: st, baseTime: time.Now().Add(-24 * time.Hour)}
	fail := func(err error) (*claimScene, error) {
		sc.close()
		return nil, err
	}
	_, fleet, _, err := st.SignUp(ctx, "claims@bench.example", "claims", app.HashPassword("bench-password"), "claims")
	if err != nil {
		return fail(err)
	}
	sc.fleetID = fleet.ID
	m, err := st.CreateMission(ctx, app.Mission{FleetID: fleet.ID, Name: "Claims", Key: "CLM", BaseBranch: "main", BranchPrefix: "ufo/", Reviewers: []string{}})
	if err != nil {
		return fail(err)
	}
	p, err := st.CreatePilot(ctx, app.Pilot{FleetID: fleet.ID, Name: "bench", Kind: app.KindExec, Settings: json.RawMessage(`{"command":"true"}`)})
	if err != nil {
		return fail(err)
	}
	op, err := st.CreateOperation(ctx, fleet.ID, store.OperationInput{MissionID: m.ID, Title: "claims"})
	if err != nil {
		return fail(err)
	}
	code, _, err := st.CreateEnrollmentCode(ctx, fleet.ID, "", []string{}, false, nil)
	if err != nil {
		return fail(err)
	}
	e, err := st.Enroll(ctx, code, "claimer", json.RawMessage(`{}`), []string{app.KindExec})
	if err != nil {
		return fail(err)
	}
	sc.roverID = e.RoverID
	for dst, src := range map[*pgtype.UUID]string{&sc.fleet: fleet.ID, &sc.op: op.ID, &sc.pilot: p.ID} {
		if err := dst.Scan(src); err != nil {
			return fail(err)
		}
	}
	if sc.conn, err = pgx.Connect(ctx, url); err != nil {
		return fail(err)
	}
	return sc, nil
}

func (sc *claimScene) close() {
	if sc.conn != nil {
		sc.conn.Close(context.Background())
	}
	sc.st.Close()
}

func (sc *claimScene) count(ctx context.Context, status string) (int, error) {
	var n int
	err := sc.conn.QueryRow(ctx, "SELECT count(*) FROM runs WHERE status = $1", status).Scan(&n)
	return n, err
}

// load appends n runs in status with one COPY, each queued a microsecond
// after the previous one, then vacuums and analyzes the table as
// autovacuum would have by then.
func (sc *claimScene) load(ctx context.Context, status string, n int) error {
	if n > 0 {
		first := sc.loaded
		finished := status != app.RunQueued
		_, err := sc.conn.CopyFrom(ctx, pgx.Identifier{"runs"},
			[]string{"fleet_id", "operation_id", "pilot_id", "pilot_kind", "status", "attempt", "queued_at", "finished_at"},
			pgx.CopyFromSlice(n, func(i int) ([]any, error) {
				at := sc.baseTime.Add(time.Duration(first+i) * time.Microsecond)
				var fin *time.Time
				attempt := 0
				if finished {
					fin, attempt = &at, 1
				}
				return []any{sc.fleet, sc.op, sc.pilot, app.KindExec, status, int32(attempt), at, fin}, nil
			}))
		if err != nil {
			return fmt.Errorf("COPY %d %s runs: %w", n, status, err)
		}
		sc.loaded += n
	}
	if _, err := sc.conn.Exec(ctx, "VACUUM ANALYZE runs"); err != nil {
		return err
	}
	return nil
}

// time makes claimWarmup claims, then times n more.
func (sc *claimScene) time(ctx context.Context, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for i := range claimWarmup + n {
		t0 := time.Now()
		c, err := sc.st.Claim(ctx, sc.fleetID, sc.roverID, []string{app.KindExec}, []string{}, 24*time.Hour)
		d := time.Since(t0)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, fmt.Errorf("claim %d found the queue empty", i)
		}
		if i >= claimWarmup {
			out = append(out, d)
		}
	}
	return out, nil
}

// thousands writes n with thin separators: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
