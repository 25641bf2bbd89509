package rover

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

func addN(q *eventQueue, typ string, n int) {
	for i := range n {
		q.add(typ, json.RawMessage(fmt.Sprintf(`{"text":"%s %d"}`, typ, i)), time.Now())
	}
}

func markerCount(t *testing.T, e wire.Event) int64 {
	t.Helper()
	var d struct{ Dropped int64 }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Dropped
}

func types(events []wire.Event) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		n[e.Type]++
	}
	return n
}

func TestQueueDropsOldestTextFirst(t *testing.T) {
	t.Parallel()
	q := newEventQueue(10)
	q.add(wire.EventToolUse, json.RawMessage(`{"name":"Write"}`), time.Now()) // seq 1
	addN(q, wire.EventText, 4)                                                // seq 2-5
	q.add(wire.EventError, json.RawMessage(`{"message":"boom"}`), time.Now()) // seq 6
	addN(q, wire.EventThinking, 10)                                           // seq 7-16: overflows by 6

	all := q.take(100, maxBatchBytes)
	if len(all) != 10 {
		t.Fatalf("queue holds %d events, want its limit 10", len(all))
	}
	// The four texts and the first three thinking events went: the marker
	// took the place (and seq) of the first text; one slot for it makes
	// seven drops for six events too many.
	want := []int64{1, 2, 6, 10, 11, 12, 13, 14, 15, 16}
	for i, e := range all {
		if e.Seq != want[i] {
			t.Fatalf("seqs = %v, want %v", seqs(all), want)
		}
	}
	if all[1].Type != wire.EventStatus || markerCount(t, all[1]) != 7 {
		t.Errorf("event seq 2 = %s %s, want the dropped marker counting 7", all[1].Type, all[1].Data)
	}
	if got := types(all); got[wire.EventToolUse] != 1 || got[wire.EventError] != 1 || got[wire.EventText] != 0 {
		t.Errorf("kept %v, want the tool_use and the error kept, every text dropped", got)
	}
	if q.droppedTotal() != 7 {
		t.Errorf("dropped total = %d, want 7", q.droppedTotal())
	}
}

