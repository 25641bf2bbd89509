package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover/wire"
)

// enroll makes an enrollment code as c (an admin of fleet) and trades it for
// a rover client.
func (e *env) enroll(c *webtest.Client, fleet string, profile wire.Profile) (*webtest.Client, wire.EnrollResponse) {
	e.T.Helper()
	var code struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	c.Call("POST", "/api/rovers/enrollment-codes?fleet="+fleet, `{"name":"","tags":["linux"]}`, 201, &code)
	if code.Code == "" || time.Until(code.ExpiresAt) > 15*time.Minute || time.Until(code.ExpiresAt) < 14*time.Minute {
		e.T.Fatalf("enrollment code = %+v, want a code expiring in 15 minutes", code)
	}
	r := e.Client()
	var out wire.EnrollResponse
	r.Call("POST", "/api/rovers/enroll", wire.EnrollRequest{Code: code.Code, Name: "r", Profile: profile}, 201, &out)
	r.Token = out.Token
	// A code works once.
	e.Client().WantError("POST", "/api/rovers/enroll", wire.EnrollRequest{Code: code.Code}, 401, "unauthorized")
	return r, out
}

// setup makes a fleet with a mission and an exec pilot.
func (e *env) setup(email string) (c *webtest.Client, fleet, mission, pilot string) {
	c, fleet = e.SignUp(email)
	var m, p idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Rovers","key":"ROV"}`, 201, &m)
	c.Call("POST", "/api/pilots?fleet="+fleet, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, &p)
	return c, fleet, m.ID, p.ID
}

func (e *env) assign(c *webtest.Client, fleet, mission, pilot, title string) operationJSON {
	var op operationJSON
	c.Call("POST", "/api/operations?fleet="+fleet, map[string]string{"title": title, "body": "echo hi", "mission_id": mission,
		"assignee_type": "pilot", "assignee_id": pilot}, 201, &op)
	return op
}

func claim(r *webtest.Client, wait string) (int, wire.Claim) {
	status, b, _ := r.Do("POST", "/api/rover/claim?wait="+wait, "{}")
	var c wire.Claim
	if status == 200 {
		if err := json.Unmarshal(b, &c); err != nil {
			r.T.Fatal(err)
		}
	}
	return status, c
}

func TestRoverRunLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet, mission, pilot := e.setup("life@example.com")
	f := "?fleet=" + fleet
	r, reg := e.enroll(c, fleet, wire.Profile{OS: "linux", Hostname: "box", Pilots: []wire.CLI{{Kind: "exec"}}})
	r.Call("POST", "/api/rover/connect", wire.ConnectRequest{Profile: wire.Profile{OS: "linux", Hostname: "box", CPUs: 2,
		Pilots: []wire.CLI{{Kind: "exec"}, {Kind: "claude", Version: "2.1.0"}}}}, 200, nil)
	// A rover reporting the claude CLI makes a claude pilot available, once.
	r.Call("POST", "/api/rover/connect", wire.ConnectRequest{Profile: wire.Profile{OS: "linux", Hostname: "box", CPUs: 2,
		Pilots: []wire.CLI{{Kind: "exec"}, {Kind: "claude", Version: "2.1.0"}}}}, 200, nil)
	var pilots []struct{ Name, Kind string }
	c.Call("GET", "/api/pilots"+f, nil, 200, &pilots)
	claudes := 0
	for _, p := range pilots {
		if p.Kind == "claude" {
			claudes++
		}
	}
	if claudes != 1 {
		t.Fatalf("pilots after a rover reported claude = %+v, want one claude pilot", pilots)
	}

	// Nothing queued: the long-poll ends with 204.
	if status, _ := claim(r, "0.2"); status != 204 {
		t.Fatalf("empty claim: %d, want 204", status)
	}
	op := e.assign(c, fleet, mission, pilot, "Say hello")
	status, cl := claim(r, "1")
	if status != 200 || cl.Operation.Code != "ROV-1" || cl.Pilot.Kind != "exec" || cl.Pilot.Settings.Command != "true" ||
		cl.Branch != "ufo/ROV-1-say-hello" || cl.Attempt != 1 || !strings.Contains(cl.Prompt, "echo hi") {
		t.Fatalf("claim = %d %+v", status, cl)
	}
	base := "/api/rover/runs/" + cl.RunID
	r.WantError("POST", base+"/start", wire.RunCall{ClaimToken: "ufoc_wrong"}, 409, "conflict")
	var ack wire.RunAck
	r.Call("POST", base+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, &ack)
	var got operationJSON
	c.Call("GET", "/api/operations/"+op.ID+f, nil, 200, &got)
	if got.Status != "running" {
		t.Fatalf("operation = %s, want running", got.Status)
	}
	batch := wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{
		{Seq: 1, Type: "text", Data: json.RawMessage(`{"text":"one"}`)},
		{Seq: 2, Type: "tool_use", Data: json.RawMessage(`{"id":"t1","name":"Write","input":{"file_path":"a"}}`)},
	}}
	r.Call("POST", base+"/events", batch, 200, &ack)
	r.Call("POST", base+"/events", batch, 200, &ack) // resent: stored once
	batch.Events = []wire.Event{{Seq: 3, Type: "usage", Data: json.RawMessage(`{"input_tokens":5,"output_tokens":7,"cost_usd":0.01}`)}}
	r.Call("POST", base+"/events", batch, 200, &ack)
	if ack.LastSeq != 3 || ack.Cancel {
		t.Fatalf("ack = %+v", ack)
	}
	r.WantError("POST", base+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{{Seq: 4, Type: "weird"}}}, 400, "invalid")
	r.Call("POST", base+"/heartbeat", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
	r.Call("POST", base+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded", FinalMessage: "done", SessionID: "s1",
		Usage:    &wire.Usage{InputTokens: 5, OutputTokens: 7},
		Artifact: &wire.Artifact{Diff: "+hello\n", Files: 1, Insertions: 1, Branch: cl.Branch, HeadCommit: "abc"}}, 200, nil)
	// Exactly one terminal state: a second report is refused.
	r.WantError("POST", base+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "failed"}, 409, "conflict")

	var run runJSON
	c.Call("GET", "/api/runs/"+cl.RunID+f, nil, 200, &run)
	if run.Status != "succeeded" || run.Artifact == nil || run.Artifact.Files != 1 {
		t.Fatalf("run = %+v", run)
	}
	var evs []struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
	}
	c.Call("GET", "/api/runs/"+cl.RunID+"/events"+f, nil, 200, &evs)
	if len(evs) != 3 || evs[0].Seq != 1 || evs[1].Type != "tool_use" || evs[2].Seq != 3 {
		t.Fatalf("events = %+v", evs)
	}
	c.Call("GET", "/api/operations/"+op.ID+f, nil, 200, &got)
	if got.Status != "in_review" {
		t.Fatalf("operation = %s, want in_review", got.Status)
	}
	var sigs []struct{ Kind string }
	c.Call("GET", "/api/signals"+f, nil, 200, &sigs)
	if len(sigs) != 1 || sigs[0].Kind != "review_requested" {
		t.Fatalf("signals = %+v", sigs)
	}

	// A message on the operation in review starts a follow-up that resumes the session.
	var msg struct {
		FollowUp bool `json:"follow_up_run"`
	}
	c.Call("POST", "/api/operations/ROV-1/messages"+f, `{"body":"now say bye"}`, 201, &msg)
	if !msg.FollowUp {
		t.Fatal("message on an in_review operation started no follow-up run")
	}
	status, cl2 := claim(r, "1")
	if status != 200 || !cl2.FollowUp || cl2.SessionID != "s1" || cl2.Prompt != "now say bye" || cl2.Branch != cl.Branch {
		t.Fatalf("follow-up claim = %d %+v", status, cl2)
	}

	// The rover shows up with its profile and as busy.
	var rovers []struct {
		ID      string          `json:"id"`
		Status  string          `json:"status"`
		Profile json.RawMessage `json:"profile"`
	}
	c.Call("GET", "/api/rovers"+f, nil, 200, &rovers)
	if len(rovers) != 1 || rovers[0].ID != reg.RoverID || rovers[0].Status != "busy" || !strings.Contains(string(rovers[0].Profile), `"cpus": 2`) && !strings.Contains(string(rovers[0].Profile), `"cpus":2`) {
		t.Fatalf("rovers = %+v", rovers)
	}
	// Cancel reaches the rover in its next heartbeat; it reports canceled.
	c.Call("POST", "/api/runs/"+cl2.RunID+"/cancel"+f, nil, 200, nil)
	r.Call("POST", "/api/rover/runs/"+cl2.RunID+"/heartbeat", wire.RunCall{ClaimToken: cl2.ClaimToken}, 200, &ack)
	if !ack.Cancel {
		t.Fatal("heartbeat after cancel did not ask the rover to stop")
	}
	r.Call("POST", "/api/rover/runs/"+cl2.RunID+"/complete", wire.Completion{ClaimToken: cl2.ClaimToken, Status: "canceled"}, 200, nil)
	c.Call("GET", "/api/runs/"+cl2.RunID+f, nil, 200, &run)
	if run.Status != "canceled" {
		t.Fatalf("run after cancel = %s", run.Status)
	}

	// A revoked rover's token stops working.
	r.Call("DELETE", "/api/rover/self", nil, 204, nil)
	r.WantError("POST", "/api/rover/claim", "{}", 401, "unauthorized")
}

