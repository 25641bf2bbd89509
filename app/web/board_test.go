package web_test

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/templates"
)

const xssTitle = `<script>alert(1)</script>`

// getPage fetches a board page as c and requires the status.
func getPage(c *webtest.Client, path string, want int) string {
	c.T.Helper()
	status, body, h := c.Do("GET", path, nil)
	if status != want {
		c.T.Fatalf("GET %s: status %d, want %d: %.2000s", path, status, want, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		c.T.Fatalf("GET %s: Content-Type %q, want text/html", path, ct)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		c.T.Fatalf("GET %s: no Content-Security-Policy limiting scripts: %q", path, h.Get("Content-Security-Policy"))
	}
	return string(body)
}

func wantContains(t *testing.T, where, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: want %q in the page:\n%.3000s", where, s, body)
		}
	}
}

func wantMissing(t *testing.T, where, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("%s: %q must not be in the page", where, s)
		}
	}
}

// boardFleet is a fleet with something on every page: a mission, an
// operation titled with markup, its sub-operation, relationship, message,
// reaction and label, a crew, a rover and an invitation.
type boardFleet struct {
	c               *webtest.Client
	fleet, mission  string
	op, sub         operationJSON
	rover           wire.EnrollResponse
	invitationToken string
}

func (e *env) boardFleet(email string) boardFleet {
	e.T.Helper()
	c, fleet := e.SignUp(email)
	f := boardFleet{c: c, fleet: fleet}
	var m idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Moonshot <b>one</b>","key":"MSJ","repository":""}`, 201, &m)
	f.mission = m.ID
	c.Call("POST", "/api/labels?fleet="+fleet, `{"name":"bug","color":"#d73a4a"}`, 201, nil)
	c.Call("POST", "/api/operations?fleet="+fleet, map[string]any{"title": xssTitle, "body": `<img src=x onerror=alert(2)> body`,
		"mission_id": m.ID, "labels": []string{"bug", `<i>lbl</i>`}, "priority": 3, "issue_url": "javascript:alert(3)"}, 201, &f.op)
	c.Call("POST", "/api/operations/"+f.op.ID+"/sub-operations?fleet="+fleet, `{"title":"the sub <u>part</u>"}`, 201, &f.sub)
	c.Call("POST", "/api/operations/"+f.op.ID+"/relationships?fleet="+fleet, map[string]string{"to_id": f.sub.Code, "kind": "blocks"}, 201, nil)
	c.Call("POST", "/api/operations/"+f.op.ID+"/messages?fleet="+fleet, `{"body":"a message <em>with markup</em>"}`, 201, nil)
	c.Call("POST", "/api/operations/"+f.op.ID+"/reactions?fleet="+fleet, `{"emoji":"🚀"}`, 201, nil)
	var pilots []struct{ ID, Name string }
	c.Call("GET", "/api/pilots?fleet="+fleet, nil, 200, &pilots)
	c.Call("POST", "/api/crews?fleet="+fleet, map[string]any{"name": "Night <crew>", "pilot_ids": []string{pilots[0].ID}}, 201, nil)
	_, f.rover = e.enroll(c, fleet, wire.Profile{OS: "linux", Arch: "amd64", Hostname: "host-<1>", CPUs: 8, MemoryMB: 16384, DiskFreeMB: 90000,
		Git: "git version 2.43.0", Pilots: []wire.CLI{{Kind: "claude", Version: "2.0.1 <beta>"}}})
	var inv struct{ Token string }
	c.Call("POST", "/api/invitations?fleet="+fleet, `{"email":"new@example.com","role":"member"}`, 201, &inv)
	f.invitationToken = inv.Token
	return f
}

