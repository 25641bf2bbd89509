package web_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestInvitationsAndRoles: an admin invites by email; the link works once;
// a member can work on operations but not manage the fleet; the last owner
// stays.
func TestInvitationsAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner, fleet := e.SignUp("owner@example.com")
	f := "?fleet=" + fleet
	var inv struct {
		ID    string `json:"id"`
		Token string `json:"token"`
		URL   string `json:"url"`
		Role  string `json:"role"`
	}
	owner.Call("POST", "/api/invitations"+f, `{"email":"friend@example.com"}`, 201, &inv)
	if inv.Token == "" || !strings.HasPrefix(inv.URL, "http://ufo.test/invitations/") || inv.Role != "member" {
		t.Fatalf("invitation = %+v", inv)
	}
	var listed []map[string]any
	owner.Call("GET", "/api/invitations"+f, nil, 200, &listed)
	if len(listed) != 1 || listed[0]["token"] != nil {
		t.Fatalf("invitation list = %v (the token must not be listed)", listed)
	}
	friend, _ := e.SignUp("friend@example.com")
	friend.WantError("GET", "/api/missions"+f, nil, 404, "not_found")
	friend.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	stranger, _ := e.SignUp("stranger@example.com")
	stranger.WantError("POST", "/api/invitations/"+inv.Token+"/accept", nil, 404, "not_found")
	e.Client().WantError("POST", "/api/invitations/"+inv.Token+"/accept", nil, 401, "unauthorized")

	// A member works on operations but cannot manage the fleet.
	var mission idOnly
	owner.Call("POST", "/api/missions"+f, `{"name":"Team","key":"TM"}`, 201, &mission)
	friend.Call("GET", "/api/missions"+f, nil, 200, nil)
	friend.Call("POST", "/api/operations"+f, map[string]string{"title": "mine", "mission_id": mission.ID}, 201, nil)
	friend.WantError("POST", "/api/missions"+f, `{"name":"X","key":"XX"}`, 403, "forbidden")
	friend.WantError("POST", "/api/pilots"+f, `{"name":"x","kind":"claude"}`, 403, "forbidden")
	friend.WantError("POST", "/api/rovers/enrollment-codes"+f, `{}`, 403, "forbidden")

	var members []struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
	}
	owner.Call("GET", "/api/members"+f, nil, 200, &members)
	if len(members) != 2 {
		t.Fatalf("members = %+v", members)
	}
	var ownerID, friendID string
	for _, m := range members {
		if m.Role == "owner" {
			ownerID = m.UserID
		} else {
			friendID = m.UserID
		}
	}
	owner.WantError("PATCH", "/api/members/"+ownerID+f, `{"role":"member"}`, 409, "conflict")
	owner.Call("PATCH", "/api/members/"+friendID+f, `{"role":"admin"}`, 204, nil)
	friend.Call("POST", "/api/missions"+f, `{"name":"X","key":"XX"}`, 201, nil)
	friend.WantError("PATCH", "/api/members/"+friendID+f, `{"role":"owner"}`, 403, "forbidden")
	owner.WantError("DELETE", "/api/members/"+ownerID+f, nil, 409, "conflict")
	owner.Call("DELETE", "/api/members/"+friendID+f, nil, 204, nil)
	friend.WantError("GET", "/api/missions"+f, nil, 404, "not_found")
}

