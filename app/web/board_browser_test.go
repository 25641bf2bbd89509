package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/wire"
)

const chromiumPath = "/usr/bin/chromium"

// browser drives one headless Chromium tab against a test server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string // exceptions and console errors of the page
}

// newBrowser starts Chromium for the test. Without it the test skips, with
// a message saying how to install it; in CI (CI set) it fails instead.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need Chromium at %s in CI (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("browser test skipped: %s is absent; install it with apt-get install chromium (with CI set this fails instead)", chromiumPath)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root in containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	b.do(chromedp.EmulateViewport(1440, 900))
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) text(css string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.querySelector(%q).textContent.trim()`, css))
}

// until waits for a JavaScript condition, across navigations, and fails
// the test with what after 30 seconds.
func (b *browser) until(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!!(`+js+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
			b.t.Fatalf("browser: waited 30s for %s (at %s, last error %v); page problems: %v; the page reads:\n%s",
				what, loc, err, b.pageProblems(), text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browser) pageProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// clean fails the test when the page threw or logged an error so far.
func (b *browser) clean() {
	b.t.Helper()
	if p := b.pageProblems(); len(p) > 0 {
		b.t.Fatalf("the page reported problems: %v", p)
	}
}

// cardIn is a condition: the card of code is in the column of status.
func cardIn(code, status string) string {
	return fmt.Sprintf(`document.querySelector('.column[data-status=%q] .card[data-code=%q]')`, status, code)
}

// startRover runs a rover in this process, as ufo rover start would with
// UFO_ENROLLMENT_CODE=code, until the test ends.
func startRover(t *testing.T, e *env, code string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- rover.Run(ctx, rover.Config{Server: e.URL, Home: t.TempDir(), EnrollmentCode: code,
			Name: "browser-rover", Logger: webtest.Logger(t, slog.LevelWarn), RetryMax: time.Second})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("rover: %v", err)
		}
	})
}

