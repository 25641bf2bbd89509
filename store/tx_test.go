package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

// labelsAndFeed counts a fleet's labels and its change-feed rows.
func labelsAndFeed(t *testing.T, s *Store, fleet string) (labels, feed int) {
	t.Helper()
	err := s.pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM labels WHERE fleet_id = $1),
		(SELECT count(*) FROM events WHERE fleet_id = $1)`, fleet).Scan(&labels, &feed)
	if err != nil {
		t.Fatal(err)
	}
	return labels, feed
}

// A pipelined transaction is one transaction: statements sent with BEGIN,
// statements left for the COMMIT and feed rows all land, or none do, and
// the connection goes back to the pool ready for the next.
func TestTxPipelinedAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	labels0, feed0 := labelsAndFeed(t, s, fleet)
	insert := `INSERT INTO labels (fleet_id, name) VALUES ($1, $2)`

	cases := []struct {
		name string
		fn   func(tx querier) error
		code string // the error's app code; "" for success
	}{
		{"fn fails after its writes", func(tx querier) error {
			if _, err := tx.Exec(ctx, insert, fleet, "a"); err != nil {
				return err
			}
			if err := later(ctx, tx, stmt(insert, fleet, "b")); err != nil {
				return err
			}
			if err := emit(ctx, tx, fleet, "test.lost", nil, nil); err != nil {
				return err
			}
			return app.Errorf(app.EInvalid, "changed my mind")
		}, app.EInvalid},
		{"a statement left for the commit fails", func(tx querier) error {
			if _, err := tx.Exec(ctx, insert, fleet, "c"); err != nil {
				return err
			}
			if err := emit(ctx, tx, fleet, "test.lost", nil, nil); err != nil {
				return err
			}
			// The same name twice: the second violates UNIQUE at commit.
			if err := later(ctx, tx, stmt(insert, fleet, "d")); err != nil {
				return err
			}
			return later(ctx, tx, stmt(insert, fleet, "d"))
		}, app.EConflict},
		{"the first statement fails", func(tx querier) error {
			return tx.QueryRow(ctx, `SELECT id FROM labels WHERE id = $1`, "not-a-uuid").Scan(new(string))
		}, app.ENotFound},
		{"no row", func(tx querier) error {
			return tx.QueryRow(ctx, `SELECT id FROM labels WHERE fleet_id = $1 AND name = 'none'`, fleet).Scan(new(string))
		}, app.ENotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.tx(ctx, c.fn)
			var ae *app.Error
			if !errors.As(err, &ae) || ae.Code != c.code {
				t.Fatalf("tx: got %v, want an error with code %s", err, c.code)
			}
			if l, f := labelsAndFeed(t, s, fleet); l != labels0 || f != feed0 {
				t.Fatalf("after a failed transaction: %d labels and %d feed rows, want %d and %d", l, f, labels0, feed0)
			}
		})
	}

	// Every connection went back clean: as many transactions as the pool
	// holds connections, each writing, all commit.
	var got app.Label
	for i := range int(s.pool.Config().MaxConns) + 1 {
		err := s.tx(ctx, func(tx querier) error {
			name := fmt.Sprintf("kept-%d", i)
			if _, err := tx.Exec(ctx, insert, fleet, name); err != nil {
				return err
			}
			q := stmt(`SELECT * FROM labels WHERE fleet_id = $1 AND name = $2`, fleet, name)
			q.Query(scanOne(&got))
			if err := later(ctx, tx, q); err != nil {
				return err
			}
			return emit(ctx, tx, fleet, "test.kept", nil, nil)
		})
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		if got.FleetID != fleet || got.ID == "" {
			t.Fatalf("transaction %d: a read left for the commit scanned %+v", i, got)
		}
	}
	n := int(s.pool.Config().MaxConns) + 1
	if l, f := labelsAndFeed(t, s, fleet); l != labels0+n || f != feed0+n {
		t.Fatalf("after %d good transactions: %d labels and %d feed rows, want %d and %d", n, l, f, labels0+n, feed0+n)
	}
}

// Rows read to their end are closed, as pgx closes them, even when they
// came with the BEGIN: the next statement finds the connection free.
func TestTxRowsReadToTheEnd(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	var sum int
	err := s.tx(ctx, func(tx querier) error {
		rows, err := tx.Query(ctx, `SELECT generate_series(1, 3)`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			sum += n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var more int
		if err := tx.QueryRow(ctx, `SELECT 4`).Scan(&more); err != nil {
			return err
		}
		sum += more
		return nil
	})
	if err != nil || sum != 10 {
		t.Fatalf("tx: sum %d, err %v; want 10 and no error", sum, err)
	}
}

// A caller that hangs up mid-transaction leaves nothing behind, and the
// connection it used serves the next caller.
func TestTxCallerHangsUp(t *testing.T) {
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	labels0, feed0 := labelsAndFeed(t, s, fleet)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.tx(ctx, func(tx querier) error {
		if _, err := tx.Exec(ctx, `INSERT INTO labels (fleet_id, name) VALUES ($1, 'gone')`, fleet); err != nil {
			return err
		}
		if err := emit(ctx, tx, fleet, "test.lost", nil, nil); err != nil {
			return err
		}
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("tx: got %v, want context.Canceled", err)
	}
	if l, f := labelsAndFeed(t, s, fleet); l != labels0 || f != feed0 {
		t.Fatalf("after a hang-up: %d labels and %d feed rows, want %d and %d", l, f, labels0, feed0)
	}
	for range int(s.pool.Config().MaxConns) + 1 {
		if err := s.tx(context.Background(), func(tx querier) error {
			_, err := tx.Exec(context.Background(), `SELECT 1`)
			return err
		}); err != nil {
			t.Fatalf("a transaction after the hang-up: %v", err)
		}
	}
}

// A statement left for the commit answers after the COMMIT was sent. A
// failing statement still undoes everything, even when it has a callback;
// a callback that fails on a good answer is the transaction's error, but
// cannot undo the commit, so the commit's wake-ups and feed rows follow.
func TestTxLaterCallbacks(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	labels0, feed0 := labelsAndFeed(t, s, fleet)
	seen, err := s.LatestEventID(ctx, fleet)
	if err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO labels (fleet_id, name) VALUES ($1, $2)`
	listener, err := pgx.Connect(ctx, s.pool.Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, "LISTEN "+ChannelRuns); err != nil {
		t.Fatal(err)
	}

	var got app.Label
	err = s.tx(ctx, func(tx querier) error {
		if _, err := tx.Exec(ctx, insert, fleet, "kept-a"); err != nil {
			return err
		}
		if err := notifyAfter(ctx, tx, ChannelRuns, fleet); err != nil {
			return err
		}
		if err := emit(ctx, tx, fleet, "test.before-error", nil, nil); err != nil {
			return err
		}
		bad := stmt(`SELECT * FROM labels WHERE fleet_id = $1 AND name = $2`, fleet, "x")
		bad.Query(scanOne(&got)) // no row: the callback fails
		if err := later(ctx, tx, bad); err != nil {
			return err
		}
		return later(ctx, tx, stmt(insert, fleet, "kept-b"))
	})
	if !app.IsCode(err, app.ENotFound) {
		t.Fatalf("tx with a failing callback: got %v, want not_found", err)
	}
	if l, f := labelsAndFeed(t, s, fleet); l != labels0+2 || f != feed0+1 {
		t.Fatalf("a failing callback after the COMMIT: %d labels and %d feed rows, want %d and %d (committed)", l, f, labels0+2, feed0+1)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	n, err := listener.WaitForNotification(wctx)
	cancel()
	if err != nil || n.Payload != fleet {
		t.Fatalf("the committed transaction's wake-up: %+v, %v", n, err)
	}
	evs, err := s.Events(ctx, fleet, seen, 10)
	if err != nil || len(evs) != 1 || evs[0].Kind != "test.before-error" {
		t.Fatalf("the committed feed row, numbered: %+v, %v", evs, err)
	}

	err = s.tx(ctx, func(tx querier) error {
		if _, err := tx.Exec(ctx, insert, fleet, "lost"); err != nil {
			return err
		}
		var n int
		div := stmt(`SELECT 1 / (SELECT count(*) FROM labels WHERE name = 'none')`)
		div.QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
		return later(ctx, tx, div)
	})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "22012" {
		t.Fatalf("tx whose statement fails under its callback: got %v, want division_by_zero", err)
	}
	if l, _ := labelsAndFeed(t, s, fleet); l != labels0+2 {
		t.Fatalf("a statement that failed at commit kept its transaction's insert: %d labels, want %d", l, labels0+2)
	}
}

// Feed data that is a typed nil is stored as JSON null, as it always was.
func TestEmitNilData(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	var none map[string]any
	if err := s.tx(ctx, func(tx querier) error { return emit(ctx, tx, fleet, "test.nil", nil, none) }); err != nil {
		t.Fatalf("emit a nil map: %v", err)
	}
	var data string
	if err := s.pool.QueryRow(ctx, `SELECT data::text FROM events WHERE fleet_id = $1 AND kind = 'test.nil'`, fleet).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if data != "null" {
		t.Fatalf("data %s, want null", data)
	}
}

// The server's pool has 20 connections unless the URL says otherwise.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, c := range []struct {
		url  string
		want int32
	}{{url, 20}, {url + sep + "pool_max_conns=7", 7}, {url + sep + "pool_max_conns=40", 40}} {
		if got := open(t, c.url).Pool().Config().MaxConns; got != c.want {
			t.Errorf("%s: pool of %d connections, want %d", c.url, got, c.want)
		}
	}
}