// TestCrewsAndAssignment: a crew with a pilot dispatches to it; a crew of
// people only leaves work in backlog; un-assigning cancels the queued run.
func TestCrewsAndAssignment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("crew@example.com")
	f := "?fleet=" + fleet
	var me struct {
		User idOnly `json:"user"`
	}
	c.Call("GET", "/api/me", nil, 200, &me)
	var mission, pilot, withPilot, humans idOnly
	c.Call("POST", "/api/missions"+f, `{"name":"Crew","key":"CRW"}`, 201, &mission)
	c.Call("POST", "/api/pilots"+f, `{"name":"cc","kind":"claude","settings":{"model":"opus","max_turns":5}}`, 201, &pilot)
	c.Call("POST", "/api/crews"+f, fmt.Sprintf(`{"name":"bots","pilot_ids":["%s"],"user_ids":["%s"]}`, pilot.ID, me.User.ID), 201, &withPilot)
	c.Call("POST", "/api/crews"+f, fmt.Sprintf(`{"name":"humans","user_ids":["%s"]}`, me.User.ID), 201, &humans)

	var op operationJSON
	c.Call("POST", "/api/operations"+f, map[string]string{"title": "crew work", "mission_id": mission.ID, "assignee_type": "crew", "assignee_id": withPilot.ID}, 201, &op)
	if op.Status != "queued" {
		t.Fatalf("assigned to a crew with a pilot: %s, want queued", op.Status)
	}
	var human operationJSON
	c.Call("POST", "/api/operations"+f, map[string]string{"title": "human work", "mission_id": mission.ID, "assignee_type": "crew", "assignee_id": humans.ID}, 201, &human)
	if human.Status != "backlog" {
		t.Fatalf("assigned to a human crew: %s, want backlog", human.Status)
	}
	c.Call("POST", "/api/operations"+f, map[string]string{"title": "for me", "mission_id": mission.ID, "assignee_type": "user", "assignee_id": me.User.ID}, 201, &human)
	if human.Status != "backlog" {
		t.Fatalf("assigned to a person: %s, want backlog", human.Status)
	}
	// Un-assign: the queued run is canceled and the operation returns to backlog.
	c.Call("PATCH", "/api/operations/"+op.ID+f, `{"assignee_type":"","assignee_id":null}`, 200, &op)
	if op.Status != "backlog" {
		t.Fatalf("after un-assign: %s", op.Status)
	}
	var runs []runJSON
	c.Call("GET", "/api/runs"+f+"&operation="+op.ID, nil, 200, &runs)
	if len(runs) != 1 || runs[0].Status != "canceled" {
		t.Fatalf("runs after un-assign = %+v", runs)
	}
	// Assign to the pilot by name, then retry is refused while a run is active.
	c.Call("PATCH", "/api/operations/"+op.ID+f, `{"assignee_type":"pilot","assignee_id":"cc"}`, 200, &op)
	if op.Status != "queued" {
		t.Fatalf("after assign: %s", op.Status)
	}
	c.WantError("POST", "/api/operations/"+op.ID+"/retry"+f, nil, 409, "conflict")
	// Moving it to done cancels the queued run.
	c.Call("PATCH", "/api/operations/"+op.ID+f, `{"status":"done"}`, 200, &op)
	c.Call("GET", "/api/runs"+f+"&operation="+op.ID+"&status=queued", nil, 200, &runs)
	if op.Status != "done" || len(runs) != 0 {
		t.Fatalf("after done: %s with %d queued runs", op.Status, len(runs))
	}
	c.Call("POST", "/api/operations/"+op.ID+"/retry"+f, nil, 200, &op)
	if op.Status != "queued" {
		t.Fatalf("after retry: %s", op.Status)
	}

	// Sub-operations inherit the mission; relationships and reactions round-trip.
	var sub operationJSON
	c.Call("POST", "/api/operations/CRW-1/sub-operations"+f, `{"title":"part one"}`, 201, &sub)
	if sub.ParentID == nil || *sub.ParentID != op.ID || sub.Code != "CRW-4" {
		t.Fatalf("sub-operation = %+v", sub)
	}
	var subs []operationJSON
	c.Call("GET", "/api/operations/CRW-1/sub-operations"+f, nil, 200, &subs)
	if len(subs) != 1 {
		t.Fatalf("sub-operations = %+v", subs)
	}
	c.Call("POST", "/api/operations/CRW-1/relationships"+f, `{"to_id":"CRW-2","kind":"blocks"}`, 201, nil)
	c.WantError("POST", "/api/operations/CRW-1/relationships"+f, `{"to_id":"CRW-2","kind":"blocks"}`, 409, "conflict")
	c.WantError("POST", "/api/operations/CRW-1/relationships"+f, `{"to_id":"CRW-1","kind":"blocks"}`, 400, "invalid")
	var rels []struct{ Kind string }
	c.Call("GET", "/api/operations/CRW-2/relationships"+f, nil, 200, &rels)
	if len(rels) != 1 || rels[0].Kind != "blocks" {
		t.Fatalf("relationships = %+v", rels)
	}
	c.Call("POST", "/api/operations/CRW-1/reactions"+f, `{"emoji":"rocket"}`, 201, nil)
	c.WantError("POST", "/api/operations/CRW-1/reactions"+f, `{"emoji":"rocket"}`, 409, "conflict")
}
