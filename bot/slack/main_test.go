package slack_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

const secret = "ufo-test-signing-secret"

// env is a UFO server with the Slack bot mounted, its worker running, on a
// database of its own, talking to a fake Slack. The fleet has an admin
// (ada@example.com), an exec pilot cc, and a mission MSJ whose default
// pilot it is.
type env struct {
	t       *testing.T
	web     *webtest.Server
	st      *store.Store
	fake    *slackfake.Server
	bot     *slack.Bot
	admin   *webtest.Client
	fleet   string
	mission string
	pilot   string
	userID  string // ada's
	seq     atomic.Int64
}

func newEnv(t *testing.T, tweak ...func(*slack.Config)) *env {
	t.Helper()
	w := webtest.Open(t, webtest.Logger(t, slog.LevelWarn))
	st, log := w.Store, w.Log
	fake := slackfake.New(t)
	worker := bot.NewWorker(st, log)
	worker.Poll = 50 * time.Millisecond
	cfg := slack.Config{SigningSecret: secret, BotToken: fake.BotToken, APIURL: fake.APIURL(), PublicURL: "http://ufo.test", Wake: worker.Wake}
	for _, f := range tweak {
		f(&cfg)
	}
	b, err := slack.New(cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	b.Register(worker)
	worker.Handle(bot.KindNotify, bot.NotifyHandler(log, map[string]bot.Notifier{"slack": b}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { worker.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done }) // after the server stops, before the store closes
	w.Serve(func(c *web.Config) { c.Mounters = []web.Mounter{b} })
	e := &env{t: t, web: w, st: st, fake: fake, bot: b}
	e.admin = e.web.Client()
	var out struct {
		User  struct{ ID string } `json:"user"`
		Fleet struct{ ID string } `json:"fleet"`
	}
	e.admin.Call("POST", "/api/auth/signup", map[string]string{"email": "ada@example.com", "password": "P@ssw0rd!", "name": "Ada"}, 201, &out)
	e.fleet, e.userID = out.Fleet.ID, out.User.ID
	e.pilot = e.create("/api/pilots", `{"name":"cc","kind":"exec","settings":{"command":"true"}}`)
	e.mission = e.create("/api/missions", `{"name":"Mission","key":"MSJ","default_pilot_id":"`+e.pilot+`"}`)
	return e
}

// rival is another fleet on the same server and database, with a mission
// MSJ of its own and an operation MSJ-1 in it.
type rival struct {
	admin              *webtest.Client
	fleet, operationID string
}

func (e *env) rival() rival {
	e.t.Helper()
	r := rival{admin: e.web.Client()}
	var out struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	r.admin.Call("POST", "/api/auth/signup", map[string]string{"email": "eve@example.com", "password": "P@ssw0rd!", "name": "Eve"}, 201, &out)
	r.fleet = out.Fleet.ID
	var m, op struct{ ID string }
	r.admin.Call("POST", "/api/missions?fleet="+r.fleet, `{"name":"Theirs","key":"MSJ"}`, 201, &m)
	r.admin.Call("POST", "/api/operations?fleet="+r.fleet, `{"title":"their secret","mission_id":"`+m.ID+`"}`, 201, &op)
	r.operationID = op.ID
	return r
}

// create POSTs to a fleet-scoped API route as the admin and returns the id.
func (e *env) create(path, body string) string {
	var out struct{ ID string }
	e.admin.Call("POST", path+"?fleet="+e.fleet, body, 201, &out)
	return out.ID
}

// linkCode makes a Slack link code as the admin.
func (e *env) linkCode() string {
	var out struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	e.admin.Call("POST", "/api/slack/link-codes?fleet="+e.fleet, nil, 201, &out)
	if out.Code == "" || time.Until(out.ExpiresAt) > 15*time.Minute || time.Until(out.ExpiresAt) < 14*time.Minute {
		e.t.Fatalf("link code = %+v, want a code expiring in 15 minutes", out)
	}
	return out.Code
}

// link links the fake workspace to the fleet, typed by Slack user U0ADA
// (who becomes Ada).
func (e *env) link() {
	e.t.Helper()
	r := e.slash("U0ADA", "C0DEV", "link "+e.linkCode())
	if !strings.Contains(r.Text, "Linked this workspace") {
		e.t.Fatalf("link: %q", r.Text)
	}
}

// signed sends a request to a Slack endpoint signed as Slack signs it, with
// the timestamp at.
func (e *env) signed(path, contentType string, body []byte, at time.Time, header http.Header) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.web.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(slack.Sign(secret, ts, body)))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// commandForm is a slash command's form as Slack posts it.
func (e *env) commandForm(user, channel, text string) url.Values {
	n := e.seq.Add(1)
	return url.Values{
		"token": {"xyzz0WbapA4vBCDEFasx0q6G"}, "team_id": {slackfake.TeamID}, "team_domain": {"ufo-test"},
		"channel_id": {channel}, "channel_name": {"dev"}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"command": {"/ufo"}, "text": {text}, "api_app_id": {slackfake.AppID}, "is_enterprise_install": {"false"},
		"response_url": {e.fake.ResponseURL(fmt.Sprintf("cmd-%d", n))},
		"trigger_id":   {fmt.Sprintf("%d.47445629121.803a0bc887a14d10d2c447fce8b6703c", 398738663015+n)},
	}
}

type reply struct {
	ResponseType string            `json:"response_type"`
	Text         string            `json:"text"`
	Blocks       []json.RawMessage `json:"blocks"`
	// Answer is the response_url name of the command, for its later answers.
	Answer string `json:"-"`
}

// slash types /ufo text as user in channel and returns the immediate answer.
func (e *env) slash(user, channel, text string) reply {
	e.t.Helper()
	form := e.commandForm(user, channel, text)
	status, body := e.signed("/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), time.Now(), nil)
	if status != 200 {
		e.t.Fatalf("/ufo %s: status %d: %s", text, status, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil || r.ResponseType != "ephemeral" {
		e.t.Fatalf("/ufo %s: answer %s (%v), want an ephemeral message", text, body, err)
	}
	u, _ := url.Parse(form.Get("response_url"))
	r.Answer = u.Path[len("/response/"):]
	return r
}

// answer waits for the n-th later answer to a command (through its
// response_url) and returns its text.
func (e *env) answer(r reply, n int) string {
	e.t.Helper()
	e.fake.Wait(e.t, 10*time.Second, "an answer to a command", func() bool { return len(e.fake.Answers(r.Answer)) >= n })
	a := e.fake.Answers(r.Answer)[n-1]
	if a.Args.Get("response_type") != "ephemeral" {
		e.t.Fatalf("answer %v is not ephemeral", a.Args)
	}
	return a.Text()
}

// eventEnvelope wraps an inner event as the Events API delivers it.
func eventEnvelope(eventID string, inner map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "xyzz0WbapA4vBCDEFasx0q6G", "team_id": slackfake.TeamID, "api_app_id": slackfake.AppID,
		"event": inner, "type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(),
		"event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
		"authorizations": []map[string]any{{"enterprise_id": nil, "team_id": slackfake.TeamID, "user_id": slackfake.BotUserID,
			"is_bot": true, "is_enterprise_install": false}},
		"is_ext_shared_channel": false,
	})
	return b
}

// event delivers an Events API payload and returns the status.
func (e *env) event(body []byte, header http.Header) int {
	e.t.Helper()
	status, _ := e.signed("/slack/events", "application/json", body, time.Now(), header)
	return status
}

func (e *env) ts() string {
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), 500000+e.seq.Add(1))
}