// TestBoardPages renders every page of a fleet with user content full of
// markup: each answers 200 and shows that content as text.
func TestBoardPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.boardFleet("pages@example.com")
	q := "?fleet=" + f.fleet
	escapedTitle := "&lt;script&gt;alert(1)&lt;/script&gt;"
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/board" + q, []string{escapedTitle, `data-status="backlog"`, "In Review", f.op.Code, "&lt;i&gt;lbl&lt;/i&gt;", "the sub &lt;u&gt;part&lt;/u&gt;", `data-color="#d73a4a"`, "High"}},
		{"/board", []string{escapedTitle}}, // the first fleet by default
		{"/board" + q + "&view=list", []string{escapedTitle, "<table class=\"table ops\"", "Backlog"}},
		{"/operations/" + f.op.Code + q, []string{escapedTitle, "&lt;img src=x onerror=alert(2)&gt; body", "a message &lt;em&gt;with markup&lt;/em&gt;",
			"blocks", f.sub.Code, "🚀 1", "Moonshot &lt;b&gt;one&lt;/b&gt;", `href="#ZgotmplZ"`, "No runs yet"}},
		{"/operations/" + f.op.ID + q, []string{escapedTitle}},
		{"/operations/" + f.sub.Code + q, []string{"blocked by", f.op.Code, "the sub &lt;u&gt;part&lt;/u&gt;"}},
		{"/rovers" + q, []string{"host-&lt;1&gt;", "linux/amd64", "8 CPUs", "16.0 GB memory", "claude 2.0.1 &lt;beta&gt;", "Add rover", "online"}},
		{"/pilots" + q, []string{"shell", "eval &#34;$UFO_OPERATION_BODY&#34;", "claude", "Add a pilot"}},
		{"/crews" + q, []string{"Night &lt;crew&gt;", "shell (pilot)"}},
		{"/missions" + q, []string{"MSJ", "Moonshot &lt;b&gt;one&lt;/b&gt;", "Create a mission"}},
		{"/members" + q, []string{"pages@example.com", "new@example.com", "Invite someone"}},
		{"/settings" + q, []string{"GitHub", "Slack", "not configured", f.fleet}},
	} {
		body := getPage(f.c, tc.path, 200)
		wantContains(t, tc.path, body, tc.want...)
		wantMissing(t, tc.path, body, xssTitle, "<img src=x", "<em>with", "<b>one", "<i>lbl", "javascript:alert")
	}
}

// TestBoardFleetScoping: another fleet, or another fleet's operation,
// answers 404 as if it did not exist; a member of two fleets sees the one
// named.
func TestBoardFleetScoping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.boardFleet("a@example.com")
	b := e.boardFleet("b@example.com")
	for _, path := range []string{
		"/board?fleet=" + b.fleet,
		"/rovers?fleet=" + b.fleet,
		"/settings?fleet=" + b.fleet,
		"/operations/" + b.op.ID + "?fleet=" + b.fleet,
		"/operations/" + b.op.ID + "?fleet=" + a.fleet,
		"/operations/" + b.op.ID, // a's first fleet
		"/operations/MSJ-99?fleet=" + a.fleet,
		"/operations/not-an-id?fleet=" + a.fleet,
		"/board?fleet=not-a-fleet",
	} {
		body := getPage(a.c, path, 404)
		wantContains(t, path, body, "Not found")
		wantMissing(t, path, body, b.op.ID, b.fleet)
	}
	// Same code, different fleets: each sees its own.
	body := getPage(a.c, "/operations/MSJ-1?fleet="+a.fleet, 200)
	wantContains(t, "a's MSJ-1", body, a.op.ID)

	// A member of both fleets switches with ?fleet=.
	var inv struct{ Token string }
	b.c.Call("POST", "/api/invitations?fleet="+b.fleet, `{"email":"a@example.com","role":"member"}`, 201, &inv)
	a.c.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	body = getPage(a.c, "/operations/"+b.op.ID+"?fleet="+b.fleet, 200)
	wantContains(t, "b's operation as a member", body, b.op.ID, `<select name="fleet"`)
	wantMissing(t, "b's page as a member", body, `data-api="/api/rovers/enrollment-codes"`) // members do not add rovers
}