func seqs(events []wire.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func TestQueueDropsOtherEventsOnlyWithoutText(t *testing.T) {
	t.Parallel()
	q := newEventQueue(5)
	addN(q, wire.EventUsage, 2)
	addN(q, wire.EventToolResult, 3)
	addN(q, wire.EventError, 2) // two too many: the tool results go, the first becoming the marker
	got := types(q.take(100, maxBatchBytes))
	if got[wire.EventUsage] != 2 || got[wire.EventError] != 2 || got[wire.EventToolResult] != 0 || got[wire.EventStatus] != 1 {
		t.Errorf("kept %v, want usage and errors kept over tool results, and one marker", got)
	}
}

func TestQueueNeverTouchesEventsInFlight(t *testing.T) {
	t.Parallel()
	q := newEventQueue(4)
	addN(q, wire.EventText, 4)
	inflight := q.take(2, maxBatchBytes) // seq 1, 2 are being sent
	addN(q, wire.EventText, 3)
	q.sent()
	if inflight[0].Seq != 1 || inflight[1].Seq != 2 {
		t.Fatalf("in flight = %v", seqs(inflight))
	}
	rest := q.take(100, maxBatchBytes)
	// Of seq 3-7, queued behind the flight (which does not count against
	// the limit of 4: it cannot be dropped), 3 and 4 were dropped: the
	// marker sits at the first one's seq.
	if len(rest) != 4 || rest[0].Seq != 3 || rest[0].Type != wire.EventStatus || markerCount(t, rest[0]) != 2 || rest[1].Seq != 5 || rest[3].Seq != 7 {
		t.Errorf("after the flight: %v %v, want marker at seq 3 counting 2, then seq 5-7", seqs(rest), types(rest))
	}
}

// While the server is away every retry takes the whole buffer in flight;
// what the pilot emits meanwhile is dropped by its own order, text first,
// and a usage event behind a flight of text is kept.
func TestQueueKeepsUsageBehindAFlightOfText(t *testing.T) {
	t.Parallel()
	q := newEventQueue(3)
	addN(q, wire.EventText, 3)
	q.take(100, maxBatchBytes) // all three in flight
	addN(q, wire.EventText, 5)
	q.add(wire.EventUsage, json.RawMessage(`{"input_tokens":1}`), time.Now())
	addN(q, wire.EventText, 5)
	q.unsent()
	all := q.take(100, maxBatchBytes)
	got := types(all)
	if got[wire.EventUsage] != 1 || len(all) != 6 {
		t.Fatalf("queue = %v %v, want the flight of 3, then 3 more with the usage kept", seqs(all), got)
	}
	var counted int64
	for _, e := range all {
		if e.Type == wire.EventStatus {
			counted += markerCount(t, e)
		}
	}
	if counted != 9 || q.droppedTotal() != 9 {
		t.Errorf("markers count %d, total %d; want the 9 texts dropped", counted, q.droppedTotal())
	}
}

// A marker that went in flight and came back unsent is left behind by a
// newer one; it is never dropped itself, so every drop stays counted.
func TestQueueNeverDropsAMarker(t *testing.T) {
	t.Parallel()
	q := newEventQueue(3)
	addN(q, wire.EventText, 4) // marker(1) counting 2, seq 3, 4
	q.take(100, maxBatchBytes)
	q.unsent()
	addN(q, wire.EventUsage, 3) // the texts go, then usage: the markers stay
	all := q.take(100, maxBatchBytes)
	var counted int64
	markers := 0
	for _, e := range all {
		if e.Type == wire.EventStatus {
			counted += markerCount(t, e)
			markers++
		}
	}
	if markers != 2 || counted != q.droppedTotal() {
		t.Errorf("queue %v %v: %d markers counting %d, dropped %d; want both markers, counting every drop",
			seqs(all), types(all), markers, counted, q.droppedTotal())
	}
}

func TestQueueMarkerSentStartsANewOne(t *testing.T) {
	t.Parallel()
	q := newEventQueue(3)
	addN(q, wire.EventText, 4) // marker(1) counts 2, then seq 3, 4
	first := q.take(100, maxBatchBytes)
	q.sent()
	if markerCount(t, first[0]) != 2 {
		t.Fatalf("first marker = %s", first[0].Data)
	}
	addN(q, wire.EventText, 5) // seq 5-9
	second := q.take(100, maxBatchBytes)
	if second[0].Type != wire.EventStatus || second[0].Seq != 5 || markerCount(t, second[0]) != 3 {
		t.Errorf("second batch = %v %s, want a new marker at seq 5 counting 3", seqs(second), second[0].Data)
	}
	if markerCount(t, first[0]) != 2 {
		t.Errorf("the sent marker changed to %s", first[0].Data)
	}
}

func TestQueueUnsentKeepsOrder(t *testing.T) {
	t.Parallel()
	q := newEventQueue(1000)
	addN(q, wire.EventText, 150)
	b := q.take(batchSize, maxBatchBytes)
	q.unsent()
	again := q.take(batchSize, maxBatchBytes)
	if len(b) != batchSize || again[0].Seq != 1 || again[batchSize-1].Seq != batchSize {
		t.Errorf("retried batch = %d..%d, want 1..%d", again[0].Seq, again[len(again)-1].Seq, batchSize)
	}
	select {
	case <-q.full:
	default:
		t.Error("a full batch did not signal the sender")
	}
}

func TestQueueBoundedInBytes(t *testing.T) {
	t.Parallel()
	q := newEventQueue(5000)
	q.limitBytes = 10 << 10
	big := json.RawMessage(`{"text":"` + strings.Repeat("x", 1000) + `"}`)
	for range 50 {
		q.add(wire.EventText, big, time.Now())
	}
	q.add(wire.EventToolUse, json.RawMessage(`{"name":"Write"}`), time.Now())
	all := q.take(5000, 1<<30)
	size := 0
	for _, e := range all {
		size += len(e.Data)
	}
	if size > 10<<10 || q.bytes != size {
		t.Errorf("queue holds %d bytes (counted %d), want at most %d", size, q.bytes, 10<<10)
	}
	if got := types(all); got[wire.EventToolUse] != 1 || got[wire.EventStatus] != 1 {
		t.Errorf("kept %v, want the tool_use and one marker", got)
	}
}

func TestTakeBoundsABatchInBytes(t *testing.T) {
	t.Parallel()
	q := newEventQueue(5000)
	big := json.RawMessage(`{"text":"` + strings.Repeat("x", 100<<10) + `"}`)
	for range 12 {
		q.add(wire.EventText, big, time.Now())
	}
	if b := q.take(batchSize, maxBatchBytes); len(b) != 5 {
		t.Errorf("a batch of 100 KiB events took %d, want 5 (about %d bytes)", len(b), maxBatchBytes)
	}
	q.unsent()
	if b := q.take(batchSize, 10); len(b) != 1 {
		t.Errorf("an event larger than the bound went in a batch of %d, want alone", len(b))
	}
}
