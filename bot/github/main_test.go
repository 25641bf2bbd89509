package github_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/github"
	"github.com/ufo-run/ufo/rover/gitwork"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

// The installation and repository the recorded payloads name.
const (
	installID = 957387
	repoID    = 186853002
	repoName  = "Codertocat/Hello-World"
	owner     = "Codertocat" // admin of the repository, sender of the payloads
	secret    = "It's a Secret to Everybody"
	publicURL = "http://ufo.test"
)

// env is a UFO server with the GitHub App mounted, on its own database,
// talking to its own fake GitHub, with a signed-in fleet admin, an exec
// pilot "sh", and the fake's installation linked to the fleet.
type env struct {
	t      testing.TB
	web    *webtest.Server
	st     *store.Store
	gh     *fakeGitHub
	app    *github.App
	admin  *webtest.Client
	fleet  string
	pilot  string
	log    *slog.Logger
	stopW  func()
	nextID atomic.Int64
	// also are notifiers beside the App's, in the worker's notify jobs.
	also map[string]bot.Notifier
}

type envOptions struct {
	files    map[string]string // files of the repository
	noWorker bool
	noLink   bool
	also     map[string]bot.Notifier // notifiers beside the App's (other adapters)
}

func newEnv(t testing.TB, opts ...func(*envOptions)) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	e := &env{t: t, web: webtest.Open(t, webtest.Logger(t, slog.LevelInfo)), gh: newFakeGitHub(t), stopW: func() {}, also: o.also}
	e.st, e.log = e.web.Store, e.web.Log
	e.gh.AddInstallation(installID, owner, "User")
	e.gh.AddRepo(installID, repoID, repoName, "master", o.files)
	e.gh.SetPermission(repoName, owner, "admin")
	e.gh.AddIssue(repoName, 1, "Spelling error in the README file", "It looks like you accidentally spelled 'commit' with two 't's.", owner)
	e.app = e.newApp()
	e.web.Serve(func(c *web.Config) {
		c.PublicURL = publicURL
		c.Mounters = []web.Mounter{e.app}
		c.RepoCredential = e.app.RepoCredential
	})
	t.Cleanup(func() { e.stopW() }) // before the server stops
	if !o.noWorker {
		e.startWorker(e.app)
	}
	e.admin = e.client()
	var out struct {
		Fleet struct{ ID string } `json:"fleet"`
	}
	e.admin.Call("POST", "/api/auth/signup", map[string]string{"email": "admin@example.com", "password": "P@ssw0rd", "name": "Admin"}, 201, &out)
	e.fleet = out.Fleet.ID
	var p struct{ ID string }
	e.admin.Call("POST", "/api/pilots?fleet="+e.fleet, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, &p)
	e.pilot = p.ID
	if !o.noLink {
		e.link()
	}
	return e
}

// link links the fake's installation to the fleet through the API, with a
// user access token of the repository's owner as proof of access.
func (e *env) link() {
	e.t.Helper()
	e.admin.Call("POST", "/api/github/installations?fleet="+e.fleet,
		map[string]any{"installation_id": installID, "user_token": e.gh.UserToken(owner)}, 201, nil)
}

