package github_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/github"
	"github.com/ufo-run/ufo/store"
)

// TestRedeliveryIsProcessedOnce: the same delivery posted three times is
// recorded once; a second labeled event for an issue already at work adds
// nothing either.
func TestRedeliveryIsProcessedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := e.body(labeled(t, "ufo:sh", owner))
	for i := range 3 {
		status, out := e.post("issues", "same-delivery", body, sign(body))
		var ack struct{ Duplicate bool }
		json.Unmarshal(out, &ack)
		if status != http.StatusAccepted || ack.Duplicate != (i > 0) {
			t.Fatalf("post %d: %d %s", i+1, status, out)
		}
	}
	e.waitJob(github.KindDelivery, "same-delivery")
	e.deliver("issues", labeled(t, "ufo:sh", owner)) // another delivery, same issue
	e.settle()
	ops := e.operations()
	if len(ops) != 1 || len(e.runs(ops[0].ID)) != 1 {
		t.Fatalf("operations = %+v, want one with one run", ops)
	}
	e.statusComment(1)
	if r := e.gh.Reactions(); len(r) != 1 {
		t.Fatalf("reactions = %+v, want one", r)
	}
	if n := e.gh.CountCalls("issues/create-comment", 201); n != 1 {
		t.Fatalf("%d comments created, want 1", n)
	}
}

// TestFailedDeliveryIsRedelivered: a delivery whose job failed (here out
// of attempts while GitHub answered 500) is processed again when GitHub's
// "Redeliver" sends it with the same id; once it is done, a redelivery is
// a duplicate again.
func TestFailedDeliveryIsRedelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noWorker = true })
	ctx := context.Background()
	const id = "redelivered"
	body := e.body(labeled(t, "ufo:sh", owner))
	duplicate := func() bool {
		t.Helper()
		status, out := e.post("issues", id, body, sign(body))
		var ack struct{ Duplicate bool }
		if status != http.StatusAccepted || json.Unmarshal(out, &ack) != nil {
			t.Fatalf("post: %d %s", status, out)
		}
		return ack.Duplicate
	}
	if duplicate() {
		t.Fatal("the first delivery was taken for a duplicate")
	}
	// One attempt instead of ten (and their backoff), so the outage uses
	// them up at once.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE jobs SET max_attempts = 1 WHERE kind = $1 AND key = $2`, github.KindDelivery, id); err != nil {
		t.Fatal(err)
	}
	e.gh.Outage("repos/get-collaborator-permission-level", 1)
	e.startWorker(e.app)
	eventually(t, 15*time.Second, func() error {
		if j, err := e.st.FindJob(ctx, github.KindDelivery, id); err != nil || j.Status != "failed" {
			return errorf("job = %+v, %v; want it failed", j, err)
		}
		return nil
	})
	if len(e.operations()) != 0 {
		t.Fatal("the failed delivery made an operation")
	}

	if duplicate() {
		t.Fatal("the redelivery of a failed delivery was taken for a duplicate")
	}
	e.waitJob(github.KindDelivery, id)
	if j, _ := e.st.FindJob(ctx, github.KindDelivery, id); j.Attempts != 1 {
		t.Fatalf("the redelivered job took %d attempts, want 1 (counted anew)", j.Attempts)
	}
	e.settle()
	ops := e.operations()
	if len(ops) != 1 || len(e.runs(ops[0].ID)) != 1 {
		t.Fatalf("operations = %+v, want one with one run", ops)
	}
	e.statusComment(1)

	if !duplicate() {
		t.Fatal("the redelivery of a done delivery was not taken for a duplicate")
	}
	e.settle()
	if ops := e.operations(); len(ops) != 1 || len(e.runs(ops[0].ID)) != 1 || e.gh.CountCalls("issues/create-comment", 201) != 1 {
		t.Fatalf("the done delivery was processed again: operations %+v", ops)
	}
}

