package github_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/app/web/webtest"
)

// TestOpenAPIDescribesGitHubRoutes is app/web's TestOpenAPIMatchesRoutes
// for the routes the App mounts (that package cannot import this one):
// each /api route is in the served openapi.yaml, marked x-ufo-adapter:
// github, with the fleet parameter, and answers only the statuses the
// document lists, for anonymous callers, members, admins and other fleets.
func TestOpenAPIDescribesGitHubRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	paths := e.web.OpenAPIPaths()
	routes := webtest.APIRoutes(e.app)
	if !slices.Equal(routes, []string{"GET /api/github/installations", "POST /api/github/installations"}) {
		t.Fatalf("the App mounts %v", routes)
	}
	for path, item := range paths {
		if strings.HasPrefix(path, "/api/github/") && path != "/api/github/installations" {
			t.Errorf("openapi.yaml describes %s, which the App does not serve", path)
		}
		_ = item
	}
	item, ok := paths["/api/github/installations"]
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
	member.Call("POST", "/api/auth/signup", map[string]string{"email": "bob@example.com", "password": "P@ssw0rd!", "name": "Bob"}, 201, nil)
	var inv struct{ Token string }
	e.admin.Call("POST", "/api/invitations?fleet="+e.fleet, `{"email":"bob@example.com","role":"member"}`, 201, &inv)
	member.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	rival := e.client()
	var rf struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	rival.Call("POST", "/api/auth/signup", map[string]string{"email": "eve@example.com", "password": "P@ssw0rd!", "name": "Eve"}, 201, &rf)

	link := map[string]any{"installation_id": installID}
	for _, c := range []struct {
		who    *webtest.Client
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
		got, body, _ := c.who.Do(c.method, "/api/github/installations"+c.query, c.body)
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
	member.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || list[0].ID != installID || list[0].AccountLogin != owner || !slices.Equal(list[0].Repositories, []string{repoName}) {
		t.Fatalf("installations = %+v", list)
	}
	rival.Call("GET", "/api/github/installations?fleet="+rf.Fleet.ID, nil, 200, &list)
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
	status, _, h := e.client().Do("GET", page, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/signin?next="+url.QueryEscape(page) {
		t.Fatalf("anonymous GET %s: %d to %q, want a redirect to sign in", page, status, h.Get("Location"))
	}
	status, body, h := e.admin.Do("GET", page, nil)
	if status != 200 || !strings.Contains(string(body), `action="/github/setup?fleet=`+e.fleet+`"`) ||
		!strings.Contains(string(body), "Codertocat") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET %s: %d %s", page, status, body)
	}
	var list []struct{ ID int64 }
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("the GET linked the installation: %+v", list)
	}
	if status, body, _ := e.admin.Do("GET", "/github/setup?installation_id=31337", nil); status != 404 || !strings.Contains(string(body), "no installation 31337") {
		t.Fatalf("unknown installation: %d %s", status, body)
	}
	if status, _, _ := e.admin.Do("GET", "/github/setup", nil); status != 400 {
		t.Fatalf("no installation_id: %d", status)
	}

	post := func(c *webtest.Client, fleet string) (int, string) {
		req, _ := http.NewRequest("POST", e.web.URL+"/github/setup?fleet="+fleet, strings.NewReader("installation_id=957387"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.web.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.HTTP.Do(req)
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
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || list[0].ID != installID {
		t.Fatalf("installations after the form = %+v", list)
	}
	// A cross-site form post is refused before it reaches the App.
	req, _ := http.NewRequest("POST", e.web.URL+"/github/setup?fleet="+e.fleet, strings.NewReader("installation_id=957387"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := e.admin.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST /github/setup: %d, want 403", resp.StatusCode)
	}
}
