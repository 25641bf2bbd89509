package slack_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
	roverrt "github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/store"
)

// updates returns the chat.update calls for one message.
func (e *env) updates(channel, ts string) []slackfake.Call {
	var out []slackfake.Call
	for _, c := range e.fake.Calls("chat.update") {
		if c.Args.Get("channel") == channel && c.Args.Get("ts") == ts {
			out = append(out, c)
		}
	}
	return out
}

// checkSpacing fails when two edits of a message came closer than gap.
func checkSpacing(t *testing.T, calls []slackfake.Call, gap time.Duration) {
	t.Helper()
	for i := 1; i < len(calls); i++ {
		if d := calls[i].At.Sub(calls[i-1].At); d < gap-20*time.Millisecond {
			t.Fatalf("edits %d and %d of one message came %s apart, want at least %s", i, i+1, d, gap)
		}
	}
}

// TestOperationThreadLifecycle is the end-to-end story: /ufo new
// answers at once; an operation with a queued run exists; one message is
// posted and then edited in place as a rover, speaking the protocol over
// HTTP, claims, runs and completes it, ending in "succeeded" with the diff
// stats, never two edits within 2 s; a reply in the thread becomes a
// conversation message and a follow-up run; the Cancel button cancels it
// while it runs.
func TestOperationThreadLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	ctx := context.Background()

	start := time.Now()
	r := e.slash("U0ADA", "C0DEV", "new MSJ fix the flaky test --pilot cc")
	if !strings.Contains(r.Text, "Starting *fix the flaky test* in MSJ for pilot *cc*") || time.Since(start) > 3*time.Second {
		t.Fatalf("acknowledgement %q after %s", r.Text, time.Since(start))
	}
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	if op.Code != "MSJ-1" || op.Title != "fix the flaky test" || op.SlackChannel != "C0DEV" || op.CreatedBy == nil || *op.CreatedBy != e.userID {
		t.Fatalf("operation = %+v (created by %v), want MSJ-1 by Ada in C0DEV", op, op.CreatedBy)
	}
	if runs := e.runs(op.ID); len(runs) != 1 || runs[0].Status != app.RunQueued || runs[0].PilotID == nil || *runs[0].PilotID != e.pilot {
		t.Fatalf("runs = %+v, want one queued run for cc", runs)
	}
	ch, ts := op.SlackChannel, op.SlackTS
	e.message(ch, ts, "the queued status", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "MSJ-1 fix the flaky test: queued") && strings.Contains(m.Blocks, `"action_id":"cancel"`)
	})

	rv := e.enroll()
	cl := rv.claim()
	if cl.Operation.Code != "MSJ-1" {
		t.Fatalf("claimed %+v", cl.Operation)
	}
	rv.start(cl)
	rv.events(cl, text(1, "Reading the test\nand more"))
	e.message(ch, ts, "the running status with progress", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "running") && strings.Contains(m.Blocks, "Reading the test") &&
			strings.Contains(m.Blocks, "pilot *cc* on rover *box*")
	})
	rv.events(cl, wire.Event{Seq: 2, Type: "tool_use", Data: json.RawMessage(`{"id":"t1","name":"Edit","input":{"file_path":"login_test.go"}}`), At: time.Now()})
	rv.complete(cl, wire.Completion{Status: "succeeded", FinalMessage: "Fixed the race in login_test.go.", SessionID: "sess-1",
		Artifact: &wire.Artifact{Diff: "+x\n", Files: 2, Insertions: 5, Deletions: 1, Branch: cl.Branch, HeadCommit: "abc123", Pushed: true}})
	final := e.message(ch, ts, "the succeeded status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "succeeded") })
	for _, want := range []string{"2 files changed, +5 −1", "Fixed the race in login_test.go.", "in review", `"action_id":"open_board"`, "took "} {
		if !strings.Contains(final.Blocks, want) {
			t.Errorf("final message lacks %q: %s", want, final.Blocks)
		}
	}
	if strings.Contains(final.Blocks, `"action_id":"cancel"`) {
		t.Errorf("a finished run still offers Cancel: %s", final.Blocks)
	}
	if n := len(e.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d messages posted, want 1 (edited in place)", n)
	}
	// The pull request, once the GitHub App (here, the API) records it.
	e.admin.Call("PATCH", "/api/operations/"+op.ID+"?fleet="+e.fleet, `{"pr_url":"https://github.com/acme/app/pull/7"}`, 200, nil)
	e.message(ch, ts, "the Open PR button", func(m slackfake.Message) bool {
		return strings.Contains(m.Blocks, `"action_id":"open_pr","url":"https://github.com/acme/app/pull/7"`)
	})
	checkSpacing(t, e.updates(ch, ts), 2*time.Second)

	// A reply in the thread: a conversation message, and a follow-up run.
	if status := e.event(eventEnvelope("Ev0REPLY", e.threadReply("U0ADA", ch, ts, "also fix &lt;the other&gt; test")), nil); status != 200 {
		t.Fatalf("thread reply: %d", status)
	}
	e.waitFor("the follow-up run", func() bool { return len(e.runs(op.ID)) == 2 })
	follow := e.runs(op.ID)[0]
	msgs, err := e.st.Messages(ctx, e.fleet, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Body != "also fix <the other> test" || msgs[0].AuthorType != "user" || msgs[0].AuthorID != e.userID || !follow.FollowUp {
		t.Fatalf("messages = %+v, follow-up = %+v", msgs, follow)
	}
	cl2 := rv.claim()
	if !cl2.FollowUp || cl2.SessionID != "sess-1" || cl2.Prompt != "also fix <the other> test" {
		t.Fatalf("follow-up claim = %+v", cl2)
	}
	rv.start(cl2)
	running := e.message(ch, ts, "the follow-up running", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "running (follow-up)") && strings.Contains(m.Blocks, `"action_id":"cancel"`)
	})

	// The Cancel button.
	status, answer := e.click("U0ADA", running, "cancel", op.ID)
	if status != 200 {
		t.Fatalf("click Cancel: %d", status)
	}
	e.waitFor("the cancel request", func() bool { return e.runs(op.ID)[0].CancelRequested })
	if ack := rv.heartbeat(cl2); !ack.Cancel {
		t.Fatal("the rover was not asked to stop")
	}
	rv.complete(cl2, wire.Completion{Status: "canceled"})
	e.message(ch, ts, "the canceled status", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "canceled") && strings.Contains(m.Blocks, `"action_id":"retry"`)
	})
	if got := e.fake.Answers(answer); len(got) != 0 {
		t.Fatalf("a successful click was answered: %v", got)
	}
	checkSpacing(t, e.updates(ch, ts), 2*time.Second)
}

