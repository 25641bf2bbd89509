package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot/slack/slackfake"
	"github.com/ufo-run/ufo/rover/wire"
)

const linkFirst = "Link yourself first: `/ufo link <code>`, or ask an admin"

// whispers returns the chat.postEphemeral calls to one user.
func (e *env) whispers(user string) []slackfake.Call {
	var out []slackfake.Call
	for _, c := range e.fake.Calls("chat.postEphemeral") {
		if c.Args.Get("user") == user {
			out = append(out, c)
		}
	}
	return out
}

// inReview starts MSJ-1 as Ada and runs it to review with a rover, so a
// reply in its thread would start a follow-up run and Retry would queue
// one.
func (e *env) inReview() (rv rover, opID, channel, ts string, msg slackfake.Message) {
	e.t.Helper()
	e.slash("U0ADA", "C0DEV", "new MSJ fix the flaky test")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	rv = e.enroll()
	cl := rv.claim()
	rv.start(cl)
	rv.complete(cl, wire.Completion{Status: "succeeded", FinalMessage: "Done.", SessionID: "sess-1"})
	msg = e.message(op.SlackChannel, op.SlackTS, "in review", func(m slackfake.Message) bool { return strings.Contains(m.Text, "succeeded") })
	return rv, op.ID, op.SlackChannel, op.SlackTS, msg
}

// refused checks that user can change nothing: /ufo new, cancel, retry and
// assign are answered at once with how to link, and record no job; a
// mention and a reply in the thread are answered privately, and store no
// operation, message or run; the buttons are answered through their
// response URL and queue nothing. The reads still answer.
func (e *env) refused(user, opID, channel, ts string, msg slackfake.Message) {
	e.t.Helper()
	t := e.t
	ctx := context.Background()
	jobs := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.command'`)
	runs := len(e.runs(opID))
	ops := len(e.operations())
	msgs, _ := e.st.Messages(ctx, e.fleet, opID)

	for _, cmd := range []string{"new MSJ make me admin", "cancel MSJ-1", "retry MSJ-1", "assign MSJ-1 cc"} {
		wantText(t, user+": /ufo "+cmd, e.slash(user, "C0DEV", cmd).Text, linkFirst)
	}
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.command'`); n != jobs {
		t.Fatalf("%s: refused commands recorded %d jobs", user, n-jobs)
	}

	before := len(e.whispers(user))
	e.event(eventEnvelope("Ev0M-"+user, e.mention(user, "C0DEV", "<@U0UFOBOT> MSJ mine now --pilot cc", "")), nil)
	e.event(eventEnvelope("Ev0R-"+user, e.threadReply(user, channel, ts, "please also rewrite everything")), nil)
	e.fake.Wait(t, 10*time.Second, "two private answers", func() bool { return len(e.whispers(user)) >= before+2 })
	for _, c := range e.whispers(user)[before:] {
		wantText(t, user+": private answer", c.Text(), linkFirst)
		if c.Args.Get("thread_ts") != "" && c.Args.Get("thread_ts") != ts {
			t.Fatalf("%s: answer in thread %q", user, c.Args.Get("thread_ts"))
		}
	}

	_, cancelAnswer := e.click(user, msg, "cancel", opID)
	_, retryAnswer := e.click(user, msg, "retry", opID)
	for _, name := range []string{cancelAnswer, retryAnswer} {
		e.fake.Wait(t, 10*time.Second, "the button's answer", func() bool { return len(e.fake.Answers(name)) == 1 })
		if a := e.fake.Answers(name)[0]; !strings.Contains(a.Text(), linkFirst) || a.Args.Get("response_type") != "ephemeral" {
			t.Fatalf("%s: button answer = %v", user, a.Args)
		}
	}

	time.Sleep(300 * time.Millisecond) // anything the jobs would have done
	if n := len(e.operations()); n != ops {
		t.Fatalf("%s: %d operations, were %d", user, n, ops)
	}
	if n := len(e.runs(opID)); n != runs {
		t.Fatalf("%s: %d runs, were %d (a refused reply, button or command queued work)", user, n, runs)
	}
	if after, _ := e.st.Messages(ctx, e.fleet, opID); len(after) != len(msgs) {
		t.Fatalf("%s: the refused reply was stored: %+v", user, after)
	}

	wantText(t, user+": list", e.slash(user, "C0DEV", "list").Text, "MSJ-1")
	wantText(t, user+": status", e.slash(user, "C0DEV", "status MSJ-1").Text, "MSJ-1 fix the flaky test")
	wantText(t, user+": rovers", e.slash(user, "C0DEV", "rovers").Text, "*box*")
}

// TestGuestsAndStrangersChangeNothing: guests of the workspace (single- or
// multi-channel) and users Slack does not know are not fleet members, and
// cannot start, cancel, retry or assign work, nor start a follow-up run by
// replying; they can still read.
func TestGuestsAndStrangersChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.fake.AddUser(slackfake.User{ID: "U0GUEST", Name: "guest", RealName: "Gus Guest", Email: "gus@elsewhere.example", EmailConfirmed: true, Restricted: true})
	e.fake.AddUser(slackfake.User{ID: "U0SINGLE", Name: "single", RealName: "Sam Single", Email: "sam@elsewhere.example", EmailConfirmed: true, UltraRestricted: true})
	_, opID, ch, ts, msg := e.inReview()
	for _, user := range []string{"U0GUEST", "U0SINGLE", "U0GHOST"} { // U0GHOST: users.info says user_not_found
		e.refused(user, opID, ch, ts, msg)
	}
}

// TestUnmappedFullMembers: an unmapped full member of the workspace may
// act, recorded by Slack id, only while the member who linked the
// workspace is an admin of the fleet; a member mapped by /ufo link may act
// either way.
func TestUnmappedFullMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.fake.AddUser(slackfake.User{ID: "U0GRACE", Name: "grace", RealName: "Grace H", Email: "grace@elsewhere.example", EmailConfirmed: true})
	rv, opID, ch, ts, msg := e.inReview()
	ctx := context.Background()

	e.event(eventEnvelope("Ev0GRACE1", e.threadReply("U0GRACE", ch, ts, "and the other test")), nil)
	e.waitFor("Grace's follow-up run", func() bool { return len(e.runs(opID)) == 2 })
	msgs, _ := e.st.Messages(ctx, e.fleet, opID)
	if len(msgs) != 1 || msgs[0].AuthorType != "slack" || msgs[0].AuthorID != "U0GRACE" {
		t.Fatalf("messages = %+v, want Grace's, by Slack id", msgs)
	}

	// Ada, who linked the workspace, is no longer an admin: unmapped
	// members can change nothing any more; Ada, a member, still can.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE memberships SET role = 'member' WHERE user_id = $1`, e.userID); err != nil {
		t.Fatal(err)
	}
	cl := rv.claim()
	rv.start(cl)
	rv.complete(cl, wire.Completion{Status: "succeeded", FinalMessage: "Done again."})
	msg = e.message(ch, ts, "in review again", func(m slackfake.Message) bool { return strings.Contains(m.Blocks, "Done again.") })
	e.refused("U0GRACE", opID, ch, ts, msg)

	r := e.slash("U0ADA", "C0DEV", "retry MSJ-1")
	wantText(t, "Ada's retry", r.Text, "Retrying MSJ-1…")
	wantText(t, "Ada's retry's answer", e.answer(r, 1), "Queued MSJ-1 again.")
}