// mention is an app_mention event.
func (e *env) mention(user, channel, text, threadTS string) map[string]any {
	ts := e.ts()
	ev := map[string]any{"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts,
		"client_msg_id": fmt.Sprintf("a7f0c1de-0000-4000-8000-%012d", e.seq.Add(1))}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	return ev
}

// threadReply is a message event for a reply in a thread.
func (e *env) threadReply(user, channel, threadTS, text string) map[string]any {
	ts := e.ts()
	return map[string]any{"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "thread_ts": threadTS,
		"parent_user_id": slackfake.BotUserID, "channel_type": "channel", "event_ts": ts,
		"client_msg_id": fmt.Sprintf("b7f0c1de-0000-4000-8000-%012d", e.seq.Add(1))}
}

// click presses a button of a status message, as the interactivity
// endpoint receives it (form-encoded, the JSON in one field named payload),
// and returns the status and the response URL name.
func (e *env) click(user string, msg slackfake.Message, actionID, value string) (int, string) {
	e.t.Helper()
	payload, name := e.clickPayload(user, msg, actionID, value)
	form := url.Values{"payload": {string(payload)}}
	status, _ := e.signed("/slack/interactivity", "application/x-www-form-urlencoded", []byte(form.Encode()), time.Now(), nil)
	return status, name
}

// clickPayload is the block_actions payload of a click on a button of msg,
// and the name of its response URL.
func (e *env) clickPayload(user string, msg slackfake.Message, actionID, value string) ([]byte, string) {
	n := e.seq.Add(1)
	name := fmt.Sprintf("act-%d", n)
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": slackfake.TeamID},
		"api_app_id": slackfake.AppID, "token": "xyzz0WbapA4vBCDEFasx0q6G",
		"container":  map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": msg.Channel, "is_ephemeral": false},
		"trigger_id": fmt.Sprintf("%d.47445629121.1d2c447fce8b6703c803a0bc887a14d1", 498738663015+n),
		"team":       map[string]any{"id": slackfake.TeamID, "domain": "ufo-test"}, "enterprise": nil, "is_enterprise_install": false,
		"channel":      map[string]any{"id": msg.Channel, "name": "dev"},
		"message":      map[string]any{"type": "message", "user": slackfake.BotUserID, "ts": msg.TS, "bot_id": slackfake.BotID, "text": msg.Text, "blocks": json.RawMessage(msg.Blocks)},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": e.fake.ResponseURL(name),
		"actions": []map[string]any{{"action_id": actionID, "block_id": "Xb1", "text": map[string]any{"type": "plain_text", "text": actionID, "emoji": true},
			"value": value, "type": "button", "action_ts": fmt.Sprintf("%d.%06d", time.Now().Unix(), n)}},
	})
	return payload, name
}