// newApp makes a GitHub App on the env's store, as a server process would.
func (e *env) newApp() *github.App {
	a, err := github.New(github.Config{AppID: e.gh.AppID, PrivateKey: e.gh.PrivateKeyPEM(), WebhookSecret: secret,
		APIURL: e.gh.API.URL, WebURL: e.gh.Web.URL, Slug: e.gh.Slug, PublicURL: publicURL,
		ClientID: e.gh.ClientID, ClientSecret: e.gh.ClientSecret}, e.st, e.log)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// startWorker runs a worker with the App's delivery handler and notifier
// (and the env's other notifiers), until the test ends or stopW is called.
func (e *env) startWorker(a *github.App) {
	ctx, cancel := context.WithCancel(context.Background())
	w := bot.NewWorker(e.st, e.log)
	w.Poll = 20 * time.Millisecond
	a.Register(w)
	ns := map[string]bot.Notifier{"github": a}
	maps.Copy(ns, e.also)
	w.Handle(bot.KindNotify, bot.NotifyHandler(e.log, ns))
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	e.stopW = func() { cancel(); <-done }
}

// client is a signed-out client that reports redirects instead of
// following them.
func (e *env) client() *webtest.Client { return e.web.Client().NoRedirects() }

// sign is GitHub's X-Hub-Signature-256 of body.
func sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// body makes a payload's JSON as the fake's GitHub would send it: the
// installation is the fake's, and github.com and api.github.com URLs point
// at the fake.
func (e *env) body(p payload) []byte {
	e.t.Helper()
	if in, ok := p["installation"].(map[string]any); ok {
		in["id"] = installID
	} else if p.get("repository") != nil {
		p["installation"] = map[string]any{"id": installID, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTU3Mzg3"}
	}
	b, err := json.Marshal(p)
	if err != nil {
		e.t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "https://api.github.com/", e.gh.API.URL+"/")
	s = strings.ReplaceAll(s, "https://github.com/", e.gh.Web.URL+"/")
	return []byte(s)
}

// post sends a webhook delivery as GitHub does and returns the status.
func (e *env) post(event, id string, body []byte, signature string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.web.URL+"/github/webhook", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-GitHub-Hook-ID", "292430182")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// deliver signs and posts a payload with a fresh delivery id, requires 202
// and waits until the delivery is processed. It returns the id.
func (e *env) deliver(event string, p payload) string {
	e.t.Helper()
	id := fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", e.nextID.Add(1))
	body := e.body(p)
	if status, out := e.post(event, id, body, sign(body)); status != http.StatusAccepted {
		e.t.Fatalf("deliver %s: status %d: %s", event, status, out)
	}
	e.waitJob(github.KindDelivery, id)
	return id
}

// waitJob waits until a job is done; a failed one fails the test.
func (e *env) waitJob(kind, key string) {
	e.t.Helper()
	eventually(e.t, 15*time.Second, func() error {
		j, err := e.st.FindJob(context.Background(), kind, key)
		if err != nil {
			return err
		}
		if j.Status == "failed" {
			e.t.Fatalf("job %s/%s failed: %s", kind, key, j.LastError)
		}
		if j.Status != "done" {
			return fmt.Errorf("job %s/%s is %s after %d attempts (last error %q)", kind, key, j.Status, j.Attempts, j.LastError)
		}
		return nil
	})
}

// settle waits until no job is pending, and fails on any failed job.
func (e *env) settle() {
	e.t.Helper()
	eventually(e.t, 15*time.Second, func() error {
		var pending int
		var failed []string
		rows, err := e.st.Pool().Query(context.Background(), `SELECT status, kind, key, last_error FROM jobs WHERE status <> 'done'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var status, kind, key, last string
			if err := rows.Scan(&status, &kind, &key, &last); err != nil {
				return err
			}
			if status == "failed" {
				failed = append(failed, kind+"/"+key+": "+last)
			} else {
				pending++
			}
		}
		if len(failed) > 0 {
			e.t.Fatalf("failed jobs: %v", failed)
		}
		if pending > 0 {
			return fmt.Errorf("%d jobs pending", pending)
		}
		return nil
	})
}

// eventually retries check until it returns nil or the time is up.
func eventually(t testing.TB, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// operationJSON is an operation as the API shows it.
type operationJSON struct {
	ID       string  `json:"id"`
	Code     string  `json:"code"`
	Title    string  `json:"title"`
	Body     string  `json:"body"`
	Status   string  `json:"status"`
	IssueURL string  `json:"issue_url"`
	PRURL    string  `json:"pr_url"`
	Branch   string  `json:"branch"`
	Assignee *string `json:"assignee_id"`
}

func (e *env) operations() []operationJSON {
	e.t.Helper()
	var ops []operationJSON
	e.admin.Call("GET", "/api/operations?fleet="+e.fleet, nil, 200, &ops)
	return ops
}

type runJSON struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	PilotID        string `json:"pilot_id"`
	FollowUp       bool   `json:"follow_up"`
	FailureMessage string `json:"failure_message"`
	Artifact       *struct {
		Branch string `json:"branch"`
		PRURL  string `json:"pr_url"`
	} `json:"artifact"`
}

func (e *env) runs(opID string) []runJSON {
	e.t.Helper()
	var runs []runJSON
	e.admin.Call("GET", "/api/runs?fleet="+e.fleet+"&operation="+opID, nil, 200, &runs)
	return runs
}

// fakeRover drives the rover protocol over HTTP, with real git work through
// rover/gitwork.
type fakeRover struct {
	e  *env
	c  *webtest.Client
	gw *gitwork.Manager
}

func (e *env) enrollRover(name string, tags ...string) *fakeRover {
	e.t.Helper()
	if tags == nil {
		tags = []string{}
	}
	var code struct{ Code string }
	e.admin.Call("POST", "/api/rovers/enrollment-codes?fleet="+e.fleet, map[string]any{"name": name, "tags": tags}, 201, &code)
	r := &fakeRover{e: e, c: e.client()}
	var out wire.EnrollResponse
	r.c.Call("POST", "/api/rovers/enroll", wire.EnrollRequest{Code: code.Code, Name: name,
		Profile: wire.Profile{OS: "linux", Hostname: name, Pilots: []wire.CLI{{Kind: "exec"}}}}, 201, &out)
	r.c.Token = out.Token
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	r.gw = gitwork.New(filepath.Join(e.t.TempDir(), "rover"), env)
	return r
}

// tryClaim asks for a run once, waiting up to wait.
func (r *fakeRover) tryClaim(wait string) (wire.Claim, bool) {
	r.e.t.Helper()
	status, b, _ := r.c.Do("POST", "/api/rover/claim?wait="+wait, "{}")
	if status == http.StatusNoContent {
		return wire.Claim{}, false
	}
	if status != http.StatusOK {
		r.e.t.Fatalf("claim: %d %s", status, b)
	}
	var cl wire.Claim
	if err := json.Unmarshal(b, &cl); err != nil {
		r.e.t.Fatal(err)
	}
	return cl, true
}

// claim waits for a run.
func (r *fakeRover) claim() wire.Claim {
	r.e.t.Helper()
	for range 10 {
		if cl, ok := r.tryClaim("2"); ok {
			return cl
		}
	}
	r.e.t.Fatal("no run to claim")
	return wire.Claim{}
}

func (r *fakeRover) start(cl wire.Claim) {
	r.e.t.Helper()
	r.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
}

// succeed does the pilot's work: clones with the claim's credential,
// writes files, commits, pushes the branch, and reports success.
func (r *fakeRover) succeed(cl wire.Claim, files map[string]string, final string) wire.Artifact {
	r.e.t.Helper()
	ctx := context.Background()
	w, err := r.gw.Prepare(ctx, gitwork.Job{OperationID: cl.Operation.ID, Branch: cl.Branch, Repository: cl.Repository})
	if err != nil {
		r.e.t.Fatalf("prepare the work dir: %v", err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(w.Dir, name), []byte(text), 0o644); err != nil {
			r.e.t.Fatal(err)
		}
	}
	art, err := w.Finish(ctx, cl.Operation.Code+": "+cl.Operation.Title, true)
	if err != nil {
		r.e.t.Fatalf("commit and push: %v", err)
	}
	r.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{
		{Seq: 1, Type: wire.EventText, Data: json.RawMessage(`{"text":"working"}`), At: time.Now()},
	}}, 200, nil)
	r.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunSucceeded,
		FinalMessage: final, SessionID: "session-1", Usage: &wire.Usage{InputTokens: 1200, OutputTokens: 300, CostUSD: 0.0421},
		Artifact: &art}, 200, nil)
	return art
}

// fail reports a failed run.
func (r *fakeRover) fail(cl wire.Claim, reason, message string) {
	r.e.t.Helper()
	r.c.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunFailed,
		FailureReason: reason, FailureMessage: message}, 200, nil)
}

// statusComment returns the one status comment on an issue, failing when
// there is not exactly one.
func (e *env) statusComment(issue int) fakeComment {
	e.t.Helper()
	var found []fakeComment
	for _, c := range e.gh.Comments(repoName, issue, e.gh.BotLogin()) {
		if strings.Contains(c.Body, "<!-- ufo:status ") {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("issue #%d has %d status comments, want 1: %+v", issue, len(found), found)
	}
	return found[0]
}

// waitStatus waits until the issue's status comment contains want.
func (e *env) waitStatus(issue int, want string) fakeComment {
	e.t.Helper()
	var c fakeComment
	eventually(e.t, 15*time.Second, func() error {
		var found []fakeComment
		for _, x := range e.gh.Comments(repoName, issue, e.gh.BotLogin()) {
			if strings.Contains(x.Body, "<!-- ufo:status ") {
				found = append(found, x)
			}
		}
		if len(found) != 1 {
			return fmt.Errorf("%d status comments on #%d", len(found), issue)
		}
		c = found[0]
		if !strings.Contains(c.Body, want) {
			return fmt.Errorf("status comment is %q, want it to contain %q", c.Body, want)
		}
		return nil
	})
	return c
}

// labeled is the recorded issues/labeled payload with the label and sender
// given.
func labeled(t testing.TB, label, sender string) payload {
	p := example(t, "issues", "labeled")
	p.set("label.name", label)
	p.set("sender.login", sender)
	return p
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
