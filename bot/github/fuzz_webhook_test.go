package github_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot/github"
)

// FuzzWebhookRouting signs and posts arbitrary deliveries (any event name,
// any body) to the webhook of a server whose App talks to the fake GitHub
// and whose worker processes them. The webhook must answer without a 5xx
// and never refuse a good signature; the delivery must be processed
// without a handler panic (the worker turns one into a failed job). The
// seeds in testdata/fuzz are GitHub's recorded payloads of the events UFO
// routes, plus malformed ones.
func FuzzWebhookRouting(f *testing.F) {
	// The env logs through its TB from background goroutines, which a
	// fuzz target forbids for f: its logs are dropped instead.
	e := newEnv(quietTB{f})
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		event = strings.Map(func(r rune) rune {
			if r < 0x20 || r > 0x7e {
				return -1 // not a header value's character
			}
			return r
		}, event)
		s := strings.ReplaceAll(string(body), "https://api.github.com/", e.gh.API.URL+"/")
		raw := []byte(strings.ReplaceAll(s, "https://github.com/", e.gh.Web.URL+"/"))
		id := fmt.Sprintf("fuzz-%d", n.Add(1))
		req, err := http.NewRequest("POST", e.web.URL+"/github/webhook", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", sign(raw))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted:
		case resp.StatusCode == http.StatusOK && event == "ping":
			return
		case resp.StatusCode == http.StatusBadRequest && strings.TrimSpace(event) == "":
			return
		case resp.StatusCode == http.StatusBadRequest && (bytes.IndexByte(raw, 0) >= 0 || bytes.Contains(raw, []byte(`\u0000`))):
			// A NUL cannot be stored (jsonb refuses it): a clear 400, and
			// nothing recorded.
			if _, err := e.st.FindJob(context.Background(), github.KindDelivery, id); err == nil {
				t.Fatalf("delivery %q with a NUL answered 400 but was recorded", event)
			}
			return
		default:
			t.Fatalf("delivery %q of %d bytes: %d %s", event, len(raw), resp.StatusCode, answer)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			j, err := e.st.FindJob(context.Background(), github.KindDelivery, id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(j.LastError, "panic") {
				t.Fatalf("delivery %q: %s", event, j.LastError)
			}
			if j.Status != "pending" || j.LastError != "" {
				return // processed, or failed and scheduled again
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery %q not processed within 15 s", event)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// quietTB drops logs; everything else goes to the TB it wraps.
type quietTB struct{ testing.TB }

func (quietTB) Log(...any)          {}
func (quietTB) Logf(string, ...any) {}
