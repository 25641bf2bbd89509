package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/db"
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
	notices  []string // what the server said on conn (auto_explain's plans)
	fleet    pgtype.UUID
	fleetID  string
	op       pgtype.UUID
	pilot    pgtype.UUID
	roverID  string
	loaded   int       // rows loaded so far, for their queued_at
	baseTime time.Time // queued_at of the first row
}

// claims times the store's claim transaction (the one the server runs for
// every claim) with 100,000 and cfg.Queued queued runs, then with 1,000
// queued beside cfg.Queued finished ones, each beside a queue of 1,000 in a
// second scratch database of the same cluster. The claims alternate
// between the two, so both see the same machine at the same moment: on a
// busy machine a baseline taken minutes earlier compares noise. The rows
// are loaded with COPY. It must stay flat: the queue is a partial index,
// not a scan.
func (b *bench) claims(ctx context.Context) ([]Figure, error) {
	var scenes [2]*claimScene
	for i := range scenes {
		name := fmt.Sprintf("ufobench_claims_%d_%d", time.Now().Unix(), i)
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
		scenes[i] = sc
	}
	small, big := scenes[0], scenes[1]
	if err := small.load(ctx, "queued", claimBaseline); err != nil {
		return nil, err
	}
	var sizes []int
	if b.cfg.Queued > 100_000 {
		sizes = append(sizes, 100_000)
	}
	sizes = append(sizes, b.cfg.Queued)

	var rows []Figure
	measure := func(name string, load time.Duration) error {
		base, lat, err := timePaired(ctx, small, big, b.cfg.Claims)
		if err != nil {
			return err
		}
		plan, err := big.explain(ctx)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			rows = append(rows, absolute("claims", "3 claim latency p50, 1,000 queued", "ms", ms(percentile(base, 50)), nil, 0,
				fmt.Sprintf("the store's claim transaction, %d timed per size (after %d untimed), alternating with the larger queue, "+
					"each queue topped up after every claim; p99 %.2f ms", b.cfg.Claims, claimWarmup, ms(percentile(base, 99)))))
		}
		rows = append(rows, vsCeiling("claims", "3 claim latency p50, "+name, "ms", ms(percentile(lat, 50)), ms(percentile(base, 50)), 1.5, false,
			fmt.Sprintf("p99 %.2f ms; loaded with COPY in %s; ceiling: p50 of the 1,000 queue at the same time (p99 %.2f ms); the claim query: %s",
				ms(percentile(lat, 99)), load.Round(100*time.Millisecond), ms(percentile(base, 99)), plan)))
		return nil
	}
	for _, size := range sizes {
		queued, err := big.count(ctx, "queued")
		if err != nil {
			return nil, err
		}
		b.say("claims: loading %d queued runs", size-queued)
		t0 := time.Now()
		if err := big.load(ctx, "queued", size-queued); err != nil {
			return nil, err
		}
		if err := measure(thousands(size)+" queued", time.Since(t0)); err != nil {
			return nil, err
		}
	}
	b.say("claims: replacing the queue with %d finished runs and %d queued", b.cfg.Queued, claimBaseline)
	if _, err := big.conn.Exec(ctx, "TRUNCATE runs CASCADE"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := big.load(ctx, "succeeded", b.cfg.Queued); err != nil {
		return nil, err
	}
	if err := big.load(ctx, "queued", claimBaseline); err != nil {
		return nil, err
	}
	if err := measure(fmt.Sprintf("%s queued + %s finished", thousands(claimBaseline), thousands(b.cfg.Queued)), time.Since(t0)); err != nil {
		return nil, err
	}
	return rows, nil
}

