package web

import (
	"log/slog"
	"testing"
)

func woken(ws ...*RunWaiter) (n int, which []int) {
	for i, w := range ws {
		select {
		case <-w.C:
			n++
			which = append(which, i)
		default:
		}
	}
	return n, which
}

// A queued run wakes one claim per group of like waiters, not every idle
// rover of the fleet; a claim hands the wake-up on; a wake-up left unused
// when a waiter stops is not lost.
func TestHubWakesOneWaiterPerGroup(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	var same []*RunWaiter
	for range 5 {
		w := h.WaitRun("f1", []string{"exec", "claude"}, []string{"linux"})
		defer w.Stop()
		same = append(same, w)
	}
	gpu := h.WaitRun("f1", []string{"claude", "exec"}, []string{"gpu", "linux"})
	defer gpu.Stop()
	other := h.WaitRun("f2", []string{"exec"}, nil)
	defer other.Stop()

	h.wakeFleet("f1")
	if n, which := woken(same...); n != 1 || which[0] != 0 {
		t.Fatalf("one queued run woke %v of five like waiters, want only the first", which)
	}
	if n, _ := woken(gpu); n != 1 {
		t.Fatal("the waiter with other tags was not woken")
	}
	if n, _ := woken(other); n != 0 {
		t.Fatal("a waiter of another fleet was woken")
	}

	// Two runs queued at once wake two waiters.
	h.wakeFleet("f1")
	h.wakeFleet("f1")
	if n, which := woken(same...); n != 2 {
		t.Fatalf("two queued runs woke %v, want two waiters", which)
	}

	// The first claims: the next waiter is woken, never itself.
	same[0].Claimed()
	if n, which := woken(same...); n != 1 || which[0] != 1 {
		t.Fatalf("after a claim %v were woken, want the second waiter", which)
	}

	// A waiter that leaves with a wake-up pending passes it on.
	h.wakeFleet("f1")
	w0 := same[0]
	w0.Stop()
	same = same[1:]
	if n, which := woken(same...); n != 1 || which[0] != 0 {
		t.Fatalf("the wake-up of a waiter that left reached %v, want the next waiter", which)
	}
	if len(h.waiters["f1"]) != 2 || len(h.waiters["f1"][waitGroup([]string{"exec", "claude"}, []string{"linux"})]) != 4 {
		t.Fatalf("waiters after one left: %v", h.waiters["f1"])
	}
	w0.Stop() // again, as its deferred Stop will: nothing happens
	if n, _ := woken(same...); n != 0 {
		t.Fatal("a second Stop woke a waiter")
	}

	// A waiter that took a wake-up but stops before its claim finished
	// (its rover hung up) passes it on as well.
	h.wakeFleet("f1")
	if n, which := woken(same...); n != 1 || which[0] != 0 {
		t.Fatalf("a queued run woke %v, want the first waiter", which)
	}
	same[0].Woken = true
	same[0].Stop()
	same = same[1:]
	if n, which := woken(same...); n != 1 || which[0] != 0 {
		t.Fatalf("the wake-up taken by a waiter that left reached %v, want the next waiter", which)
	}

	// After a reconnect everyone is woken.
	h.wakeAll()
	if n, _ := woken(append(same, gpu, other)...); n != 5 {
		t.Fatalf("wakeAll woke %d of 5 waiters", n)
	}
}
