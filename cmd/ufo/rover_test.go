package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/rovertest"
	"github.com/ufo-run/ufo/rover/wire"
)

// ufo runs `ufo <args>` with the given UFO_* variables and no others, and
// returns stdout, stderr and the command's error.
func ufo(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "ufo", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(roverCmd(func(k string) string { return env[k] }))
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return stdout.String(), stderr.String(), err
}

func exitStatus(err error) int {
	var ec exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return int(ec)
	}
	return -1
}

func TestRoverCommandIsRegistered(t *testing.T) {
	t.Parallel()
	cmd, _, err := newRootCmd().Find([]string{"rover", "start"})
	if err != nil || cmd.Name() != "start" {
		t.Fatalf("ufo rover start: %v, %v", cmd, err)
	}
}

func TestRoverConfigPrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{"UFO_SERVER": "http://env:1", "UFO_HOME": "/env/home", "UFO_ROVER_TOKEN": "tok", "UFO_ENROLLMENT_CODE": "code"}
	o := &roverOptions{getenv: func(k string) string { return env[k] }}
	cfg, err := o.config(&bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != "http://env:1" || cfg.Home != "/env/home" || cfg.Outpost != "/env/home" || cfg.Token != "tok" || cfg.EnrollmentCode != "code" {
		t.Errorf("from the environment: %+v", cfg)
	}
	o.server, o.home, o.outpost = "http://flag:2", "/flag/home", "/flag/outpost"
	env["UFO_OUTPOST"] = "/env/outpost"
	if cfg, _ = o.config(&bytes.Buffer{}); cfg.Server != "http://flag:2" || cfg.Home != "/flag/home" || cfg.Outpost != "/flag/outpost" {
		t.Errorf("flags over the environment: %+v", cfg)
	}
	o = &roverOptions{getenv: func(string) string { return "" }}
	cfg, _ = o.config(&bytes.Buffer{})
	home, _ := os.UserHomeDir()
	if cfg.Server != "http://localhost:8080" || cfg.Home != filepath.Join(home, ".ufo") || cfg.Outpost != cfg.Home {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestRoverEnrollListRemove(t *testing.T) {
	t.Parallel()
	one, two := rovertest.NewServer(t), rovertest.NewServer(t)
	home := t.TempDir()
	env := map[string]string{"UFO_HOME": home}

	out, _, err := ufo(t, env, "rover", "enroll", "--server", one.URL(), "--code", one.AddCode(), "--name", "workstation")
	if err != nil || !strings.HasPrefix(out, "enrolled rover rv") || !strings.Contains(out, "(workstation) in fleet fleet-1 on "+one.URL()) {
		t.Fatalf("enroll: %q, %v", out, err)
	}
	env["UFO_SERVER"], env["UFO_ENROLLMENT_CODE"] = two.URL(), two.AddCode()
	if out, _, err = ufo(t, env, "rover", "enroll"); err != nil || !strings.HasPrefix(out, "enrolled rover") {
		t.Fatalf("enroll from the environment: %q, %v", out, err)
	}
	if out, _, err = ufo(t, env, "rover", "enroll"); err != nil || !strings.HasPrefix(out, "already enrolled with this code") {
		t.Errorf("enroll again with a spent code: %q, %v", out, err)
	}
	delete(env, "UFO_ENROLLMENT_CODE")

	out, _, err = ufo(t, env, "rover", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME FLEET SERVER" {
		t.Fatalf("list: %q, %v", out, err)
	}
	regs, _ := rover.LoadRegistrations(filepath.Join(home, rover.RegistrationsFile))
	var firstID string
	for _, r := range regs {
		if r.Server == one.URL() {
			firstID = r.RoverID
		}
	}
	if !strings.Contains(out, firstID) || !strings.Contains(out, one.URL()) || !strings.Contains(out, two.URL()) {
		t.Errorf("list lacks a rover:\n%s", out)
	}

	if _, _, err = ufo(t, env, "rover", "remove"); err == nil {
		t.Error("remove with neither an id nor --all succeeded")
	}
	if _, _, err = ufo(t, env, "rover", "remove", "rv"); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("remove of an ambiguous prefix: %v", err)
	}
	out, _, err = ufo(t, env, "rover", "remove", firstID[:len(firstID)-3])
	if err != nil || !strings.Contains(out, "removed rover "+firstID+" (workstation), revoked on "+one.URL()) {
		t.Errorf("remove by prefix: %q, %v", out, err)
	}

	two.Close()
	out, _, err = ufo(t, env, "rover", "remove", "--all")
	if err != nil || !strings.Contains(out, "could not revoke it on "+two.URL()) {
		t.Errorf("remove --all with the server down: %q, %v", out, err)
	}
	if out, _, _ = ufo(t, env, "rover", "list"); !strings.HasPrefix(out, "no rover registered in ") {
		t.Errorf("list after removing all: %q", out)
	}
}

func TestRoverStartOnceExitCodes(t *testing.T) {
	t.Parallel()
	srv := rovertest.NewServer(t)
	env := map[string]string{"UFO_HOME": t.TempDir(), "UFO_SERVER": srv.URL(), "UFO_ROVER_TOKEN": srv.AddRover("rv-ci")}

	outpost := t.TempDir()
	out, _, err := ufo(t, env, "rover", "start", "--once", "--wait", "0", "--tags", "ci,linux")
	if exitStatus(err) != 2 || out != "no run to claim\n" {
		t.Errorf("nothing queued: exit %d (%v), %q", exitStatus(err), err, out)
	}
	if c := srv.Connects(); len(c) != 1 || strings.Join(c[0].Profile.Tags, ",") != "ci,linux" {
		t.Errorf("connects = %+v, want one with tags ci,linux", c)
	}
	env["UFO_OUTPOST"] = outpost

	for _, tc := range []struct {
		command string
		status  int
		outcome string
	}{
		{"echo hello > HELLO.md", 0, "succeeded"},
		{"echo broken >&2; exit 3", 1, "failed"},
	} {
		run := srv.Enqueue(wire.Claim{Pilot: wire.Pilot{Name: "sh", Kind: "exec", Settings: wire.PilotSettings{Command: tc.command}}, Prompt: "go"})
		out, stderr, err := ufo(t, env, "rover", "start", "--once", "--wait", "5s")
		got := srv.Snapshot(run)
		if exitStatus(err) != tc.status || !strings.Contains(out, tc.outcome) {
			t.Errorf("%s: exit %d (%v), %q, stderr:\n%s", tc.command, exitStatus(err), err, out, stderr)
		}
		if got.Completion == nil || got.Completion.Status != tc.outcome {
			t.Errorf("%s: server saw %+v", tc.command, got.Completion)
		}
		if tc.status == 0 && (got.Completion.Artifact == nil || !strings.Contains(got.Completion.Artifact.Diff, "HELLO.md")) {
			t.Errorf("%s: artifact %+v", tc.command, got.Completion.Artifact)
		}
		if _, err := os.Stat(filepath.Join(outpost, "rovers", "rv-ci", "operations", got.Claim.Operation.ID)); err != nil {
			t.Errorf("%s: work dir not in UFO_OUTPOST: %v", tc.command, err)
		}
	}

	env["UFO_ROVER_TOKEN"] = "revoked"
	if _, _, err := ufo(t, env, "rover", "start", "--once"); !errors.Is(err, rover.ErrRevoked) {
		t.Errorf("refused token: %v, want ErrRevoked", err)
	}
}
