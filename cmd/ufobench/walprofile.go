package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
)

// The WAL a run writes is the database's side of its cost: every row
// version and every index entry is a record, and each record is work for
// the backend that writes it and for the WAL writer. These readings set a
// run's WAL beside that of the ceiling's UPDATE, and walProfile breaks a
// stretch of WAL down by relation, the database's counterpart of the CPU
// profile.

// walMark is a reading of the cluster's WAL counters.
type walMark struct {
	records, fpi, bytes int64
	lsn                 string
}

func (b *bench) markWAL(ctx context.Context) (walMark, error) {
	var m walMark
	err := b.st.Pool().QueryRow(ctx, `SELECT wal_records, wal_fpi, wal_bytes::bigint, pg_current_wal_insert_lsn()::text
		FROM pg_stat_wal`).Scan(&m.records, &m.fpi, &m.bytes, &m.lsn)
	return m, err
}

// walUse is the WAL written per step between two readings.
type walUse struct{ records, fpi, bytes float64 }

func (m walMark) since(m0 walMark, steps int) walUse {
	n := float64(max(steps, 1))
	return walUse{float64(m.records-m0.records) / n, float64(m.fpi-m0.fpi) / n, float64(m.bytes-m0.bytes) / n}
}

func (w walUse) String() string {
	return fmt.Sprintf("%.1f WAL records (%.2f full-page images), %.0f bytes", w.records, w.fpi, w.bytes)
}

// walProfile is the WAL between two readings, per step, by relation and
// kind of record, largest first: a table, or why there is none (the
// pg_walinspect extension, shipped with PostgreSQL, needs a superuser).
func (b *bench) walProfile(ctx context.Context, from, to walMark, steps int) (string, error) {
	if _, err := b.st.Pool().Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_walinspect"); err != nil {
		return "", fmt.Errorf("pg_walinspect: %w", err)
	}
	rows, err := b.st.Pool().Query(ctx, `
		WITH r AS (
			SELECT resource_manager AS rm, record_type AS kind, record_length AS len,
				(regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid AS node
			FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn))
		SELECT coalesce(c.relname, r.node::text, '(no relation)'), r.rm, r.kind,
			count(*)::float8 / $3, sum(r.len)::float8 / $3
		FROM r LEFT JOIN pg_class c ON c.relfilenode = r.node
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