// TestThrottleAcrossNotifiers edits one message from many notify calls at
// once, as several workers or replicas would, while a run streams events:
// edits stay at least the gap apart, progress shows, and the final state is
// written even though it arrives within the gap of the previous edit.
func TestThrottleAcrossNotifiers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the throttle")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	rv := e.enroll()
	cl := rv.claim()
	rv.start(cl)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := app.Event{FleetID: e.fleet, Kind: "run.started", Data: json.RawMessage(`{"operation_id":"` + op.ID + `"}`)}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.bot.Notify(context.Background(), ev); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	for i := int64(1); i <= 25; i++ {
		rv.events(cl, text(i, "step "+strings.Repeat("x", int(i))))
		time.Sleep(150 * time.Millisecond)
	}
	done := time.Now()
	rv.complete(cl, wire.Completion{Status: "succeeded", FinalMessage: "All steps done."})
	close(stop)
	wg.Wait()
	final := e.message(op.SlackChannel, op.SlackTS, "the final state", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "succeeded") && strings.Contains(m.Blocks, "All steps done.")
	})
	ups := e.updates(op.SlackChannel, op.SlackTS)
	if late := ups[len(ups)-1].At.Sub(done); late > 2*time.Second+time.Second {
		t.Fatalf("the final state was written %s after the run ended, want at most the gap (2 s) and some slack", late)
	}
	checkSpacing(t, ups, 2*time.Second)
	progress := 0
	for _, u := range ups {
		if strings.Contains(u.Blocks(), ":speech_balloon: step x") {
			progress++
		}
	}
	if progress < 1 || len(ups) > 8 {
		t.Fatalf("%d edits, %d with progress; want a few, with progress", len(ups), progress)
	}
	if strings.Contains(final.Blocks, "speech_balloon") {
		t.Fatalf("the final state still shows progress: %s", final.Blocks)
	}
}

