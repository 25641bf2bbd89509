package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

// The WAL readings count what was written: n one-row inserts into a table
// with a primary key, each its own transaction, are a heap insert, an
// index insert and a commit each, and the profile names the table and its
// index with one record a step.
func TestWALReadingsCountEachRecord(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.NewDB(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := &bench{st: st}
	if b.walErr = b.enableWALInspect(ctx); b.walErr != nil {
		t.Fatal(b.walErr)
	}
	if _, err := st.Pool().Exec(ctx, "CREATE TABLE walcount (id integer PRIMARY KEY, note text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	from, err := b.markWAL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if _, err := st.Pool().Exec(ctx, "INSERT INTO walcount VALUES ($1, 'x')", i); err != nil {
			t.Fatal(err)
		}
	}
	to, err := b.markWAL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	use, err := b.walUse(ctx, from, to, n)
	if err != nil {
		t.Fatal(err)
	}
	// Three records a step, and a few more over all of them: the pages
	// the table and its index grew by.
	if use.records < 3 || use.records > 3.2 {
		t.Errorf("%v: want 3 records an insert", use)
	}
	if use.bytes < 100 || use.bytes > 400 {
		t.Errorf("%v: want a few hundred bytes an insert", use)
	}
	table, err := b.walProfile(ctx, from, to, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"walcount ", "walcount_pkey ", "Transaction "} {
		var line string
		for l := range strings.Lines(table) {
			if strings.Contains(l, want) {
				line = l
				break
			}
		}
		f := strings.Fields(line)
		var per float64
		if len(f) >= 4 {
			per, _ = strconv.ParseFloat(f[len(f)-2], 64)
		}
		if per < 0.95 || per > 1.0 {
			t.Errorf("no row of %q with about one record a step in\n%s", want, table)
		}
	}
}
