package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

type operationJSON struct {
	ID       string   `json:"id"`
	Code     string   `json:"code"`
	Status   string   `json:"status"`
	Title    string   `json:"title"`
	Labels   []string `json:"labels"`
	ParentID *string  `json:"parent_id"`
}

type runJSON struct {
	ID            string `json:"id"`
	OperationID   string `json:"operation_id"`
	OperationCode string `json:"operation_code"`
	Status        string `json:"status"`
	Attempt       int    `json:"attempt"`
	FailureReason string `json:"failure_reason"`
	Artifact      *struct {
		Diff  string `json:"diff"`
		Files int    `json:"files"`
	} `json:"artifact"`
}

// TestWalkthrough replays the README's walkthrough request by request.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.Client()
	c.Call("POST", "/api/auth/signup", `{"email":"me@example.com","password":"P@ssw0rd","name":"Me"}`, 201, nil)
	var fleets []idOnly
	c.Call("GET", "/api/fleets", nil, 200, &fleets)
	if len(fleets) != 1 {
		t.Fatalf("fleets = %v, want one", fleets)
	}
	fleet := fleets[0].ID
	var mission, pilot idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Moonshot","key":"MSJ"}`, 201, &mission)
	c.Call("POST", "/api/pilots?fleet="+fleet, `{"name":"cc","kind":"claude"}`, 201, &pilot)
	var op operationJSON
	c.Call("POST", "/api/operations?fleet="+fleet,
		fmt.Sprintf(`{"title":"hello","body":"Summarize this repo","mission_id":"%s","assignee_type":"pilot","assignee_id":"%s"}`, mission.ID, pilot.ID), 201, &op)
	if op.Code != "MSJ-1" || op.Status != "queued" {
		t.Fatalf("operation = %+v, want MSJ-1 queued", op)
	}
	var runs []runJSON
	c.Call("GET", "/api/runs?fleet="+fleet, nil, 200, &runs)
	if len(runs) != 1 || runs[0].Status != "queued" || runs[0].OperationID != op.ID {
		t.Fatalf("runs = %+v, want one queued run for %s", runs, op.ID)
	}

	// The operation is addressable by code too, and the session works with /api/me.
	var byCode operationJSON
	c.Call("GET", "/api/operations/MSJ-1?fleet="+fleet, nil, 200, &byCode)
	if byCode.ID != op.ID {
		t.Fatalf("by code = %+v", byCode)
	}
	c.Call("GET", "/api/me", nil, 200, nil)
	c.Call("POST", "/api/auth/logout", nil, 204, nil)
	c.WantError("GET", "/api/me", nil, 401, "unauthorized")
	c.Call("POST", "/api/auth/login", `{"email":"ME@example.com","password":"P@ssw0rd"}`, 200, nil)
	c.Call("GET", "/api/me", nil, 200, nil)
}

// TestConcurrentCodes creates 50 operations in one mission at once: codes
// must be 1..50, each exactly once.
func TestConcurrentCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("codes@example.com")
	var mission idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Codes","key":"CDE"}`, 201, &mission)
	const n = 50
	codes := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, _ := c.Do("POST", "/api/operations?fleet="+fleet, map[string]string{"title": fmt.Sprintf("op %d", i), "mission_id": mission.ID})
			if status != 201 {
				errs <- fmt.Sprintf("status %d: %s", status, b)
				return
			}
			var op operationJSON
			if err := json.Unmarshal(b, &op); err != nil {
				errs <- err.Error()
				return
			}
			codes[i] = op.Code
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	seen := map[string]bool{}
	for _, code := range codes {
		if seen[code] {
			t.Fatalf("code %s given twice", code)
		}
		seen[code] = true
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprintf("CDE-%d", i)] {
			t.Fatalf("code CDE-%d missing; got %v", i, codes)
		}
	}
}