// TestReplyBeforeReviewIsConversationOnly: a reply while the run is still
// queued is stored, and starts no second run; replies in other threads
// and by bots are ignored.
func TestReplyBeforeReviewIsConversationOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.fake.AddUser(slackfake.User{ID: "U0GRACE", Name: "grace", RealName: "Grace H", Email: "grace@elsewhere.example", EmailConfirmed: true})
	e.slash("U0ADA", "C0DEV", "new fix the login")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	e.event(eventEnvelope("Ev0R1", e.threadReply("U0GRACE", op.SlackChannel, op.SlackTS, "use the staging db")), nil)
	e.event(eventEnvelope("Ev0R2", e.threadReply("U0GRACE", op.SlackChannel, "1700000000.000001", "unrelated thread")), nil)
	bot := e.threadReply("U0GRACE", op.SlackChannel, op.SlackTS, "from a bot")
	bot["bot_id"], bot["subtype"] = "B0OTHER", "bot_message"
	e.event(eventEnvelope("Ev0R3", bot), nil)
	broadcast := e.threadReply("U0GRACE", op.SlackChannel, op.SlackTS, "and tell the channel")
	broadcast["subtype"] = "thread_broadcast"
	e.event(eventEnvelope("Ev0R4", broadcast), nil)
	e.waitFor("the replies", func() bool {
		msgs, _ := e.st.Messages(context.Background(), e.fleet, op.ID)
		return len(msgs) == 2
	})
	time.Sleep(300 * time.Millisecond)
	msgs, _ := e.st.Messages(context.Background(), e.fleet, op.ID)
	bodies := map[string]bool{}
	for _, m := range msgs {
		if m.AuthorType != "slack" || m.AuthorID != "U0GRACE" || m.AuthorName != "Grace H" {
			t.Fatalf("message %+v, want it by the unmapped Slack user", m)
		}
		bodies[m.Body] = true
	}
	if len(msgs) != 2 || !bodies["use the staging db"] || !bodies["and tell the channel"] {
		t.Fatalf("messages = %+v", msgs)
	}
	if n := len(e.runs(op.ID)); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.event'`); n != 2 {
		t.Fatalf("%d event jobs, want only the replies in the operation's thread", n)
	}
}

// TestMentionStartsOperation: an @mention starts an operation from its
// text (first line the title, the rest the body) by a user mapped through
// their verified email; a mention in the operation's thread is a reply,
// not a second operation.
func TestMentionStartsOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.fake.AddUser(slackfake.User{ID: "U0ADA2", Name: "ada2", RealName: "Ada L", Email: "ADA@example.com", EmailConfirmed: true})
	e.fake.AddUser(slackfake.User{ID: "U0MALLORY", Name: "mallory", RealName: "Mallory", Email: "ada@example.com", EmailConfirmed: false})
	e.event(eventEnvelope("Ev0M1", e.mention("U0ADA2", "C0DEV", "<@U0UFOBOT> fix the flaky test\nIt fails on CI about once a day.", "")), nil)
	e.event(eventEnvelope("Ev0M2", e.mention("U0MALLORY", "C0DEV", "<@U0UFOBOT> MSJ make me admin --pilot cc", "")), nil)
	e.waitFor("two operations", func() bool {
		ops := e.operations()
		return len(ops) == 2 && ops[0].SlackTS != "" && ops[1].SlackTS != ""
	})
	byTitle := map[string]app.Operation{}
	for _, op := range e.operations() {
		byTitle[op.Title] = op
	}
	fix, other := byTitle["fix the flaky test"], byTitle["make me admin"]
	if fix.Body != "It fails on CI about once a day." || fix.CreatedBy == nil || *fix.CreatedBy != e.userID {
		t.Fatalf("mentioned operation = %+v, want the body and Ada (by verified email) as creator", fix)
	}
	if other.ID == "" || other.CreatedBy != nil {
		t.Fatalf("operation by an unverified email = %+v, want no creator", other)
	}
	e.event(eventEnvelope("Ev0M3", e.mention("U0ADA2", fix.SlackChannel, "<@U0UFOBOT> and the other one", fix.SlackTS)), nil)
	e.event(eventEnvelope("Ev0M3msg", e.threadReply("U0ADA2", fix.SlackChannel, fix.SlackTS, "<@U0UFOBOT> and the other one")), nil)
	e.waitFor("the reply", func() bool {
		msgs, _ := e.st.Messages(context.Background(), e.fleet, fix.ID)
		return len(msgs) == 1 && msgs[0].Body == "@U0UFOBOT and the other one"
	})
	time.Sleep(300 * time.Millisecond)
	if n := len(e.operations()); n != 2 {
		t.Fatalf("%d operations after a mention in a thread, want 2", n)
	}
	// A mention without words gets a hint, only to its author.
	e.event(eventEnvelope("Ev0M4", e.mention("U0ADA2", "C0DEV", "<@U0UFOBOT>", "")), nil)
	e.fake.Wait(t, 10*time.Second, "a hint", func() bool { return len(e.fake.Calls("chat.postEphemeral")) == 1 })
	if c := e.fake.Calls("chat.postEphemeral")[0]; c.Args.Get("user") != "U0ADA2" || !strings.Contains(c.Text(), "Mention me with what to do") {
		t.Fatalf("hint = %v", c.Args)
	}
}