// TestFailedDeliveryThatDispatchedRunsOnce: a delivery that failed after
// it queued the issue's run (here GitHub refused the 👀 reaction) and is
// redelivered once that run is over does not run the issue again: what
// the delivery asked for was done.
func TestFailedDeliveryThatDispatchedRunsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noWorker = true })
	ctx := context.Background()
	const id = "failed-after-dispatch"
	body := e.body(labeled(t, "ufo:sh", owner))
	if status, out := e.post("issues", id, body, sign(body)); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, out)
	}
	if _, err := e.st.Pool().Exec(ctx, `UPDATE jobs SET max_attempts = 1 WHERE kind = $1 AND key = $2`, github.KindDelivery, id); err != nil {
		t.Fatal(err)
	}
	e.gh.Outage("reactions/create-for-issue", 1)
	e.startWorker(e.app)
	eventually(t, 15*time.Second, func() error {
		if j, err := e.st.FindJob(ctx, github.KindDelivery, id); err != nil || j.Status != "failed" {
			return errorf("job = %+v, %v; want it failed", j, err)
		}
		return nil
	})
	ops := e.operations()
	if len(ops) != 1 || len(e.runs(ops[0].ID)) != 1 {
		t.Fatalf("operations = %+v, want one with one run (dispatched before the failure)", ops)
	}
	// The run ends (here canceled on the board) before GitHub redelivers.
	e.admin.Call("PATCH", "/api/operations/"+ops[0].ID+"?fleet="+e.fleet, map[string]any{"status": app.StatusCanceled}, 200, nil)
	if status, out := e.post("issues", id, body, sign(body)); status != http.StatusAccepted {
		t.Fatalf("redelivery: %d %s", status, out)
	}
	e.waitJob(github.KindDelivery, id)
	e.settle()
	if runs := e.runs(ops[0].ID); len(runs) != 1 {
		t.Fatalf("%d runs after the redelivery, want the first alone", len(runs))
	}
	if r := e.gh.Reactions(); len(r) != 1 {
		t.Fatalf("reactions = %+v, want the one of the redelivery", r)
	}
	// Another delivery of the label is another request: it runs it again.
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	e.settle()
	if runs := e.runs(ops[0].ID); len(runs) != 2 {
		t.Fatalf("%d runs after a new labeled delivery, want 2", len(runs))
	}
}

// TestRestartBetweenAckAndProcessing: a delivery acknowledged by a server
// that stops before processing it is processed, once, by the next one.
func TestRestartBetweenAckAndProcessing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noWorker = true })
	body := e.body(labeled(t, "ufo:sh", owner))
	if status, out := e.post("issues", "before-restart", body, sign(body)); status != http.StatusAccepted {
		t.Fatalf("post: %d %s", status, out)
	}
	j, err := e.st.FindJob(context.Background(), github.KindDelivery, "before-restart")
	if err != nil || j.Status != "pending" || len(e.operations()) != 0 {
		t.Fatalf("before the restart: job %+v %v, operations %+v", j, err, e.operations())
	}
	// The next process: a new App and worker on the same database.
	e.startWorker(e.newApp())
	e.waitJob(github.KindDelivery, "before-restart")
	if status, _ := e.post("issues", "before-restart", body, sign(body)); status != http.StatusAccepted {
		t.Fatalf("redelivery after the restart: %d", status)
	}
	e.settle()
	if ops := e.operations(); len(ops) != 1 || len(e.runs(ops[0].ID)) != 1 {
		t.Fatalf("operations = %+v, want one with one run", ops)
	}
	e.statusComment(1)
}

// TestSenderWithoutWriteAccess: someone who may only read the repository
// gets one polite comment, and nothing runs.
func TestSenderWithoutWriteAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gh.SetPermission(repoName, "stranger", "read")
	e.deliver("issues", labeled(t, "ufo", "stranger"))
	// Asking again, by label or by command, gets no second comment.
	e.deliver("issues", labeled(t, "ufo:sh", "stranger"))
	e.deliver("issue_comment", e.comment(1, false, "stranger", "/ufo pilot sh"))
	e.settle()
	comments := e.gh.Comments(repoName, 1, e.gh.BotLogin())
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "@stranger") || !strings.Contains(comments[0].Body, "write access") ||
		e.gh.CountCalls("issues/create-comment", 0) != 1 {
		t.Fatalf("comments = %+v, want one polite refusal", comments)
	}
	if len(e.operations()) != 0 || len(e.gh.Reactions()) != 0 {
		t.Fatalf("operations %+v, reactions %+v: want none", e.operations(), e.gh.Reactions())
	}
}

