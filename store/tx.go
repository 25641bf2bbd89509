package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// querier is what store's statements run on: a Store.tx transaction, or
// any pgx.Tx.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// pipeTx is one Store.tx transaction on one pooled connection. It spends
// two round trips fewer than pgx.BeginFunc: BEGIN is sent with the first
// statement, and the transaction's feed rows are sent with its COMMIT.
// Most of UFO's transactions are three to six statements long, so this is
// a third of their round trips.
type pipeTx struct {
	conn  *pgxpool.Conn
	log   *slog.Logger
	begun bool
	buf   txBuffer
	tail  []*pgx.QueuedQuery // sent with the COMMIT, before the feed rows left in buf
}

// later runs qq, a statement whose answer the transaction need not wait
// for. In a Store.tx transaction it is sent with the COMMIT, and its error
// fails the commit. Its callback (QueuedQuery.Exec, Query or QueryRow, set
// before the call) runs as the answer comes back, when the COMMIT is
// already on its way: an error the callback returns is Store.tx's error,
// but the transaction stays committed. So a callback only reads what the
// caller returns after the commit; a read whose failure must undo the
// transaction is sent before the commit. Outside Store.tx, qq runs at once.
func later(ctx context.Context, tx querier, qq *pgx.QueuedQuery) error {
	if t, ok := tx.(*pipeTx); ok {
		t.tail = append(t.tail, qq)
		return nil
	}
	return tx.SendBatch(ctx, &pgx.Batch{QueuedQueries: []*pgx.QueuedQuery{qq}}).Close()
}

// stmt is a statement for later.
func stmt(sql string, args ...any) *pgx.QueuedQuery {
	return &pgx.QueuedQuery{SQL: sql, Arguments: args}
}

// first sends b with BEGIN before it, when the transaction has not begun.
func (t *pipeTx) first(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.begun {
		return t.conn.SendBatch(ctx, b)
	}
	t.begun = true
	b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: "begin"}}, b.QueuedQueries...)
	br := t.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return failedBatch{err}
	}
	return br
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.first(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.first(ctx, b)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return rows, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := t.Query(ctx, sql, args...)
	return &firstRow{rows: rows, err: err}
}

func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.first(ctx, b)
}

// commit sends the statements left for later, the feed rows, the COMMIT
// and the wake-ups asked for, in one round trip. It reports whether the
// transaction committed: it may have, with an error, when a callback of a
// statement left for later failed (see later).
//
// The wake-ups (notifyAfter) follow the COMMIT as a statement of their own,
// an implicit transaction that writes nothing: PostgreSQL skips them when
// a statement of this round trip or the COMMIT fails (after an error it
// skips the rest of the round trip), and holds its global notification
// lock for an instant, not across this transaction's WAL flush. (A
// transaction that failed earlier, whose error fn did not return, ends
// with a COMMIT that answers ROLLBACK without an error: its wake-ups are
// sent all the same, and only cost the woken a claim that finds nothing.) A failed NOTIFY cannot undo the
// commit; it is logged, and a rover's next poll makes up for it.
func (t *pipeTx) commit(ctx context.Context) (committed bool, err error) {
	if !t.begun && len(t.tail) == 0 && len(t.buf.rows) == 0 && len(t.buf.notes) == 0 {
		return true, nil // nothing was said to the database
	}
	b := &pgx.Batch{}
	// pgx stops reading a batch's answers at a callback's error, but the
	// server carries out the COMMIT all the same: callbacks record their
	// error and let the batch go on, so the COMMIT's answer is read.
	var callbackErr error
	for _, qq := range t.tail {
		if fn := qq.Fn; fn != nil {
			qq.Fn = func(br pgx.BatchResults) error {
				if err := fn(br); err != nil && callbackErr == nil {
					callbackErr = err
				}
				return nil
			}
		}
		b.QueuedQueries = append(b.QueuedQueries, qq)
	}
	feed, err := feedQuery(t.buf.rows)
	if err != nil {
		return false, err
	}
	if feed != nil {
		b.QueuedQueries = append(b.QueuedQueries, feed)
	}
	var tag pgconn.CommandTag
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	if chans, payloads := t.buf.wakeups(); len(chans) > 0 {
		b.Queue(q("Notify"), chans, payloads)
	}
	err = t.first(ctx, b).Close()
	if tag.String() == "COMMIT" {
		if err != nil && callbackErr == nil && t.log != nil {
			t.log.Warn("notify after commit", "err", err)
		}
		return true, callbackErr
	}
	// Not committed. A statement's own error reaches its callback first,
	// so the callback's error is the cause when there is one.
	switch {
	case callbackErr != nil:
		err = callbackErr
	case err == nil:
		err = pgx.ErrTxCommitRollback
	}
	return false, err
}

// rollback ends a transaction that failed. A connection whose rollback
// failed is left in a transaction, and the pool destroys such a
// connection when it is released.
func (t *pipeTx) rollback(ctx context.Context) {
	if !t.begun {
		return
	}
	// Also when the caller hung up, but never for longer than
	// rollbackTimeout: a connection left in a transaction is destroyed on
	// release anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	t.conn.Exec(ctx, "rollback")
}

// rollbackTimeout bounds a failed transaction's ROLLBACK.
const rollbackTimeout = 5 * time.Second

// failedBatch answers every result of a batch whose BEGIN failed with
// that error.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return &firstRow{err: f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

// batchRows are the rows of a statement sent with BEGIN; closing them
// closes the batch.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

// Next closes the batch after the last row, as pgx closes rows that were
// read to their end.
func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// firstRow is pgx.Row over rows: the first row, or pgx.ErrNoRows.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		r.rows.Close()
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

var (
	_ querier = (*pipeTx)(nil)
	_ querier = pgx.Tx(nil)
)