// TestBrowserFirstMinute walks the README's first minute in Chromium: sign
// up, create a mission, add a rover and read its enrollment command, start
// a real rover (package rover, in process) with that code, create an
// operation for the demo pilot shell, watch its card reach In Review
// without a reload, open it and read the diff the rover's git made, then
// move the card to Done by dragging it, and back and forth with the
// keyboard.
func TestBrowserFirstMinute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e.URL)
	ctx := context.Background()

	b.open("/board")
	b.until("the sign-in page", `location.pathname === '/signin'`)
	b.do(chromedp.Click(chromedp.CSS(`a[href^="/signup"]`)))
	b.until("the sign-up page", `location.pathname === '/signup' && document.querySelector('input[name=email]')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Ada"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
	)
	b.until("the empty board", `location.pathname === '/board' && document.querySelector('.callout')`)

	// A mission, from the board's call to create one.
	b.do(chromedp.Click(chromedp.CSS(`.callout a.button`)))
	b.until("the missions page", `location.pathname === '/missions' && document.querySelector('#new-mission')`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#new-mission input[name=name]`), "Hello world"),
		chromedp.SendKeys(chromedp.CSS(`#new-mission input[name=key]`), "hel"),
		chromedp.Click(chromedp.CSS(`#new-mission button.primary`)),
	)
	b.until("the mission in the list", `[...document.querySelectorAll('#missions a.code')].some(a => a.textContent === 'HEL')`)

	// A rover: the page makes an enrollment code and shows the command.
	b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/rovers"]`)))
	b.until("the rovers page", `location.pathname === '/rovers' && document.querySelector('button[data-open="#add-rover"]')`)
	b.do(chromedp.Click(chromedp.CSS(`button[data-open="#add-rover"]`)))
	b.until("the add-rover dialog", `document.querySelector('#add-rover').open`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#add-rover input[name=name]`), "browser-rover"),
		chromedp.Click(chromedp.CSS(`#add-rover button.primary`)),
	)
	b.until("the enrollment command", `!document.getElementById('enrollment').hidden`)
	code := b.text(`#enrollment code[data-field=code]`)
	command := b.text(`#enrollment code[data-field=command]`)
	if want := fmt.Sprintf("UFO_SERVER=%s UFO_ENROLLMENT_CODE=%s ufo rover start", e.Config.PublicURL, code); !strings.HasPrefix(code, "ufoe_") || command != want {
		t.Fatalf("enrollment command = %q, want %q", command, want)
	}
	fleet := b.eval(`document.body.dataset.fleet`)
	startRover(t, e, code)
	b.do(chromedp.Click(chromedp.CSS(`#add-rover button[data-close]`)))
	b.until("the rover listed without a reload", `document.querySelector('#rovers').textContent.includes('browser-rover')`)

	// An operation for the demo pilot, from the board's dialog.
	b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/board"]`)))
	b.until("the board", `location.pathname === '/board' && document.querySelector('button[data-open="#new-operation"]')`)
	b.eval(`window.sameDocument = 'yes'`)
	b.do(chromedp.Click(chromedp.CSS(`button[data-open="#new-operation"]`)))
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#new-operation input[name=title]`), "Say hello"),
		chromedp.SendKeys(chromedp.CSS(`#new-operation textarea[name=body]`), "echo hello > HELLO.md"),
	)
	shell := b.eval(`(() => {
		const s = document.querySelector('#new-operation select[name=assignee]');
		s.value = [...s.options].find(o => o.textContent === 'shell').value;
		return s.value;
	})()`)
	if !strings.HasPrefix(shell, "pilot:") {
		t.Fatalf("assignee value = %q", shell)
	}
	b.do(chromedp.Click(chromedp.CSS(`#new-operation button.primary`)))

	// The rover runs it; the card follows without a reload.
	b.until("the card in In Review", cardIn("HEL-1", "in_review"))
	if b.eval(`window.sameDocument`) != "yes" {
		t.Fatal("the board reloaded")
	}

	// The operation's page has the run and the diff.
	b.do(chromedp.Click(chromedp.CSS(`.card[data-code="HEL-1"] a.title`)))
	b.until("the operation's diff", `location.pathname === '/operations/HEL-1' && document.querySelector('#op-diff .file')`)
	if f, l := b.text(`#op-diff .fname`), b.text(`#op-diff tr.l-add td.t`); f != "HELLO.md" || l != "hello" {
		t.Fatalf("diff shows %q with %q, want HELLO.md with hello", f, l)
	}
	b.until("the run in the timeline", `document.querySelector('#op-runs .runstatus').textContent === 'succeeded' && document.querySelector('#op-runs summary').textContent.includes('on browser-rover')`)

	// Drag the card to Done.
	b.do(chromedp.Click(chromedp.CSS(`.crumbs a`)))
	b.until("the board", cardIn("HEL-1", "in_review"))
	b.do(chromedp.DragAndDrop(chromedp.CSS(`.card[data-code="HEL-1"]`), chromedp.CSS(`.column[data-status="done"] .cards`)))
	b.until("the card in Done", cardIn("HEL-1", "done"))
	wantStatus := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			op, err := e.Store.FindOperation(ctx, fleet, "HEL-1")
			if err == nil && op.Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("HEL-1 is %q (%v), want %q", op.Status, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wantStatus("done")

	// And with the keyboard: ← skips Running, which rovers set.
	b.do(chromedp.Focus(chromedp.CSS(`.card[data-code="HEL-1"]`)), chromedp.KeyEvent(kb.ArrowLeft))
	b.until("the card back in In Review", cardIn("HEL-1", "in_review"))
	wantStatus("in_review")
	b.until("the move announced", `document.getElementById('announce').textContent === 'HEL-1 moved to In Review'`)
	b.do(chromedp.KeyEvent(kb.ArrowRight)) // the card kept the focus
	b.until("the card in Done again", cardIn("HEL-1", "done"))
	wantStatus("done")
	b.clean()
}

// signUp signs a new user up through the sign-up page.
func (b *browser) signUp(name, email string) {
	b.t.Helper()
	b.open("/signup")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
	)
	b.until("the board after signing up", `location.pathname === '/board'`)
}