// TestOwnBotIgnored: events the App's own bot caused are ignored.
func TestOwnBotIgnored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", e.gh.BotLogin()))
	c := example(t, "issue_comment", "created", "installation")
	c.set("comment.body", "/ufo retry").set("sender.login", e.gh.BotLogin()).set("comment.user.login", e.gh.BotLogin())
	e.deliver("issue_comment", c)
	e.settle()
	if len(e.operations()) != 0 || len(e.gh.Comments(repoName, 1, "")) != 0 {
		t.Fatalf("the bot's own events did something: %+v %+v", e.operations(), e.gh.Comments(repoName, 1, ""))
	}
	for _, call := range e.gh.Calls() {
		if strings.HasPrefix(call.Path, "/repos/") {
			t.Fatalf("the bot's own events called GitHub: %+v", call)
		}
	}
}

// TestAssignedToTheBot: assigning an issue to the App's bot user starts
// it like the label, with .github/ufo.yml's pilot; assigning it to a person
// does nothing.
func TestAssignedToTheBot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.files = map[string]string{github.ConfigPath: "pilot: sh\n"} })
	toPerson := example(t, "issues", "assigned")
	toPerson.set("assignee.login", "hubot").set("sender.login", owner)
	e.deliver("issues", toPerson)
	if len(e.operations()) != 0 {
		t.Fatal("assigning the issue to a person started work")
	}
	toBot := example(t, "issues", "assigned")
	toBot.set("assignee.login", e.gh.BotLogin()).set("assignee.type", "Bot").set("sender.login", owner)
	e.deliver("issues", toBot)
	if ops := e.operations(); len(ops) != 1 || ops[0].Status != "queued" {
		t.Fatalf("operations = %+v", ops)
	}
	e.waitStatus(1, "is queued for pilot `sh`")
}

// TestUnlinkedInstallation: an installation no fleet has linked says where
// to link it, and runs nothing.
func TestUnlinkedInstallation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	e.deliver("issues", labeled(t, "ufo", owner))
	comments := e.gh.Comments(repoName, 1, e.gh.BotLogin())
	// The link names no installation: comments are public, and the setup
	// page finds the installations of whoever opens it.
	if len(comments) != 1 || !strings.Contains(comments[0].Body, publicURL+"/github/setup") || strings.Contains(comments[0].Body, "957387") {
		t.Fatalf("comments = %+v, want one with the setup link and no installation id", comments)
	}
	if len(e.operations()) != 0 {
		t.Fatal("an unlinked installation made an operation")
	}
	// Comments get the same notice: every time for someone with write
	// access, once per issue for anyone else.
	for range 3 {
		e.deliver("issue_comment", e.comment(1, false, "stranger", "/ufo help"))
	}
	e.deliver("issue_comment", e.comment(1, false, "stranger", "@ufo-test please fix it"))
	for range 2 {
		e.deliver("issue_comment", e.comment(1, false, owner, "/ufo help"))
	}
	comments = e.gh.Comments(repoName, 1, e.gh.BotLogin())
	if len(comments) != 4 || !strings.Contains(comments[1].Body, "not linked") || !strings.Contains(comments[1].Body, "<!-- ufo:reply stranger -->") ||
		!strings.Contains(comments[3].Body, "not linked") {
		t.Fatalf("comments = %+v, want the label's notice, one for the stranger and two for the owner", comments)
	}
}

