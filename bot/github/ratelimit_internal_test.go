package github

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRateLimitWait(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tr := &rateLimitTransport{now: func() time.Time { return now }}
	cases := []struct {
		status  int
		headers map[string]string
		wait    time.Duration
		limited bool
	}{
		{200, nil, 0, false},
		{403, nil, 0, false}, // a refusal, not a limit
		{404, map[string]string{"Retry-After": "5"}, 0, false},
		{403, map[string]string{"Retry-After": "5"}, 5 * time.Second, true},
		{429, map[string]string{"Retry-After": "0"}, 0, true},
		{429, nil, time.Minute, true},
		{403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(now.Unix()+30, 10)}, 31 * time.Second, true},
		{403, map[string]string{"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": strconv.FormatInt(now.Unix()-30, 10)}, time.Second, true},
		{403, map[string]string{"X-Ratelimit-Remaining": "12", "X-Ratelimit-Reset": strconv.FormatInt(now.Unix()+30, 10)}, 0, false},
	}
	for _, c := range cases {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{}}
		for k, v := range c.headers {
			resp.Header.Set(k, v)
		}
		wait, limited := tr.rateLimitWait(resp)
		if wait != c.wait || limited != c.limited {
			t.Errorf("%d %v: wait %v limited %v, want %v %v", c.status, c.headers, wait, limited, c.wait, c.limited)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRateLimitTransport: a limited request is sent again, body and all,
// after the wait; a wait longer than max goes back to the caller at once.
func TestRateLimitTransport(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var bodies []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		h := http.Header{}
		status := 201
		if calls.Add(1) == 1 {
			status = 403
			h.Set("Retry-After", r.Header.Get("X-Test-Wait"))
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	})
	tr := &rateLimitTransport{base: base, max: 2 * time.Second, log: slog.New(slog.DiscardHandler)}
	req, _ := http.NewRequest("POST", "http://github.test/repos/o/r/issues/1/comments", strings.NewReader(`{"body":"hi"}`))
	req.Header.Set("X-Test-Wait", "1")
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 201 || time.Since(start) < time.Second || len(bodies) != 2 || bodies[1] != `{"body":"hi"}` {
		t.Fatalf("after a 1 s limit: %v %v in %v, bodies %q", resp, err, time.Since(start), bodies)
	}
	calls.Store(0)
	bodies = nil
	req, _ = http.NewRequest("POST", "http://github.test/repos/o/r/issues/1/comments", strings.NewReader(`{"body":"hi"}`))
	req.Header.Set("X-Test-Wait", "3600")
	start = time.Now()
	resp, err = tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 403 || time.Since(start) > time.Second || len(bodies) != 1 {
		t.Fatalf("after an hour's limit: %v %v in %v, %d calls", resp, err, time.Since(start), len(bodies))
	}
}
