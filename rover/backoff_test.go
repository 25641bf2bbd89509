package rover

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	b := newBackoff(250*time.Millisecond, 30*time.Second)
	b.randN = func(n int64) int64 { return n - 1 } // always the ceiling
	want := []time.Duration{250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}
	for i, w := range want {
		if got := b.next(); got != w*time.Millisecond {
			t.Errorf("delay %d = %v, want the ceiling %v", i, got, w*time.Millisecond)
		}
	}
	b.reset()
	if got := b.next(); got != 250*time.Millisecond {
		t.Errorf("after reset: %v, want 250ms", got)
	}

	// Full jitter: uniform between 0 and the ceiling, never above.
	b = newBackoff(250*time.Millisecond, 30*time.Second)
	for range 200 {
		c := b.ceiling()
		if d := b.next(); d < 0 || d > c {
			t.Fatalf("delay %v outside [0, %v]", d, c)
		}
	}
	if c := b.ceiling(); c != 30*time.Second {
		t.Errorf("ceiling after many tries = %v, want the cap 30s", c)
	}
	b.randN = func(int64) int64 { return 0 }
	if d := b.next(); d != 0 {
		t.Errorf("jitter floor = %v, want 0", d)
	}
}