// TestOutsiderGetsOneAnswer: anyone may comment on a public repository,
// so someone without write access gets one answer per issue, whatever
// they ask, and one refusal when they ask for work; someone with write
// access gets every answer, for no more than the permission check.
func TestOutsiderGetsOneAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gh.SetPermission(repoName, "stranger", "read")
	answers := func(login string) []fakeComment {
		var out []fakeComment
		for _, c := range e.gh.Comments(repoName, 1, e.gh.BotLogin()) {
			if strings.Contains(c.Body, "<!-- ufo:reply "+login+" -->") || strings.Contains(c.Body, "<!-- ufo:denied "+login+" -->") {
				out = append(out, c)
			}
		}
		return out
	}
	for range 3 {
		e.deliver("issue_comment", e.comment(1, false, "stranger", "/ufo help"))
	}
	if got := e.gh.Comments(repoName, 1, e.gh.BotLogin()); len(got) != 1 || !strings.Contains(got[0].Body, "`/ufo retry`") || len(answers("stranger")) != 1 {
		t.Fatalf("the stranger's three helps got %d answers, want one: %+v", len(got), got)
	}
	// Whatever else they ask on this issue gets no second answer.
	for _, body := range []string{"/ufo frobnicate", "/ufo list", "/ufo status", "/ufo retry", "@ufo-test please fix it"} {
		e.deliver("issue_comment", e.comment(1, false, "stranger", body))
	}
	// Someone with no role at all gets their own one answer.
	e.deliver("issue_comment", e.comment(1, false, "passerby", "/ufo status"))
	e.deliver("issue_comment", e.comment(1, false, "passerby", "/ufo status"))
	if got := e.gh.Comments(repoName, 1, e.gh.BotLogin()); len(got) != 2 || len(answers("passerby")) != 1 {
		t.Fatalf("after more from the stranger and two from a passer-by: %d answers, want 2: %+v", len(got), got)
	}

	before := len(e.gh.Comments(repoName, 1, e.gh.BotLogin()))
	perms, lists := e.gh.CountCalls("repos/get-collaborator-permission-level", 0), e.gh.CountCalls("issues/list-comments", 0)
	for range 3 {
		e.deliver("issue_comment", e.comment(1, false, owner, "/ufo help"))
	}
	after := e.gh.Comments(repoName, 1, e.gh.BotLogin())
	if len(after) != before+3 || !strings.Contains(after[len(after)-1].Body, "`/ufo retry`") || strings.Contains(after[len(after)-1].Body, "ufo:reply "+owner) {
		t.Fatalf("the owner's three helps got %d answers: %+v", len(after)-before, after[before:])
	}
	if p, l := e.gh.CountCalls("repos/get-collaborator-permission-level", 0)-perms, e.gh.CountCalls("issues/list-comments", 0)-lists; p != 3 || l != 0 {
		t.Fatalf("three helps from the owner asked for %d permissions and %d comment lists, want 3 and 0", p, l)
	}

	// On an operation, asking for work is refused once; the answer is
	// spent already.
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo pilot sh"))
	e.waitStatus(1, "is queued for pilot `sh`")
	for _, body := range []string{"/ufo cancel", "/ufo cancel", "/ufo status", "/ufo retry HW-9"} {
		e.deliver("issue_comment", e.comment(1, false, "stranger", body))
	}
	e.settle()
	if got := answers("stranger"); len(got) != 2 || !strings.Contains(got[1].Body, "write access") {
		t.Fatalf("the stranger's answers = %+v, want the help and one refusal", got)
	}
	if ops := e.operations(); len(ops) != 1 || ops[0].Status != "queued" {
		t.Fatalf("operations = %+v", ops)
	}
	// The owner still gets every answer on the operation.
	before = len(e.gh.Comments(repoName, 1, e.gh.BotLogin()))
	for range 2 {
		e.deliver("issue_comment", e.comment(1, false, owner, "/ufo status"))
	}
	if n := len(e.gh.Comments(repoName, 1, e.gh.BotLogin())) - before; n != 2 || !strings.Contains(e.lastReply(1), "is queued") {
		t.Fatalf("the owner's two statuses got %d answers, the last %q", n, e.lastReply(1))
	}
}

