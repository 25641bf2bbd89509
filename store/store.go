// Package store keeps UFO's state in PostgreSQL with pgx. Its SQL lives in
// db/ (migrations and named queries); store translates driver errors into
// app's error codes at its boundary.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/db"
)

// queries holds db/queries/*.sql by name; they are embedded, so a broken
// file is a build defect and fails every test at once.
var queries = func() map[string]string {
	q, err := db.Queries()
	if err != nil {
		panic(err)
	}
	return q
}()

// q returns the named query; an unknown name is a programming error that
// TestQueriesExist catches.
func q(name string) string {
	s, ok := queries[name]
	if !ok {
		panic("store: no query named " + name)
	}
	return s
}

// Notification channels.
const (
	ChannelEvents = "ufo_events" // payload: "<fleet_id>:<first event id>:<last event id>"
	ChannelRuns   = "ufo_runs"   // payload: "<fleet_id>:<run_id>", a run queued
)

// Store is UFO's PostgreSQL storage.
type Store struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	stamp *stamper
	// rovers are rover tokens resolved in the last moment.
	rovers roverCache
}

// Open connects to url. The caller runs Migrate first (or relies on Start).
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	// pgxpool's default, four or one per processor, is too few for a
	// server whose requests each hold a connection for a transaction's
	// round trips; a pool_max_conns in url is kept as given.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 20)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	s := &Store{pool: pool, log: log}
	s.stamp = startStamper(s)
	return s, nil
}

// Close stops the stamper and releases the pool.
func (s *Store) Close() {
	s.stamp.stop()
	s.pool.Close()
}

// Pool exposes the pool to the listener and to benchmarks.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// tx runs fn in a transaction, committing when it returns nil.
//
// fn's statements run on a pipeTx: BEGIN goes with the first of them, and
// the statements fn left for later go with the COMMIT. The change-feed rows
// fn emits are written with the COMMIT too, with no lock, and numbered
// after it (see stamper); the wake-ups it asks for follow the COMMIT in
// the same round trip.
func (s *Store) tx(ctx context.Context, fn func(tx querier) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Release()
	t := &pipeTx{conn: conn, log: s.log}
	if err := fn(t); err != nil {
		t.rollback(ctx)
		return translate(err)
	}
	committed, err := t.commit(ctx)
	if !committed {
		t.rollback(ctx)
		return translate(err)
	}
	s.afterCommit(&t.buf)
	return translate(err)
}

// translate maps driver errors to app's codes; other errors pass through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *app.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return app.Errorf(app.ENotFound, "not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return app.Errorf(app.EConflict, "%s already exists", conflictSubject(pe.ConstraintName))
		case "23503":
			return app.Errorf(app.ENotFound, "a referenced record was not found")
		case "23514", "23502", "22001":
			return app.Errorf(app.EInvalid, "invalid value (%s)", pe.ConstraintName)
		case "22P02":
			return app.Errorf(app.ENotFound, "not found")
		case "22P05", "22021", "22008", "22003":
			return app.Errorf(app.EInvalid, "a value cannot be stored (a NUL character, invalid text or an out-of-range number)")
		case "UF409": // refusals raised by the run-call functions (migrations 0012 to 0016)
			return app.Errorf(app.EConflict, "%s", pe.Message)
		case "UF401":
			return app.Errorf(app.EUnauthorized, "%s", pe.Message)
		case "40P01", "40001":
			return app.Errorf(app.EConflict, "a concurrent change got in the way; try again")
		}
	}
	return err
}

func conflictSubject(constraint string) string {
	switch constraint {
	case "users_email":
		return "an account with this email"
	case "missions_fleet_id_key_key":
		return "a mission with this key"
	case "pilots_fleet_id_name_key":
		return "a pilot with this name"
	case "crews_fleet_id_name_key":
		return "a crew with this name"
	case "labels_fleet_id_name_key":
		return "a label with this name"
	case "reactions_operation_id_user_id_emoji_key":
		return "this reaction"
	case "relationships_from_id_to_id_kind_key":
		return "this relationship"
	}
	return "a record with these values"
}

func ptr[T any](v T) *T { return &v }

// collect scans rows into app structs by column name.
func collect[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByNameLax[T])
	if err != nil {
		return nil, translate(err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// one scans exactly one row into an app struct.
func one[T any](rows pgx.Rows, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, translate(err)
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByNameLax[T])
	if err != nil {
		return zero, translate(err)
	}
	return v, nil
}

// scanOne is a QueuedQuery.Query callback that scans exactly one row into
// an app struct.
func scanOne[T any](dst *T) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByNameLax[T])
		if err != nil {
			return translate(err)
		}
		*dst = v
		return nil
	}
}