// TestBrowserPages clicks through every page twice: each loads at once,
// with no script error and no Content-Security-Policy violation. Leaving a
// page closes its change-feed stream, so the browser never runs out of
// connections to the server.
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e.URL)
	b.signUp("Grace", "grace@example.com")
	b.open("/missions")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#new-mission input[name=name]`), "Pages"),
		chromedp.SendKeys(chromedp.CSS(`#new-mission input[name=key]`), "PG"),
		chromedp.Click(chromedp.CSS(`#new-mission button.primary`)),
	)
	b.until("the mission", `document.querySelector('#missions a.code')`)
	for round := range 2 {
		for _, nav := range []string{"board", "rovers", "pilots", "crews", "missions", "members", "settings"} {
			start := time.Now()
			b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/` + nav + `"]`)))
			b.until(nav, `location.pathname === '/`+nav+`' && document.readyState === 'complete' && document.querySelector('.nav a[aria-current=page]').textContent.toLowerCase() === '`+nav+`'`)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("round %d: %s took %v to load", round, nav, d)
			}
		}
		b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/board"]`)))
		b.until("the board", `location.pathname === '/board'`)
		b.do(chromedp.Click(chromedp.CSS(`.views a[href*="view=list"]`)))
		b.until("the list", `document.querySelector('table.ops')`)
	}
	// The filters submit themselves and stay in the URL.
	b.eval(`(() => {
		const s = document.querySelector('.filters select[name=sort]');
		s.value = '-priority';
		s.dispatchEvent(new Event('change', {bubbles: true}));
		return '';
	})()`)
	b.until("the sort in the URL", `new URLSearchParams(location.search).get('sort') === '-priority' && new URLSearchParams(location.search).get('view') === 'list'`)
	b.clean()
}

// TestBrowserInvitation: an owner makes an invitation link on the members
// page; someone new opens it, signs up from it, comes back to it, accepts,
// and lands on the fleet's board. Signing out ends the session.
func TestBrowserInvitation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e.URL)
	b.signUp("Owner", "owner@example.com")
	b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/members"]`)))
	b.until("the members page", `location.pathname === '/members' && document.querySelector('input[name=email]')`)
	fleet := b.eval(`document.body.dataset.fleet`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "guest@example.com"),
		chromedp.Click(chromedp.CSS(`form[data-api="/api/invitations"] button.primary`)),
	)
	b.until("the invitation link", `!document.getElementById('invitation').hidden`)
	link := b.text(`#invitation code[data-field=url]`)
	path, ok := strings.CutPrefix(link, e.Config.PublicURL)
	if !ok || !strings.HasPrefix(path, "/invitations/") {
		t.Fatalf("invitation link %q", link)
	}
	b.until("the invitation listed", `document.querySelector('#members').textContent.includes('guest@example.com')`)

	b.do(chromedp.Click(chromedp.CSS(`.who button[data-api="/api/auth/logout"]`)))
	b.until("the sign-in page", `location.pathname === '/signin'`)
	b.open("/board")
	b.until("the board asks to sign in", `location.pathname === '/signin'`)

	b.open(path)
	b.until("the invitation page", `document.querySelector('h1').textContent.startsWith('Join')`)
	b.do(chromedp.Click(chromedp.CSS(`a.button.primary[href^="/signup"]`)))
	b.until("the sign-up page", `location.pathname === '/signup'`)
	b.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Guest"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "guest@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
	)
	b.until("back on the invitation", `location.pathname === '`+path+`' && document.querySelector('form[data-api$="/accept"]')`)
	b.do(chromedp.Click(chromedp.CSS(`form[data-api$="/accept"] button.primary`)))
	b.until("the fleet's board", `location.pathname === '/board' && document.body.dataset.fleet === '`+fleet+`'`)
	b.do(chromedp.Click(chromedp.CSS(`.nav a[href^="/members"]`)))
	b.until("both members listed", `document.querySelector('#members').textContent.includes('owner@example.com') && document.querySelector('#members').textContent.includes('Guest (you)')`)
	b.clean()
}

