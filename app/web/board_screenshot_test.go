package web_test

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ufo-run/ufo/rover/wire"
)

var screenshotFile = flag.String("screenshot", "", "write TestScreenshotBoard's PNG to this file, relative to the module root (make screenshot)")

// TestScreenshotBoard fills a fleet with operations in every column, opens
// its board in Chromium and takes a picture of it: into -screenshot when
// given (the README's docs/board.png), otherwise into a temporary file.
func TestScreenshotBoard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.Client()
	var signup struct{ Fleet idOnly }
	c.Call("POST", "/api/auth/signup", map[string]string{"email": "ada@example.com", "password": "correct horse battery",
		"name": "Ada Lovelace", "fleet_name": "Acme"}, 201, &signup)
	fleet := signup.Fleet.ID
	q := "?fleet=" + fleet
	var web, mobile idOnly
	c.Call("POST", "/api/missions"+q, `{"name":"Website","key":"WEB"}`, 201, &web)
	c.Call("POST", "/api/missions"+q, `{"name":"Mobile app","key":"APP"}`, 201, &mobile)
	for _, l := range []string{`{"name":"bug","color":"#d73a4a"}`, `{"name":"docs","color":"#0075ca"}`, `{"name":"feature","color":"#1a7f37"}`, `{"name":"chore","color":"#8250df"}`} {
		c.Call("POST", "/api/labels"+q, l, 201, nil)
	}
	c.Call("POST", "/api/pilots"+q, `{"name":"cc","kind":"claude","settings":{"model":"sonnet"}}`, 201, nil)
	c.Call("POST", "/api/pilots"+q, `{"name":"codex","kind":"codex"}`, 201, nil)
	var members []struct {
		UserID string `json:"user_id"`
	}
	c.Call("GET", "/api/members"+q, nil, 200, &members)
	r, _ := e.enroll(c, fleet, wire.Profile{OS: "linux", Arch: "amd64", Hostname: "build-01", CPUs: 16, MemoryMB: 65536})

	op := func(mission idOnly, title string, prio int, labels []string, assignee ...string) operationJSON {
		in := map[string]any{"title": title, "body": "echo done", "mission_id": mission.ID, "priority": prio, "labels": labels}
		if len(assignee) == 2 {
			in["assignee_type"], in["assignee_id"] = assignee[0], assignee[1]
		}
		var out operationJSON
		c.Call("POST", "/api/operations"+q, in, 201, &out)
		return out
	}
	// run claims the oldest queued run and ends it as status says; "" leaves it running.
	run := func(status string) {
		code, cl := claim(r, "2")
		if code != 200 {
			t.Fatalf("claim: %d", code)
		}
		r.Call("POST", "/api/rover/runs/"+cl.RunID+"/start", wire.RunCall{ClaimToken: cl.ClaimToken}, 200, nil)
		if status == "" {
			return
		}
		comp := wire.Completion{ClaimToken: cl.ClaimToken, Status: status}
		if status == wire.RunFailed {
			comp.FailureReason, comp.FailureMessage = "exit_status", "exit status 1"
		} else {
			comp.Artifact = &wire.Artifact{Diff: "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", Files: 1, Insertions: 1, Deletions: 1, Branch: cl.Branch}
		}
		r.Call("POST", "/api/rover/runs/"+cl.RunID+"/complete", comp, 200, nil)
	}
	setStatus := func(o operationJSON, status string) {
		c.Call("PATCH", "/api/operations/"+o.ID+q, map[string]string{"status": status}, 200, nil)
	}

	op(web, "Write the onboarding guide", 2, []string{"docs"}, "user", members[0].UserID)
	op(mobile, "Dark mode for the settings screen", 1, []string{"feature"})
	op(web, "Fix the broken sign-up link on the pricing page", 4, []string{"bug"}, "pilot", "shell")
	run(wire.RunSucceeded)
	op(web, "Say hello in HELLO.md", 0, nil, "pilot", "shell")
	run(wire.RunSucceeded)
	op(mobile, "Resize images on upload", 3, []string{"feature"}, "pilot", "shell")
	run(wire.RunFailed)
	op(web, "Add rate limits to the public API", 3, []string{"feature"}, "pilot", "shell")
	run("")
	op(mobile, "Upgrade the build to Go 1.26", 2, []string{"chore"}, "pilot", "codex")
	op(web, "Review the caching headers", 1, []string{"chore"}, "pilot", "cc")
	setStatus(op(web, "Translate the landing page", 2, []string{"docs"}), "done")
	setStatus(op(mobile, "Cache avatar images", 1, []string{"feature"}), "done")
	setStatus(op(web, "Move to the old payments API", 0, nil), "canceled")

	b := newBrowser(t, e.URL)
	b.open("/signin")
	b.do(
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button.primary`)),
	)
	b.until("the board", `location.pathname === '/board' && document.querySelectorAll('.card').length === 11`)
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	b.clean()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if size := img.Bounds().Size(); size.X != 1440 || size.Y != 900 {
		t.Fatalf("the screenshot is %v, want 1440x900", size)
	}
	out := filepath.Join(t.TempDir(), "board.png")
	if *screenshotFile != "" {
		out = *screenshotFile
		if !filepath.IsAbs(out) {
			out = filepath.Join(moduleRoot(t), out)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

// moduleRoot is the folder of go.mod above the test's folder.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
