package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// api is a signed-in client of a server process.
type api struct {
	t     *testing.T
	base  string
	fleet string
	hc    *http.Client
}

func (a *api) call(method, path string, body any, want int, out any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	url := a.base + path
	if a.fleet != "" {
		url += sep + "fleet=" + a.fleet
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatal(err)
		}
	}
}

func signUp(t *testing.T, base string) *api {
	jar, _ := cookiejar.New(nil)
	a := &api{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		Fleet struct{ ID string }
	}
	a.call("POST", "/api/auth/signup", map[string]string{"email": "e2e@example.com", "password": "P@ssw0rd", "name": "E2E"}, 201, &out)
	a.fleet = out.Fleet.ID
	return a
}

type roverProc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startRover enrolls and starts a `ufo rover start` process of its own home.
func startRover(t *testing.T, a *api, name string) *roverProc {
	t.Helper()
	var code struct{ Code string }
	a.call("POST", "/api/rovers/enrollment-codes", map[string]string{"name": name}, 201, &code)
	cmd := exec.Command(ufoBin, "rover", "start", "--server", a.base)
	cmd.Env = append(os.Environ(), "UFO_HOME="+t.TempDir(), "UFO_ENROLLMENT_CODE="+code.Code)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("rover %s output:\n%s", name, out)
		}
	})
	return &roverProc{cmd: cmd, out: out}
}

type run struct {
	ID       string
	Status   string
	Attempt  int
	RoverID  *string `json:"rover_id"`
	Artifact *struct {
		Diff  string
		Files int
	}
}

func waitRun(t *testing.T, a *api, opCode string, ok func(run) bool, within time.Duration) run {
	t.Helper()
	deadline := time.Now().Add(within)
	var runs []run
	for time.Now().Before(deadline) {
		a.call("GET", "/api/runs?operation="+opCode, nil, 200, &runs)
		if len(runs) > 0 {
			var r run
			a.call("GET", "/api/runs/"+runs[0].ID, nil, 200, &r)
			if ok(r) {
				return r
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("run of %s never reached the expected state; last %+v", opCode, runs)
	return run{}
}

// TestEndToEnd: a server process, a rover process enrolled with a code, an
// exec pilot assigned through the API. The run goes queued → claimed →
// running → succeeded, its events are stored in order, the diff shows
// HELLO.md and the operation waits in review.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	p := startServer(t, t.TempDir(), freeAddr(t))
	defer p.stop(t)
	a := signUp(t, p.base)
	var mission, pilot struct{ ID string }
	a.call("POST", "/api/missions", map[string]string{"name": "E2E", "key": "EE"}, 201, &mission)
	a.call("POST", "/api/pilots", map[string]any{"name": "sh", "kind": "exec",
		"settings": map[string]string{"command": "echo started; echo hello > HELLO.md; echo wrote it"}}, 201, &pilot)
	startRover(t, a, "e2e")
	a.call("POST", "/api/operations", map[string]string{"title": "Say hello", "mission_id": mission.ID,
		"assignee_type": "pilot", "assignee_id": pilot.ID}, 201, nil)
	r := waitRun(t, a, "EE-1", func(r run) bool { return r.Status == "succeeded" }, 30*time.Second)
	if r.Artifact == nil || r.Artifact.Files != 1 || !strings.Contains(r.Artifact.Diff, "+++ b/HELLO.md") || !strings.Contains(r.Artifact.Diff, "+hello") {
		t.Fatalf("artifact = %+v", r.Artifact)
	}
	var evs []struct {
		Seq  int64
		Type string
		Data json.RawMessage
	}
	a.call("GET", "/api/runs/"+r.ID+"/events", nil, 200, &evs)
	var texts []string
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("events not contiguous from 1: %+v", evs)
		}
		if e.Type == "text" {
			texts = append(texts, string(e.Data))
		}
	}
	if got := strings.Join(texts, "|"); !strings.Contains(got, "started") || !strings.Contains(got, "wrote it") || strings.Index(got, "started") > strings.Index(got, "wrote it") {
		t.Fatalf("text events out of order or missing: %s", got)
	}
	var op struct{ Status string }
	a.call("GET", "/api/operations/EE-1", nil, 200, &op)
	if op.Status != "in_review" {
		t.Fatalf("operation = %s, want in_review", op.Status)
	}
	// The feed saw the run through each state once.
	var feed []struct{ Kind string }
	a.call("GET", "/api/events?limit=200", nil, 200, &feed)
	var kinds []string
	for _, e := range feed {
		if strings.HasPrefix(e.Kind, "run.") && e.Kind != "run.events" {
			kinds = append(kinds, e.Kind)
		}
	}
	if strings.Join(kinds, ",") != "run.queued,run.claimed,run.started,run.succeeded" {
		t.Fatalf("run transitions = %v", kinds)
	}
}