// acceptDialogs answers every confirm() of the page with OK and returns
// their messages so far.
func (b *browser) acceptDialogs() func() []string {
	var mu sync.Mutex
	var seen []string
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			seen = append(seen, ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestBrowserLiveRun keeps an operation's page open while a rover works:
// its timeline grows event by event (text, a tool call whose input and
// output fold open, usage and cost), the rover shows busy then online on
// its page, and the diff, status and buttons follow, all without a reload.
// Then a message starts a follow-up run, which Cancel stops.
func TestBrowserLiveRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e.URL)
	dialogs := b.acceptDialogs()
	b.signUp("Lin", "lin@example.com")
	fleet := b.eval(`document.body.dataset.fleet`)
	c := e.Client()
	c.Call("POST", "/api/auth/login", `{"email":"lin@example.com","password":"correct horse battery"}`, 200, nil)
	q := "?fleet=" + fleet
	var m idOnly
	c.Call("POST", "/api/missions"+q, `{"name":"Live","key":"LIV"}`, 201, &m)
	c.Call("POST", "/api/operations"+q, map[string]string{"title": "Tidy the README", "body": "tidy", "mission_id": m.ID,
		"assignee_type": "pilot", "assignee_id": "shell"}, 201, nil)
	r, _ := e.enroll(c, fleet, wire.Profile{OS: "linux", Arch: "arm64", Hostname: "pi"})
	status, cl := claim(r, "5")
	if status != 200 {
		t.Fatalf("claim: %d", status)
	}
	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)

	b.open("/rovers" + q)
	b.until("the rover busy on LIV-1", `document.querySelector('#rovers .rstatus').textContent === 'busy' && document.querySelector('#rovers').textContent.includes('LIV-1')`)
	b.open("/operations/LIV-1" + q)
	b.until("the running run", `document.querySelector('#op-runs .runstatus').textContent === 'running'`)
	b.eval(`window.sameDocument = 'yes'`)
	seq := int64(0)
	send := func(typ, data string) {
		seq++
		r.Call("POST", "/api/rover/runs/"+cl.RunID+"/events", wire.EventBatch{ClaimToken: cl.ClaimToken,
			Events: []wire.Event{{Seq: seq, Type: typ, Data: []byte(data), At: time.Now()}}}, 200, nil)
	}
	send("text", `{"text":"Reading the README first."}`)
	b.until("the text event", `document.querySelector('#op-runs .ev-text').textContent === 'Reading the README first.'`)
	send("tool_use", `{"id":"t1","name":"Bash","input":{"command":"wc -l README.md"}}`)
	b.until("the tool call", `document.querySelector('#op-runs .ev-tool .tool').textContent === 'Bash'`)
	b.do(chromedp.Click(chromedp.CSS(`#op-runs .ev-tool summary`)))
	b.until("its input unfolded", `document.querySelector('#op-runs .ev-tool details').open && document.querySelector('#op-runs .ev-tool pre').textContent.includes('wc -l README.md')`)
	send("tool_result", `{"tool_use_id":"t1","content":"42 README.md","is_error":false}`)
	b.until("its output, still unfolded", `document.querySelector('#op-runs .ev-tool details').open && document.querySelector('#op-runs .ev-tool pre.output').textContent === '42 README.md'`)
	send("usage", `{"input_tokens":5100,"output_tokens":230,"cost_usd":0.0215}`)
	b.until("usage and cost", `document.querySelector('#op-runs .ev-usage').textContent.includes('5100 tokens in, 230 out') && document.querySelector('#op-runs .ev-usage').textContent.includes('$0.0215')`)
	b.until("a Cancel button and no Retry", `document.querySelector('#op-side').textContent.includes('Cancel run') && !document.querySelector('#op-side').textContent.includes('Retry')`)

	r.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: "succeeded", FinalMessage: "Tidied.",
		Artifact: &wire.Artifact{Diff: "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1,2 +1,2 @@\n # Title\n-teh end\n+the end\n",
			Files: 1, Insertions: 1, Deletions: 1, Branch: cl.Branch}}, 200, nil)
	b.until("the diff", `document.querySelector('#op-diff tr.l-del td.t') && document.querySelector('#op-diff tr.l-del td.t').textContent === 'teh end' && document.querySelector('#op-diff tr.l-add td.t').textContent === 'the end'`)
	b.until("In Review, with Retry", `document.querySelector('#op-head .status').textContent === 'In Review' && document.querySelector('#op-side').textContent.includes('Retry') && !document.querySelector('#op-side').textContent.includes('Cancel run')`)
	b.until("the final message", `document.querySelector('#op-runs .final').textContent.includes('Tidied.')`)
	if b.eval(`window.sameDocument`) != "yes" {
		t.Fatal("the operation's page reloaded")
	}

	// A message on an operation in review starts a follow-up run; Cancel stops it.
	b.do(
		chromedp.SendKeys(chromedp.CSS(`#message-body`), "Please also fix the links."),
		chromedp.Click(chromedp.CSS(`form[data-api$="/messages"] button.primary`)),
	)
	b.until("the message", `document.querySelector('#op-messages').textContent.includes('Please also fix the links.')`)
	b.until("the follow-up run, queued", `document.querySelectorAll('#op-runs details.run').length === 2 && document.querySelector('#op-runs .runstatus').textContent === 'queued'`)
	b.do(chromedp.Click(chromedp.CSS(`#op-side button[data-api$="/cancel"]`)))
	b.until("the follow-up canceled", `document.querySelector('#op-runs .runstatus').textContent === 'canceled' && document.querySelector('#op-side').textContent.includes('Retry')`)
	if d := dialogs(); len(d) != 1 || !strings.Contains(d[0], "Cancel") {
		t.Fatalf("dialogs = %q, want the one confirming the cancel", d)
	}

	b.open("/rovers" + q)
	b.until("the rover online again", `document.querySelector('#rovers .rstatus').textContent === 'online'`)
	b.clean()
}

