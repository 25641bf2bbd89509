package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover/wire"
)

// fuzzRoute is a route that reads a JSON body. Its path may hold {op},
// {mission}, {pilot}, {label}, {user} and {run}; rover routes are sent
// with the rover's token, the others as the fleet's owner.
type fuzzRoute struct {
	method, path string
	rover        bool
}

var fuzzRoutes = []fuzzRoute{
	{"POST", "/api/auth/signup", false},
	{"POST", "/api/auth/login", false},
	{"POST", "/api/fleets", false},
	{"POST", "/api/missions?fleet={fleet}", false},
	{"PATCH", "/api/missions/{mission}?fleet={fleet}", false},
	{"POST", "/api/pilots?fleet={fleet}", false},
	{"PATCH", "/api/pilots/{pilot}?fleet={fleet}", false},
	{"POST", "/api/crews?fleet={fleet}", false},
	{"POST", "/api/labels?fleet={fleet}", false},
	{"PATCH", "/api/labels/{label}?fleet={fleet}", false},
	{"POST", "/api/operations?fleet={fleet}", false},
	{"PATCH", "/api/operations/{op}?fleet={fleet}", false},
	{"POST", "/api/operations/{op}/messages?fleet={fleet}", false},
	{"POST", "/api/operations/{op}/sub-operations?fleet={fleet}", false},
	{"POST", "/api/operations/{op}/relationships?fleet={fleet}", false},
	{"POST", "/api/operations/{op}/reactions?fleet={fleet}", false},
	{"POST", "/api/signals?fleet={fleet}", false},
	{"PATCH", "/api/members/{user}?fleet={fleet}", false},
	{"POST", "/api/invitations?fleet={fleet}", false},
	{"POST", "/api/rovers/enrollment-codes?fleet={fleet}", false},
	{"POST", "/api/rovers/enroll", false},
	{"POST", "/api/rover/connect", true},
	{"POST", "/api/rover/claim?wait=0", true},
	{"POST", "/api/rover/runs/{run}/start", true},
	{"POST", "/api/rover/runs/{run}/heartbeat", true},
	{"POST", "/api/rover/runs/{run}/events", true},
	{"POST", "/api/rover/runs/{run}/complete", true},
}

// FuzzAPIBodies sends arbitrary bodies to every route that decodes JSON,
// on a server with a real database, and requires an answer below 500 in
// the error shape. The seeds are in testdata/fuzz/FuzzAPIBodies. In paths
// and bodies, {fleet}, {mission}, {pilot}, {label}, {user}, {op}, {run}
// and {token} stand for live ids and the claim token of the run the rover
// holds, so inputs reach past the lookups and the token check.
func FuzzAPIBodies(f *testing.F) {
	e := newEnv(f, func(c *web.Config) { c.LongPoll = 100 * time.Millisecond })
	owner, fleet, mission, pilot := e.setup("fuzz@example.com")
	var label idOnly
	var me struct{ User idOnly }
	owner.Call("POST", "/api/labels?fleet="+fleet, `{"name":"bug"}`, 201, &label)
	owner.Call("GET", "/api/me", nil, 200, &me)
	rv, _ := e.enroll(owner, fleet, wire.Profile{OS: "linux", Pilots: []wire.CLI{{Kind: "exec"}}})
	ids := map[string]string{"{fleet}": fleet, "{mission}": mission, "{pilot}": pilot, "{label}": label.ID, "{user}": me.User.ID}
	var held wire.Claim
	// arm queues a run and has the rover claim it, so the run routes
	// always have a live run to speak about. Inside the fuzz function only
	// t may fail, so the clients are made for the caller's t.
	arm := func(t testing.TB) {
		o := &webtest.Client{T: t, Base: owner.Base, HTTP: owner.HTTP}
		r := &webtest.Client{T: t, Base: rv.Base, HTTP: rv.HTTP, Token: rv.Token}
		op := e.assign(o, fleet, mission, pilot, "fuzzed")
		ids["{op}"] = op.ID
		status, cl := claim(r, "1")
		if status != 200 {
			t.Fatalf("claim for the fuzzer: %d", status)
		}
		held = cl
		ids["{run}"], ids["{token}"] = cl.RunID, cl.ClaimToken
	}
	arm(f)

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path, raw := rt.path, string(body)
		for k, v := range ids {
			path, raw = strings.ReplaceAll(path, k, v), strings.ReplaceAll(raw, k, v)
		}
		c := &webtest.Client{T: t, Base: owner.Base, HTTP: owner.HTTP}
		if rt.rover {
			c = &webtest.Client{T: t, Base: rv.Base, HTTP: rv.HTTP, Token: rv.Token}
		}
		status, answer, _ := c.Do(rt.method, path, raw)
		if status >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, path, raw, status, answer)
		}
		if status >= 400 {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(answer, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s with %q: %d answered %q, not the error shape", rt.method, path, raw, status, answer)
			}
		}
		// A completed run, or one the fuzzer assigned away, needs a new one.
		var run struct {
			Status string `json:"status"`
		}
		if st, b, _ := (&webtest.Client{T: t, Base: owner.Base, HTTP: owner.HTTP}).Do("GET", fmt.Sprintf("/api/runs/%s?fleet=%s", held.RunID, fleet), nil); st == http.StatusOK {
			if json.Unmarshal(b, &run) == nil && run.Status != "claimed" && run.Status != "running" {
				arm(t)
			}
		}
	})
}
