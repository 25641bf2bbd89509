package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/pilot/pilottest"
	"github.com/ufo-run/ufo/rover/wire"
)

// bareRepo makes a bare repository with one commit on main, to serve as a
// mission's repository (cloned by path).
func bareRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	work, bare := filepath.Join(dir, "work"), filepath.Join(dir, "repo.git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", work},
		{"-C", work, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "start"},
		{"clone", "-q", "--bare", work, bare},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return bare
}

type runEvent struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

type runDetail struct {
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	SessionID    string          `json:"session_id"`
	FinalMessage string          `json:"final_message"`
	FollowUp     bool            `json:"follow_up"`
	Usage        json.RawMessage `json:"usage"`
	Failure      string          `json:"failure_reason"`
	Artifact     *struct {
		Diff   string `json:"diff"`
		Branch string `json:"branch"`
		Pushed bool   `json:"pushed"`
	} `json:"artifact"`
}

// waitRuns waits until the operation has n runs and the newest is finished.
func waitRuns(t *testing.T, c *webtest.Client, fleet, op string, n int) runDetail {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var runs []runJSON
		c.Call("GET", "/api/runs?fleet="+fleet+"&operation="+op, nil, 200, &runs)
		if len(runs) >= n && (runs[0].Status == "succeeded" || runs[0].Status == "failed" || runs[0].Status == "canceled") {
			var r runDetail
			c.Call("GET", "/api/runs/"+runs[0].ID+"?fleet="+fleet, nil, 200, &r)
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never had %d finished runs", op, n)
	return runDetail{}
}

// startLocalRover runs an in-process rover for the fleet with the given
// pilot environment until the test ends.
func (e *env) startLocalRover(t *testing.T, c *webtest.Client, fleet string, environ []string, bins map[string]string) context.CancelFunc {
	var code struct{ Code string }
	c.Call("POST", "/api/rovers/enrollment-codes?fleet="+fleet, `{}`, 201, &code)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := rover.Run(ctx, rover.Config{
			Server: e.URL, Home: t.TempDir(), EnrollmentCode: code.Code, Logger: webtest.Logger(t, slog.LevelWarn),
			Environ: environ, PilotBinaries: bins,
			Detect: func(context.Context) []wire.CLI {
				return []wire.CLI{{Kind: "claude"}, {Kind: "codex"}, {Kind: "exec"}}
			},
		})
		if err != nil {
			t.Errorf("rover: %v", err)
		}
	}()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// TestRealPilotsThroughRover runs the real claude and codex CLIs through an
// enrolled rover and the server, against scripted fake model servers: a
// file written by a tool call lands on the branch, typed events are stored,
// the final message and session id are kept, a conversation message resumes
// the same session on the same branch, and a model error fails the run.
func TestRealPilotsThroughRover(t *testing.T) {
	t.Parallel()
	clis := pilottest.InstallCLIs(t)
	bins := map[string]string{"claude": clis.Claude, "codex": clis.Codex}
	script := pilottest.Script{File: "hello.txt", Content: "hello from the pilot", Final: "Wrote hello.txt.", FollowUp: "hello.txt is still there."}
	for _, kind := range []string{"claude", "codex"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c, fleet := e.SignUp(kind + "@example.com")
			f := "?fleet=" + fleet
			home := t.TempDir()
			var environ []string
			settings := map[string]any{}
			var fake, broken *pilottest.Server
			if kind == "claude" {
				fake = pilottest.NewAnthropic(t, script)
				environ = fake.ClaudeEnv(home)
				broken = pilottest.NewAnthropic(t, pilottest.Script{FailStatus: 529})
			} else {
				fake = pilottest.NewOpenAI(t, script)
				environ = pilottest.CodexEnv(t, home)
				settings = map[string]any{"model": pilottest.CodexModel, "extra_args": fake.CodexArgs()}
				broken = pilottest.NewOpenAI(t, pilottest.Script{FailStatus: 503})
			}
			environ = append(environ, "GIT_AUTHOR_NAME=x") // the rover's own environment passes through
			var mission, pilot idOnly
			c.Call("POST", "/api/missions"+f, map[string]string{"name": "Real", "key": "REAL", "repository": bareRepo(t)}, 201, &mission)
			c.Call("POST", "/api/pilots"+f, map[string]any{"name": "agent", "kind": kind, "settings": settings}, 201, &pilot)
			stop := e.startLocalRover(t, c, fleet, environ, bins)

			var op operationJSON
			c.Call("POST", "/api/operations"+f, map[string]string{"title": "Write hello", "body": "Please write hello.txt", "mission_id": mission.ID,
				"assignee_type": "pilot", "assignee_id": pilot.ID}, 201, &op)
			first := waitRuns(t, c, fleet, op.ID, 1)
			if first.Status != "succeeded" || first.FinalMessage != script.Final || first.SessionID == "" {
				t.Fatalf("first run = %+v", first)
			}
			if first.Artifact == nil || !first.Artifact.Pushed || !strings.Contains(first.Artifact.Diff, "+hello from the pilot") ||
				first.Artifact.Branch != "ufo/REAL-1-write-hello" {
				t.Fatalf("first artifact = %+v", first.Artifact)
			}
			var evs []runEvent
			c.Call("GET", "/api/runs/"+first.ID+"/events"+f, nil, 200, &evs)
			seen := map[string]bool{}
			for i, ev := range evs {
				if ev.Seq != int64(i+1) {
					t.Fatalf("events not in order: %+v", evs)
				}
				seen[ev.Type] = true
				if ev.Type == "tool_use" && strings.Contains(string(ev.Data), "hello.txt") {
					seen["tool_use hello.txt"] = true
				}
				if ev.Type == "usage" && kind == "claude" && strings.Contains(string(ev.Data), `"cost_usd"`) {
					seen["usage with cost"] = true
				}
			}
			for _, want := range []string{"tool_use", "tool_use hello.txt", "tool_result", "text", "usage"} {
				if !seen[want] {
					t.Fatalf("no %s event among %d: %+v", want, len(evs), evs)
				}
			}
			if kind == "claude" && !seen["usage with cost"] {
				t.Fatalf("claude usage without cost: %+v", evs)
			}

			// A message on the operation in review resumes the session on the branch.
			c.Call("POST", "/api/operations/"+op.ID+"/messages"+f, `{"body":"Is hello.txt still there?"}`, 201, nil)
			second := waitRuns(t, c, fleet, op.ID, 2)
			if second.Status != "succeeded" || !second.FollowUp || second.FinalMessage != script.FollowUp || second.SessionID != first.SessionID {
				t.Fatalf("follow-up run = %+v (first session %s)", second, first.SessionID)
			}
			if second.Artifact == nil || second.Artifact.Branch != first.Artifact.Branch {
				t.Fatalf("follow-up artifact = %+v", second.Artifact)
			}
			reqs := fake.Requests()
			last := string(reqs[len(reqs)-1].Body)
			if !strings.Contains(last, "Is hello.txt still there?") || !strings.Contains(last, "Please write hello.txt") {
				t.Fatalf("the resumed request does not carry the earlier conversation: %.400s", last)
			}

			// A model error fails the run with the error in its events.
			stop()
			var brokenEnv []string
			brokenSettings := map[string]any{}
			if kind == "claude" {
				brokenEnv = broken.ClaudeEnv(t.TempDir())
			} else {
				brokenEnv = pilottest.CodexEnv(t, t.TempDir())
				brokenSettings = map[string]any{"model": pilottest.CodexModel, "extra_args": broken.CodexArgs()}
			}
			var badPilot idOnly
			c.Call("POST", "/api/pilots"+f, map[string]any{"name": "broken", "kind": kind, "settings": brokenSettings}, 201, &badPilot)
			e.startLocalRover(t, c, fleet, brokenEnv, bins)
			var bad operationJSON
			c.Call("POST", "/api/operations"+f, map[string]string{"title": "Fail", "body": "x", "mission_id": mission.ID,
				"assignee_type": "pilot", "assignee_id": badPilot.ID}, 201, &bad)
			failed := waitRuns(t, c, fleet, bad.ID, 1)
			if failed.Status != "failed" || failed.Failure != "model_error" {
				t.Fatalf("run against a failing model = %+v", failed)
			}
			c.Call("GET", "/api/runs/"+failed.ID+"/events"+f, nil, 200, &evs)
			status := map[string]string{"claude": "529", "codex": "503"}[kind]
			found := false
			for _, ev := range evs {
				found = found || ev.Type == "error" && strings.Contains(string(ev.Data), status)
			}
			if !found {
				t.Fatalf("no error event mentioning %s: %+v", status, evs)
			}
		})
	}
}