// TestTwoRoversOneRun: two rovers long-poll; one run appears; exactly one
// rover gets it, and it gets it by wake-up, not by waiting the poll out.
// A rover's tags are its enrollment code's and those it reports (ufo rover
// start --tags) on enrollment and on every connect, and the claim honours
// them at once.
func TestReportedRoverTagsCountForClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet, mission, _ := e.setup("tags@example.com")
	f := "?fleet=" + fleet
	var gpu idOnly
	c.Call("POST", "/api/pilots"+f, `{"name":"big","kind":"exec","settings":{"command":"true","tags":["gpu"]}}`, 201, &gpu)
	// The code gives "linux"; the rover reports "ci" when it enrolls.
	r, reg := e.enroll(c, fleet, wire.Profile{OS: "linux", Pilots: []wire.CLI{{Kind: "exec"}}, Tags: []string{"ci"}})
	if !slices.Equal(reg.Tags, []string{"ci", "linux"}) {
		t.Errorf("enrolled with tags %q, want the code's and the reported ones", reg.Tags)
	}
	connect := func(tags ...string) []string {
		t.Helper()
		var out wire.ConnectResponse
		r.Call("POST", "/api/rover/connect", wire.ConnectRequest{Profile: wire.Profile{OS: "linux", Pilots: []wire.CLI{{Kind: "exec"}}, Tags: tags}}, 200, &out)
		return out.Tags
	}
	roverTags := func() []string {
		t.Helper()
		var rv struct{ Tags []string }
		c.Call("GET", "/api/rovers/"+reg.RoverID+f, nil, 200, &rv)
		return rv.Tags
	}
	if got := connect(); !slices.Equal(got, []string{"linux"}) || !slices.Equal(roverTags(), got) {
		t.Errorf("connected reporting no tags: %q (listed %q), want the code's alone", got, roverTags())
	}

	e.assign(c, fleet, mission, gpu.ID, "Needs a GPU")
	if status, _ := claim(r, "0.2"); status != 204 {
		t.Fatalf("claim without the gpu tag: %d, want 204", status)
	}
	// Reported right after that claim, within the time the server trusts
	// what it looked up for the token: the claim sees the new tags.
	if got := connect("gpu", " ci "); !slices.Equal(got, []string{"ci", "gpu", "linux"}) || !slices.Equal(roverTags(), got) {
		t.Errorf("connected reporting gpu and ci: %q (listed %q)", got, roverTags())
	}
	if status, cl := claim(r, "1"); status != 200 || cl.Pilot.ID != gpu.ID {
		t.Fatalf("claim with the gpu tag: %d %+v, want the gpu run", status, cl)
	}
	// A reconnect replaces what the rover reported, never the code's.
	if got := connect(); !slices.Equal(got, []string{"linux"}) {
		t.Errorf("reconnected reporting no tags: %q, want the code's alone", got)
	}
	// A list typed by hand, with blanks and repeats, is cleaned rather
	// than refused (a refused connect would keep the rover away for good).
	if got := connect("gpu", "", " ", "gpu "); !slices.Equal(got, []string{"gpu", "linux"}) {
		t.Errorf("connected reporting gpu, blanks and a repeat: %q, want gpu and the code's", got)
	}
	r.WantError("POST", "/api/rover/connect", wire.ConnectRequest{Profile: wire.Profile{Tags: []string{strings.Repeat("x", 51)}}}, 400, "invalid")
}

func TestTwoRoversOneRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.LongPoll = 5 * time.Second })
	c, fleet, mission, pilot := e.setup("two@example.com")
	r1, _ := e.enroll(c, fleet, wire.Profile{})
	r2, _ := e.enroll(c, fleet, wire.Profile{})
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	elapsed := make([]time.Duration, 2)
	for i, r := range []*webtest.Client{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			statuses[i], _ = claim(r, "3")
			elapsed[i] = time.Since(start)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	e.assign(c, fleet, mission, pilot, "only one")
	wg.Wait()
	won := 0
	for i, s := range statuses {
		if s == 200 {
			won++
			if elapsed[i] > 2500*time.Millisecond {
				t.Fatalf("claim answered after %v: not woken by NOTIFY", elapsed[i])
			}
		} else if s != 204 {
			t.Fatalf("claim status %d", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d rovers claimed the one run, want exactly 1 (statuses %v)", won, statuses)
	}
}

// TestRevokedRoverInLongPoll: a rover revoked while its claim waits is
// answered 401 at its next claim attempt, and the wake-up it used goes on
// to a rover of the same group, which gets the run.
func TestRevokedRoverInLongPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.LongPoll = 5 * time.Second })
	c, fleet, mission, pilot := e.setup("revoked@example.com")
	gone, reg := e.enroll(c, fleet, wire.Profile{})
	stays, _ := e.enroll(c, fleet, wire.Profile{})
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	// The revoked rover waits first, so the wake-up goes to it first.
	for i, r := range []*webtest.Client{gone, stays} {
		wg.Go(func() { statuses[i], _ = claim(r, "4") })
		time.Sleep(300 * time.Millisecond)
	}
	c.Call("DELETE", "/api/rovers/"+reg.RoverID+"?fleet="+fleet, nil, 204, nil)
	e.assign(c, fleet, mission, pilot, "for the one left")
	wg.Wait()
	if statuses[1] != 200 {
		t.Fatalf("claims: revoked rover %d, the other %d; want the other to get the run (200)", statuses[0], statuses[1])
	}
	if statuses[0] != 401 {
		t.Fatalf("revoked rover's waiting claim answered %d, want 401", statuses[0])
	}
	gone.WantError("POST", "/api/rover/claim", "{}", 401, "unauthorized")
}

// TestKnownEmptyQueueIsLookedAtAgain: a claim that waits because its
// group's queue is known empty looks again when that knowledge runs out
// (a second), instead of sleeping through its long poll: a run can be
// queued without a wake-up reaching this server (its notification lost
// with a server that died between commit and notify).
func TestKnownEmptyQueueIsLookedAtAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.LongPoll = 10 * time.Second })
	c, fleet, mission, pilot := e.setup("recheck@example.com")
	first, _ := e.enroll(c, fleet, wire.Profile{})
	second, _ := e.enroll(c, fleet, wire.Profile{})
	e.assign(c, fleet, mission, pilot, "queued again without a wake-up")
	status, cl := claim(first, "2")
	if status != 200 {
		t.Fatalf("claim: %d", status)
	}
	if status, _ := claim(second, "0"); status != 204 {
		t.Fatalf("claim with nothing queued: %d, want 204", status)
	}
	// The run goes back to the queue with no notification.
	tag, err := e.Store.Pool().Exec(context.Background(),
		"UPDATE runs SET status = 'queued', rover_id = NULL, claim_token_hash = NULL WHERE id = $1", cl.RunID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("requeue: %v, %v", tag, err)
	}
	start := time.Now()
	status, again := claim(second, "8")
	if status != 200 || again.RunID != cl.RunID {
		t.Fatalf("claim after a requeue nobody heard of: %d %+v, want the run", status, again)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("the claim got the run after %v: it slept on a stale empty queue", took)
	}
}

