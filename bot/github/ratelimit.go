package github

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// rateLimitTransport sits out GitHub's rate limits. An answer that says the
// caller is limited (429, or 403 with Retry-After or with
// x-ratelimit-remaining: 0) is retried after the time GitHub asks for:
// Retry-After seconds, or until x-ratelimit-reset, or a minute when it
// names none. A wait longer than max is not sat out: the answer goes back
// to the caller, whose job the worker retries later with backoff.
type rateLimitTransport struct {
	base  http.RoundTripper
	max   time.Duration
	log   *slog.Logger
	now   func() time.Time // for tests; nil means time.Now
	tries int              // retries per request (default 3)
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tries := t.tries
	if tries == 0 {
		tries = 3
	}
	for attempt := 0; ; attempt++ {
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		wait, limited := t.rateLimitWait(resp)
		if !limited || attempt >= tries || wait > t.max || (req.Body != nil && req.GetBody == nil) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.log.Warn("github: rate limited; waiting as GitHub asks", "method", req.Method, "path", req.URL.Path, "wait", wait)
		timer := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			timer.Stop()
			return nil, req.Context().Err()
		case <-timer.C:
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// rateLimitWait says whether resp is a rate-limit answer and how long
// GitHub asks to wait before trying again.
func (t *rateLimitTransport) rateLimitWait(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusForbidden {
		return 0, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
	}
	if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
			now := time.Now
			if t.now != nil {
				now = t.now
			}
			return max(time.Unix(reset, 0).Sub(now()), 0) + time.Second, true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return time.Minute, true
	}
	// A 403 that names no limit is a refusal, not a limit.
	return 0, false
}
