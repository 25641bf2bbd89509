package slack_test

import (
	"strconv"
	"testing"

	"github.com/ufo-run/ufo/app/web/webtest"
)

// TestOpenAPIDescribesSlackRoutes is app/web's TestOpenAPIMatchesRoutes
// for the routes the bot mounts (that package cannot import this one): each
// /api route is in the served openapi.yaml, marked x-ufo-adapter: slack,
// with the fleet parameter, and answers only statuses the document lists.
func TestOpenAPIDescribesSlackRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	paths := e.web.OpenAPIPaths()
	routes := webtest.APIRoutes(e.bot)
	if len(routes) != 1 || routes[0] != "POST /api/slack/link-codes" {
		t.Fatalf("the bot mounts %v", routes)
	}

	item, ok := paths["/api/slack/link-codes"]
	if !ok {
		t.Fatal("openapi.yaml does not describe /api/slack/link-codes")
	}
	var params []map[string]string
	if p, ok := item["parameters"]; !ok || p.Decode(&params) != nil || len(params) != 1 || params[0]["$ref"] != "#/components/parameters/fleet" {
		t.Fatalf("/api/slack/link-codes parameters: %v", params)
	}
	var op struct {
		Adapter   string                    `yaml:"x-ufo-adapter"`
		Security  *[]map[string][]string    `yaml:"security"`
		Responses map[string]map[string]any `yaml:"responses"`
	}
	post := item["post"]
	if err := post.Decode(&op); err != nil || op.Adapter != "slack" || op.Security != nil {
		t.Fatalf("POST /api/slack/link-codes: %+v (%v), want x-ufo-adapter: slack and the default (session) security", op, err)
	}

	member := e.web.Client()
	member.Call("POST", "/api/auth/signup", map[string]string{"email": "bob@example.com", "password": "P@ssw0rd!", "name": "Bob"}, 201, nil)
	var inv struct{ Token string }
	e.admin.Call("POST", "/api/invitations?fleet="+e.fleet, `{"email":"bob@example.com","role":"member"}`, 201, &inv)
	member.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	rival := e.rival()
	for _, c := range []struct {
		who    *webtest.Client
		query  string
		status int
	}{
		{e.web.Client(), "?fleet=" + e.fleet, 401},
		{e.admin, "", 400},
		{rival.admin, "?fleet=" + e.fleet, 404},
		{member, "?fleet=" + e.fleet, 403},
		{e.admin, "?fleet=" + e.fleet, 201},
	} {
		got, body, _ := c.who.Do("POST", "/api/slack/link-codes"+c.query, nil)
		if got != c.status {
			t.Errorf("POST /api/slack/link-codes%s: %d %s, want %d", c.query, got, body, c.status)
		}
		if _, ok := op.Responses[strconv.Itoa(got)]; !ok {
			t.Errorf("answers %d, which openapi.yaml does not list", got)
		}
	}
}
