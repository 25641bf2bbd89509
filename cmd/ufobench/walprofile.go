package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// The WAL a run writes is the database's side of its cost: every row
// version and every index entry is a record, and each record is work for
// the backend that writes it and for the WAL writer. These readings set a
// run's WAL beside that of the ceiling's UPDATE, and walProfile breaks a
// stretch of WAL down by relation, the database's counterpart of the CPU
// profile.

// walMark is a position in the WAL: the difference of two is what was
// written in between. (pg_stat_wal would lag: backends add to it at most
// once a second.)
type walMark struct{ lsn string }

func (b *bench) markWAL(ctx context.Context) (walMark, error) {
	var m walMark
	err := b.st.Pool().QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&m.lsn)
	return m, err
}

// walUse is the WAL written per step between two marks: records, bytes,
// and the bytes of full-page images among them; records and fpiBytes are
// negative when pg_walinspect cannot read them.
type walUse struct{ records, bytes, fpiBytes float64 }

// walUse reads the WAL between two marks, per step: its bytes always, its
// records where pg_walinspect can count them.
func (b *bench) walUse(ctx context.Context, from, to walMark, steps int) (walUse, error) {
	n := float64(max(steps, 1))
	var bytes float64
	if err := b.st.Pool().QueryRow(ctx, "SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::float8", from.lsn, to.lsn).Scan(&bytes); err != nil {
		return walUse{}, err
	}
	u := walUse{records: -1, bytes: bytes / n, fpiBytes: -1}
	if b.walErr != nil {
		return u, nil // bytes alone
	}
	if err := b.awaitFlushed(ctx, to); err != nil {
		return u, err
	}
	var records, fpi float64
	err := b.st.Pool().QueryRow(ctx, `SELECT coalesce(sum(count), 0)::float8, coalesce(sum(fpi_size), 0)::float8
		FROM pg_get_wal_stats($1::pg_lsn, $2::pg_lsn)`, from.lsn, to.lsn).Scan(&records, &fpi)
	if err != nil {
		return u, fmt.Errorf("pg_walinspect: %w", err)
	}
	u.records, u.fpiBytes = records/n, fpi/n
	return u, nil
}

func (w walUse) String() string {
	if w.records < 0 {
		return fmt.Sprintf("%.0f bytes of WAL", w.bytes)
	}
	return fmt.Sprintf("%.1f WAL records, %.0f bytes (%.0f of them full-page images)", w.records, w.bytes, w.fpiBytes)
}

// enableWALInspect makes pg_walinspect, shipped with PostgreSQL, available
// in the bench database, once; it needs a superuser. The error is why the
// WAL cannot be read record by record.
func (b *bench) enableWALInspect(ctx context.Context) error {
	if _, err := b.st.Pool().Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_walinspect"); err != nil {
		return fmt.Errorf("pg_walinspect: %w", err)
	}
	return nil
}

// awaitFlushed waits until the WAL up to the mark is flushed, as
// pg_walinspect reads only that: records written outside any commit
// (pruning, hint bits) wait for the WAL writer.
func (b *bench) awaitFlushed(ctx context.Context, to walMark) error {
	for deadline := time.Now().Add(10 * time.Second); ; {
		var flushed bool
		if err := b.st.Pool().QueryRow(ctx, "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn", to.lsn).Scan(&flushed); err != nil {
			return err
		}
		if flushed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the WAL up to %s was not flushed within 10s", to.lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// walProfile is the WAL between two marks, per step, by relation and kind
// of record, largest first: a table, or why there is none (b.walErr).
func (b *bench) walProfile(ctx context.Context, from, to walMark, steps int) (string, error) {
	if b.walErr != nil {
		return "", b.walErr
	}
	if err := b.awaitFlushed(ctx, to); err != nil {
		return "", err
	}
	rows, err := b.st.Pool().Query(ctx, `
		WITH r AS (
			SELECT resource_manager AS rm, record_type AS kind, record_length AS len,
				regexp_match(block_ref, 'rel \d+/(\d+)/(\d+)') AS ref
			FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn))
		SELECT CASE WHEN r.ref IS NULL THEN '(no relation)'
				WHEN r.ref[1]::oid <> (SELECT oid FROM pg_database WHERE datname = current_database()) THEN '(another database)'
				ELSE coalesce(c.relname, 'relation ' || r.ref[2]) END,
			r.rm, r.kind, count(*)::float8 / $3, sum(r.len)::float8 / $3
		FROM r LEFT JOIN pg_class c ON c.relfilenode = r.ref[2]::oid
		GROUP BY 1, 2, 3 ORDER BY 4 DESC, 5 DESC`, from.lsn, to.lsn, max(steps, 1))
	if err != nil {
		return "", fmt.Errorf("pg_walinspect: %w", err)
	}
	defer rows.Close()
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RELATION\tRESOURCE\tRECORD\tPER RUN\tBYTES PER RUN")
	var total, bytes float64
	for rows.Next() {
		var rel, rm, kind string
		var n, size float64
		if err := rows.Scan(&rel, &rm, &kind, &n, &size); err != nil {
			return "", err
		}
		total, bytes = total+n, bytes+size
		if n >= 0.05 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.0f\n", rel, rm, kind, n, size)
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	fmt.Fprintf(tw, "all\t\t\t%.2f\t%.0f\n", total, bytes)
	tw.Flush()
	return sb.String(), nil
}
