package slack_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
)

// stored counts what a delivery could have changed: jobs, operations,
// messages, and the bot's own tables.
func (e *env) stored() int {
	return e.count(`SELECT (SELECT count(*) FROM jobs WHERE kind LIKE 'slack.%') + (SELECT count(*) FROM operations)
		+ (SELECT count(*) FROM messages) + (SELECT count(*) FROM slack_threads) + (SELECT count(*) FROM slack_workspaces)
		+ (SELECT count(*) FROM slack_users) + (SELECT count(*) FROM slack_link_codes WHERE used_at IS NOT NULL)`)
}

// TestRefusedDeliveriesChangeNothing sends, to each endpoint, requests
// that would each do work if they were accepted, with a bad signature, a
// stale or future timestamp, or no signature: each answers 401 and leaves
// the database as it was.
func TestRefusedDeliveriesChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := e.linkCode()
	linkForm := e.commandForm("U0ADA", "C0DEV", "link "+code).Encode()
	deliveries := []struct{ path, contentType, body string }{
		{"/slack/commands", "application/x-www-form-urlencoded", linkForm},
		{"/slack/events", "application/json", string(eventEnvelope("Ev0REFUSED", e.mention("U0ADA", "C0DEV", "<@U0UFOBOT> fix it", "")))},
		{"/slack/interactivity", "application/x-www-form-urlencoded", url.Values{"payload": {`{"type":"block_actions","team":{"id":"T0UFOTEST"},"user":{"id":"U0ADA"},"actions":[{"action_id":"retry","value":"x","action_ts":"1.2"}]}`}}.Encode()},
	}
	before := e.stored()
	for _, d := range deliveries {
		now := time.Now()
		sign := func(at time.Time, secret string) http.Header {
			ts := strconv.FormatInt(at.Unix(), 10)
			return http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {"v0=" + hex.EncodeToString(slack.Sign(secret, ts, []byte(d.body)))}}
		}
		cases := map[string]http.Header{
			"wrong secret":          sign(now, "not the secret"),
			"stale (6 minutes old)": sign(now.Add(-6*time.Minute), secret),
			"from the future":       sign(now.Add(6*time.Minute), secret),
			"timestamp swapped":     {"X-Slack-Request-Timestamp": {strconv.FormatInt(now.Unix()-1, 10)}, "X-Slack-Signature": sign(now, secret)["X-Slack-Signature"]},
			"no signature":          {"X-Slack-Request-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "X-Slack-Signature": {""}},
			"no timestamp":          {"X-Slack-Request-Timestamp": {""}, "X-Slack-Signature": sign(now, secret)["X-Slack-Signature"]},
		}
		for name, h := range cases {
			req, _ := http.NewRequest("POST", e.web.URL+d.path, strings.NewReader(d.body))
			req.Header.Set("Content-Type", d.contentType)
			for k, v := range h {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Errorf("%s, %s: status %d, want 401", d.path, name, resp.StatusCode)
			}
		}
	}
	// The replay window: the same command, correctly signed but 6 minutes
	// old, is refused; signed now, it works (once: the code is spent).
	if status, _ := e.signed("/slack/commands", "application/x-www-form-urlencoded", []byte(linkForm), time.Now().Add(-6*time.Minute), nil); status != 401 {
		t.Fatalf("a 6-minute-old command: %d, want 401", status)
	}
	time.Sleep(300 * time.Millisecond) // any job would have been picked up
	if after := e.stored(); after != before {
		t.Fatalf("refused deliveries changed the database: %d rows, were %d", after, before)
	}
	if calls := e.fake.Calls(""); len(calls) != 0 {
		t.Fatalf("refused deliveries called Slack: %v", calls)
	}
	status, body := e.signed("/slack/commands", "application/x-www-form-urlencoded", []byte(linkForm), time.Now().Add(-4*time.Minute), nil)
	if status != 200 || !strings.Contains(string(body), "Linked this workspace") {
		t.Fatalf("a 4-minute-old command: %d %s, want it accepted", status, body)
	}
}

func TestURLVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	status, out := e.signed("/slack/events", "application/json", body, time.Now(), nil)
	if status != 200 || string(out) != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Fatalf("url_verification: %d %s", status, out)
	}
	if status, _ := e.signed("/slack/events", "application/json", body, time.Now().Add(-10*time.Minute), nil); status != 401 {
		t.Fatalf("stale url_verification: %d, want 401", status)
	}
}