// TestBoardSignedOut: pages send visitors to sign in, and back; the sign-in,
// sign-up and static files need no session.
func TestBoardSignedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	anon := e.Client().NoRedirects()
	for path, want := range map[string]string{
		"/":                               "/signin",
		"/board?fleet=x&view=list":        "/signin?next=" + url.QueryEscape("/board?fleet=x&view=list"),
		"/operations/MSJ-1":               "/signin?next=" + url.QueryEscape("/operations/MSJ-1"),
		"/settings":                       "/signin?next=%2Fsettings",
		"/signin?next=%2F%2Fevil.example": "",
	} {
		status, _, h := anon.Do("GET", path, nil)
		if want == "" {
			if status != 200 {
				t.Errorf("GET %s: status %d, want 200", path, status)
			}
			continue
		}
		if status != http.StatusSeeOther || h.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 303 to %q", path, status, h.Get("Location"), want)
		}
	}
	body := getPage(anon, "/signin?next=%2F%2Fevil.example", 200)
	wantContains(t, "sign-in", body, `data-api="/api/auth/login"`, `data-next="/board"`)
	body = getPage(anon, "/signup?next=%2Foperations%2FMSJ-1", 200)
	wantContains(t, "sign-up", body, `data-api="/api/auth/signup"`, `data-next="/operations/MSJ-1"`)

	for _, f := range []struct{ path, ctype string }{{"/static/board.css", "text/css"}, {"/static/board.js", "text/javascript"}} {
		status, b, h := anon.Do("GET", f.path, nil)
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), f.ctype) || len(b) < 1000 {
			t.Errorf("GET %s: %d %q, %d bytes", f.path, status, h.Get("Content-Type"), len(b))
		}
	}
	if status, _, _ := anon.Do("GET", "/static/nothing.js", nil); status != 404 {
		t.Errorf("GET /static/nothing.js: %d, want 404", status)
	}

	// Signed in, the sign-in page moves on.
	c, _ := e.SignUp("in@example.com")
	status, _, h := c.NoRedirects().Do("GET", "/signin?next=%2Fpilots", nil)
	if status != http.StatusSeeOther || h.Get("Location") != "/pilots" {
		t.Errorf("signed-in GET /signin: %d to %q", status, h.Get("Location"))
	}
	// The static files' URLs carry their hash, for long caching.
	body = getPage(c, "/board", 200)
	m := regexp.MustCompile(`/static/board\.js\?v=([0-9a-f]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no versioned script URL in the board")
	}
	_, _, h = c.Do("GET", m[0], nil)
	if !strings.Contains(h.Get("Cache-Control"), "immutable") {
		t.Errorf("versioned script: Cache-Control %q", h.Get("Cache-Control"))
	}
}

// TestBoardInvitationPage: the link the API hands out shows the invitation
// to anyone holding it, and offers to accept once signed in.
func TestBoardInvitationPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.boardFleet("owner@example.com")
	link := "/invitations/" + f.invitationToken
	anon := e.Client()
	body := getPage(anon, link, 200)
	next := strings.ReplaceAll(url.QueryEscape(link), "%2F", "%2f") // html/template writes lower-case escapes
	wantContains(t, "signed out", body, "as member", "new@example.com", "/signup?next="+next, "/signin?next="+next)
	wantMissing(t, "signed out", body, "/accept")

	guest, _ := e.SignUp("new@example.com")
	body = getPage(guest, link, 200)
	wantContains(t, "signed in", body, `data-api="/api/invitations/`+f.invitationToken+`/accept"`, "/board?fleet="+f.fleet)
	guest.Call("POST", "/api/invitations/"+f.invitationToken+"/accept", nil, 200, nil)
	getPage(guest, "/board?fleet="+f.fleet, 200)

	// Used, unknown or malformed: 404.
	getPage(guest, link, 404)
	getPage(anon, "/invitations/ufoi_nothing", 404)
}

// TestBoardFilters: the filters and the sort live in the URL, narrow the
// cards, and the board's links keep them.
func TestBoardFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("filters@example.com")
	var m1, m2 idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"One","key":"ONE"}`, 201, &m1)
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Two","key":"TWO"}`, 201, &m2)
	var members []struct {
		UserID string `json:"user_id"`
	}
	c.Call("GET", "/api/members?fleet="+fleet, nil, 200, &members)
	mk := func(title, mission string, labels []string, prio int, user bool) {
		in := map[string]any{"title": title, "mission_id": mission, "labels": labels, "priority": prio}
		if user {
			in["assignee_type"], in["assignee_id"] = "user", members[0].UserID
		}
		c.Call("POST", "/api/operations?fleet="+fleet, in, 201, nil)
	}
	mk("alpha task", m1.ID, []string{"docs"}, 1, false)
	mk("beta task", m1.ID, []string{"bug"}, 4, true)
	mk("gamma chore", m2.ID, []string{"bug"}, 2, false)

	base := "/board?fleet=" + fleet
	for _, tc := range []struct {
		query      string
		want, miss []string
	}{
		{"&mission=ONE", []string{"alpha task", "beta task"}, []string{"gamma chore"}},
		{"&mission=NOPE", nil, []string{"alpha task", "beta task", "gamma chore"}},
		{"&label=bug", []string{"beta task", "gamma chore"}, []string{"alpha task"}},
		{"&q=TASK", []string{"alpha task", "beta task"}, []string{"gamma chore"}},
		{"&q=TWO-1", []string{"gamma chore"}, []string{"alpha task", "beta task"}},
		{"&assignee=user:" + members[0].UserID, []string{"beta task"}, []string{"alpha task", "gamma chore"}},
		{"&assignee=shell", nil, []string{"alpha task", "beta task", "gamma chore"}},
		{"&view=list&status=backlog&mission=ONE", []string{"alpha task"}, []string{"gamma chore"}},
	} {
		body := getPage(c, base+tc.query, 200)
		wantContains(t, tc.query, body, tc.want...)
		wantMissing(t, tc.query, body, tc.miss...)
	}

	// Sorted by priority, highest first, in the list.
	body := getPage(c, base+"&view=list&sort=-priority", 200)
	if b, g, a := strings.Index(body, "beta task"), strings.Index(body, "gamma chore"), strings.Index(body, "alpha task"); !(b < g && g < a) {
		t.Errorf("sort=-priority: positions beta %d, gamma %d, alpha %d", b, g, a)
	}
	// The links keep the filters: the view switch, and the sort headers.
	body = getPage(c, base+"&label=bug&q=task", 200)
	wantContains(t, "board links", body, `href="/board?fleet=`+fleet+`&amp;label=bug&amp;q=task&amp;view=list"`)
	body = getPage(c, base+"&view=list&label=bug&sort=title", 200)
	wantContains(t, "sort headers", body, `sort=-title`, `sort=-priority`, `label=bug`)
	// A sort the board does not know falls back to the default.
	getPage(c, base+"&sort=drop+table", 200)
}

