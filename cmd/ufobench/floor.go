package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ufo-run/ufo/app"
)

// The floor of the throughput figure: the same five steps of a run as
// bare SQL on scratch tables, each step one statement or one pipelined
// batch, one round trip and one write transaction, with none of UFO's own
// work: no change feed or its numbering, no foreign keys, no check of a
// session, a rover or a claim beyond the token in the WHERE clause, no
// numbered operation, no wake-up, and a claim that answers with two ids
// instead of the operation, mission and pilot a rover needs. Measured
// over HTTP (a handler per step, JSON in and out, as small as a server can
// be) and without it (the loops call PostgreSQL themselves), its rate
// beside the same ceiling is the most any server built this way, HTTP in
// front of one PostgreSQL transaction per step, could reach on this
// machine; what UFO does beyond it has to fit in the difference.
const floorSteps = 5

const floorSchema = `
CREATE TABLE ufobench_floor_ops (id uuid PRIMARY KEY, fleet integer NOT NULL, title text NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE ufobench_floor_runs (id uuid PRIMARY KEY, op uuid NOT NULL, fleet integer NOT NULL, status text NOT NULL,
    rover integer, token bytea, lease_expires_at timestamptz, queued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz, finished_at timestamptz, last_seq bigint NOT NULL DEFAULT 0);
CREATE INDEX ufobench_floor_queue ON ufobench_floor_runs (fleet, queued_at, id) WHERE status = 'queued';
CREATE TABLE ufobench_floor_events (run uuid NOT NULL, seq bigint NOT NULL, type text NOT NULL, data jsonb NOT NULL,
    at timestamptz NOT NULL, PRIMARY KEY (run, seq));
CREATE TABLE ufobench_floor_artifacts (run uuid PRIMARY KEY, diff text NOT NULL, files integer NOT NULL)`

const floorDrop = `DROP TABLE IF EXISTS ufobench_floor_ops, ufobench_floor_runs, ufobench_floor_events, ufobench_floor_artifacts`

// floorStep is one step's input and answer on the wire.
type floorStep struct {
	Fleet int    `json:"fleet"`
	Run   string `json:"run,omitempty"`
	Op    string `json:"op,omitempty"`
	Token []byte `json:"token,omitempty"`
}

// floorStepper makes the floor's five steps, straight to PostgreSQL
// (floorDB) or through the floor's HTTP handlers (floorHTTP).
type floorStepper interface {
	create(ctx context.Context, fleet int) error
	// claim takes the fleet's oldest queued run; nil when there is none.
	claim(ctx context.Context, fleet int, token []byte) (*floorStep, error)
	start(ctx context.Context, s floorStep) error
	events(ctx context.Context, s floorStep) error
	complete(ctx context.Context, s floorStep) error
}

// floorDB makes the floor's steps, each in one round trip; every run
// stores the no-op pilot's batch of events and completes with diff.
type floorDB struct {
	pool  *pgxpool.Pool
	types []string
	datas [][]byte
	diff  string
}

func newFloorDB(pool *pgxpool.Pool) floorDB {
	db := floorDB{pool: pool, diff: noopDiff("FLOOR-1")}
	noopEvents(func(typ string, data any) {
		raw, _ := json.Marshal(data)
		db.types, db.datas = append(db.types, typ), append(db.datas, raw)
	})
	return db
}

func (f floorDB) create(ctx context.Context, fleet int) error {
	op := app.NewID()
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO ufobench_floor_ops (id, fleet, title, status) VALUES ($1, $2, 'floor', 'queued')`, op, fleet)
	b.Queue(`INSERT INTO ufobench_floor_runs (id, op, fleet, status) VALUES ($1, $2, $3, 'queued')`, app.NewID(), op, fleet)
	return f.pool.SendBatch(ctx, b).Close()
}

func (f floorDB) claim(ctx context.Context, fleet int, token []byte) (*floorStep, error) {
	s := floorStep{Fleet: fleet, Token: token}
	err := f.pool.QueryRow(ctx, `UPDATE ufobench_floor_runs SET status = 'claimed', rover = $1, token = $2,
    lease_expires_at = now() + interval '1 minute'
WHERE id = (SELECT id FROM ufobench_floor_runs WHERE fleet = $1 AND status = 'queued'
            ORDER BY queued_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id::text, op::text`, fleet, token).Scan(&s.Run, &s.Op)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return &s, err
}

func (f floorDB) start(ctx context.Context, s floorStep) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE ufobench_floor_runs SET status = 'running', started_at = now(), lease_expires_at = now() + interval '1 minute'
WHERE id = $1 AND token = $2`, s.Run, s.Token)
	b.Queue(`UPDATE ufobench_floor_ops SET status = 'running', updated_at = now() WHERE id = $1`, s.Op)
	return f.pool.SendBatch(ctx, b).Close()
}

func (f floorDB) events(ctx context.Context, s floorStep) error {
	_, err := f.pool.Exec(ctx, `INSERT INTO ufobench_floor_events (run, seq, type, data, at)
SELECT $1, e.seq, e.type, e.data, now() FROM unnest($2::text[], $3::jsonb[]) WITH ORDINALITY AS e(type, data, seq)`,
		s.Run, f.types, f.datas)
	return err
}

