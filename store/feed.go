package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The change feed (table events) is ordered by id, and a reader paging
// with after=ID must never miss a row that becomes visible later with a
// smaller id. Ids are therefore not given at insert: a transaction writes
// its rows with a NULL id, and after it commits the stamper numbers every
// committed unnumbered row under one lock (StampEvents). Writers of the
// same fleet no longer wait for each other's commits; only the stamper's
// short transactions are serial, and each numbers whatever has piled up.

// txBuffer is what one Store.tx transaction leaves for its end: feed rows
// to insert before the commit and notifications to send after it.
type txBuffer struct {
	rows  []feedRow
	notes []note
	// sqlRows: a statement of the transaction wrote feed rows itself
	// (ufo_emit), so the stamper has rows to number after the commit.
	sqlRows bool
}

type feedRow struct {
	fleetID, kind string
	subjectID     *string
	data          any
}

type note struct{ channel, payload string }

// emit appends one row to the fleet's change feed as part of the caller's
// transaction (written at its end, numbered after its commit).
func emit(ctx context.Context, tx querier, fleetID, kind string, subjectID *string, data any) error {
	if data == nil {
		data = map[string]any{}
	}
	r := feedRow{fleetID, kind, subjectID, data}
	if t, ok := tx.(*pipeTx); ok {
		t.buf.rows = append(t.buf.rows, r)
		return nil
	}
	return writeFeed(ctx, tx, []feedRow{r})
}

// notifyAfter asks for a NOTIFY once the caller's transaction commits. It
// is sent right after the COMMIT, in a transaction that writes nothing, so
// PostgreSQL's global notification lock is not held across this one's WAL
// flush (see pipeTx.commit). Outside
// Store.tx it is part of the transaction, as a plain NOTIFY would be.
func notifyAfter(ctx context.Context, tx querier, channel, payload string) error {
	if t, ok := tx.(*pipeTx); ok {
		t.buf.notes = append(t.buf.notes, note{channel, payload})
		return nil
	}
	_, err := tx.Exec(ctx, q("Notify"), []string{channel}, []string{payload})
	return err
}

// emittedBySQL is called before leaving for later a statement that writes
// feed rows itself (ufo_emit). The rows emitted so far are queued before
// it, so the feed keeps the order in which things happened (a run's end
// before its operation's next status), and the stamper is asked to number
// the rows after the commit.
func emittedBySQL(tx querier) error {
	t, ok := tx.(*pipeTx)
	if !ok {
		return nil // emit wrote its rows already
	}
	t.buf.sqlRows = true
	feed, err := feedQuery(t.buf.rows)
	if err != nil || feed == nil {
		return err
	}
	t.tail = append(t.tail, feed)
	t.buf.rows = nil
	return nil
}

// writeFeed inserts feed rows in one statement.
func writeFeed(ctx context.Context, tx querier, rows []feedRow) error {
	qq, err := feedQuery(rows)
	if err != nil || qq == nil {
		return err
	}
	_, err = tx.Exec(ctx, qq.SQL, qq.Arguments...)
	return err
}

// feedQuery is the statement that inserts feed rows, or nil for none.
func feedQuery(rows []feedRow) (*pgx.QueuedQuery, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	type wireRow struct {
		Fleet   string  `json:"f"`
		Kind    string  `json:"k"`
		Subject *string `json:"s"`
		Data    any     `json:"d"`
	}
	out := make([]wireRow, len(rows))
	for i, r := range rows {
		out[i] = wireRow{r.fleetID, r.kind, r.subjectID, r.data}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("feed rows: %w", err)
	}
	return &pgx.QueuedQuery{SQL: q("EmitEvents"), Arguments: []any{string(b)}}, nil
}

// wakeups are the distinct notifications a transaction asked for, as the
// Notify statement takes them.
func (b *txBuffer) wakeups() (chans, payloads []string) {
	seen := map[note]bool{}
	for _, n := range b.notes {
		if !seen[n] {
			seen[n] = true
			chans, payloads = append(chans, n.channel), append(payloads, n.payload)
		}
	}
	return chans, payloads
}

// afterCommit has a committed transaction's feed rows numbered soon. (Its
// wake-ups went with the COMMIT.) The stamper's periodic pass makes up for
// a server that dies in between.
func (s *Store) afterCommit(b *txBuffer) {
	if len(b.rows) > 0 || b.sqlRows {
		s.stamp.poke()
	}
}

// stampBatch bounds the rows one stamping statement numbers.
const stampBatch = 5000

// stampEvery is how often the stamper looks for rows nobody asked it to
// number: those of a server that died between its commit and its stamp.
const stampEvery = time.Second

// stamper numbers committed feed rows, one pass at a time. Writers poke
// it and go on; a reader that finds rows of its fleet not yet numbered
// waits for the next pass, so one pass serves everything committed while
// the previous one ran.
type stamper struct {
	s    *Store
	kick chan struct{}
	done chan struct{}
	quit context.CancelFunc

	mu   sync.Mutex
	next chan struct{} // closed when the next pass to start has finished
}

func startStamper(s *Store) *stamper {
	ctx, cancel := context.WithCancel(context.Background())
	st := &stamper{s: s, kick: make(chan struct{}, 1), done: make(chan struct{}), quit: cancel,
		next: make(chan struct{})}
	go st.loop(ctx)
	return st
}

// wait returns once a pass that started after the call has finished (or
// the stamper stopped).
func (st *stamper) wait(ctx context.Context) {
	st.mu.Lock()
	ch := st.next
	st.mu.Unlock()
	st.poke()
	select {
	case <-ch:
	case <-st.done:
	case <-ctx.Done():
	}
}

// poke asks for a pass without waiting for it.
func (st *stamper) poke() {
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

func (st *stamper) stop() {
	st.quit()
	<-st.done
}

func (st *stamper) loop(ctx context.Context) {
	defer close(st.done)
	tick := time.NewTicker(stampEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.kick:
		case <-tick.C:
		}
		st.mu.Lock()
		ch := st.next
		st.next = make(chan struct{})
		st.mu.Unlock()
		err := st.s.Stamp(ctx)
		close(ch)
		if err != nil && ctx.Err() == nil {
			st.s.log.Warn("number change-feed rows", "err", err)
		}
	}
}

// Stamp numbers every committed, unnumbered change-feed row.
func (s *Store) Stamp(ctx context.Context) error {
	for {
		// One round trip: the lock, the numbering and the commit. The
		// lock is taken in a statement before StampEvents, so that
		// statement's snapshot already shows the previous pass's numbers.
		var n, fleets int
		b := &pgx.Batch{}
		b.Queue("begin")
		b.Queue(q("LockStamp"))
		b.Queue(q("StampEvents"), stampBatch).QueryRow(func(row pgx.Row) error { return row.Scan(&n, &fleets) })
		b.Queue("commit")
		err := s.pool.SendBatch(ctx, b).Close()
		if err != nil || n < stampBatch {
			return translate(err)
		}
	}
}