// TestBoardRunView: a run's typed events, usage and diff show on the
// operation's page, and Cancel and Retry follow its state.
func TestBoardRunView(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("runs@example.com")
	var m idOnly
	c.Call("POST", "/api/missions?fleet="+fleet, `{"name":"Runs","key":"RUN"}`, 201, &m)
	var op operationJSON
	c.Call("POST", "/api/operations?fleet="+fleet, map[string]string{"title": "make hello", "body": "echo hello > HELLO.md",
		"mission_id": m.ID, "assignee_type": "pilot", "assignee_id": "shell"}, 201, &op)
	path := "/operations/" + op.Code + "?fleet=" + fleet
	body := getPage(c, path, 200)
	wantContains(t, "queued", body, "Cancel run", "queued")
	wantMissing(t, "queued", body, ">Retry<")

	r, _ := e.enroll(c, fleet, wire.Profile{OS: "linux", Arch: "amd64"})
	status, cl := claim(r, "5")
	if status != 200 {
		t.Fatalf("claim: %d", status)
	}
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
	events := []wire.Event{
		{Seq: 1, Type: "status", Data: []byte(`{"message":"work dir ready on branch ufo/RUN-1-make-hello"}`)},
		{Seq: 2, Type: "text", Data: []byte(`{"text":"I will write <HELLO.md>"}`)},
		{Seq: 3, Type: "tool_use", Data: []byte(`{"id":"t1","name":"Bash","input":{"command":"echo hello > HELLO.md"}}`)},
		{Seq: 4, Type: "tool_result", Data: []byte(`{"tool_use_id":"t1","content":[{"type":"text","text":"done <ok>"}],"is_error":false}`)},
		{Seq: 5, Type: "tool_use", Data: []byte(`{"id":"t2","name":"Read","input":{"file_path":"/nope"}}`)},
		{Seq: 6, Type: "tool_result", Data: []byte(`{"tool_use_id":"t2","content":"no such file","is_error":true}`)},
		{Seq: 7, Type: "usage", Data: []byte(`{"input_tokens":1200,"output_tokens":34,"cost_usd":0.0123}`)},
	}
	for i := range events {
		events[i].At = time.Now()
	}
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: events}, 200, nil)
	body = getPage(c, path, 200)
	wantContains(t, "running", body, "I will write &lt;HELLO.md&gt;", `<span class="tool">Bash</span>`, "echo hello &gt; HELLO.md",
		"done &lt;ok&gt;", `ev-tool err`, "no such file", "1200 tokens in, 34 out", "$0.0123", "Cancel run", "data-runs=\""+cl.RunID+"\"")

	diff := "diff --git a/HELLO.md b/HELLO.md\nnew file mode 100644\nindex 0000000..ce01362\n--- /dev/null\n+++ b/HELLO.md\n@@ -0,0 +1 @@\n+hello <world>\n" +
		"diff --git a/README.md b/README.md\nindex 1111111..2222222 100644\n--- a/README.md\n+++ b/README.md\n@@ -3,2 +3,2 @@ intro\n keep\n-old line\n+new line\n"
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded",
		FinalMessage: "Wrote HELLO.md", Usage: &wire.Usage{InputTokens: 1200, OutputTokens: 34, CostUSD: 0.0123},
		Artifact: &wire.Artifact{Diff: diff, Files: 2, Insertions: 2, Deletions: 1, Branch: "ufo/RUN-1-make-hello", BaseBranch: "main", HeadCommit: "0123456789abcdef"}}, 200, nil)
	body = getPage(c, path, 200)
	wantContains(t, "in review", body, `s-in_review`, "Wrote HELLO.md", `<span class="fname">HELLO.md</span>`, `<span class="note">new file</span>`,
		`<tr class="l-add"><td class="n"></td><td class="n">1</td><td class="t">hello &lt;world&gt;</td></tr>`,
		`<tr class="l-del"><td class="n">4</td><td class="n"></td><td class="t">old line</td></tr>`,
		`<tr class="l-ctx"><td class="n">3</td><td class="n">3</td><td class="t">keep</td></tr>`,
		"2 files", "+2", "−1", "<code>0123456789ab</code>", ">Retry<")
	wantMissing(t, "in review", body, "Cancel run", "<world>")
}