func (f floorDB) complete(ctx context.Context, s floorStep) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE ufobench_floor_runs SET status = 'succeeded', finished_at = now(), lease_expires_at = NULL, token = NULL
WHERE id = $1 AND token = $2`, s.Run, s.Token)
	b.Queue(`INSERT INTO ufobench_floor_artifacts (run, diff, files) VALUES ($1, $2, 1)`, s.Run, f.diff)
	b.Queue(`UPDATE ufobench_floor_ops SET status = 'in_review', updated_at = now() WHERE id = $1`, s.Op)
	return f.pool.SendBatch(ctx, b).Close()
}

// floorHTTP makes the floor's steps through floorServer's handlers at
// base, with its own client and connection, as a rover has.
type floorHTTP struct {
	hc   *http.Client
	base string
}

func newFloorHTTP(base string) floorHTTP {
	return floorHTTP{hc: &http.Client{Transport: newTransport(), Timeout: time.Minute}, base: base}
}

// post sends in to path and wants 204, or 200 and the answer in out.
func (f floorHTTP) post(ctx context.Context, path string, in floorStep, out *floorStep) error {
	want := http.StatusNoContent
	var dst any
	if out != nil {
		want, dst = http.StatusOK, out
	}
	return call(ctx, f.hc, http.MethodPost, f.base+path, "", in, dst, want)
}

func (f floorHTTP) create(ctx context.Context, fleet int) error {
	return f.post(ctx, "/create", floorStep{Fleet: fleet}, nil)
}

func (f floorHTTP) claim(ctx context.Context, fleet int, token []byte) (*floorStep, error) {
	var s floorStep
	if err := f.post(ctx, "/claim", floorStep{Fleet: fleet, Token: token}, &s); err != nil || s.Run == "" {
		return nil, err
	}
	return &s, nil
}

func (f floorHTTP) start(ctx context.Context, s floorStep) error {
	return f.post(ctx, "/start", s, nil)
}

func (f floorHTTP) events(ctx context.Context, s floorStep) error {
	return f.post(ctx, "/events", s, nil)
}

func (f floorHTTP) complete(ctx context.Context, s floorStep) error {
	return f.post(ctx, "/complete", s, nil)
}

// floorRuns pushes runs through the floor's five steps from cfg.Rovers
// loops for d, over HTTP when overHTTP, and measures its rate and CPU.
func (b *bench) floorRuns(ctx context.Context, d time.Duration, overHTTP bool) (rate, error) {
	pcfg, err := pgxpool.ParseConfig(b.dbURL)
	if err != nil {
		return rate{}, err
	}
	// The server's pool size (store.Open's default) for the loops.
	pcfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return rate{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, floorDrop+";"+floorSchema); err != nil {
		return rate{}, fmt.Errorf("floor tables: %w", err)
	}
	defer pool.Exec(context.Background(), floorDrop)
	db := newFloorDB(pool)
	steps := func() floorStepper { return db }
	if overHTTP {
		base, stop, err := floorServer(db)
		if err != nil {
			return rate{}, err
		}
		defer stop()
		steps = func() floorStepper { return newFloorHTTP(base) }
	}
	token := []byte("floor-claim-token")
	return loopRate(ctx, b.cfg.Rovers, d, "a floor loop", func(ctx context.Context, i int, done func()) error {
		fleet := i + 1 // each loop its own queue, so that a claim always finds its run
		steps := steps()
		for ctx.Err() == nil {
			if err := steps.create(ctx, fleet); err != nil {
				return fmt.Errorf("floor create: %w", err)
			}
			s, err := steps.claim(ctx, fleet, token)
			if err != nil {
				return fmt.Errorf("floor claim: %w", err)
			}
			if s == nil {
				return errors.New("floor claim: no queued run in the loop's own queue")
			}
			if err := steps.start(ctx, *s); err != nil {
				return fmt.Errorf("floor start: %w", err)
			}
			if err := steps.events(ctx, *s); err != nil {
				return fmt.Errorf("floor events: %w", err)
			}
			if err := steps.complete(ctx, *s); err != nil {
				return fmt.Errorf("floor complete: %w", err)
			}
			done()
		}
		return nil
	})
}

// floorServer serves db's steps over HTTP on a loopback port: POST
// /create, /claim, /start, /events and /complete, each a floorStep in JSON,
// answered 204, or 200 with the claimed run (no run when none was queued).
func floorServer(db floorDB) (string, func(), error) {
	mux := http.NewServeMux()
	handle := func(path string, do func(ctx context.Context, s floorStep) (*floorStep, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			var s floorStep
			if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			out, err := do(r.Context(), s)
			switch {
			case err != nil:
				http.Error(w, err.Error(), http.StatusInternalServerError)
			case out == nil:
				w.WriteHeader(http.StatusNoContent)
			default:
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(out)
			}
		})
	}
	none := func(step func(context.Context, floorStep) error) func(context.Context, floorStep) (*floorStep, error) {
		return func(ctx context.Context, s floorStep) (*floorStep, error) { return nil, step(ctx, s) }
	}
	handle("/create", func(ctx context.Context, s floorStep) (*floorStep, error) { return nil, db.create(ctx, s.Fleet) })
	handle("/claim", func(ctx context.Context, s floorStep) (*floorStep, error) {
		c, err := db.claim(ctx, s.Fleet, s.Token)
		if c == nil && err == nil {
			c = &floorStep{Fleet: s.Fleet}
		}
		return c, err
	})
	handle("/start", none(db.start))
	handle("/events", none(db.events))
	handle("/complete", none(db.complete))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