// comment writes a comment on the fake GitHub and returns its
// issue_comment/created payload (the recorded one, edited): on an issue,
// or (with pr) on a pull request.
func (e *env) comment(number int, pr bool, sender, body string) payload {
	c := example(e.t, "issue_comment", "created", "installation")
	id := e.gh.AddComment(repoName, number, sender, body)
	c.set("comment.body", body).set("comment.user.login", sender).set("sender.login", sender)
	c.set("comment.id", id)
	c.set("issue.number", number)
	if pr {
		c.set("issue.pull_request", map[string]any{"url": "https://api.github.com/repos/" + repoName + "/pulls/2"})
		c.set("issue.html_url", "https://github.com/"+repoName+"/pull/2")
	}
	return c
}

// lastReply is the newest of UFO's comments that is not the status one.
func (e *env) lastReply(issue int) string {
	e.t.Helper()
	var last string
	for _, c := range e.gh.Comments(repoName, issue, e.gh.BotLogin()) {
		if !strings.Contains(c.Body, "<!-- ufo:status ") {
			last = c.Body
		}
	}
	return last
}

// TestCommentCommands drives /ufo help, status, cancel, retry and pilot,
// a message that mentions the bot, and what is refused.
func TestCommentCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var other struct{ ID string }
	e.admin.Call("POST", "/api/pilots?fleet="+e.fleet, `{"name":"other","kind":"exec","settings":{"command":"true"}}`, 201, &other)

	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo help"))
	if r := e.lastReply(1); !strings.Contains(r, "`/ufo retry`") || !strings.Contains(r, "@ufo-test") {
		t.Fatalf("help = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	if r := e.lastReply(1); !strings.Contains(r, "not a UFO operation yet") {
		t.Fatalf("retry on a plain issue = %q", r)
	}
	// `/ufo pilot NAME` on a plain issue starts it with that pilot.
	e.deliver("issue_comment", e.comment(1, false, owner, "Let's try.\n/ufo pilot sh"))
	ops := e.operations()
	if len(ops) != 1 || ops[0].Status != "queued" {
		t.Fatalf("operations = %+v", ops)
	}
	op := ops[0]
	e.waitStatus(1, "is queued for pilot `sh`")

	e.deliver("issue_comment", e.comment(1, false, "someone", "/ufo status"))
	if r := e.lastReply(1); !strings.Contains(r, "HW-1") || !strings.Contains(r, "is queued") || strings.Contains(r, "ufo:status") {
		t.Fatalf("status = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo cancel"))
	e.waitStatus(1, "was canceled")
	if runs := e.runs(op.ID); len(runs) != 1 || runs[0].Status != "canceled" {
		t.Fatalf("runs after cancel = %+v", runs)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo cancel"))
	if r := e.lastReply(1); !strings.Contains(r, "no active run") {
		t.Fatalf("second cancel = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry HW-1"))
	e.waitStatus(1, "is queued for pilot `sh`")
	if runs := e.runs(op.ID); len(runs) != 2 || runs[0].Status != "queued" {
		t.Fatalf("runs after retry = %+v", runs)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	if r := e.lastReply(1); !strings.Contains(r, "already has an active run") {
		t.Fatalf("retry while queued = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo pilot other"))
	e.waitStatus(1, "is queued for pilot `other`")
	if runs := e.runs(op.ID); len(runs) != 3 || runs[0].PilotID != other.ID || runs[1].Status != "canceled" {
		t.Fatalf("runs after /ufo pilot other = %+v", runs)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo pilot nosuch"))
	if r := e.lastReply(1); !strings.Contains(r, "no pilot named `nosuch`") || !strings.Contains(r, "`other`") {
		t.Fatalf("unknown pilot = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo frobnicate"))
	if r := e.lastReply(1); !strings.Contains(r, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo list"))
	if r := e.lastReply(1); !strings.Contains(r, "works in Slack") {
		t.Fatalf("/ufo list = %q", r)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry API-3"))
	if r := e.lastReply(1); !strings.Contains(r, "This issue is HW-1, not API-3") {
		t.Fatalf("retry of another code = %q", r)
	}
	e.gh.SetPermission(repoName, "reader", "read")
	e.deliver("issue_comment", e.comment(1, false, "reader", "/ufo cancel"))
	if r := e.lastReply(1); !strings.Contains(r, "@reader") || !strings.Contains(r, "write access") {
		t.Fatalf("cancel by a reader = %q", r)
	}
	if runs := e.runs(op.ID); runs[0].Status != "queued" {
		t.Fatalf("a reader canceled the run: %+v", runs[0])
	}

	// The run succeeds; a comment on the PR mentioning the bot is a
	// follow-up turn with the comment as its prompt.
	rv := e.enrollRover("rover-1")
	cl := rv.claim()
	rv.start(cl)
	rv.succeed(cl, map[string]string{"fix.txt": "fixed\n"}, "Fixed.")
	e.waitStatus(1, "/pull/2")
	e.settle()
	e.deliver("issue_comment", e.comment(2, true, owner, "@ufo-test please also add a test."))
	cl2 := rv.claim()
	if !cl2.FollowUp || !strings.Contains(cl2.Prompt, "please also add a test") || cl2.Branch != cl.Branch {
		t.Fatalf("follow-up from a mention = %+v", cl2)
	}
	found := false
	for _, r := range e.gh.Reactions() {
		found = found || (r.Comment != 0 && r.Content == "eyes")
	}
	if !found {
		t.Fatalf("no 👀 on the mentioning comment: %+v", e.gh.Reactions())
	}
	e.statusComment(1)
}

// TestUnlabelAndCloseCancel: removing the label cancels a queued run at
// once; closing the issue stops a running one through the rover.
func TestUnlabelAndCloseCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	op := e.operations()[0]
	unlabeled := example(t, "issues", "unlabeled")
	unlabeled.set("label.name", "ufo:sh").set("sender.login", owner)
	e.deliver("issues", unlabeled)
	e.waitStatus(1, "was canceled")
	if runs := e.runs(op.ID); len(runs) != 1 || runs[0].Status != "canceled" {
		t.Fatalf("runs after unlabel = %+v", runs)
	}
	// Labeled again: a fresh run of the same operation.
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	rv := e.enrollRover("rover-1")
	cl := rv.claim()
	rv.start(cl)
	e.waitStatus(1, "is running")
	closed := example(t, "issues", "unlabeled")
	closed.set("action", "closed").set("issue.state", "closed").set("sender.login", owner)
	delete(closed, "label")
	e.deliver("issues", closed)
	var ack struct{ Cancel bool }
	rv.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/heartbeat", map[string]string{"claim_token": cl.ClaimToken}, 200, &ack)
	if !ack.Cancel {
		t.Fatal("closing the issue did not ask the rover to stop")
	}
	rv.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", map[string]string{"claim_token": cl.ClaimToken, "status": "canceled"}, 200, nil)
	e.waitStatus(1, "was canceled")
	e.settle()
	if ops := e.operations(); len(ops) != 1 {
		t.Fatalf("operations = %+v, want the one", ops)
	}
}

// TestFailureAndClosedPullRequest: a failed run says why on the issue; a
// pull request closed without merging cancels the operation.
func TestFailureAndClosedPullRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	rv := e.enrollRover("rover-1")
	cl := rv.claim()
	rv.start(cl)
	rv.fail(cl, "exit_status", "sh: 1: make: not found\n```\nexit status 127")
	status := e.waitStatus(1, "failed: exit_status")
	if !strings.Contains(status.Body, "make: not found") || strings.Count(status.Body, "```") != 2 || !strings.Contains(status.Body, "/ufo retry") {
		t.Fatalf("failure status = %q", status.Body)
	}
	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	cl = rv.claim()
	rv.start(cl)
	rv.succeed(cl, map[string]string{"a.txt": "a\n"}, "Done.")
	e.waitStatus(1, "/pull/2")
	closed := example(t, "pull_request", "closed", "installation")
	closed.set("number", 2).set("pull_request.number", 2).set("pull_request.merged", false)
	e.deliver("pull_request", closed)
	e.waitStatus(1, "was canceled")
	e.settle()
	if op := e.operations()[0]; op.Status != "canceled" {
		t.Fatalf("operation after closing the PR = %s, want canceled", op.Status)
	}
}

// TestRepoConfigFile: .github/ufo.yml names the trigger label, the pilot,
// the reviewers, the branch prefix and rover tags; a rover without the
// tags cannot claim the run. An invalid file is explained on the issue.
func TestRepoConfigFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) {
		o.files = map[string]string{github.ConfigPath: "label: agent\npilot: sh\nreviewers: [hubot]\nbranch_prefix: bots/\ntags: [gpu]\n"}
	})
	e.deliver("issues", labeled(t, "ufo", owner))
	if len(e.operations()) != 0 {
		t.Fatal("the default label started work although the file names another")
	}
	e.deliver("issues", labeled(t, "agent", owner))
	ops := e.operations()
	if len(ops) != 1 || !strings.HasPrefix(ops[0].Branch, "bots/HW-1-") {
		t.Fatalf("operations = %+v", ops)
	}
	plain := e.enrollRover("plain")
	if _, ok := plain.tryClaim("0.5"); ok {
		t.Fatal("a rover without the gpu tag claimed the run")
	}
	gpu := e.enrollRover("gpu", "gpu")
	cl := gpu.claim()
	if cl.Operation.ID != ops[0].ID {
		t.Fatalf("claim = %+v", cl)
	}
	var m []struct {
		Key       string   `json:"key"`
		Reviewers []string `json:"reviewers"`
	}
	e.admin.Call("GET", "/api/missions?fleet="+e.fleet, nil, 200, &m)
	if len(m) != 1 || m[0].Key != "HW" || !slices.Equal(m[0].Reviewers, []string{"hubot"}) {
		t.Fatalf("missions = %+v", m)
	}
}

func TestInvalidRepoConfigFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) {
		o.files = map[string]string{github.ConfigPath: "pilot: Not A Name\ncolour: blue\n"}
	})
	e.deliver("issues", labeled(t, "ufo", owner))
	r := e.lastReply(1)
	if !strings.Contains(r, "`.github/ufo.yml` on `master` is not valid") || !strings.Contains(r, "colour") {
		t.Fatalf("reply = %q", r)
	}
	if len(e.operations()) != 0 {
		t.Fatal("an invalid settings file still started work")
	}
}

// TestRateLimitIsWaitedOut: GitHub's secondary rate limit (403 with
// Retry-After) is retried after the time it asks for.
func TestRateLimitIsWaitedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gh.RateLimit("issues/create-comment", 1)
	start := time.Now()
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	e.statusComment(1)
	if d := time.Since(start); d < time.Second {
		t.Fatalf("the status comment came after %v, before the second GitHub asked to wait", d)
	}
	if n, ok := e.gh.CountCalls("issues/create-comment", 403), e.gh.CountCalls("issues/create-comment", 201); n != 1 || ok != 1 {
		t.Fatalf("create-comment answered 403 %d times and 201 %d times, want once each", n, ok)
	}
}

// goneSlack stands in for the Slack bot when an operation's status message
// was deleted: every edit fails for good, as chat.update's
// message_not_found does.
type goneSlack struct{ calls atomic.Int32 }

