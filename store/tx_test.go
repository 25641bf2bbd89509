package store

import (
	"context"
	"errors"
	"testing"

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
			name := string(rune('e' + i%20))
			if i > 0 {
				name += "-" + string(rune('a'+i/20))
			}
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
