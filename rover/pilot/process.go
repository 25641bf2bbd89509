package pilot

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

const (
	// maxLine caps one line of pilot output; the rest of a longer line is
	// dropped (a tool's output can be large, but not unbounded).
	maxLine = 16 << 20
	// stderrTail is how many of the last stderr lines a failure message
	// quotes.
	stderrTail = 20
	// drainWait bounds how long output is read after the pilot's processes
	// are gone, in case one that escaped still holds the pipes.
	drainWait = 2 * time.Second
	// killGiveUp is how many seconds stop keeps sending SIGKILL.
	killGiveUp = 10
	// watchInterval is how often the pilot's descendants are looked up
	// while it runs.
	watchInterval = 500 * time.Millisecond
)

// outcome is how the pilot's process ended.
type outcome struct {
	startErr error
	stopped  string // ReasonCanceled or ReasonTimeout when Run stopped it
	waitErr  error  // the leader's exit error
	stderr   string // the last stderr lines
}

// runProcess starts cmd in its own process group, feeds it stdin, reads its
// output until its processes are gone, and stops them on ctx or timeout.
func runProcess(ctx context.Context, spec Spec, cmd *pilotCommand, t *turn) outcome {
	mark := rand.Text()
	c, p, err := start(spec.WorkDir, cmd, mark)
	if err != nil {
		return outcome{startErr: err}
	}
	fam := newFamily(c.Process.Pid, mark)
	watching := make(chan struct{})
	go fam.watch(watchInterval, watching)
	go func() {
		_, _ = io.WriteString(p.stdinW, cmd.stdin)
		_ = p.stdinW.Close()
	}()
	tail := &lineTail{max: stderrTail}
	act := &activity{}
	act.touch()
	read := readOutput(spec, cmd, t, p, tail, act)
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()

	var o outcome
	timer := time.NewTimer(spec.timeout())
	defer timer.Stop()
	select {
	case o.waitErr = <-exited:
	case <-ctx.Done():
		o.stopped = ReasonCanceled
	case <-timer.C:
		o.stopped = ReasonTimeout
	}
	close(watching)
	// Whether the leader exited or Run stops it, nothing it started may
	// outlive the turn.
	fam.stop(spec.killGrace())
	if o.stopped != "" {
		o.waitErr = <-exited
	}
	// Read what is left, for as long as reading or handling it goes on: a
	// huge last line can take a while to handle on a busy machine. Give up
	// only after drainWait without progress, when a process that escaped
	// the group still holds the pipes.
	tick := time.NewTicker(drainWait / 10)
	defer tick.Stop()
drain:
	for {
		select {
		case <-read:
			break drain
		case <-tick.C:
			if act.idle() >= drainWait {
				p.closeParentEnds()
				<-read
				break drain
			}
		}
	}
	p.closeParentEnds()
	o.stderr = tail.String()
	return o
}

func (s Spec) killGrace() time.Duration {
	if s.KillGrace > 0 {
		return s.KillGrace
	}
	return 3 * time.Second
}

// start starts cmd in dir, in a process group of its own, with mark in
// its environment (see family).
func start(dir string, cmd *pilotCommand, mark string) (*exec.Cmd, *pipes, error) {
	path, err := lookPath(cmd.path, cmd.env)
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", cmd.path, err)
	}
	p := &pipes{}
	if err := p.open(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", cmd.path, err)
	}
	c := exec.Command(path, cmd.args...)
	c.Dir = dir
	c.Env = append(slices.Clip(cmd.env), markVar+"="+mark)
	c.Stdin, c.Stdout, c.Stderr = p.stdinR, p.stdoutW, p.stderrW
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = c.Start()
	p.closeChildEnds()
	if err != nil {
		p.closeParentEnds()
		return nil, nil, fmt.Errorf("start %s: %w", cmd.path, err)
	}
	return c, p, nil
}

// readOutput parses stdout and keeps (for exec, emits) stderr; the channel
// closes when both are read to the end.
func readOutput(spec Spec, cmd *pilotCommand, t *turn, p *pipes, tail *lineTail, act *activity) <-chan struct{} {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		readLines(p.stdoutR, act, func(b []byte) {
			if spec.tap != nil {
				spec.tap(b)
			}
			cmd.parser.line(b)
		})
	}()
	go func() {
		defer wg.Done()
		readLines(p.stderrR, act, func(b []byte) {
			tail.add(string(b))
			if cmd.stderrText {
				t.textEvent(wire.EventText, string(b))
			}
		})
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// pipes are the pilot's stdin, stdout and stderr. They are os.Pipe files
// rather than exec's copying goroutines so that Wait returns when the
// leader exits even if a child it left behind still holds an end.
type pipes struct {
	stdinR, stdinW   *os.File
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
	closeOnce        sync.Once
}

func (p *pipes) open() error {
	var err error
	if p.stdinR, p.stdinW, err = os.Pipe(); err != nil {
		return err
	}
	if p.stdoutR, p.stdoutW, err = os.Pipe(); err != nil {
		p.stdinR.Close()
		p.stdinW.Close()
		return err
	}
	if p.stderrR, p.stderrW, err = os.Pipe(); err != nil {
		p.stdinR.Close()
		p.stdinW.Close()
		p.stdoutR.Close()
		p.stdoutW.Close()
		return err
	}
	return nil
}

func (p *pipes) closeChildEnds() {
	p.stdinR.Close()
	p.stdoutW.Close()
	p.stderrW.Close()
}

// closeParentEnds unblocks any read or write still pending on our ends.
func (p *pipes) closeParentEnds() {
	p.closeOnce.Do(func() {
		p.stdinW.Close()
		p.stdoutR.Close()
		p.stderrR.Close()
	})
}

// lookPath finds name on the PATH of env (the pilot's environment, not
// necessarily the rover's).
func lookPath(name string, env []string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		// Absolute, or the command would be looked up from the work dir.
		abs, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		return exec.LookPath(abs)
	}
	for _, dir := range filepath.SplitList(envValue(env, "PATH")) {
		if !filepath.IsAbs(dir) {
			continue // "" and relative entries would depend on the cwd
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH: %w", name, exec.ErrNotFound)
}

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val // the last one wins, as for exec
		}
	}
	return v
}

func effectiveEnv(env []string) []string {
	if env == nil {
		return os.Environ()
	}
	return env
}

// activity is when output was last read or handled, and how many lines
// are being handled now: the drain after the pilot exits waits for as long
// as there is progress.
type activity struct {
	at   atomic.Int64 // Unix nanoseconds
	busy atomic.Int32
}

func (a *activity) touch() { a.at.Store(time.Now().UnixNano()) }

// idle is how long nothing was read or handled; 0 while a line is handled.
func (a *activity) idle() time.Duration {
	if a.busy.Load() > 0 {
		return 0
	}
	return time.Since(time.Unix(0, a.at.Load()))
}

// readLines calls fn with each line of r, without its line ending. Lines
// longer than maxLine are cut to maxLine. act records its progress.
func readLines(r io.Reader, act *activity, fn func([]byte)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		act.touch()
		if room := maxLine - len(line); len(chunk) > room {
			line = append(line, chunk[:room]...)
		} else {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			act.busy.Add(1)
			fn(trimEOL(line))
			act.busy.Add(-1)
			act.touch()
		}
		if cap(line) > 1<<20 {
			line = nil // do not keep a huge buffer for the rest of the run
		} else {
			line = line[:0]
		}
		if err != nil {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// lineTail keeps the last lines written to it.
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (l *lineTail) add(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "") + "…"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > l.max {
		l.lines = l.lines[len(l.lines)-l.max:]
	}
}

func (l *lineTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