func (g *goneSlack) Notify(ctx context.Context, ev app.Event) error {
	g.calls.Add(1)
	return bot.Permanent(errors.New("slack chat.update: message_not_found"))
}

// TestGitHubRetriesWhileSlackFailsForGood: Slack's part of every notify job
// fails for good, and GitHub answers one pull request's creation 500. The
// job that met the 500 retries GitHub's part (not Slack's) and the pull
// request is opened with its review request.
func TestGitHubRetriesWhileSlackFailsForGood(t *testing.T) {
	t.Parallel()
	slack := &goneSlack{}
	e := newEnv(t, func(o *envOptions) { o.also = map[string]bot.Notifier{"slack": slack} })
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	rv := e.enrollRover("rover-1")
	cl := rv.claim()
	rv.start(cl)
	e.waitStatus(1, "is running")
	e.gh.Outage("pulls/create", 1)
	rv.succeed(cl, map[string]string{"README.md": "# Hello-World\n\nCommit, not committ.\n"}, "Fixed the spelling.")
	e.waitStatus(1, "succeeded on rover `rover-1`")
	if bad, ok := e.gh.CountCalls("pulls/create", 500), e.gh.CountCalls("pulls/create", 201); bad != 1 || ok != 1 {
		t.Fatalf("pulls/create answered 500 %d times and 201 %d times, want once each", bad, ok)
	}
	if pulls := e.gh.Pulls(repoName); len(pulls) != 1 || len(pulls[0].Requested) != 1 {
		t.Fatalf("pull requests = %+v, want one with a review request", pulls)
	}
	var jobs []store.Job
	eventually(t, 15*time.Second, func() error {
		jobs = jobs[:0]
		rows, err := e.st.Pool().Query(context.Background(), `SELECT key, status, attempts, last_error FROM jobs WHERE kind = 'notify' ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j store.Job
			if err := rows.Scan(&j.Key, &j.Status, &j.Attempts, &j.LastError); err != nil {
				return err
			}
			if j.Status == "pending" {
				return errorf("notify job %s is pending after %d attempts (%s)", j.Key, j.Attempts, j.LastError)
			}
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	retried := 0
	for _, j := range jobs {
		// Slack failed for good in every job, which fails each once GitHub is through.
		if j.Status != "failed" || !strings.HasPrefix(j.LastError, "slack: ") || strings.Contains(j.LastError, "github") || j.Attempts > 2 {
			t.Errorf("notify job %+v: want it failed for Slack's sake alone", j)
		}
		if j.Attempts == 2 {
			retried++
		}
	}
	if retried != 1 || int(slack.calls.Load()) != len(jobs) {
		t.Fatalf("%d notify jobs retried, want 1; Slack called %d times for %d jobs", retried, slack.calls.Load(), len(jobs))
	}
}

// TestDeletedStatusCommentIsReplaced: when someone deletes the status
// comment, the next change posts a new one.
func TestDeletedStatusCommentIsReplaced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	first := e.waitStatus(1, "is queued")
	e.gh.DeleteComment(first.ID)
	rv := e.enrollRover("rover-1")
	rv.start(rv.claim())
	if c := e.waitStatus(1, "is running"); c.ID == first.ID {
		t.Fatal("the deleted comment was edited")
	}
}

// TestInstallationEvents: installation and installation_repositories
// deliveries keep the installation's repositories.
func TestInstallationEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	created := example(t, "installation", "created")
	e.deliver("installation", created)
	in, err := e.st.FindGitHubInstallation(context.Background(), installID)
	if err != nil || in.AccountLogin != "Codertocat" || in.FleetID != nil {
		t.Fatalf("installation = %+v, %v", in, err)
	}
	e.link()
	added := example(t, "installation_repositories", "added")
	e.deliver("installation_repositories", added)
	var list []store.GitHubInstallation
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || !slices.Contains(list[0].Repositories, "Codertocat/Space") || !slices.Contains(list[0].Repositories, repoName) {
		t.Fatalf("installations = %+v", list)
	}
	removed := example(t, "installation_repositories", "removed")
	removed.set("repositories_removed", added.get("repositories_added"))
	e.deliver("installation_repositories", removed)
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || slices.Contains(list[0].Repositories, "Codertocat/Space") {
		t.Fatalf("installations after removal = %+v", list)
	}
	// Suspended, and then a late installation_repositories delivery sent
	// while it was (its payload says so): still suspended.
	e.deliver("installation", example(t, "installation", "suspend"))
	late := example(t, "installation_repositories", "added")
	late.set("installation.suspended_at", "2024-01-01T00:00:00Z")
	e.deliver("installation_repositories", late)
	if in, err := e.st.FindGitHubInstallation(context.Background(), installID); err != nil || !in.Suspended {
		t.Fatalf("after a delivery sent while suspended: %+v, %v; want it suspended", in, err)
	}
	e.deliver("installation", example(t, "installation", "unsuspend"))
	if in, err := e.st.FindGitHubInstallation(context.Background(), installID); err != nil || in.Suspended {
		t.Fatalf("after unsuspend: %+v, %v", in, err)
	}
	deleted := example(t, "installation", "deleted")
	e.deliver("installation", deleted)
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("installations after uninstall = %+v", list)
	}
}
