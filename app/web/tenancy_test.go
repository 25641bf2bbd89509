package web_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app/web"
)

// notFleetScoped lists the /api routes that take no ?fleet=.
var notFleetScoped = map[string]bool{
	"GET /api/openapi.yaml":                true,
	"POST /api/auth/signup":                true,
	"POST /api/auth/login":                 true,
	"POST /api/auth/logout":                true,
	"POST /api/invitations/{token}/accept": true,
	"POST /api/rovers/enroll":              true,
	"POST /api/rover/connect":              true,
	"POST /api/rover/claim":                true,
	"POST /api/rover/runs/{id}/start":      true,
	"POST /api/rover/runs/{id}/heartbeat":  true,
	"POST /api/rover/runs/{id}/events":     true,
	"POST /api/rover/runs/{id}/complete":   true,
	"DELETE /api/rover/self":               true,
	"GET /api/me":                          true,
	"GET /api/fleets":                      true,
	"POST /api/fleets":                     true,
}

// validBodies are well-formed bodies, so that only the foreign id can be
// what a request is refused for.
var validBodies = map[string]string{
	"PATCH /api/members/{user}":                `{"role":"member"}`,
	"POST /api/invitations":                    `{"email":"x@example.com"}`,
	"POST /api/missions":                       `{"name":"X","key":"XX"}`,
	"PATCH /api/missions/{id}":                 `{"name":"X"}`,
	"POST /api/pilots":                         `{"name":"x","kind":"claude"}`,
	"PATCH /api/pilots/{id}":                   `{"name":"x"}`,
	"POST /api/crews":                          `{"name":"x"}`,
	"PATCH /api/crews/{id}":                    `{"name":"x"}`,
	"POST /api/labels":                         `{"name":"x"}`,
	"PATCH /api/labels/{id}":                   `{"name":"x"}`,
	"POST /api/operations":                     `{"title":"x","mission_id":"MISSION"}`,
	"PATCH /api/operations/{id}":               `{"title":"x"}`,
	"POST /api/operations/{id}/messages":       `{"body":"x"}`,
	"POST /api/operations/{id}/sub-operations": `{"title":"x"}`,
	"POST /api/operations/{id}/relationships":  `{"to_id":"OPERATION","kind":"relates"}`,
	"POST /api/operations/{id}/reactions":      `{"emoji":"+1"}`,
	"POST /api/signals":                        `{"operation_id":"OPERATION","kind":"blocked"}`,
	"POST /api/rovers/enrollment-codes":        `{}`,
}