// TestBadInput checks each bad request gets the error shape and changes
// nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("bad@example.com")
	other, otherFleet := e.SignUp("other@example.com")
	var mission, foreign idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Moonshot","key":"MSJ"}`, 201, &mission)
	other.Call("POST", "/api/missions?fleet="+otherFleet, `{"name":"Theirs","key":"THR"}`, 201, &foreign)
	f := "?fleet=" + fleet
	long := strings.Repeat("x", 301)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"malformed json", "POST", "/api/missions" + f, `{"name":`, 400, "invalid"},
		{"not an object", "POST", "/api/missions" + f, `[1,2]`, 400, "invalid"},
		{"two objects", "POST", "/api/missions" + f, `{"name":"A","key":"AB"}{}`, 400, "invalid"},
		{"unknown field", "POST", "/api/missions" + f, `{"name":"A","key":"AB","color":"red"}`, 400, "invalid"},
		{"missing name", "POST", "/api/missions" + f, `{"key":"AB"}`, 400, "invalid"},
		{"lowercase key", "POST", "/api/missions" + f, `{"name":"A","key":"ab"}`, 400, "invalid"},
		{"one-letter key", "POST", "/api/missions" + f, `{"name":"A","key":"A"}`, 400, "invalid"},
		{"seven-letter key", "POST", "/api/missions" + f, `{"name":"A","key":"ABCDEFG"}`, 400, "invalid"},
		{"taken key", "POST", "/api/missions" + f, `{"name":"Again","key":"MSJ"}`, 409, "conflict"},
		{"over-long title", "POST", "/api/operations" + f, map[string]string{"title": long, "mission_id": mission.ID}, 400, "invalid"},
		{"missing title", "POST", "/api/operations" + f, map[string]string{"mission_id": mission.ID}, 400, "invalid"},
		{"wrong type", "POST", "/api/operations" + f, `{"title":5}`, 400, "invalid"},
		{"unknown mission", "POST", "/api/operations" + f, `{"title":"t","mission_id":"00000000-0000-0000-0000-000000000000"}`, 404, "not_found"},
		{"malformed mission id", "POST", "/api/operations" + f, `{"title":"t","mission_id":"no-such-id"}`, 404, "not_found"},
		{"unknown mission key", "POST", "/api/operations" + f, `{"title":"t","mission_id":"NOPE"}`, 404, "not_found"},
		{"another fleet's mission", "POST", "/api/operations" + f, map[string]string{"title": "t", "mission_id": foreign.ID}, 404, "not_found"},
		{"another fleet's mission key", "POST", "/api/operations" + f, `{"title":"t","mission_id":"THR"}`, 404, "not_found"},
		{"bad pilot kind", "POST", "/api/pilots" + f, `{"name":"p","kind":"gpt"}`, 400, "invalid"},
		{"exec without command", "POST", "/api/pilots" + f, `{"name":"p","kind":"exec"}`, 400, "invalid"},
		{"unknown pilot setting", "POST", "/api/pilots" + f, `{"name":"p","kind":"claude","settings":{"mdl":"x"}}`, 400, "invalid"},
		{"duplicate email", "POST", "/api/auth/signup", `{"email":"BAD@example.com","password":"P@ssw0rd","name":"B"}`, 409, "conflict"},
		{"short password", "POST", "/api/auth/signup", `{"email":"new@example.com","password":"short","name":"B"}`, 400, "invalid"},
		{"bad email", "POST", "/api/auth/signup", `{"email":"nope","password":"P@ssw0rd","name":"B"}`, 400, "invalid"},
		{"wrong password", "POST", "/api/auth/login", `{"email":"bad@example.com","password":"wrong-password"}`, 401, "unauthorized"},
		{"unknown email", "POST", "/api/auth/login", `{"email":"ghost@example.com","password":"P@ssw0rd"}`, 401, "unauthorized"},
		{"missing fleet", "GET", "/api/missions", nil, 400, "invalid"},
		{"foreign fleet", "GET", "/api/missions?fleet=" + otherFleet, nil, 404, "not_found"},
		{"malformed fleet", "GET", "/api/missions?fleet=nope", nil, 404, "not_found"},
		{"bad status filter", "GET", "/api/operations" + f + "&status=flying", nil, 400, "invalid"},
		{"bad limit", "GET", "/api/operations" + f + "&limit=0", nil, 400, "invalid"},
		{"bad cursor", "GET", "/api/operations" + f + "&cursor=not-a-cursor!", nil, 400, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.T = t
			c.WantError(tc.method, tc.path, tc.body, tc.status, tc.code)
		})
	}
	c.T = t
	// Nothing was written: one mission, no operation, no extra pilot, one account per email.
	var missions, ops, pilots []idOnly
	c.Call("GET", "/api/missions"+f, nil, 200, &missions)
	c.Call("GET", "/api/operations"+f, nil, 200, &ops)
	c.Call("GET", "/api/pilots"+f, nil, 200, &pilots)
	if len(missions) != 1 || len(ops) != 0 || len(pilots) != 1 {
		t.Fatalf("after bad input: %d missions, %d operations, %d pilots; want 1, 0, 1 (the demo pilot)", len(missions), len(ops), len(pilots))
	}
}

func TestSignInRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Sent at once, so the limit is what refuses them, not the clock: the
	// bucket holds 10 and refills one every 6 s.
	const n = 20
	limited := refusedAtOnce(n, func(int) (int, http.Header) {
		status, _, h := e.Client().Do("POST", "/api/auth/login", `{"email":"x@example.com","password":"whatever1"}`)
		return status, h
	})
	if limited < n-12 {
		t.Fatalf("%d of %d simultaneous sign-in attempts were rate limited, want at least %d", limited, n, n-12)
	}
}

// refusedAtOnce sends n requests at the same time and counts the 429s that
// say when to retry.
func refusedAtOnce(n int, send func(i int) (int, http.Header)) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	limited := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, h := send(i)
			if status == http.StatusTooManyRequests && h.Get("Retry-After") != "" {
				mu.Lock()
				limited++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return limited
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("lists@example.com")
	f := "?fleet=" + fleet
	var mission idOnly
	c.Call("POST", "/api/missions"+f, `{"name":"Lists","key":"LST"}`, 201, &mission)
	for i := 1; i <= 5; i++ {
		labels := []string{"even"}
		if i%2 == 1 {
			labels = []string{"odd"}
		}
		c.Call("POST", "/api/operations"+f, map[string]any{"title": fmt.Sprintf("task %d", i), "mission_id": mission.ID, "labels": labels, "priority": i % 5}, 201, nil)
	}
	var odd []operationJSON
	c.Call("GET", "/api/operations"+f+"&label=odd", nil, 200, &odd)
	if len(odd) != 3 {
		t.Fatalf("label filter gave %d, want 3", len(odd))
	}
	var found []operationJSON
	c.Call("GET", "/api/operations"+f+"&q=TASK%203", nil, 200, &found)
	if len(found) != 1 || found[0].Title != "task 3" {
		t.Fatalf("text filter gave %+v", found)
	}
	// Pages of two follow the Link header to the end, no duplicates.
	var all []string
	next := "/api/operations" + f + "&limit=2&sort=created"
	for next != "" {
		status, b, h := c.Do("GET", next, nil)
		if status != 200 {
			t.Fatalf("page %s: %d %s", next, status, b)
		}
		var page []operationJSON
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, op := range page {
			all = append(all, op.Code)
		}
		next = ""
		if l := h.Get("Link"); l != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ";")[0], "<"), ">")
		}
	}
	want := []string{"LST-1", "LST-2", "LST-3", "LST-4", "LST-5"}
	if strings.Join(all, ",") != strings.Join(want, ",") {
		t.Fatalf("paged = %v, want %v", all, want)
	}
	sort.Strings(all)
}

// An operation's mission may be given by id or by key.
func TestCreateOperationByMissionKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("keys@example.com")
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Moonshot","key":"MSJ"}`, 201, nil)
	var byKey, byID operationJSON
	c.Call("POST", "/api/operations?fleet="+fleet, `{"title":"by key","mission_id":"MSJ"}`, 201, &byKey)
	var missions []struct {
		ID string `json:"id"`
	}
	c.Call("GET", "/api/missions?fleet="+fleet, nil, 200, &missions)
	c.Call("POST", "/api/operations?fleet="+fleet, map[string]string{"title": "by id", "mission_id": missions[0].ID}, 201, &byID)
	if byKey.Code != "MSJ-1" || byID.Code != "MSJ-2" || byKey.Title != "by key" {
		t.Fatalf("operations by key and by id: %+v, %+v; want MSJ-1 and MSJ-2", byKey, byID)
	}
}