// TestLeaseExpiry: a rover that stops reporting loses its run to the
// sweeper; after three attempts the run fails with lease_lost, and a late
// report from a former holder is refused.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.Lease = time.Second })
	c, fleet, mission, pilot := e.setup("lease@example.com")
	r, _ := e.enroll(c, fleet, wire.Profile{})
	op := e.assign(c, fleet, mission, pilot, "flaky host")
	var claims []wire.Claim
	for attempt := 1; attempt <= 3; attempt++ {
		status, cl := claim(r, "2")
		if status != 200 || cl.Attempt != attempt {
			t.Fatalf("attempt %d: claim %d %+v", attempt, status, cl)
		}
		claims = append(claims, cl)
		// Each attempt numbers its events from 1; none may be dropped.
		r.Call("POST", "/api/rover/runs/"+cl.RunID+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{
			{Seq: 1, Type: "text", Data: json.RawMessage(fmt.Sprintf(`{"text":"attempt %d, one"}`, attempt))},
			{Seq: 2, Type: "text", Data: json.RawMessage(fmt.Sprintf(`{"text":"attempt %d, two"}`, attempt))},
		}}, 200, nil)
		time.Sleep(1100 * time.Millisecond)
		n, err := e.Store.SweepLeases(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("sweep after attempt %d: %d, %v", attempt, n, err)
		}
	}
	var run runJSON
	c.Call("GET", "/api/runs/"+claims[0].RunID+"?fleet="+fleet, nil, 200, &run)
	if run.Status != "failed" || run.FailureReason != "lease_lost" || run.Attempt != 3 {
		t.Fatalf("run = %+v, want failed with lease_lost after 3 attempts", run)
	}
	for _, cl := range claims {
		r.WantError("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded"}, 409, "conflict")
	}
	var evs []struct {
		Seq  int64
		Data struct{ Text string }
	}
	c.Call("GET", "/api/runs/"+claims[0].RunID+"/events?fleet="+fleet, nil, 200, &evs)
	if len(evs) != 6 || evs[5].Seq != 6 || evs[4].Data.Text != "attempt 3, one" {
		t.Fatalf("events of three attempts = %+v, want 6 in order", evs)
	}
	var got operationJSON
	c.Call("GET", "/api/operations/"+op.ID+"?fleet="+fleet, nil, 200, &got)
	if got.Status != "backlog" {
		t.Fatalf("operation after lease_lost = %s, want backlog (with a failed signal)", got.Status)
	}
}

// TestEventStreamResume reads the change feed over SSE, drops the
// connection, and resumes with Last-Event-ID without losing or repeating.
func TestEventStreamResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("sse@example.com")
	read := func(lastID string, n int, during func()) []string {
		req, _ := http.NewRequest("GET", e.URL+"/api/events/stream?fleet="+fleet, nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.HTTP.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
		if during != nil {
			go during()
		}
		var ids []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && len(ids) < n {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				ids = append(ids, id)
			}
		}
		return ids
	}
	mk := func(key string) {
		c.Call("POST", "/api/missions?fleet="+fleet, fmt.Sprintf(`{"name":"%s","key":"%s"}`, key, key), 201, nil)
	}
	mk("AA")
	first := read("", 3, func() { mk("BB") }) // fleet.created and mission AA from the past; BB arrives live
	mk("CC")
	mk("DD")
	rest := read(first[len(first)-1], 2, nil)
	all := append(first, rest...)
	var feed []struct{ ID int64 }
	c.Call("GET", "/api/events?fleet="+fleet, nil, 200, &feed)
	if len(feed) != 5 || len(all) != 5 {
		t.Fatalf("stream gave %v, feed has %d rows", all, len(feed))
	}
	for i, ev := range feed {
		if fmt.Sprint(ev.ID) != all[i] {
			t.Fatalf("stream ids %v, feed %+v", all, feed)
		}
	}
}

// TestReassignWhileRunning: reassigning a running operation asks the old
// run to stop and queues a new one; the old run's canceled report does not
// pull the operation back to backlog.
func TestReassignWhileRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet, mission, pilot := e.setup("reassign@example.com")
	f := "?fleet=" + fleet
	r, _ := e.enroll(c, fleet, wire.Profile{})
	var other idOnly
	c.Call("POST", "/api/pilots"+f, `{"name":"other","kind":"exec","settings":{"command":"true"}}`, 201, &other)
	op := e.assign(c, fleet, mission, pilot, "switch pilots")
	_, cl := claim(r, "1")
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
	var got operationJSON
	c.Call("PATCH", "/api/operations/"+op.ID+f, map[string]string{"assignee_type": "pilot", "assignee_id": other.ID}, 200, &got)
	if got.Status != "queued" {
		t.Fatalf("after reassign: %s", got.Status)
	}
	var ack wire.RunAck
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/heartbeat", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, &ack)
	if !ack.Cancel {
		t.Fatal("the old run was not asked to stop")
	}
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "canceled"}, 200, nil)
	c.Call("GET", "/api/operations/"+op.ID+f, nil, 200, &got)
	if got.Status != "queued" {
		t.Fatalf("after the old run's cancel report: %s, want queued", got.Status)
	}
	_, next := claim(r, "1")
	if next.Pilot.Name != "other" {
		t.Fatalf("next claim = %+v, want the other pilot's run", next)
	}
}
