package rover

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing delays with full jitter: the n-th
// delay is uniform in [0, min(max, min·2ⁿ)].
type backoff struct {
	min, max time.Duration
	n        int
	// randN returns a uniform value in [0, n); rand.Int64N unless a test
	// pins it.
	randN func(n int64) int64
}

func newBackoff(minDelay, maxDelay time.Duration) *backoff {
	return &backoff{min: minDelay, max: maxDelay, randN: rand.Int64N}
}

// ceiling is the upper bound of the next delay.
func (b *backoff) ceiling() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

func (b *backoff) next() time.Duration {
	c := b.ceiling()
	b.n++
	return time.Duration(b.randN(int64(c) + 1))
}

func (b *backoff) reset() { b.n = 0 }

// wait sleeps the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	return sleep(ctx, b.next())
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