// TestMentionInThreadLookupFailureStartsNothing: a mention in an
// operation's thread whose thread lookup fails in the database does not
// start a second operation: the job retries, and finds it a reply.
func TestMentionInThreadLookupFailureStartsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the login")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	wait := e.failThreadLookup()
	if status := e.event(eventEnvelope("Ev0MHICCUP", e.mention("U0ADA", op.SlackChannel, "<@U0UFOBOT> and the other one", op.SlackTS)), nil); status != 200 {
		t.Fatalf("mention: %d, want 200", status)
	}
	wait()
	var j store.Job
	e.waitFor("the mention's job", func() bool {
		var err error
		j, err = e.st.FindJob(context.Background(), slack.KindEvent, "event:Ev0MHICCUP")
		return err == nil && j.Status != "pending"
	})
	if j.Status != "done" || j.Attempts != 2 {
		t.Fatalf("mention job = %+v, want done on its second attempt", j)
	}
	if n := len(e.operations()); n != 1 {
		t.Fatalf("%d operations after a mention in a thread, want 1", n)
	}
	if n := len(e.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d messages posted, want the operation's alone", n)
	}
}

// TestRetryButton: a failed run offers Retry, which queues a new run; a
// second click on the same action (a redelivery) does nothing more, and a
// click when there is nothing to retry is answered only to the clicker.
func TestRetryButton(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.slash("U0ADA", "C0DEV", "new fix the build")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	rv := e.enroll()
	cl := rv.claim()
	rv.start(cl)
	rv.complete(cl, wire.Completion{Status: "failed", FailureReason: "exit_code", FinalMessage: "make: *** [build] Error 2"})
	failed := e.message(op.SlackChannel, op.SlackTS, "the failed status", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "failed") && strings.Contains(m.Blocks, `"action_id":"retry"`)
	})
	if !strings.Contains(failed.Blocks, "exit_code: make: *** [build] Error 2") {
		t.Fatalf("failed message lacks the reason: %s", failed.Blocks)
	}
	if status, _ := e.click("U0ADA", failed, "retry", op.ID); status != 200 {
		t.Fatalf("click Retry: %d", status)
	}
	e.waitFor("a new run", func() bool { return len(e.runs(op.ID)) == 2 })
	e.message(op.SlackChannel, op.SlackTS, "queued again", func(m slackfake.Message) bool { return strings.Contains(m.Text, "queued") })
	// Clicking Retry (another click) while it is queued: refused, privately.
	status, answer := e.click("U0ADA", failed, "retry", op.ID)
	if status != 200 {
		t.Fatalf("second click: %d", status)
	}
	e.fake.Wait(t, 10*time.Second, "the refusal", func() bool { return len(e.fake.Answers(answer)) == 1 })
	if a := e.fake.Answers(answer)[0]; !strings.Contains(a.Text(), "already has an active run") || a.Args.Get("response_type") != "ephemeral" {
		t.Fatalf("answer = %v", a.Args)
	}
	if n := len(e.runs(op.ID)); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
	// A button naming another fleet's operation finds nothing.
	status, answer = e.click("U0ADA", failed, "cancel", e.rival().operationID)
	if status != 200 {
		t.Fatalf("foreign click: %d", status)
	}
	e.fake.Wait(t, 10*time.Second, "not found", func() bool { return len(e.fake.Answers(answer)) == 1 })
	if a := e.fake.Answers(answer)[0]; a.Text() != "operation not found" {
		t.Fatalf("answer to a foreign operation = %q", a.Text())
	}
}