// A live update that lands while the board is pressed waits for the release:
// swapped in between, it would put the release on a new copy of the card
// and the browser would fire no click (the board once lost a click on a
// card's title this way, when the run's last changes arrived as it was
// clicked). The update follows the release.
func TestBrowserClickOutlastsLiveUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBrowser(t, e.URL)
	b.signUp("Kit", "kit@example.com")
	fleet := b.eval(`document.body.dataset.fleet`)
	c := e.Client()
	c.Call("POST", "/api/auth/login", `{"email":"kit@example.com","password":"correct horse battery"}`, 200, nil)
	q := "?fleet=" + fleet
	var m idOnly
	c.Call("POST", "/api/missions"+q, `{"name":"Press","key":"PRS"}`, 201, &m)
	create := func(title string) {
		c.Call("POST", "/api/operations"+q, map[string]string{"title": title, "mission_id": m.ID}, 201, nil)
	}
	create("Hold me")
	b.open("/board" + q)
	b.until("the card", cardIn("PRS-1", "backlog"))

	// center is where the middle of the first element matching css is.
	center := func(css string) (x, y float64) {
		t.Helper()
		xy, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(
			`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, css)))
		if err != nil || len(xy) != 2 {
			t.Fatalf("the middle of %s: %v, %v", css, xy, err)
		}
		return xy[0], xy[1]
	}
	// pressDuring presses at x, y, makes a change the board follows (its
	// update would swap the board within about 150 ms), and releases a
	// second later; the board must not have been swapped before then.
	pressDuring := func(x, y float64, title string) {
		t.Helper()
		b.eval(`document.getElementById('live-board').dataset.page = 'before'`)
		b.do(chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
		create(title)
		time.Sleep(time.Second)
		if b.eval(`document.getElementById('live-board').dataset.page || ''`) != "before" {
			t.Fatal("the board was swapped while it was pressed")
		}
		b.do(chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	}

	// Pressed beside the cards, on a column's head: the update comes on
	// release.
	x, y := center(`.column[data-status="backlog"] h2`)
	pressDuring(x, y, "Arrives meanwhile")
	b.until("the new card, after the release", cardIn("PRS-2", "backlog"))

	// Pressed on the card's title: the click opens the operation.
	x, y = center(`.card[data-code="PRS-1"] a.title`)
	pressDuring(x, y, "Arrives meanwhile too")
	b.until("the operation's page, opened by the click", `location.pathname === '/operations/PRS-1'`)
	b.clean()
}
