package github_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
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

	// Eve is a GitHub user with write access to the repository too; Mallory
	// has none.
	e.gh.SetPermission(repoName, "eve", "write")
	link := map[string]any{"installation_id": installID, "user_token": e.gh.UserToken(owner)}
	noProof := map[string]any{"installation_id": installID}
	mallory := map[string]any{"installation_id": installID, "user_token": e.gh.UserToken("mallory")}
	eve := map[string]any{"installation_id": installID, "user_token": e.gh.UserToken("eve")}
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
		{e.admin, "POST", "?fleet=" + e.fleet, noProof, 403},
		{e.admin, "POST", "?fleet=" + e.fleet, mallory, 403},
		{e.admin, "POST", "?fleet=" + e.fleet, map[string]any{"installation_id": installID, "user_token": "ghu_forged"}, 403},
		{e.admin, "POST", "?fleet=" + e.fleet, link, 201},
		{e.admin, "POST", "?fleet=" + e.fleet, link, 201},    // again: harmless
		{e.admin, "POST", "?fleet=" + e.fleet, noProof, 201}, // linked here already: refreshes it
		{rival, "POST", "?fleet=" + rf.Fleet.ID, noProof, 403},
		{rival, "POST", "?fleet=" + rf.Fleet.ID, eve, 409}, // even with access on GitHub
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
// /github/setup with a code from its user authorization. The page trades
// it for a user token, shows the installations that GitHub user can
// access, and changes nothing; the form's POST, with the proof the page
// made for this UFO user, links one.
func TestSetupRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	page := "/github/setup?installation_id=957387&setup_action=install"
	status, _, h := e.client().Do("GET", page, nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/signin?next="+url.QueryEscape(page) {
		t.Fatalf("anonymous GET %s: %d to %q, want a redirect to sign in", page, status, h.Get("Location"))
	}
	// Without a code, the browser goes to GitHub to authorize the App.
	status, _, h = e.admin.Do("GET", page, nil)
	want := e.gh.Web.URL + "/login/oauth/authorize?" + url.Values{"client_id": {e.gh.ClientID},
		"redirect_uri": {publicURL + "/github/setup"}, "state": {"957387"}}.Encode()
	if status != http.StatusSeeOther || h.Get("Location") != want {
		t.Fatalf("GET %s without a code: %d to %q, want %q", page, status, h.Get("Location"), want)
	}
	code := e.gh.Authorize(owner)
	status, body, h := e.admin.Do("GET", page+"&code="+code, nil)
	if status != 200 || !strings.Contains(string(body), `action="/github/setup?fleet=`+e.fleet+`"`) || !strings.Contains(string(body), `name="proof"`) ||
		!strings.Contains(string(body), "Codertocat") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
		h.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("GET %s with a code: %d %s", page, status, body)
	}
	proof := regexp.MustCompile(`name="proof" value="([^"]+)"`).FindStringSubmatch(string(body))[1]
	var list []struct{ ID int64 }
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("the GET linked the installation: %+v", list)
	}
	// A code works once.
	if status, body, _ := e.admin.Do("GET", page+"&code="+code, nil); status != 403 || !strings.Contains(string(body), "bad_verification_code") {
		t.Fatalf("a used code: %d %s", status, body)
	}
	// GitHub's callback after authorizing carries the installation in state.
	if status, body, _ := e.admin.Do("GET", "/github/setup?state=957387&code="+e.gh.Authorize(owner), nil); status != 200 || !strings.Contains(string(body), "installation 957387") {
		t.Fatalf("callback with state: %d %s", status, body)
	}
	// With no installation named, the page offers those the user can access.
	if status, body, _ := e.admin.Do("GET", "/github/setup?code="+e.gh.Authorize(owner), nil); status != 200 || !strings.Contains(string(body), "installation 957387") {
		t.Fatalf("no installation named: %d %s", status, body)
	}
	if status, body, _ := e.admin.Do("GET", "/github/setup?installation_id=31337&code="+e.gh.Authorize(owner), nil); status != 403 || !strings.Contains(string(body), "cannot access installation 31337") {
		t.Fatalf("an installation the user cannot access: %d %s", status, body)
	}
	if status, _, _ := e.admin.Do("GET", "/github/setup?installation_id=x", nil); status != 400 {
		t.Fatalf("a bad installation_id: %d", status)
	}

	post := func(c *webtest.Client, fleet string, form url.Values) (int, string) {
		return e.postSetup(c, fleet, form)
	}
	// The proof is for this user and this installation only.
	rival := e.client()
	var rf struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	rival.Call("POST", "/api/auth/signup", map[string]string{"email": "eve@example.com", "password": "P@ssw0rd!", "name": "Eve"}, 201, &rf)
	for _, c := range []struct {
		who   *webtest.Client
		fleet string
		form  url.Values
	}{
		{e.admin, e.fleet, url.Values{"installation_id": {"957387"}}},
		{e.admin, e.fleet, url.Values{"installation_id": {"957387"}, "proof": {"9999999999.AAAA"}}},
		{e.admin, e.fleet, url.Values{"installation_id": {"957388"}, "proof": {proof}}},
		{rival, rf.Fleet.ID, url.Values{"installation_id": {"957387"}, "proof": {proof}}},
	} {
		if status, body := post(c.who, c.fleet, c.form); status != 403 {
			t.Fatalf("POST /github/setup %v: %d %s, want 403", c.form, status, body)
		}
	}
	if status, body := post(e.admin, e.fleet, url.Values{"installation_id": {"957387"}, "proof": {proof}}); status != 200 || !strings.Contains(body, "is linked to the fleet") || !strings.Contains(body, repoName) {
		t.Fatalf("POST /github/setup: %d %s", status, body)
	}
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 1 || list[0].ID != installID {
		t.Fatalf("installations after the form = %+v", list)
	}
	// A cross-site form post is refused before it reaches the App.
	req, _ := http.NewRequest("POST", e.web.URL+"/github/setup?fleet="+e.fleet, strings.NewReader("installation_id=957387&proof="+url.QueryEscape(proof)))
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