// timePaired makes claimWarmup claims in each scene, then n timed ones in
// each, alternating.
func timePaired(ctx context.Context, a, b *claimScene, n int) (la, lb []time.Duration, err error) {
	for i := range claimWarmup + n {
		da, err := a.claimOne(ctx)
		if err != nil {
			return nil, nil, err
		}
		db, err := b.claimOne(ctx)
		if err != nil {
			return nil, nil, err
		}
		if i >= claimWarmup {
			la, lb = append(la, da), append(lb, db)
		}
	}
	return la, lb, nil
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
	e, err := st.Enroll(ctx, code, "claimer", json.RawMessage(`{}`), []string{app.KindExec}, nil)
	if err != nil {
		return fail(err)
	}
	sc.roverID = e.RoverID
	for dst, src := range map[*pgtype.UUID]string{&sc.fleet: fleet.ID, &sc.op: op.ID, &sc.pilot: p.ID} {
		if err := dst.Scan(src); err != nil {
			return fail(err)
		}
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fail(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { sc.notices = append(sc.notices, n.Message) }
	if sc.conn, err = pgx.ConnectConfig(ctx, cfg); err != nil {
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
// autovacuum would have by then, and checkpoints.
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
	// The load wrote hundreds of megabytes of WAL: without a checkpoint
	// now, one would run during the timing, and the first change to every
	// page after it writes the whole page to the WAL. A table that grew
	// over months has no such burst behind it.
	_, err := sc.conn.Exec(ctx, "CHECKPOINT")
	return err
}

// claimOne times one claim; after it, untimed, one run joins the end of
// the queue, so the queue keeps its size.
func (sc *claimScene) claimOne(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	c, err := sc.st.Claim(ctx, sc.fleetID, sc.roverID, []string{app.KindExec}, []string{}, 24*time.Hour)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if c == nil {
		return 0, fmt.Errorf("a claim found the queue empty")
	}
	at := sc.baseTime.Add(time.Duration(sc.loaded) * time.Microsecond)
	if _, err := sc.conn.Exec(ctx, `INSERT INTO runs (fleet_id, operation_id, pilot_id, pilot_kind, status, queued_at)
		VALUES ($1, $2, $3, $4, 'queued', $5)`, sc.fleet, sc.op, sc.pilot, app.KindExec, at); err != nil {
		return 0, err
	}
	sc.loaded++
	return d, nil
}

// explain runs the claim once with auto_explain on, in a transaction it
// rolls back, and sums up the plan of the statement inside ufo_claim that
// finds and claims the run: its scan of runs, the buffers it touched and
// its duration. (The claim is a function: EXPLAIN would show only the
// call.) auto_explain needs a superuser, as the bench's own cluster has;
// on another database the figure goes without the plan.
func (sc *claimScene) explain(ctx context.Context) (string, error) {
	queries, err := db.Queries()
	if err != nil {
		return "", err
	}
	tx, err := sc.conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOAD 'auto_explain'"); err != nil {
		return fmt.Sprintf("no plan (auto_explain: %v)", err), nil
	}
	for _, set := range []string{"auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on",
		"auto_explain.log_buffers = on", "auto_explain.log_timing = off", "auto_explain.log_nested_statements = on",
		"client_min_messages = log"} {
		if _, err := tx.Exec(ctx, "SET LOCAL "+set); err != nil {
			return "", err
		}
	}
	sc.notices = nil
	if _, err := tx.Exec(ctx, queries["ClaimRun"], sc.fleetID, []string{app.KindExec}, []string{}, sc.roverID, []byte("x"), 60.0); err != nil {
		return "", err
	}
	for _, n := range sc.notices {
		if !strings.Contains(n, "Update on runs") {
			continue
		}
		// "duration: 0.123 ms  plan:" then the query text and the plan.
		var took, scan, buffers string
		if rest, ok := strings.CutPrefix(n, "duration: "); ok {
			took, _, _ = strings.Cut(rest, "  ")
		}
		for _, l := range strings.Split(n, "\n") {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "->"))
			switch {
			case scan == "" && strings.Contains(l, "Scan") && strings.Contains(l, "on runs "):
				scan, _, _ = strings.Cut(l, " (")
				scan = strings.TrimSpace(scan)
			case buffers == "" && strings.HasPrefix(l, "Buffers:"):
				buffers = l
			}
		}
		return fmt.Sprintf("%s, %s, duration %s", scan, strings.ToLower(buffers), took), nil
	}
	return "", fmt.Errorf("auto_explain showed no plan of the claim's UPDATE (%d messages)", len(sc.notices))
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