// An Idempotency-Key makes a creation, a retry or a message take effect
// once: the same key again answers with what the first made, another user's
// same key is theirs, and a key that is not a header value is refused.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("idem@example.com")
	f := "?fleet=" + fleet
	c.Call("POST", "/api/missions"+f, `{"name":"Idem","key":"IDM"}`, 201, nil)
	c.Call("POST", "/api/pilots"+f, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, nil)
	body := `{"title":"once","mission_id":"IDM","assignee_type":"pilot","assignee_id":"sh"}`
	k := c.WithHeader("Idempotency-Key", "create-1")
	var first, again, other operationJSON
	k.Call("POST", "/api/operations"+f, body, 201, &first)
	k.Call("POST", "/api/operations"+f, body, 201, &again)
	c.WithHeader("Idempotency-Key", "create-2").Call("POST", "/api/operations"+f, body, 201, &other)
	if first.ID == "" || again.ID != first.ID || other.ID == first.ID || again.Code != "IDM-1" || other.Code != "IDM-2" {
		t.Fatalf("first %+v, again %+v, another key %+v; want IDM-1 twice, then IDM-2", first, again, other)
	}
	runs := func(opID string) int {
		t.Helper()
		var rs []runJSON
		c.Call("GET", "/api/runs"+f+"&operation="+opID, nil, 200, &rs)
		return len(rs)
	}
	if n := runs(first.ID); n != 1 {
		t.Fatalf("%d runs of IDM-1, want 1", n)
	}

	// A retry after the run is over, sent twice with one key.
	c.Call("PATCH", "/api/operations/IDM-1"+f, `{"status":"canceled"}`, 200, nil)
	r := c.WithHeader("Idempotency-Key", "retry-1")
	r.Call("POST", "/api/operations/IDM-1/retry"+f, nil, 200, nil)
	c.Call("PATCH", "/api/operations/IDM-1"+f, `{"status":"canceled"}`, 200, nil)
	var op operationJSON
	r.Call("POST", "/api/operations/IDM-1/retry"+f, nil, 200, &op)
	if n := runs(first.ID); n != 2 || op.Status != "canceled" {
		t.Fatalf("%d runs, operation %s after a retry sent twice, want 2 and the operation as it is", n, op.Status)
	}

	// A message, twice with one key: stored once.
	var m1, m2 struct {
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	mk := c.WithHeader("Idempotency-Key", "message-1")
	mk.Call("POST", "/api/operations/IDM-1/messages"+f, `{"body":"hello"}`, 201, &m1)
	mk.Call("POST", "/api/operations/IDM-1/messages"+f, `{"body":"hello"}`, 201, &m2)
	var msgs []struct {
		ID string `json:"id"`
	}
	c.Call("GET", "/api/operations/IDM-1/messages"+f, nil, 200, &msgs)
	if len(msgs) != 1 || m1.Message.ID == "" || m2.Message.ID != m1.Message.ID {
		t.Fatalf("messages %+v (%s, %s), want one", msgs, m1.Message.ID, m2.Message.ID)
	}

	// The same key from someone else is theirs.
	d, dfleet := e.SignUp("other-idem@example.com")
	d.Call("POST", "/api/missions?fleet="+dfleet, `{"name":"Idem","key":"IDM"}`, 201, nil)
	var theirs operationJSON
	d.WithHeader("Idempotency-Key", "create-1").Call("POST", "/api/operations?fleet="+dfleet, `{"title":"theirs","mission_id":"IDM"}`, 201, &theirs)
	if theirs.ID == first.ID || theirs.Title != "theirs" {
		t.Fatalf("another user's key: %+v", theirs)
	}

	c.WithHeader("Idempotency-Key", strings.Repeat("k", 256)).WantError("POST", "/api/operations"+f, body, 400, "invalid")
	c.WithHeader("Idempotency-Key", "with space").WantError("POST", "/api/operations"+f, body, 400, "invalid")
	var ops []operationJSON
	c.Call("GET", "/api/operations"+f, nil, 200, &ops)
	if len(ops) != 2 {
		t.Fatalf("%d operations after refused keys, want 2", len(ops))
	}
}

// A pilot is found by name or id as the operation is created: the
// operation stores the pilot's id and its run is queued; an unknown pilot
// answers 404 and writes nothing, not even a number of the mission.
func TestCreateOperationForPilotByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("pilots@example.com")
	f := "?fleet=" + fleet
	c.Call("POST", "/api/missions"+f, `{"name":"Names","key":"NAM"}`, 201, nil)
	var pilot struct {
		ID string `json:"id"`
	}
	c.Call("POST", "/api/pilots"+f, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, &pilot)
	c.WantError("POST", "/api/operations"+f, `{"title":"nobody","mission_id":"NAM","assignee_type":"pilot","assignee_id":"nobody"}`, 404, "not_found")
	var byName, byID struct {
		operationJSON
		AssigneeID string `json:"assignee_id"`
	}
	c.Call("POST", "/api/operations"+f, `{"title":"by name","mission_id":"NAM","assignee_type":"pilot","assignee_id":"sh"}`, 201, &byName)
	c.Call("POST", "/api/operations"+f, fmt.Sprintf(`{"title":"by id","mission_id":"NAM","assignee_type":"pilot","assignee_id":"%s"}`, pilot.ID), 201, &byID)
	if byName.Code != "NAM-1" || byName.AssigneeID != pilot.ID || byName.Status != "queued" ||
		byID.Code != "NAM-2" || byID.AssigneeID != pilot.ID || byID.Status != "queued" {
		t.Fatalf("by name %+v, by id %+v; want NAM-1 and NAM-2, queued, assigned to %s", byName, byID, pilot.ID)
	}
	var runs []runJSON
	c.Call("GET", "/api/runs"+f, nil, 200, &runs)
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
}