// operations returns the fleet's operations, newest first.
func (e *env) operations() []app.Operation {
	e.t.Helper()
	ops, err := e.st.Operations(context.Background(), e.fleet, store.OperationFilter{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return ops
}

func (e *env) runs(opID string) []app.Run {
	e.t.Helper()
	runs, err := e.st.Runs(context.Background(), e.fleet, store.RunFilter{OperationID: &opID, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return runs
}

// count counts rows with one SQL statement.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// status waits for the message to read as cond wants and returns it.
func (e *env) message(channel, ts, what string, cond func(m slackfake.Message) bool) slackfake.Message {
	e.t.Helper()
	var m slackfake.Message
	e.fake.Wait(e.t, 20*time.Second, what, func() bool {
		var ok bool
		m, ok = e.fake.Message(channel, ts)
		return ok && cond(m)
	})
	return m
}

// rover is a rover speaking the protocol over HTTP.
type rover struct {
	*webtest.Client
}

func (e *env) enroll() rover {
	e.t.Helper()
	var code struct{ Code string }
	e.admin.Call("POST", "/api/rovers/enrollment-codes?fleet="+e.fleet, `{"name":"box"}`, 201, &code)
	r := rover{e.web.Client()}
	var out wire.EnrollResponse
	r.Call("POST", "/api/rovers/enroll", wire.EnrollRequest{Code: code.Code, Profile: wire.Profile{OS: "linux", Arch: "amd64", Hostname: "box",
		Pilots: []wire.CLI{{Kind: "exec"}}}}, 201, &out)
	r.Token = out.Token
	return r
}

func (r rover) claim() wire.Claim {
	r.T.Helper()
	var c wire.Claim
	r.Call("POST", "/api/rover/claim?wait=5", "{}", 200, &c)
	return c
}

func (r rover) start(c wire.Claim) {
	r.T.Helper()
	r.Call("POST", "/api/rover/runs/"+c.RunID+"/start", wire.RunCall{ClaimToken: c.ClaimToken}, 200, nil)
}

func (r rover) events(c wire.Claim, evs ...wire.Event) wire.RunAck {
	r.T.Helper()
	var ack wire.RunAck
	r.Call("POST", "/api/rover/runs/"+c.RunID+"/events", wire.EventBatch{ClaimToken: c.ClaimToken, Events: evs}, 200, &ack)
	return ack
}

func (r rover) heartbeat(c wire.Claim) wire.RunAck {
	r.T.Helper()
	var ack wire.RunAck
	r.Call("POST", "/api/rover/runs/"+c.RunID+"/heartbeat", wire.RunCall{ClaimToken: c.ClaimToken}, 200, &ack)
	return ack
}

func (r rover) complete(c wire.Claim, done wire.Completion) {
	r.T.Helper()
	done.ClaimToken = c.ClaimToken
	r.Call("POST", "/api/rover/runs/"+c.RunID+"/complete", done, 200, nil)
}

func text(seq int64, s string) wire.Event {
	d, _ := json.Marshal(map[string]string{"text": s})
	return wire.Event{Seq: seq, Type: "text", Data: d, At: time.Now()}
}

// failThreadLookup makes the next lookup of a thread by its message fail as
// a database hiccup does: it locks slack_threads, waits for the lookup to
// queue behind the lock, cancels that statement (as statement_timeout or
// pg_cancel_backend would) and lets the table go. The returned func waits
// until it has.
func (e *env) failThreadLookup() (wait func()) {
	e.t.Helper()
	ctx := context.Background()
	tx, err := e.st.Pool().Begin(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE slack_threads IN ACCESS EXCLUSIVE MODE`); err != nil {
		tx.Rollback(ctx)
		e.t.Fatal(err)
	}
	failed := make(chan error, 1)
	go func() {
		defer tx.Rollback(ctx)
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var n int
			err := e.st.Pool().QueryRow(ctx, `SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
				WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock'
				  AND query LIKE '%FROM slack_threads WHERE fleet_id = $1 AND team_id = $2 AND channel = $3 AND ts = $4%'`).Scan(&n)
			if err != nil || n > 0 {
				failed <- err
				return
			}
		}
		failed <- errors.New("no lookup of a thread by its message came")
	}()
	return func() {
		e.t.Helper()
		if err := <-failed; err != nil {
			e.t.Fatalf("fail a thread lookup: %v", err)
		}
	}
}
