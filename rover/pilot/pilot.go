// Package pilot runs a coding-agent CLI (claude, codex, or any command) in a
// work dir and turns what it prints into typed run events.
package pilot

import (
	"github.com/ufo-run/ufo/rover/wire"
)

// Spec is one pilot turn to run.
type Spec struct {
	Kind      string             // claude | codex | exec
	Settings  wire.PilotSettings // model, command, extra args, timeout
	Prompt    string
	SessionID string // resume this session when set (follow-up run)
	WorkDir   string
	// Env is the full environment of the pilot process (the rover's own
	// environment minus its secrets, plus what the run needs).
	Env       []string
	Operation wire.Operation
	// Binary overrides the CLI's path (tests point it at node_modules/.bin).
	Binary string
	// Redact lists secret values that must never reach an event.
	Redact []string
}

// Emit receives each typed event as the pilot produces it. Seq and At are
// filled by the caller.
type Emit func(typ string, data any)

// Result is what a finished pilot turn leaves behind.
type Result struct {
	SessionID    string
	FinalMessage string
	Usage        *wire.Usage
	// Failed is set when the turn did not succeed; Reason is a short machine
	// word (exit_status, model_error, timeout, canceled, start_failed) and
	// Message the human text.
	Failed  bool
	Reason  string
	Message string
}
