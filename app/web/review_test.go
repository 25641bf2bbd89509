package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/rover/wire"
)

// TestNULFromPilot: a pilot that prints NUL characters does not wedge its
// run: the events and the report are stored without them.
func TestNULFromPilot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet, mission, pilot := e.setup("nul@example.com")
	r, _ := e.enroll(c, fleet, wire.Profile{})
	e.assign(c, fleet, mission, pilot, "binary output")
	_, cl := claim(r, "1")
	base := "/api/rover/runs/" + cl.RunID
	r.Call("POST", base+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
	r.Call("POST", base+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{
		{Seq: 1, Type: "text", Data: json.RawMessage(`{"text":"a\u0000b"}`)},
	}}, 200, nil)
	r.Call("POST", base+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded", FinalMessage: "done\x00!",
		Artifact: &wire.Artifact{Diff: "+x\x00\n", Files: 1}}, 200, nil)
	var evs []struct{ Data struct{ Text string } }
	c.Call("GET", "/api/runs/"+cl.RunID+"/events?fleet="+fleet, nil, 200, &evs)
	if len(evs) != 1 || evs[0].Data.Text != "ab" {
		t.Fatalf("events = %+v", evs)
	}
	var run struct {
		Status       string `json:"status"`
		FinalMessage string `json:"final_message"`
	}
	c.Call("GET", "/api/runs/"+cl.RunID+"?fleet="+fleet, nil, 200, &run)
	if run.Status != "succeeded" || run.FinalMessage != "done!" {
		t.Fatalf("run = %+v", run)
	}
	// NUL in a title is bad input, not a server error.
	c.WantError("POST", "/api/operations?fleet="+fleet, map[string]string{"title": "a\x00b", "mission_id": mission}, 400, "invalid")
}

// TestMessageBurstStartsOneFollowUp: several messages at once on an
// operation in review start one follow-up run, not one each.
func TestMessageBurstStartsOneFollowUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet, mission, pilot := e.setup("burst@example.com")
	r, _ := e.enroll(c, fleet, wire.Profile{})
	op := e.assign(c, fleet, mission, pilot, "burst")
	_, cl := claim(r, "1")
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded", SessionID: "s"}, 200, nil)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Call("POST", "/api/operations/"+op.ID+"/messages?fleet="+fleet, map[string]string{"body": fmt.Sprint("more ", i)}, 201, nil)
		}()
	}
	wg.Wait()
	var runs []runJSON
	c.Call("GET", "/api/runs?fleet="+fleet+"&operation="+op.ID+"&status=queued", nil, 200, &runs)
	if len(runs) != 1 {
		t.Fatalf("%d follow-up runs queued, want 1", len(runs))
	}
}

// TestAdminsCannotTakeOwnersDown: an admin cannot demote or remove an
// owner; a pilot with active runs cannot be deleted.
func TestAdminsCannotTakeOwnersDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner, fleet := e.SignUp("boss@example.com")
	f := "?fleet=" + fleet
	var inv struct{ Token string }
	owner.Call("POST", "/api/invitations"+f, `{"email":"adm@example.com","role":"admin"}`, 201, &inv)
	admin, _ := e.SignUp("adm@example.com")
	admin.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	var me struct {
		User idOnly `json:"user"`
	}
	owner.Call("GET", "/api/me", nil, 200, &me)
	admin.WantError("PATCH", "/api/members/"+me.User.ID+f, `{"role":"member"}`, 403, "forbidden")
	admin.WantError("DELETE", "/api/members/"+me.User.ID+f, nil, 403, "forbidden")

	var mission, pilot idOnly
	owner.Call("POST", "/api/missions"+f, `{"name":"P","key":"PP"}`, 201, &mission)
	owner.Call("POST", "/api/pilots"+f, `{"name":"busy","kind":"exec","settings":{"command":"true"}}`, 201, &pilot)
	owner.Call("POST", "/api/operations"+f, map[string]string{"title": "t", "mission_id": mission.ID, "assignee_type": "pilot", "assignee_id": pilot.ID}, 201, nil)
	owner.WantError("DELETE", "/api/pilots/"+pilot.ID+f, nil, 409, "conflict")
}

func TestSignUpRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Sent at once: the bucket holds 5 and refills one every 12 s.
	const n = 12
	limited := refusedAtOnce(n, func(i int) (int, http.Header) {
		status, _, h := e.Client().Do("POST", "/api/auth/signup", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "P@ssw0rd", "name": "U"})
		return status, h
	})
	if limited < n-6 {
		t.Fatalf("%d of %d simultaneous sign-ups were rate limited, want at least %d", limited, n, n-6)
	}
}

// TestStreamEndsWhenMemberLeaves: an event stream stops once its user is
// no longer a member of the fleet.
func TestStreamEndsWhenMemberLeaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.StreamPing = 100 * time.Millisecond })
	owner, fleet := e.SignUp("host@example.com")
	var inv struct{ Token string }
	owner.Call("POST", "/api/invitations?fleet="+fleet, `{"email":"guest@example.com"}`, 201, &inv)
	guest, _ := e.SignUp("guest@example.com")
	guest.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	var me struct {
		User idOnly `json:"user"`
	}
	guest.Call("GET", "/api/me", nil, 200, &me)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.URL+"/api/events/stream?fleet="+fleet, nil)
	resp, err := guest.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	owner.Call("DELETE", "/api/members/"+me.User.ID+"?fleet="+fleet, nil, 204, nil)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "member.deleted") {
			break
		}
	}
	for sc.Scan() {
	}
	if ctx.Err() != nil {
		t.Fatal("the stream was still open 10 s after the user left the fleet")
	}
}
