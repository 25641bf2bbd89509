// Package pilot runs a coding-agent CLI (claude, codex, or any command) in a
// work dir and turns what it prints into typed run events.
//
// Run starts the pilot in its own process group, feeds it the prompt, parses
// its stdout line by line into wire events, and returns once every process
// it started is gone: on a timeout or a canceled context the whole group,
// and the descendants that left it, are stopped (SIGTERM, then SIGKILL), and
// so are processes the pilot left behind when it exited. Every string that
// reaches an event or the Result passes through redaction first.
package pilot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// Pilot kinds.
const (
	KindClaude = "claude"
	KindCodex  = "codex"
	KindExec   = "exec"
)

// Failure reasons of a Result.
const (
	ReasonExitStatus  = "exit_status"
	ReasonModelError  = "model_error"
	ReasonTimeout     = "timeout"
	ReasonCanceled    = "canceled"
	ReasonStartFailed = "start_failed"
)

// DefaultTimeout bounds a pilot turn when neither Spec.Timeout nor
// Settings.TimeoutMinutes says otherwise.
const DefaultTimeout = 60 * time.Minute

// Spec is one pilot turn to run.
type Spec struct {
	Kind      string             // claude | codex | exec
	Settings  wire.PilotSettings // model, command, extra args, timeout
	Prompt    string
	SessionID string // resume this session when set (follow-up run)
	// ThreadUsage is, for a session resumed, the usage its pilot last
	// reported for it (Result.ThreadUsage): codex reports usage summed
	// over its thread, and the run's own is what it adds to that.
	ThreadUsage *wire.Usage
	WorkDir     string
	// Env is the full environment of the pilot process (the rover's own
	// environment minus its secrets, plus what the run needs). Nil means
	// the rover's own environment.
	Env       []string
	Operation wire.Operation
	// Binary overrides the CLI's path (tests point it at node_modules/.bin).
	Binary string
	// Redact lists secret values that must never reach an event.
	Redact []string
	// Timeout, when positive, bounds the turn instead of
	// Settings.TimeoutMinutes.
	Timeout time.Duration
	// KillGrace is how long the process group has between SIGTERM and
	// SIGKILL when it is stopped; zero means 3 seconds.
	KillGrace time.Duration

	// tap, when set, receives every raw stdout line of the pilot
	// (unredacted; the package's tests record CLI transcripts with it).
	tap func(line []byte)
}

// Emit receives each typed event as the pilot produces it. Seq and At are
// filled by the caller. Data is always a json.RawMessage, already redacted,
// in the shape documented on wire.Event. Run calls Emit from one goroutine
// at a time.
type Emit func(typ string, data any)

// Result is what a finished pilot turn leaves behind.
type Result struct {
	SessionID    string
	FinalMessage string
	// Usage is the last usage the pilot reported: claude reports the
	// invocation's total, codex the thread's running total.
	Usage *wire.Usage
	// ThreadUsage is the usage summed over the session's whole thread,
	// where the pilot reports it so (codex), for the next resume's Spec.
	ThreadUsage *wire.Usage
	// Failed is set when the turn did not succeed; Reason is a short machine
	// word (exit_status, model_error, timeout, canceled, start_failed) and
	// Message the human text.
	Failed  bool
	Reason  string
	Message string
}

// Run runs one pilot turn in spec.WorkDir and returns when the pilot's
// processes are gone.
func Run(ctx context.Context, spec Spec, emit Emit) Result {
	red := newRedactor(spec.Redact, effectiveEnv(spec.Env))
	out := &sink{to: emit, red: red}
	t := &turn{emit: out.emit}
	if err := ctx.Err(); err != nil {
		return red.result(Result{Failed: true, Reason: ReasonCanceled, Message: "pilot canceled before it started"})
	}
	cmd, err := command(spec, t)
	if err != nil {
		return red.result(Result{Failed: true, Reason: ReasonStartFailed, Message: err.Error()})
	}
	o := runProcess(ctx, spec, cmd, t)
	if o.startErr != nil {
		return red.result(Result{Failed: true, Reason: ReasonStartFailed, Message: o.startErr.Error()})
	}
	cmd.parser.end()
	res := Result{SessionID: t.sessionID, FinalMessage: t.final, Usage: t.usage, ThreadUsage: t.threadUsage}
	fail := func(reason, msg string) {
		res.Failed, res.Reason, res.Message = true, reason, msg
	}
	switch {
	case o.stopped == ReasonCanceled:
		fail(ReasonCanceled, "pilot canceled")
	case o.stopped == ReasonTimeout:
		fail(ReasonTimeout, fmt.Sprintf("pilot timed out after %s", spec.timeout()))
	case t.modelError != "":
		fail(ReasonModelError, t.modelError)
	case o.waitErr != nil:
		msg := fmt.Sprintf("%s pilot: %v", spec.Kind, o.waitErr)
		if o.stderr != "" {
			msg += "\n" + o.stderr
		}
		fail(ReasonExitStatus, msg)
	}
	return red.result(res)
}

// timeout is the turn's time limit.
func (s Spec) timeout() time.Duration {
	switch {
	case s.Timeout > 0:
		return s.Timeout
	case s.Settings.TimeoutMinutes > 0:
		return time.Duration(s.Settings.TimeoutMinutes) * time.Minute
	default:
		return DefaultTimeout
	}
}

// turn collects what a parser learns from the pilot's output.
type turn struct {
	emit      func(typ string, data any)
	sessionID string
	final     string
	usage     *wire.Usage
	// threadUsage is the thread's summed usage, where the pilot reports that.
	threadUsage *wire.Usage
	// modelError is set when the CLI reported that the model call failed.
	modelError string
}

// parser turns a pilot's stdout lines into events. line must not keep b.
type parser interface {
	line(b []byte)
	// end is called once stdout is closed.
	end()
}

// pilotCommand is how to start a pilot and read what it prints.
type pilotCommand struct {
	path   string
	args   []string
	env    []string
	stdin  string
	parser parser
	// stderrText makes stderr lines text events (exec); the CLIs' stderr
	// is diagnostics, kept only for the failure message.
	stderrText bool
}

func command(spec Spec, t *turn) (*pilotCommand, error) {
	if spec.WorkDir == "" {
		return nil, fmt.Errorf("run pilot: no work dir")
	}
	switch spec.Kind {
	case KindClaude:
		return claudeCommand(spec, t), nil
	case KindCodex:
		return codexCommand(spec, t), nil
	case KindExec:
		if strings.TrimSpace(spec.Settings.Command) == "" {
			return nil, fmt.Errorf("run exec pilot: no command")
		}
		return execCommand(spec, t), nil
	default:
		return nil, fmt.Errorf("run pilot: unknown kind %q", spec.Kind)
	}
}

// binary is the CLI to start: spec.Binary when set, else the name on PATH.
func (s Spec) binary(name string) string {
	if s.Binary != "" {
		return s.Binary
	}
	return name
}
