package rover

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// batchSize is the most events sent in one call; a full batch goes at once
// instead of waiting for the next flush.
const batchSize = 100

// dropOrder is which events go first when the buffer is full: the chatter
// before the record of what the pilot did, and that before its errors and
// usage.
var dropOrder = [][]string{
	{wire.EventText, wire.EventThinking},
	{wire.EventToolResult, wire.EventToolUse},
	{wire.EventStatus},
	{wire.EventUsage, wire.EventError},
}

// maxBufferBytes bounds the event data a run holds, whatever the count.
const maxBufferBytes = 32 << 20

// eventQueue holds a run's events from the pilot until the server has them.
// It is bounded in count and in bytes: when full it drops the oldest unsent events in dropOrder
// and counts them in one status event {"dropped":N}, which takes the place
// (and the sequence number) of the first event it stands for. The count
// bounds the events not in flight: the batch being sent cannot be dropped,
// and counting it would leave, while the server is away and every retry
// takes the whole buffer, nothing to drop but the newest event, usage or
// error as it may be. A marker is never dropped, so no count is lost. The
// run's completion is not an event and never passes through here.
type eventQueue struct {
	mu         sync.Mutex
	limit      int
	limitBytes int
	bytes      int // event data in buf
	seq        int64
	buf        []wire.Event
	// buf[:inflight] is being sent and must stay as it is.
	inflight int
	// marker is the index in buf of the unsent dropped marker (-1: none)
	// and markerN the count it carries.
	marker  int
	markerN int64
	dropped int64
	// full is signalled when a batch is ready.
	full chan struct{}
}

func newEventQueue(limit int) *eventQueue {
	return &eventQueue{limit: max(limit, 2), limitBytes: maxBufferBytes, marker: -1, full: make(chan struct{}, 1)}
}

// add appends an event with the next sequence number.
func (q *eventQueue) add(typ string, data json.RawMessage, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	q.buf = append(q.buf, wire.Event{Seq: q.seq, Type: typ, Data: data, At: at})
	q.bytes += len(data)
	for (len(q.buf)-q.inflight > q.limit || q.bytes > q.limitBytes) && q.dropOne() {
	}
	if len(q.buf)-q.inflight >= batchSize {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
}

// dropOne drops the first victim in dropOrder; false when every event left
// is in flight or a marker.
func (q *eventQueue) dropOne() bool {
	i := q.victim()
	if i < 0 {
		return false
	}
	q.dropped++
	q.bytes -= len(q.buf[i].Data)
	if q.marker < 0 {
		v := q.buf[i]
		q.buf[i] = wire.Event{Seq: v.Seq, Type: wire.EventStatus, At: v.At}
		q.marker, q.markerN = i, 0
	} else {
		q.buf = slices.Delete(q.buf, i, i+1)
		if i < q.marker {
			q.marker--
		}
	}
	q.markerN++
	q.bytes -= len(q.buf[q.marker].Data)
	q.buf[q.marker].Data = droppedData(q.markerN)
	q.bytes += len(q.buf[q.marker].Data)
	return true
}

func (q *eventQueue) victim() int {
	for _, types := range dropOrder {
		for i := q.inflight; i < len(q.buf); i++ {
			if i != q.marker && slices.Contains(types, q.buf[i].Type) && !isMarker(q.buf[i]) {
				return i
			}
		}
	}
	return -1
}

// isMarker reports whether e counts dropped events: the current marker, or
// one that went in flight, came back unsent and was left behind by a newer.
func isMarker(e wire.Event) bool {
	return e.Type == wire.EventStatus && bytes.HasPrefix(e.Data, []byte(`{"dropped":`))
}

func droppedData(n int64) json.RawMessage {
	b, _ := json.Marshal(map[string]int64{"dropped": n})
	return b
}

// take marks the first unsent events as in flight, at most n of them and
// about maxBytes (one at least), and returns a copy. Call sent or unsent
// once the call is over.
func (q *eventQueue) take(n, maxBytes int) []wire.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	size := 0
	q.inflight = 0
	for _, e := range q.buf[:min(n, len(q.buf))] {
		size += len(e.Data) + eventOverhead
		if q.inflight > 0 && size > maxBytes {
			break
		}
		q.inflight++
	}
	if q.marker >= 0 && q.marker < q.inflight {
		q.marker = -1 // on its way: later drops start a new marker
	}
	return slices.Clone(q.buf[:q.inflight])
}

// sent forgets the events in flight: the server has them.
func (q *eventQueue) sent() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.buf[:q.inflight] {
		q.bytes -= len(e.Data)
	}
	q.buf = slices.Delete(q.buf, 0, q.inflight)
	if q.marker >= 0 {
		q.marker -= q.inflight
	}
	q.inflight = 0
}

// unsent puts the events in flight back: the call failed.
func (q *eventQueue) unsent() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = 0
}

func (q *eventQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

func (q *eventQueue) droppedTotal() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