// TestBoardGetChangesNothing: rendering every page writes nothing to the
// change feed.
func TestBoardGetChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := e.boardFleet("get@example.com")
	feed := func() int {
		var evs []struct{ ID int64 }
		f.c.Call("GET", "/api/events?fleet="+f.fleet+"&limit=200", nil, 200, &evs)
		return len(evs)
	}
	before := feed()
	for _, p := range []string{"/board", "/board?view=list", "/operations/" + f.op.Code, "/rovers", "/pilots", "/crews", "/missions", "/members", "/settings"} {
		getPage(f.c, p+map[bool]string{true: "&", false: "?"}[strings.Contains(p, "?")]+"fleet="+f.fleet, 200)
	}
	getPage(f.c, "/invitations/"+f.invitationToken, 200)
	if after := feed(); after != before {
		t.Fatalf("the change feed grew from %d to %d rows on GETs", before, after)
	}
}

// TestBoardTemplatesRequired: the server does not start when a page or a
// static file is missing.
func TestBoardTemplatesRequired(t *testing.T) {
	t.Parallel()
	full := fstest.MapFS{}
	err := fs.WalkDir(templates.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(templates.FS, path)
		full[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if _, err := web.New(nil, nil, web.Config{Templates: full}, log); err != nil {
		t.Fatalf("with every file: %v", err)
	}
	for _, missing := range []string{"board/operation.html", "board/layout.html", "board/parts.html", "static/board.js"} {
		fsys := fstest.MapFS{}
		for k, v := range full {
			if k != missing {
				fsys[k] = v
			}
		}
		_, err := web.New(nil, nil, web.Config{Templates: fsys}, log)
		if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(missing, "board/"), "static/"), ".html")) {
			t.Errorf("without %s: err = %v, want one naming it", missing, err)
		}
	}
	broken := fstest.MapFS{}
	for k, v := range full {
		broken[k] = v
	}
	broken["board/rovers.html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{if}}{{end}}`)}
	if _, err := web.New(nil, nil, web.Config{Templates: broken}, log); err == nil || !strings.Contains(err.Error(), "rovers") {
		t.Errorf("with a broken page: err = %v", err)
	}
}