// TestInstallationTakeover: anyone may sign up and administer a fleet, and
// installation ids are small numbers, but knowing one is not enough to
// link someone else's installation: the API and the setup page both want
// GitHub's word that the person can access it, and an installation linked
// to a fleet stays there.
func TestInstallationTakeover(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	const victim = 4711
	e.gh.AddInstallation(victim, "victim-org", "Organization")
	e.gh.AddRepo(victim, 4712, "victim-org/secrets", "main", nil)
	e.gh.SetPermission("victim-org/secrets", "victim-admin", "admin")

	// Mallory signs up (and so administers her own fleet); on GitHub she
	// has no access to the victim's installation.
	m := e.client()
	var mf struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	m.Call("POST", "/api/auth/signup", map[string]string{"email": "mallory@example.com", "password": "P@ssw0rd!", "name": "Mallory"}, 201, &mf)
	api := "/api/github/installations?fleet=" + mf.Fleet.ID
	for _, body := range []map[string]any{
		{"installation_id": victim},
		{"installation_id": victim, "user_token": e.gh.UserToken("mallory")},
	} {
		if status, out, _ := m.Do("POST", api, body); status != 403 {
			t.Fatalf("POST %s %v: %d %s, want 403", api, body, status, out)
		}
	}
	page := "/github/setup?installation_id=4711&code=" + e.gh.Authorize("mallory")
	if status, body, _ := m.Do("GET", page, nil); status != 403 || strings.Contains(string(body), `name="proof"`) {
		t.Fatalf("GET %s: %d %s, want 403 and no form", page, status, body)
	}
	if status, body := e.postSetup(m, mf.Fleet.ID, url.Values{"installation_id": {"4711"}}); status != 403 {
		t.Fatalf("POST /github/setup without proof: %d %s", status, body)
	}
	if in, err := e.st.FindGitHubInstallation(context.Background(), victim); err == nil && in.FleetID != nil {
		t.Fatalf("the victim's installation was linked to %s", *in.FleetID)
	}

	// The victim's admin links it to the victim's fleet; then not even a
	// GitHub user with access can move it to another fleet.
	e.admin.Call("POST", "/api/github/installations?fleet="+e.fleet, map[string]any{"installation_id": victim, "user_token": e.gh.UserToken("victim-admin")}, 201, nil)
	e.gh.SetPermission("victim-org/secrets", "mallory", "read")
	status, out, _ := m.Do("POST", api, map[string]any{"installation_id": victim, "user_token": e.gh.UserToken("mallory")})
	if status != 409 || strings.Contains(string(out), e.fleet) {
		t.Fatalf("moving a linked installation: %d %s, want 409 naming no fleet", status, out)
	}
	var list []struct{ ID int64 }
	m.Call("GET", api, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("Mallory's fleet has %+v", list)
	}
}

// postSetup posts the setup page's confirmation form as a browser does.
func (e *env) postSetup(c *webtest.Client, fleet string, form url.Values) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.web.URL+"/github/setup?fleet="+fleet, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.web.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
