package web

import (
	"log/slog"
	"testing"
	"time"
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

	h.wakeFleet("f1", "r1")
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
	h.wakeFleet("f1", "r2")
	h.wakeFleet("f1", "r3")
	if n, which := woken(same...); n != 2 {
		t.Fatalf("two queued runs woke %v, want two waiters", which)
	}

	// The first claims: the next waiter is woken, never itself.
	claim(same[0], "r1")
	if n, which := woken(same...); n != 1 || which[0] != 1 {
		t.Fatalf("after a claim %v were woken, want the second waiter", which)
	}

	// A waiter that leaves with a wake-up pending passes it on.
	h.wakeFleet("f1", "r4")
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
	h.wakeFleet("f1", "r5")
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

// A claim that found nothing stands for its group until a run is queued
// in the fleet, the hub reconnects, or emptyFor passes; a claim that
// started before a run was queued does not count.
func TestHubRemembersAnEmptyQueue(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	w := h.WaitRun("f1", []string{"exec"}, []string{"linux"})
	defer w.Stop()
	gpu := h.WaitRun("f1", []string{"exec"}, []string{"gpu"})
	defer gpu.Stop()
	other := h.WaitRun("f2", []string{"exec"}, []string{"linux"})
	defer other.Stop()

	queueOpen(t, w, "a queue nobody looked at is known empty")
	claim(w, "")
	queueCovered(t, w, "a claim that found nothing was not remembered")
	queueOpen(t, gpu, "another group's queue is known empty")
	queueOpen(t, other, "another fleet's queue is known empty")

	// A run queued in the fleet: every group must look again.
	h.wakeFleet("f1", "r6")
	queueOpen(t, w, "still known empty after a run was queued")

	// A claim that started before a run was queued found nothing, but
	// says nothing of the queue now.
	seen := w.ClaimStarted()
	h.wakeFleet("f1", "r7")
	w.ClaimFinished(seen, true, "")
	queueOpen(t, w, "a claim older than the last queued run counted")

	// A reconnect may have missed notifications of any fleet.
	claim(other, "")
	h.wakeAll()
	queueOpen(t, other, "still known empty after the hub reconnected")

	// And it lasts emptyFor at most.
	claim(w, "")
	empty, until := w.QueueEmpty()
	if !empty || time.Until(until) > emptyFor || time.Until(until) < emptyFor/2 {
		t.Fatalf("known empty %v until %v from now, want true until about %v", empty, time.Until(until), emptyFor)
	}
	h.mu.Lock()
	h.queues["f1"][w.group].empty.at = time.Now().Add(-emptyFor)
	h.mu.Unlock()
	queueOpen(t, w, "an empty claim older than emptyFor still counted")
}

// A run queued and then claimed by the group itself leaves the group's
// queue known empty: the rover back from its run waits without asking the
// database. A run claimed by another group takes it off this group's list
// too; a run not yet claimed keeps the queue open.
func TestHubCountsItsGroupsClaims(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	w := h.WaitRun("f1", []string{"exec"}, []string{"linux"})
	defer w.Stop()
	next := h.WaitRun("f1", []string{"exec"}, []string{"linux"})
	defer next.Stop()
	gpu := h.WaitRun("f1", []string{"exec"}, []string{"gpu"})
	defer gpu.Stop()

	claim(w, "")
	claim(gpu, "")
	h.wakeFleet("f1", "r1")
	queueOpen(t, w, "known empty with a run queued and not claimed")
	drain(w.C)
	drain(next.C)
	claim(gpu, "r0") // another group claimed a run this one never heard of
	queueOpen(t, w, "known empty after another group claimed a different run")
	claim(gpu, "r1") // and now the one queued
	queueCovered(t, w, "not known empty after the one run queued was claimed by another group")
	drain(w.C)
	drain(next.C)

	h.wakeFleet("f1", "r2")
	drain(next.C)
	drain(w.C)
	claim(w, "r2")
	queueCovered(t, w, "not known empty after the group claimed the one run queued")
	select {
	case <-next.C:
		t.Fatal("a claim handed the wake-up on although the group's queue is known empty")
	default:
	}

	// Two runs queued, one claimed: the other may still wait.
	h.wakeFleet("f1", "r3")
	h.wakeFleet("f1", "r4")
	drain(next.C)
	drain(w.C)
	claim(w, "r3")
	queueOpen(t, w, "known empty with a second run queued")
	select {
	case <-next.C:
	default:
		t.Fatal("a claim did not hand the wake-up on while another run may wait")
	}
}

// Claims under way cover as many queued runs: a rover that comes to claim,
// or a notification, asks no more claims than there are runs. When one
// ends without such a run, the next waiter is woken.
func TestHubClaimsUnderWayCoverQueuedRuns(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	a := h.WaitRun("f1", []string{"exec"}, nil)
	defer a.Stop()
	b := h.WaitRun("f1", []string{"exec"}, nil)
	defer b.Stop()
	c := h.WaitRun("f1", []string{"exec"}, nil)
	defer c.Stop()

	claim(a, "")
	h.wakeFleet("f1", "r1")
	if n, which := woken(a, b, c); n != 1 || which[0] != 0 {
		t.Fatalf("one queued run woke %v, want the first waiter", which)
	}
	seenA := a.ClaimStarted()
	queueCovered(t, b, "a second claim would go to the database for the one run the first is claiming")
	h.wakeFleet("f1", "r2")
	if n, which := woken(a, b, c); n != 1 || which[0] != 1 {
		t.Fatalf("a second queued run woke %v, want the second waiter", which)
	}
	seenB := b.ClaimStarted()
	queueCovered(t, c, "a third claim would go to the database for two runs two claims are claiming")

	// a gets a run queued before its group's last empty claim (one that
	// claim skipped, locked): r1 and r2 are still waiting for b alone.
	a.ClaimFinished(seenA, true, "r0")
	if n, which := woken(a, b, c); n != 1 || which[0] != 2 {
		t.Fatalf("a claim that got neither queued run woke %v, want the third waiter", which)
	}
	seenC := c.ClaimStarted()
	b.ClaimFinished(seenB, true, "r1")
	c.ClaimFinished(seenC, true, "r2")
	queueCovered(t, a, "not known empty once both queued runs were claimed")
	if n, which := woken(a, b, c); n != 0 {
		t.Fatalf("claims that left nothing queued woke %v", which)
	}

	// A claim that fails may leave its locked run queued: the queue is
	// unknown, and the next waiter asks.
	h.wakeFleet("f1", "r3")
	drain(a.C)
	seenA = a.ClaimStarted()
	a.ClaimFinished(seenA, false, "")
	queueOpen(t, b, "known empty after a claim failed")
	if n, which := woken(a, b, c); n != 1 || which[0] != 1 {
		t.Fatalf("a failed claim woke %v, want the next waiter", which)
	}

	// A notification that names no run (a server of an earlier version)
	// makes the queue unknown too.
	claim(b, "")
	h.wakeFleet("f1", "")
	queueOpen(t, c, "known empty after a notification that named no run")
}

// A run claimed before its notification arrived (the claim saw the commit
// first) is not counted again when the notification comes.
func TestHubRunClaimedBeforeItsNotification(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	a := h.WaitRun("f1", []string{"exec"}, nil)
	defer a.Stop()
	b := h.WaitRun("f1", []string{"exec"}, nil)
	defer b.Stop()

	claim(a, "")
	claim(a, "r1")
	h.wakeFleet("f1", "r1")
	queueCovered(t, b, "the notification of a run claimed already opened the queue")
	if n, which := woken(a, b); n != 0 {
		t.Fatalf("the notification of a run claimed already woke %v", which)
	}
	// Its next notification (the run was queued again) counts.
	h.wakeFleet("f1", "r1")
	queueOpen(t, b, "a run queued again was not counted")

	// A claim remembered longer than emptyFor does not hide the run's
	// later notification either.
	claim(a, "")
	claim(a, "r2")
	h.mu.Lock()
	h.early["f1"]["r2"] = time.Now().Add(-emptyFor)
	h.mu.Unlock()
	claim(a, "")
	h.wakeFleet("f1", "r2")
	queueOpen(t, b, "a stale early claim hid the run's notification")
}

// A claim that found nothing while another claim of its group was under
// way skipped the run that one had locked: that run was queued before it
// started, so its claim must not count for a run queued after. (It did,
// and a run queued while every rover was busy then waited, unclaimed, for
// a long poll to end.)
func TestHubEmptyClaimBesideAnotherClaim(t *testing.T) {
	h := NewHub("", nil, slog.New(slog.DiscardHandler))
	a := h.WaitRun("f1", []string{"exec"}, nil)
	defer a.Stop()
	b := h.WaitRun("f1", []string{"exec"}, nil)
	defer b.Stop()

	h.wakeFleet("f1", "r1") // run 1 is queued
	seenB := b.ClaimStarted()
	seenA := a.ClaimStarted()
	a.ClaimFinished(seenA, true, "")   // skipped run 1, locked by b's claim
	b.ClaimFinished(seenB, true, "r1") // b got run 1
	queueCovered(t, a, "not known empty after the one run queued was claimed")
	a.Stop()
	b.Stop()
	h.wakeFleet("f1", "r2") // run 2 is queued while no rover waits
	c := h.WaitRun("f1", []string{"exec"}, nil)
	defer c.Stop()
	queueOpen(t, c, "a run queued after the empty claim is hidden by a claim of a run queued before it")

	// Nor does a claim under way when the empty one ended: it may have
	// locked a run queued before, which the empty claim skipped.
	h.wakeFleet("f1", "r3")
	seenC := c.ClaimStarted() // locks run 2
	d := h.WaitRun("f1", []string{"exec"}, nil)
	defer d.Stop()
	claim(d, "")            // skipped run 2; takes 2 and 3 off its list
	h.wakeFleet("f1", "r4") // run 4 is queued
	c.ClaimFinished(seenC, true, "r2")
	queueOpen(t, d, "a claim under way when the empty claim ended counted for a run queued after")
	claim(d, "r4")
	queueCovered(t, d, "not known empty once the run queued since was claimed")
}

// queueCovered fails with msg unless w's group would wait without asking
// the database.
func queueCovered(t *testing.T, w *RunWaiter, msg string) {
	t.Helper()
	if empty, _ := w.QueueEmpty(); !empty {
		t.Fatal(msg)
	}
}

// queueOpen fails with msg unless w's group would ask the database.
func queueOpen(t *testing.T, w *RunWaiter, msg string) {
	t.Helper()
	if empty, _ := w.QueueEmpty(); empty {
		t.Fatal(msg)
	}
}

// claim records a claim of w's group that got run, or nothing ("").
func claim(w *RunWaiter, run string) {
	w.ClaimFinished(w.ClaimStarted(), true, run)
}

// drain empties a waiter's wake-up channel.
func drain(c <-chan struct{}) {
	select {
	case <-c:
	default:
	}
}