// TestRoverLosesLease: a rover frozen mid-run (SIGSTOP) loses its lease;
// the run is requeued and a second rover completes it; when the first wakes,
// its late reports are refused and change nothing. A rover killed outright
// (SIGKILL) has its run requeued the same way.
func TestRoverLosesLease(t *testing.T) {
	t.Parallel()
	p := startServer(t, t.TempDir(), freeAddr(t), "UFO_RUN_LEASE_SECONDS=2")
	defer p.stop(t)
	a := signUp(t, p.base)
	var mission, pilot struct{ ID string }
	a.call("POST", "/api/missions", map[string]string{"name": "Lease", "key": "LS"}, 201, &mission)
	a.call("POST", "/api/pilots", map[string]any{"name": "slow", "kind": "exec",
		"settings": map[string]string{"command": "sleep 3; echo done > DONE.md"}}, 201, &pilot)
	first := startRover(t, a, "first")
	for _, stop := range []syscall.Signal{syscall.SIGSTOP, syscall.SIGKILL} {
		code := map[syscall.Signal]string{syscall.SIGSTOP: "LS-1", syscall.SIGKILL: "LS-2"}[stop]
		a.call("POST", "/api/operations", map[string]string{"title": "slow " + code, "mission_id": mission.ID,
			"assignee_type": "pilot", "assignee_id": pilot.ID}, 201, nil)
		r := waitRun(t, a, code, func(r run) bool { return r.Status == "running" }, 20*time.Second)
		firstRover := *r.RoverID
		if err := first.cmd.Process.Signal(stop); err != nil {
			t.Fatal(err)
		}
		second := startRover(t, a, "second-"+code)
		done := waitRun(t, a, code, func(r run) bool { return r.Status == "succeeded" }, 40*time.Second)
		// Attempt 2 as a rule; on a loaded machine the second rover may
		// lose a 2 s lease too, and attempt 3 completes it.
		if done.Attempt < 2 || *done.RoverID == firstRover {
			t.Fatalf("%s: run = %+v, want a later attempt on another rover", code, done)
		}
		if stop == syscall.SIGSTOP {
			first.cmd.Process.Signal(syscall.SIGCONT)
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(first.out.String(), "lease") && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(first.out.String(), "lease") {
				t.Fatalf("the woken rover never reported losing its lease:\n%s", first.out)
			}
			again := waitRun(t, a, code, func(run) bool { return true }, time.Second)
			if again.Status != "succeeded" || *again.RoverID != *done.RoverID {
				t.Fatalf("a late report changed the run: %+v", again)
			}
			first.cmd.Process.Kill()
			first.cmd.Wait()
			first = second
		}
	}
}

// TestCancelKillsPilotTree: cancelling a run through the API reaches the
// rover, which kills the pilot's whole process tree and reports canceled.
func TestCancelKillsPilotTree(t *testing.T) {
	t.Parallel()
	p := startServer(t, t.TempDir(), freeAddr(t))
	defer p.stop(t)
	a := signUp(t, p.base)
	marker := fmt.Sprintf("3%d.%d", os.Getpid()%1000, time.Now().UnixNano()%100000)
	var mission, pilot struct{ ID string }
	a.call("POST", "/api/missions", map[string]string{"name": "Cancel", "key": "CN"}, 201, &mission)
	a.call("POST", "/api/pilots", map[string]any{"name": "tree", "kind": "exec",
		"settings": map[string]string{"command": "sleep " + marker + " & (sleep " + marker + " &) ; sleep " + marker + "; wait"}}, 201, &pilot)
	startRover(t, a, "canceller")
	a.call("POST", "/api/operations", map[string]string{"title": "hang", "mission_id": mission.ID,
		"assignee_type": "pilot", "assignee_id": pilot.ID}, 201, nil)
	r := waitRun(t, a, "CN-1", func(r run) bool { return r.Status == "running" }, 20*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for len(sleepers(t, marker)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(sleepers(t, marker)); n != 3 {
		t.Fatalf("%d sleep processes started, want 3", n)
	}
	a.call("POST", "/api/runs/"+r.ID+"/cancel", nil, 200, nil)
	waitRun(t, a, "CN-1", func(r run) bool { return r.Status == "canceled" }, 30*time.Second)
	deadline = time.Now().Add(10 * time.Second)
	for len(sleepers(t, marker)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := sleepers(t, marker); len(left) > 0 {
		t.Fatalf("pilot processes survived the cancel: %v", left)
	}
}

// sleepers lists live (not zombie) processes running `sleep marker`.
func sleepers(t *testing.T, marker string) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc on this system")
	}
	var pids []string
	for _, d := range dirs {
		cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || string(cmdline) != "sleep\x00"+marker+"\x00" {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue // a zombie: dead, waiting for a reaper
		}
		pids = append(pids, d.Name())
	}
	return pids
}