// TestForeignFleetIDs calls every fleet-scoped route as the owner of fleet
// A: with fleet B in ?fleet=, and with B's ids in the path or the body. Each
// answers 404, never 403 and never data, and B's data is unchanged.
func TestForeignFleetIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b, fleetB := e.SignUp("victim@example.com")
	a, fleetA := e.SignUp("intruder@example.com")
	fb := "?fleet=" + fleetB

	// Fleet B gets one of everything.
	var me struct {
		User idOnly `json:"user"`
	}
	b.Call("GET", "/api/me", nil, 200, &me)
	var mission, pilot, crew, label, op, op2, rel, reaction, signal, inv idOnly
	b.Call("POST", "/api/missions"+fb, `{"name":"Secret","key":"SEC"}`, 201, &mission)
	b.Call("POST", "/api/pilots"+fb, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, &pilot)
	b.Call("POST", "/api/crews"+fb, fmt.Sprintf(`{"name":"team","pilot_ids":["%s"]}`, pilot.ID), 201, &crew)
	b.Call("POST", "/api/labels"+fb, `{"name":"secret"}`, 201, &label)
	b.Call("POST", "/api/operations"+fb, fmt.Sprintf(`{"title":"secret work","mission_id":"%s","assignee_type":"pilot","assignee_id":"%s"}`, mission.ID, pilot.ID), 201, &op)
	b.Call("POST", "/api/operations"+fb, fmt.Sprintf(`{"title":"other","mission_id":"%s"}`, mission.ID), 201, &op2)
	b.Call("POST", "/api/operations/"+op.ID+"/relationships"+fb, fmt.Sprintf(`{"to_id":"%s","kind":"blocks"}`, op2.ID), 201, &rel)
	b.Call("POST", "/api/operations/"+op.ID+"/reactions"+fb, `{"emoji":"rocket"}`, 201, &reaction)
	b.Call("POST", "/api/operations/"+op.ID+"/messages"+fb, `{"body":"hi"}`, 201, nil)
	b.Call("POST", "/api/signals"+fb, fmt.Sprintf(`{"operation_id":"%s","kind":"blocked"}`, op.ID), 201, &signal)
	b.Call("POST", "/api/invitations"+fb, `{"email":"friend@example.com"}`, 201, &inv)
	var enroll struct{ Code string }
	b.Call("POST", "/api/rovers/enrollment-codes"+fb, `{}`, 201, &enroll)
	var rover struct {
		RoverID string `json:"rover_id"`
	}
	b.Call("POST", "/api/rovers/enroll", map[string]any{"code": enroll.Code, "name": "r1", "profile": map[string]any{"os": "linux"}}, 201, &rover)
	var runs []runJSON
	b.Call("GET", "/api/runs"+fb, nil, 200, &runs)
	if len(runs) != 1 {
		t.Fatalf("fleet B has %d runs, want 1", len(runs))
	}
	ids := map[string]string{
		"/api/members/":     me.User.ID,
		"/api/invitations/": inv.ID,
		"/api/missions/":    mission.ID,
		"/api/pilots/":      pilot.ID,
		"/api/crews/":       crew.ID,
		"/api/labels/":      label.ID,
		"/api/operations/":  op.ID,
		"/api/signals/":     signal.ID,
		"/api/runs/":        runs[0].ID,
		"/api/rovers/":      rover.RoverID,
	}
	fill := func(pattern string) string {
		path := pattern
		for prefix, id := range ids {
			if rest, ok := strings.CutPrefix(pattern, prefix); ok && strings.HasPrefix(rest, "{") {
				_, after, _ := strings.Cut(rest, "}")
				path = prefix + id + after
			}
		}
		path = strings.ReplaceAll(path, "{rel}", rel.ID)
		path = strings.ReplaceAll(path, "{reaction}", reaction.ID)
		return path
	}
	body := func(key string) any {
		s, ok := validBodies[key]
		if !ok {
			return nil
		}
		s = strings.ReplaceAll(s, "MISSION", mission.ID)
		s = strings.ReplaceAll(s, "OPERATION", op.ID)
		return s
	}

	ws, err := web.New(nil, nil, web.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	routes := ws.Routes()
	checked := 0
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		if !strings.HasPrefix(route, "/api/") || notFleetScoped[key] {
			return nil
		}
		checked++
		t.Run(key, func(t *testing.T) {
			a.T = t
			defer func() { a.T = nil }()
			path := fill(route)
			// B's fleet named outright: as if it did not exist.
			a.WantError(method, path+"?fleet="+fleetB, body(key), 404, "not_found")
			// A's fleet with B's ids, where the route has any.
			if path != route || strings.Contains(fmt.Sprint(body(key)), "-") {
				a.WantError(method, path+"?fleet="+fleetA, body(key), 404, "not_found")
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 40 {
		t.Fatalf("checked only %d fleet-scoped routes", checked)
	}
	a.T = t

	// Ids of B inside bodies sent to A's fleet.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/operations", fmt.Sprintf(`{"title":"x","mission_id":"%s"}`, mission.ID)},
		{"POST", "/api/crews", fmt.Sprintf(`{"name":"c","pilot_ids":["%s"]}`, pilot.ID)},
		{"POST", "/api/missions", fmt.Sprintf(`{"name":"M","key":"MM","default_pilot_id":"%s"}`, pilot.ID)},
	} {
		a.WantError(tc.method, tc.path+"?fleet="+fleetA, tc.body, 404, "not_found")
	}
	var mineMission, mineOp idOnly
	a.Call("POST", "/api/missions?fleet="+fleetA, `{"name":"Mine","key":"MIN"}`, 201, &mineMission)
	a.Call("POST", "/api/operations?fleet="+fleetA, fmt.Sprintf(`{"title":"mine","mission_id":"%s"}`, mineMission.ID), 201, &mineOp)
	a.WantError("PATCH", "/api/operations/"+mineOp.ID+"?fleet="+fleetA, fmt.Sprintf(`{"assignee_type":"pilot","assignee_id":"%s"}`, pilot.ID), 404, "not_found")
	a.WantError("PATCH", "/api/operations/"+mineOp.ID+"?fleet="+fleetA, fmt.Sprintf(`{"parent_id":"%s"}`, op.ID), 404, "not_found")
	a.WantError("POST", "/api/operations/"+mineOp.ID+"/relationships?fleet="+fleetA, fmt.Sprintf(`{"to_id":"%s","kind":"relates"}`, op.ID), 404, "not_found")
	a.WantError("POST", "/api/operations/SEC-1/messages?fleet="+fleetA, `{"body":"x"}`, 404, "not_found")

	// B's data is as it was.
	var got operationJSON
	b.Call("GET", "/api/operations/"+op.ID+fb, nil, 200, &got)
	if got.Title != "secret work" || got.Status != "queued" {
		t.Fatalf("B's operation changed: %+v", got)
	}
	var members []struct{ Role string }
	b.Call("GET", "/api/members"+fb, nil, 200, &members)
	if len(members) != 1 || members[0].Role != "owner" {
		t.Fatalf("B's members changed: %+v", members)
	}
	b.Call("GET", "/api/runs"+fb, nil, 200, &runs)
	if len(runs) != 1 || runs[0].Status != "queued" {
		t.Fatalf("B's run changed: %+v", runs)
	}
}

// The caller's role in the fleet a request names is read with the session
// (one round trip): a fleet id that is malformed, unknown or another's
// answers 404; a member's own fleet answers.
func TestFleetRoleReadWithSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, fleetB := e.SignUp("other@example.com")
	a, fleetA := e.SignUp("caller@example.com")
	for _, fleet := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", fleetB} {
		a.WantError("GET", "/api/missions?fleet="+fleet, nil, 404, "not_found")
	}
	a.Call("GET", "/api/missions?fleet="+fleetA, nil, 200, nil)
	a.WantError("GET", "/api/missions?fleet=", nil, 400, "invalid")
}