// TestMalformedPayloadsChangeNothing sends verified deliveries that cannot
// be read: 400, and nothing stored.
func TestMalformedPayloadsChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	before := e.stored()
	form := func(drop string) string {
		f := e.commandForm("U0ADA", "C0DEV", "new fix it")
		f.Del(drop)
		return f.Encode()
	}
	cases := []struct{ name, path, contentType, body string }{
		{"command without team", "/slack/commands", "application/x-www-form-urlencoded", form("team_id")},
		{"command without user", "/slack/commands", "application/x-www-form-urlencoded", form("user_id")},
		{"command without channel", "/slack/commands", "application/x-www-form-urlencoded", form("channel_id")},
		{"command, bad form encoding", "/slack/commands", "application/x-www-form-urlencoded", "team_id=%zz&text=new+x"},
		{"event, not JSON", "/slack/events", "application/json", `{"type":"event_callback",`},
		{"event without event_id", "/slack/events", "application/json", `{"type":"event_callback","team_id":"T0UFOTEST","event":{"type":"app_mention","user":"U0ADA","text":"<@U0UFOBOT> x","channel":"C0DEV","ts":"1.1"}}`},
		{"event without inner event", "/slack/events", "application/json", `{"type":"event_callback","team_id":"T0UFOTEST","event_id":"Ev1"}`},
		{"event with a broken inner event", "/slack/events", "application/json", `{"type":"event_callback","team_id":"T0UFOTEST","event_id":"Ev2","event":{"type":"app_mention","user":7}}`},
		{"url_verification without challenge", "/slack/events", "application/json", `{"type":"url_verification"}`},
		{"interaction without payload", "/slack/interactivity", "application/x-www-form-urlencoded", "foo=bar"},
		{"interaction payload not JSON", "/slack/interactivity", "application/x-www-form-urlencoded", url.Values{"payload": {"{not json"}}.Encode()},
		{"interaction without user", "/slack/interactivity", "application/x-www-form-urlencoded", url.Values{"payload": {`{"type":"block_actions","team":{"id":"T0UFOTEST"},"actions":[{"action_id":"retry","value":"x","action_ts":"1.2"}]}`}}.Encode()},
		{"interaction without actions", "/slack/interactivity", "application/x-www-form-urlencoded", url.Values{"payload": {`{"type":"block_actions","team":{"id":"T0UFOTEST"},"user":{"id":"U0ADA"}}`}}.Encode()},
	}
	for _, c := range cases {
		if status, body := e.signed(c.path, c.contentType, []byte(c.body), time.Now(), nil); status != 400 {
			t.Errorf("%s: %d %s, want 400", c.name, status, body)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if after := e.stored(); after != before {
		t.Fatalf("malformed deliveries changed the database: %d rows, were %d", after, before)
	}
	// Events UFO does not subscribe to are acknowledged and ignored.
	other := eventEnvelope("Ev0OTHER", map[string]any{"type": "reaction_added", "user": "U0ADA", "reaction": "eyes", "event_ts": e.ts(),
		"item": map[string]any{"type": "message", "channel": "C0DEV", "ts": e.ts()}})
	if status := e.event(other, nil); status != 200 {
		t.Fatalf("reaction_added: %d, want 200", status)
	}
	if after := e.stored(); after != before {
		t.Fatalf("an unused event changed the database")
	}
}

// TestRetriedEventOnce delivers one mention three times, as Slack does when
// an answer is slow (X-Slack-Retry-Num), and once more concurrently: one
// operation, one message.
func TestRetriedEventOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	body := eventEnvelope("Ev0RETRIED", e.mention("U0ADA", "C0DEV", "<@U0UFOBOT> MSJ fix the flaky test", ""))
	done := make(chan int, 4)
	for i := range 4 {
		go func() {
			h := http.Header{}
			if i > 0 {
				h.Set("X-Slack-Retry-Num", strconv.Itoa(i))
				h.Set("X-Slack-Retry-Reason", "http_timeout")
			}
			done <- e.event(body, h)
		}()
	}
	for range 4 {
		if status := <-done; status != 200 {
			t.Fatalf("delivery: %d", status)
		}
	}
	e.waitFor("the operation", func() bool { return len(e.operations()) == 1 && e.operations()[0].SlackTS != "" })
	op := e.operations()[0]
	e.message(op.SlackChannel, op.SlackTS, "the status message", func(m slackfake.Message) bool { return strings.Contains(m.Text, "queued") })
	time.Sleep(300 * time.Millisecond)
	if n := len(e.operations()); n != 1 {
		t.Fatalf("%d operations, want 1", n)
	}
	if n := len(e.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d messages posted, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.event'`); n != 1 {
		t.Fatalf("%d event jobs, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind LIKE 'slack.%' AND payload::text LIKE '%xyzz0WbapA4vBCDEFasx0q6G%'`); n != 0 {
		t.Fatal("a job keeps the verification token")
	}
	if op.Title != "fix the flaky test" || op.Code != "MSJ-1" {
		t.Fatalf("operation = %s %q", op.Code, op.Title)
	}
}

// TestReplyLookupFailureIsRetried: when the database fails the lookup of
// the thread a reply is in, the delivery is answered 500, so Slack sends it
// again, and nothing is recorded; the redelivery is taken. A reply in a
// thread that is not an operation's is still answered 200 and dropped.
func TestReplyLookupFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the login")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	body := eventEnvelope("Ev0HICCUP", e.threadReply("U0ADA", op.SlackChannel, op.SlackTS, "use the staging db"))
	wait := e.failThreadLookup()
	status := e.event(body, nil)
	wait()
	if status != http.StatusInternalServerError {
		t.Fatalf("a reply whose thread could not be looked up: %d, want 500", status)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.event'`); n != 0 {
		t.Fatalf("%d event jobs recorded for a delivery answered 500", n)
	}
	if status := e.event(body, http.Header{"X-Slack-Retry-Num": {"1"}, "X-Slack-Retry-Reason": {"http_error"}}); status != 200 {
		t.Fatalf("the redelivery: %d, want 200", status)
	}
	e.waitFor("the reply", func() bool {
		msgs, _ := e.st.Messages(context.Background(), e.fleet, op.ID)
		return len(msgs) == 1 && msgs[0].Body == "use the staging db"
	})
	if status := e.event(eventEnvelope("Ev0ELSEWHERE", e.threadReply("U0ADA", op.SlackChannel, "1700000000.000001", "unrelated")), nil); status != 200 {
		t.Fatalf("a reply in another thread: %d, want 200", status)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.event'`); n != 1 {
		t.Fatalf("%d event jobs, want the redelivered reply's alone", n)
	}
}
