package github_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
)

// TestOpenAPIDescribesGitHubRoutes is app/web's TestOpenAPIMatchesRoutes
// for the routes the App mounts (that package cannot import this one):
// each /api route is in the served openapi.yaml, marked x-ufo-adapter:
// github, with the fleet parameter, and answers only the statuses the
// document lists, for anonymous callers, members, admins and other fleets.
func TestOpenAPIDescribesGitHubRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	status, raw, _ := e.client().do("GET", "/api/openapi.yaml", nil)
	if status != 200 {
		t.Fatalf("GET /api/openapi.yaml: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}

	r := chi.NewRouter()
	pass := func(string) func(http.Handler) http.Handler { return func(h http.Handler) http.Handler { return h } }
	e.app.Mount(r, web.Auth{RequireFleet: pass, Fleet: func(context.Context) string { return "" }, User: func(context.Context) app.User { return app.User{} }})
	var routes []string
	chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/") {
			routes = append(routes, method+" "+route)
		}
		return nil
	})
	slices.Sort(routes)
	if !slices.Equal(routes, []string{"GET /api/github/installations", "POST /api/github/installations"}) {
		t.Fatalf("the App mounts %v", routes)
	}
	for path, item := range doc.Paths {
		if strings.HasPrefix(path, "/api/github/") && path != "/api/github/installations" {
			t.Errorf("openapi.yaml describes %s, which the App does not serve", path)
		}
		_ = item
	}
	item, ok := doc.Paths["/api/github/installations"]
	if !ok {
		t.Fatal("openapi.yaml does not describe /api/github/installations")
	}
	var params []map[string]string
	if p, ok := item["parameters"]; !ok || p.Decode(&params) != nil || len(params) != 1 || params[0]["$ref"] != "#/components/parameters/fleet" {
		t.Fatalf("/api/github/installations parameters: %v", params)
	}
	type operation struct {
		Adapter   string                    `yaml:"x-ufo-adapter"`
		Security  *[]map[string][]string    `yaml:"security"`
		Responses map[string]map[string]any `yaml:"responses"`
	}
	ops := map[string]operation{}
	for _, m := range []string{"get", "post"} {
		var op operation
		n := item[m]
		if err := n.Decode(&op); err != nil || op.Adapter != "github" || op.Security != nil {
			t.Fatalf("%s /api/github/installations: %+v (%v), want x-ufo-adapter: github and the default (session) security", m, op, err)
		}
		ops[strings.ToUpper(m)] = op
	}

	member := e.client()
	member.call("POST", "/api/auth/signup", map[string]string{"email": "bob@example.com", "password": "P@ssw0rd!", "name": "Bob"}, 201, nil)
	var inv struct{ Token string }
	e.admin.call("POST", "/api/invitations?fleet="+e.fleet, `{"email":"bob@example.com","role":"member"}`, 201, &inv)
	member.call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	rival := e.client()
	var rf struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	rival.call("POST", "/api/auth/signup", map[string]string{"email": "eve@example.com", "password": "P@ssw0rd!", "name": "Eve"}, 201, &rf)

	link := map[string]any{"installation_id": installID}
	for _, c := range []struct {
		who    *client
		method string
		query  string
		body   any
		status int
	}{
		{e.client(), "GET", "?fleet=" + e.fleet, nil, 401},
		{e.admin, "GET", "", nil, 400},
		{rival, "GET", "?fleet=" + e.fleet, nil, 404},
		{member, "GET", "?fleet=" + e.fleet, nil, 200},
		{e.client(), "POST", "?fleet=" + e.fleet, link, 401},
		{e.admin, "POST", "", link, 400},
		{rival, "POST", "?fleet=" + e.fleet, link, 404},
		{member, "POST", "?fleet=" + e.fleet, link, 403},
		{e.admin, "POST", "?fleet=" + e.fleet, `{"installation_id":0}`, 400},
		{e.admin, "POST", "?fleet=" + e.fleet, `{"installation_id":1,"extra":true}`, 400},
		{e.admin, "POST", "?fleet=" + e.fleet, map[string]any{"installation_id": 31337}, 404},
		{e.admin, "POST", "?fleet=" + e.fleet, link, 201},
		{e.admin, "POST", "?fleet=" + e.fleet, link, 201}, // again: harmless
		{rival, "POST", "?fleet=" + rf.Fleet.ID, link, 409},
	} {
		got, body, _ := c.who.do(c.method, "/api/github/installations"+c.query, c.body)
		if got != c.status {
			t.Errorf("%s /api/github/installations%s %v: %d %s, want %d", c.method, c.query, c.body, got, body, c.status)
		}
		if _, ok := ops[c.method].Responses[strconv.Itoa(got)]; !ok {
			t.Errorf("%s answers %d, which openapi.yaml does not list", c.method, got)
		}
	}
	var list []struct {
		ID           int64
		AccountLogin string `json:"account_login"`
		Repositories []string
	}
	member.call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || list[0].ID != installID || list[0].AccountLogin != owner || !slices.Equal(list[0].Repositories, []string{repoName}) {
		t.Fatalf("installations = %+v", list)
	}
	rival.call("GET", "/api/github/installations?fleet="+rf.Fleet.ID, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("another fleet sees %+v", list)
	}
}

// TestSetupRedirect: GitHub sends the person who installed the App to
// /github/setup. The page changes nothing and asks which fleet to link;
// the form's POST links it.
func TestSetupRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	page := "/github/setup?installation_id=957387&setup_action=install"
	status, _, h := e.client().do("GET", page, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/signin?next="+url.QueryEscape(page) {
		t.Fatalf("anonymous GET %s: %d to %q, want a redirect to sign in", page, status, h.Get("Location"))
	}
	status, body, h := e.admin.do("GET", page, nil)
	if status != 200 || !strings.Contains(string(body), `action="/github/setup?fleet=`+e.fleet+`"`) ||
		!strings.Contains(string(body), "Codertocat") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET %s: %d %s", page, status, body)
	}
	var list []struct{ ID int64 }
	e.admin.call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("the GET linked the installation: %+v", list)
	}
	if status, body, _ := e.admin.do("GET", "/github/setup?installation_id=31337", nil); status != 404 || !strings.Contains(string(body), "no installation 31337") {
		t.Fatalf("unknown installation: %d %s", status, body)
	}
	if status, _, _ := e.admin.do("GET", "/github/setup", nil); status != 400 {
		t.Fatalf("no installation_id: %d", status)
	}

	post := func(c *client, fleet string) (int, string) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/github/setup?fleet="+fleet, strings.NewReader("installation_id=957387"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	if status, body := post(e.admin, e.fleet); status != 200 || !strings.Contains(body, "is linked to the fleet") || !strings.Contains(body, repoName) {
		t.Fatalf("POST /github/setup: %d %s", status, body)
	}
	e.admin.call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || list[0].ID != installID {
		t.Fatalf("installations after the form = %+v", list)
	}
	// A cross-site form post is refused before it reaches the App.
	req, _ := http.NewRequest("POST", e.srv.URL+"/github/setup?fleet="+e.fleet, strings.NewReader("installation_id=957387"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := e.admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST /github/setup: %d, want 403", resp.StatusCode)
	}
}