// TestBoardLiveFeedPosition: a page tells its script where the change feed
// stood when it was rendered, so the stream replays nothing older.
func TestBoardLiveFeedPosition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, fleet := e.SignUp("live@example.com")
	var evs []struct{ ID int64 }
	c.Call("GET", "/api/events?fleet="+fleet+"&limit=200", nil, 200, &evs)
	if len(evs) == 0 {
		t.Fatal("a new fleet has no feed rows")
	}
	body := getPage(c, "/board?fleet="+fleet, 200)
	wantContains(t, "board", body, fmt.Sprintf(`data-after="%d"`, evs[len(evs)-1].ID), `data-fleet="`+fleet+`"`)
}

// TestBoardSettingsConnections: the settings page says which services the
// server is set up for, as cmd tells it.
func TestBoardSettingsConnections(t *testing.T) {
	t.Parallel()
	off := newEnv(t)
	c, fleet := off.SignUp("off@example.com")
	body := getPage(c, "/settings?fleet="+fleet, 200)
	if n := strings.Count(body, "not configured"); n != 2 {
		t.Errorf("with nothing set up: %d services not configured, want 2", n)
	}
	wantContains(t, "off", body, "UFO_GITHUB_APP_ID", "UFO_SLACK_BOT_TOKEN")

	on := newEnv(t, func(cfg *web.Config) {
		cfg.Connections = []web.Connection{{Name: "GitHub", Configured: true}, {Name: "Slack", Configured: true}}
	})
	c, fleet = on.SignUp("on@example.com")
	body = getPage(c, "/settings?fleet="+fleet, 200)
	wantMissing(t, "on", body, "not configured", "UFO_GITHUB_APP_ID")
	wantContains(t, "on", body, "http://ufo.test/github/setup", `data-api="/api/slack/link-codes"`)

	// Not set up yet, with manifests: the page links each for download.
	manifest := []byte(`{"name":"UFO","hook_attributes":{"url":"http://ufo.test/github/webhook"}}`)
	withManifest := newEnv(t, func(cfg *web.Config) {
		cfg.Connections = []web.Connection{{Name: "GitHub", Manifest: manifest}, {Name: "Slack"}}
	})
	c, fleet = withManifest.SignUp("manifest@example.com")
	body = getPage(c, "/settings?fleet="+fleet, 200)
	wantContains(t, "manifest", body, "/settings/manifests/GitHub?fleet="+fleet)
	wantMissing(t, "manifest", body, "/settings/manifests/Slack")
	status, got, h := c.Do("GET", "/settings/manifests/GitHub?fleet="+fleet, nil)
	if status != 200 || string(got) != string(manifest) || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("manifest download: %d %q %v", status, got, h)
	}
	if status, _, _ := c.Do("GET", "/settings/manifests/Slack?fleet="+fleet, nil); status != 404 {
		t.Fatalf("a missing manifest answered %d, want 404", status)
	}
}
