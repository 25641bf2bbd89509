package github_test

import (
	"context"
	"fmt"
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
// /github/setup. The page sends the browser to GitHub to authorize the
// App, with a nonce in a cookie and in state; GitHub sends it back with a
// code and that state, and the page trades the code for a user token,
// shows the installations that GitHub user can access, and changes
// nothing; the form's POST, with the proof the page made for this UFO
// user, links one.
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
	state := authorizeState(t, e, status, h)
	nonce, id, _ := strings.Cut(state, ".")
	cookie := stateCookie(t, h)
	if id != "957387" || len(nonce) < 20 || cookie.Value != nonce || !cookie.HttpOnly || cookie.Secure || cookie.SameSite != http.SameSiteLaxMode ||
		cookie.Path != "/github/setup" || cookie.MaxAge <= 0 || cookie.MaxAge > 900 {
		t.Fatalf("GET %s without a code: state %q, cookie %+v", page, state, cookie)
	}
	if _, _, h2 := e.admin.Do("GET", page, nil); stateCookie(t, h2).Value == nonce {
		t.Fatal("a second visit got the same nonce")
	}

	// GitHub, where the admin is signed in as the repository's owner,
	// sends the browser back with a code and the state.
	e.gh.SignIn(e.admin.HTTP.Jar, owner)
	v := e.setupFlow(e.admin, page)
	if v.Status != 200 || !strings.Contains(v.Body, `action="/github/setup?fleet=`+e.fleet+`"`) || !strings.Contains(v.Body, `name="proof"`) ||
		!strings.Contains(v.Body, "Codertocat") || !strings.Contains(v.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		v.Header.Get("Referrer-Policy") != "no-referrer" || len(v.Visited) != 3 || e.gh.CountCalls("oauth/access-token", 200) != 1 {
		t.Fatalf("GET %s through GitHub: %d %s, visited %v", page, v.Status, v.Body, v.Visited)
	}
	if c := stateCookie(t, v.Header); c.MaxAge >= 0 {
		t.Fatalf("the callback left the state cookie: %+v", c)
	}
	proof := regexp.MustCompile(`name="proof" value="([^"]+)"`).FindStringSubmatch(v.Body)[1]
	var list []struct{ ID int64 }
	e.admin.Call("GET", "/api/github/installations?fleet="+e.fleet, nil, 200, &list)
	if len(list) != 0 {
		t.Fatalf("the GET linked the installation: %+v", list)
	}
	// A nonce works once: the same callback again is not traded, but sent
	// to GitHub for a new code.
	callback := strings.TrimPrefix(v.Visited[2], e.web.URL)
	status, _, h = e.admin.Do("GET", callback, nil)
	authorizeState(t, e, status, h)
	if n := e.gh.CountCalls("oauth/access-token", 0); n != 1 {
		t.Fatalf("the callback was traded again: %d trades, want 1", n)
	}
	// GitHub's install redirect with user authorization carries a code and
	// the installation, but not our state: one more round through GitHub,
	// keeping the installation.
	v = e.setupFlow(e.admin, "/github/setup?code="+e.gh.Authorize(owner)+"&installation_id=957387&setup_action=install")
	if v.Status != 200 || !strings.Contains(v.Body, "installation 957387") || len(v.Visited) != 3 || e.gh.CountCalls("oauth/access-token", 0) != 2 {
		t.Fatalf("GitHub's install redirect with a code: %d %s, visited %v", v.Status, v.Body, v.Visited)
	}
	// With no installation named, the page offers those the user can access.
	if v := e.setupFlow(e.admin, "/github/setup"); v.Status != 200 || !strings.Contains(v.Body, "installation 957387") {
		t.Fatalf("no installation named: %d %s", v.Status, v.Body)
	}
	if v := e.setupFlow(e.admin, "/github/setup?installation_id=31337"); v.Status != 403 || !strings.Contains(v.Body, "cannot access installation 31337") {
		t.Fatalf("an installation the user cannot access: %d %s", v.Status, v.Body)
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
	e.gh.SignIn(m.HTTP.Jar, "mallory")
	if v := e.setupFlow(m, "/github/setup?installation_id=4711"); v.Status != 403 || strings.Contains(v.Body, `name="proof"`) {
		t.Fatalf("Mallory's setup page for installation 4711: %d %s, want 403 and no form", v.Status, v.Body)
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

// TestSetupTradesOnlyItsOwnCodes: someone who authorizes the App on their
// own GitHub account and sends a fleet admin the callback URL with their
// code (and their own state) gets nothing from it: the page trades a code
// only in the browser it sent to GitHub for it. Any other callback is sent
// to GitHub with a fresh nonce, where the admin's own GitHub account
// authorizes, so the page never offers the sender's installations.
func TestSetupTradesOnlyItsOwnCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOptions) { o.noLink = true })
	const theirs = 4711
	e.gh.AddInstallation(theirs, "mallory", "User")
	e.gh.AddRepo(theirs, 4712, "mallory/prompts", "main", nil)
	e.gh.SignIn(e.admin.HTTP.Jar, owner)
	m := e.client()
	m.Call("POST", "/api/auth/signup", map[string]string{"email": "mallory@example.com", "password": "P@ssw0rd!", "name": "Mallory"}, 201, nil)
	e.gh.SignIn(m.HTTP.Jar, "mallory")
	// Mallory's own visit hands her a state that is good with her cookie.
	_, _, h := m.Do("GET", "/github/setup", nil)
	loc, _ := url.Parse(h.Get("Location"))
	hers := loc.Query().Get("state")
	if v := e.setupFlow(m, "/github/setup"); v.Status != 200 || !strings.Contains(v.Body, "installation 4711") {
		t.Fatalf("Mallory's own setup page: %d %s", v.Status, v.Body)
	}
	trades := e.gh.CountCalls("oauth/access-token", 0)

	links := map[string]string{
		"no state":             "/github/setup?code=%s",
		"GitHub's install":     "/github/setup?code=%s&installation_id=4711&setup_action=install",
		"the sender's state":   "/github/setup?code=%s&state=" + url.QueryEscape(hers),
		"a forged state":       "/github/setup?code=%s&state=AAAAAAAAAAAAAAAAAAAAAAAAAA.0",
		"an installation only": "/github/setup?code=%s&state=4711",
	}
	for name, link := range links {
		for _, fresh := range []bool{false, true} {
			if fresh {
				// The admin's browser holds a nonce of its own.
				e.admin.Do("GET", "/github/setup", nil)
			}
			status, body, h := e.admin.Do("GET", fmt.Sprintf(link, e.gh.Authorize("mallory")), nil)
			state := authorizeState(t, e, status, h)
			if n := e.gh.CountCalls("oauth/access-token", 0); n != trades {
				t.Fatalf("%s (own nonce %v): the sender's code was traded: %d %s", name, fresh, status, body)
			}
			if nonce, _, _ := strings.Cut(state, "."); stateCookie(t, h).Value != nonce || strings.Contains(hers, nonce) {
				t.Fatalf("%s: state %q, cookie %+v", name, state, stateCookie(t, h))
			}
			if name == "GitHub's install" && !strings.HasPrefix(strings.SplitN(state, ".", 2)[1], "4711.") {
				t.Fatalf("%s: state %q dropped the installation", name, state)
			}
		}
	}
	// A state already sent back once is not sent round again.
	status, body, _ := e.admin.Do("GET", "/github/setup?code="+e.gh.Authorize("mallory")+"&state="+url.QueryEscape(hers+".again"), nil)
	if !strings.HasSuffix(hers, ".0") || status != 403 || strings.Contains(string(body), `name="proof"`) || e.gh.CountCalls("oauth/access-token", 0) != trades {
		t.Fatalf("a state sent back already: %d %s", status, body)
	}
	// Followed through GitHub, the sender's link shows the admin's own
	// installations, never the sender's.
	for _, link := range []string{links["no state"], links["the sender's state"]} {
		v := e.setupFlow(e.admin, fmt.Sprintf(link, e.gh.Authorize("mallory")))
		if v.Status != 200 || !strings.Contains(v.Body, "installation 957387") || strings.Contains(v.Body, "4711") || strings.Contains(v.Body, "mallory") {
			t.Fatalf("%s through GitHub: %d %s", link, v.Status, v.Body)
		}
	}
	if v := e.setupFlow(e.admin, fmt.Sprintf(links["GitHub's install"], e.gh.Authorize("mallory"))); v.Status != 403 || strings.Contains(v.Body, `name="proof"`) {
		t.Fatalf("the sender's install link through GitHub: %d %s", v.Status, v.Body)
	}
}

// setupVisit is the end of a setupFlow.
type setupVisit struct {
	Status  int
	Body    string
	Header  http.Header
	Visited []string // every URL, the first and the last included
}

// setupFlow opens a setup page in c's browser (a client that reports
// redirects) and follows the redirects as a browser does, through GitHub's
// authorize page and back: GitHub's callback is on publicURL, which is the
// test server.
func (e *env) setupFlow(c *webtest.Client, path string) setupVisit {
	e.t.Helper()
	var v setupVisit
	next := e.web.URL + path
	for range 10 {
		v.Visited = append(v.Visited, next)
		resp, err := c.HTTP.Get(next)
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 3 {
			v.Status, v.Body, v.Header = resp.StatusCode, string(b), resp.Header
			return v
		}
		loc, err := resp.Location()
		if err != nil {
			e.t.Fatal(err)
		}
		next = loc.String()
		if rest, ok := strings.CutPrefix(next, publicURL+"/"); ok {
			next = e.web.URL + "/" + rest
		}
	}
	e.t.Fatalf("too many redirects: %v", v.Visited)
	return v
}

// authorizeState requires an answer that sends the browser to GitHub's
// authorize page for this App, back to the setup page, and returns the
// state.
func authorizeState(t *testing.T, e *env, status int, h http.Header) string {
	t.Helper()
	loc, err := url.Parse(h.Get("Location"))
	if err != nil || status != http.StatusSeeOther || loc.Scheme+"://"+loc.Host+loc.Path != e.gh.Web.URL+"/login/oauth/authorize" {
		t.Fatalf("%d to %q, want a redirect to GitHub's authorize page", status, h.Get("Location"))
	}
	q := loc.Query()
	if q.Get("client_id") != e.gh.ClientID || q.Get("redirect_uri") != publicURL+"/github/setup" || q.Get("state") == "" {
		t.Fatalf("redirect to %s, want the App's client id, the setup page and a state", loc)
	}
	return q.Get("state")
}

// stateCookie is the setup page's state cookie an answer sets.
func stateCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "ufo_github_authorization" {
			return c
		}
	}
	t.Fatalf("no state cookie in %v", h.Values("Set-Cookie"))
	return nil
}
