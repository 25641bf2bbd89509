package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ufo-run/ufo/rover/pilot"
)

// idleFor is how long the rover idles (long-polling) before its memory is
// read, sampling every idleSample.
const (
	idleFor    = 5 * time.Second
	idleSample = 500 * time.Millisecond
)

// roverFootprint measures the rover: the resident memory of an idle
// `ufo rover start` process with one registration, the time from a claim
// answer to the pilot's start for a repository already mirrored, and the
// size of the ufo binary.
func (b *bench) roverFootprint(ctx context.Context) ([]Figure, error) {
	bin, err := b.ufoBinary(ctx)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, err
	}
	rss, err := b.idleRSS(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("idle rover: %w", err)
	}
	starts, err := b.pilotStarts(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim to pilot start: %w", err)
	}
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	return []Figure{
		absolute("rover", "7 idle rover resident memory", "MB", mb(rss), nil, 30,
			fmt.Sprintf("`ufo rover start` with one registration, long-polling; the highest of the samples over %s", idleFor)),
		absolute("rover", "7 claim answer → pilot start p50", "ms", ms(percentile(starts, 50)), nil, 0,
			fmt.Sprintf("%d runs of a file:// repository already mirrored (fetch, work dir clone, checkout); p99 %.1f ms, max %.1f ms",
				len(starts), ms(percentile(starts, 99)), ms(percentile(starts, 100)))),
		absolute("rover", "7 ufo binary size", "MB", mb(fi.Size()), nil, 0, bin+" built as make build does (-ldflags '-s -w')"),
	}, nil
}

// ufoBinary builds cmd/ufo as make build does, unless -ufo names one.
func (b *bench) ufoBinary(ctx context.Context) (string, error) {
	if b.cfg.UFOBinary != "" {
		return b.cfg.UFOBinary, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(b.tmp, "ufo")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-s -w", "-o", bin, "./cmd/ufo")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ufo: %w: %s", err, msg)
	}
	return bin, nil
}

// idleRSS starts `ufo rover start` enrolling with a fresh code, waits for it
// to connect, lets it idle and returns its largest resident set.
func (b *bench) idleRSS(ctx context.Context, bin string) (int64, error) {
	tb, err := b.newFleet(ctx, "idle")
	if err != nil {
		return 0, err
	}
	var code struct {
		Code string `json:"code"`
	}
	if err := tb.do(ctx, "POST", tb.fleetPath("/api/rovers/enrollment-codes"), map[string]any{}, &code, http.StatusCreated); err != nil {
		return 0, err
	}
	home := filepath.Join(b.tmp, "idle-rover")
	logf, err := os.Create(filepath.Join(b.tmp, "idle-rover.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "rover", "start")
	cmd.Env = append(os.Environ(), "UFO_SERVER="+b.base, "UFO_HOME="+home, "UFO_ENROLLMENT_CODE="+code.Code, "UFO_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	if err := tb.waitOnline(ctx, 1, 30*time.Second); err != nil {
		return 0, fmt.Errorf("%w (its log: %s)", err, logf.Name())
	}
	var most int64
	for deadline := time.Now().Add(idleFor); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			return 0, fmt.Errorf("the rover exited: %v (its log: %s)", err, logf.Name())
		case <-time.After(idleSample):
		}
		rss, err := residentBytes(cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		most = max(most, rss)
	}
	return most, nil
}

// residentBytes reads a process's resident set size.
func residentBytes(pid int) (int64, error) {
	if runtime.GOOS == "linux" {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return kb << 10, err
			}
		}
		return 0, errors.New("no VmRSS in /proc/<pid>/status")
	}
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0, fmt.Errorf("ps: %w", err)
	}
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64)
	return kb << 10, err
}

// pilotStarts runs one rover of package rover in this process against a
// mission whose repository it mirrored on a first, untimed run, and times
// each later run from the claim answer reaching the rover to the pilot's
// start.
func (b *bench) pilotStarts(ctx context.Context) ([]time.Duration, error) {
	repo, err := b.seedRepository(ctx)
	if err != nil {
		return nil, err
	}
	tb, err := b.newFleet(ctx, "mirror")
	if err != nil {
		return nil, err
	}
	mission, err := tb.newMission(ctx, b.uniq(), "file://"+repo)
	if err != nil {
		return nil, err
	}
	rovers, err := b.enroll(ctx, tb, 1)
	if err != nil {
		return nil, err
	}
	var claimedAt atomic.Int64
	started := make(chan time.Time, 1)
	completed := make(chan struct{}, 1)
	run := func(_ context.Context, _ pilot.Spec, _ pilot.Emit) pilot.Result {
		started <- time.Now()
		return pilot.Result{FinalMessage: "nothing to do"}
	}
	stop, err := b.startRovers(ctx, rovers, "mirror", run, &hooks{
		onClaim:    func(at time.Time) { claimedAt.Store(at.UnixNano()) },
		onComplete: func() { completed <- struct{}{} },
	})
	if err != nil {
		return nil, err
	}
	defer stop()
	var out []time.Duration
	for i := range b.cfg.RoverRuns + 1 {
		if _, _, err := tb.assign(ctx, mission, fmt.Sprintf("mirror %d", i)); err != nil {
			return nil, err
		}
		var at time.Time
		select {
		case at = <-started:
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("run %d: the pilot did not start within a minute", i)
		}
		select {
		case <-completed:
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("run %d: not completed within a minute", i)
		}
		if i > 0 { // the first run cloned the mirror
			out = append(out, at.Sub(time.Unix(0, claimedAt.Load())))
		}
	}
	return out, nil
}

// seedRepository makes a bare repository with one commit on main.
func (b *bench) seedRepository(ctx context.Context) (string, error) {
	bare := filepath.Join(b.tmp, "repo.git")
	seed := filepath.Join(b.tmp, "repo-seed")
	steps := [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", bare},
		{"init", "--quiet", "--initial-branch=main", seed},
		{"-C", seed, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "--quiet", "--allow-empty", "-m", "Start"},
		{"-C", seed, "push", "--quiet", bare, "main"},
	}
	for _, args := range steps {
		if out, err := exec.CommandContext(ctx, "git", args...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return bare, nil
}