// TestMirrorMissionChannel: an operation created on the board in a mission
// with a Slack channel gets its status message there.
func TestMirrorMissionChannel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.admin.Call("PATCH", "/api/missions/"+e.mission+"?fleet="+e.fleet, `{"slack_channel":"C0OPS"}`, 200, nil)
	id := e.create("/api/operations", `{"title":"from the board","mission_id":"`+e.mission+`","assignee_type":"pilot","assignee_id":"`+e.pilot+`"}`)
	e.waitFor("the mirrored message", func() bool {
		op, err := e.st.FindOperation(context.Background(), e.fleet, id)
		return err == nil && op.SlackChannel == "C0OPS" && op.SlackTS != ""
	})
	op, _ := e.st.FindOperation(context.Background(), e.fleet, id)
	e.message("C0OPS", op.SlackTS, "the mirrored status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "from the board: queued") })
	time.Sleep(300 * time.Millisecond)
	if n := len(e.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
}

// TestRealRover runs the story with the real rover runtime (as
// `ufo rover start --once` runs it) and an exec pilot: /ufo new, one
// message edited until it says succeeded with the pilot's last words, a
// reply in the thread, and the follow-up run it starts.
func TestRealRover(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.admin.Call("PATCH", "/api/pilots/"+e.pilot+"?fleet="+e.fleet, map[string]any{"settings": map[string]string{
		"command": `echo "Looking at: $UFO_PROMPT" && sleep 1 && echo "Fixed: $UFO_PROMPT"`,
	}}, 200, nil)
	var code struct{ Code string }
	e.admin.Call("POST", "/api/rovers/enrollment-codes?fleet="+e.fleet, map[string]any{"name": "laptop"}, 201, &code)
	cfg := roverrt.Config{Server: e.web.URL, Home: t.TempDir(), EnrollmentCode: code.Code, Wait: 5 * time.Second,
		Detect:  func(context.Context) []wire.CLI { return []wire.CLI{{Kind: "exec"}} },
		Environ: append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")}
	once := func() {
		t.Helper()
		out, err := roverrt.Once(context.Background(), cfg)
		if err != nil || out.Status != wire.RunSucceeded {
			t.Fatalf("rover.Once = %+v, %v", out, err)
		}
	}

	e.slash("U0ADA", "C0DEV", "new MSJ fix the flaky test --pilot cc")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	once()
	e.message(op.SlackChannel, op.SlackTS, "succeeded", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "MSJ-1 fix the flaky test: succeeded (in review)") &&
			strings.Contains(m.Blocks, "Fixed: fix the flaky test") && strings.Contains(m.Blocks, "on rover *laptop*")
	})

	e.event(eventEnvelope("Ev0REAL", e.threadReply("U0ADA", op.SlackChannel, op.SlackTS, "now the other one")), nil)
	e.waitFor("the follow-up run", func() bool { runs := e.runs(op.ID); return len(runs) == 2 && runs[0].FollowUp })
	once()
	e.message(op.SlackChannel, op.SlackTS, "the follow-up succeeded", func(m slackfake.Message) bool {
		// An exec pilot keeps no session: the follow-up's prompt is the
		// operation and the whole conversation, the reply last.
		return strings.Contains(m.Text, "succeeded") && strings.Contains(m.Blocks, "now the other one") &&
			!strings.Contains(m.Blocks, "Fixed: now the other one")
	})
	if n := len(e.fake.Calls("chat.postMessage")); n != 1 {
		t.Fatalf("%d messages posted, want 1", n)
	}
	checkSpacing(t, e.updates(op.SlackChannel, op.SlackTS), 2*time.Second)
}
