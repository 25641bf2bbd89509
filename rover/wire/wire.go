// Package wire holds the JSON types of the rover protocol: what a rover and
// the server say to each other over HTTP. Both sides import it; it imports
// nothing of the project, so the rover never depends on server internals.
//
// Endpoints (all JSON; every call but Enroll carries "Authorization: Bearer
// <rover token>"):
//
//	POST /api/rovers/enroll                 EnrollRequest  -> EnrollResponse
//	POST /api/rover/connect                 ConnectRequest -> ConnectResponse
//	POST /api/rover/claim?wait=SECONDS      ClaimRequest   -> 200 Claim | 204 nothing to do
//	POST /api/rover/runs/{id}/start         RunCall        -> RunAck
//	POST /api/rover/runs/{id}/heartbeat     RunCall        -> RunAck
//	POST /api/rover/runs/{id}/events        EventBatch     -> RunAck
//	POST /api/rover/runs/{id}/complete      Completion     -> RunAck
//	DELETE /api/rover/self                  (revokes the token) -> 204
//
// A call whose claim token is not the run's current one answers 409 with
// code "conflict" and changes nothing. Errors use the API's shape:
// {"error":{"code":"…","message":"…"}}.
package wire

import (
	"encoding/json"
	"time"
)

// Profile describes the host a rover runs on. It is sent on enroll and on
// every (re)connect.
type Profile struct {
	OS         string   `json:"os"`
	Arch       string   `json:"arch"`
	Hostname   string   `json:"hostname"`
	CPUs       int      `json:"cpus"`
	MemoryMB   int64    `json:"memory_mb"`
	DiskFreeMB int64    `json:"disk_free_mb"`
	Git        string   `json:"git,omitempty"`
	Pilots     []CLI    `json:"pilots"`
	Tags       []string `json:"tags,omitempty"`
	Version    string   `json:"version,omitempty"`
}

// CLI is a pilot command line tool found on the rover's PATH.
type CLI struct {
	Kind    string `json:"kind"` // claude | codex | exec
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
}

type EnrollRequest struct {
	Code    string  `json:"code"`
	Name    string  `json:"name,omitempty"`
	Profile Profile `json:"profile"`
}

type EnrollResponse struct {
	RoverID string   `json:"rover_id"`
	FleetID string   `json:"fleet_id"`
	Name    string   `json:"name"`
	Token   string   `json:"token"`
	Tags    []string `json:"tags,omitempty"`
}

type ConnectRequest struct {
	Profile Profile `json:"profile"`
}

type ConnectResponse struct {
	RoverID          string   `json:"rover_id"`
	FleetID          string   `json:"fleet_id"`
	Name             string   `json:"name"`
	Tags             []string `json:"tags,omitempty"`
	HeartbeatSeconds int      `json:"heartbeat_seconds"`
	LeaseSeconds     int      `json:"lease_seconds"`
	LongPollSeconds  int      `json:"longpoll_seconds"`
}

type ClaimRequest struct {
	// Kinds narrows the pilot kinds this claim accepts; empty means every
	// kind in the rover's profile ("exec" is always available).
	Kinds []string `json:"kinds,omitempty"`
}

// Claim is everything a run needs, handed to the rover that claimed it.
type Claim struct {
	RunID        string    `json:"run_id"`
	ClaimToken   string    `json:"claim_token"`
	Attempt      int       `json:"attempt"`
	LeaseSeconds int       `json:"lease_seconds"`
	Operation    Operation `json:"operation"`
	Prompt       string    `json:"prompt"`
	Pilot        Pilot     `json:"pilot"`
	SessionID    string    `json:"session_id,omitempty"` // resume this session (follow-up)
	// FreshPrompt, with SessionID, is the prompt for a pilot that cannot
	// resume it (the session was made on another rover): the operation
	// and its whole conversation. Prompt is the new message alone.
	FreshPrompt string      `json:"fresh_prompt,omitempty"`
	FollowUp    bool        `json:"follow_up"`
	Branch      string      `json:"branch"` // ufo/<code>-<slug>
	Repository  *Repository `json:"repository,omitempty"`
}

type Operation struct {
	ID    string `json:"id"`
	Code  string `json:"code"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

type Pilot struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`
	Settings PilotSettings `json:"settings"`
}

// PilotSettings are the pilot's knobs, as stored on the server.
type PilotSettings struct {
	Command        string   `json:"command,omitempty"`         // exec: run with sh -c
	Model          string   `json:"model,omitempty"`           // claude, codex
	MaxTurns       int      `json:"max_turns,omitempty"`       // claude
	ExtraArgs      []string `json:"extra_args,omitempty"`      // appended to the CLI's arguments
	TimeoutMinutes int      `json:"timeout_minutes,omitempty"` // default 60
	Tags           []string `json:"tags,omitempty"`            // required rover tags
}

// Repository is set when the operation's mission has a repository.
type Repository struct {
	CloneURL    string `json:"clone_url"`
	BaseBranch  string `json:"base_branch"`
	AuthorName  string `json:"author_name"`
	AuthorEmail string `json:"author_email"`
	// Username and Password are a short-lived credential for this one
	// repository; never written to disk or logged.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// RunCall is the body of start and heartbeat.
type RunCall struct {
	ClaimToken string `json:"claim_token"`
}

// RunAck answers every per-run call; Cancel asks the rover to stop the pilot.
type RunAck struct {
	Cancel  bool  `json:"cancel"`
	LastSeq int64 `json:"last_seq"`
}

// Event types.
const (
	EventText       = "text"
	EventThinking   = "thinking"
	EventToolUse    = "tool_use"
	EventToolResult = "tool_result"
	EventUsage      = "usage"
	EventError      = "error"
	EventStatus     = "status"
)

// Event is one typed piece of pilot telemetry. Seq is per run, from 1, and
// the server stores each (run, seq) once, so a resent batch is harmless.
// Data's shape depends on Type:
//
//	text, thinking: {"text":"…"}
//	tool_use:       {"id":"…","name":"Write","input":{…}}
//	tool_result:    {"tool_use_id":"…","content":"…","is_error":false}
//	usage:          Usage
//	error:          {"message":"…"}
//	status:         {"message":"…"} or {"dropped":N} when the rover's buffer overflowed
type Event struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	At   time.Time       `json:"at"`
}

type EventBatch struct {
	ClaimToken string  `json:"claim_token"`
	Events     []Event `json:"events"`
}

// Usage is what a pilot reports of its consumption.
type Usage struct {
	InputTokens     int64   `json:"input_tokens"`
	OutputTokens    int64   `json:"output_tokens"`
	CacheReadTokens int64   `json:"cache_read_tokens,omitempty"`
	CostUSD         float64 `json:"cost_usd,omitempty"`
}

// Run outcomes a rover may report.
const (
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCanceled  = "canceled"
)

// Completion is the rover's terminal report for a run.
type Completion struct {
	ClaimToken    string    `json:"claim_token"`
	Status        string    `json:"status"` // succeeded | failed | canceled
	FailureReason string    `json:"failure_reason,omitempty"`
	FinalMessage  string    `json:"final_message,omitempty"`
	SessionID     string    `json:"session_id,omitempty"`
	Usage         *Usage    `json:"usage,omitempty"`
	Artifact      *Artifact `json:"artifact,omitempty"`

	// FailureMessage is the human text that goes with FailureReason (the
	// pilot's Result.Message, git's stderr). Added by the rover; the rover
	// also sends its own failures (git) as an error event.
	FailureMessage string `json:"failure_message,omitempty"`
}

// Artifact is a run's outputs.
type Artifact struct {
	Diff       string `json:"diff"`
	Files      int    `json:"files"`
	Insertions int    `json:"insertions"`
	Deletions  int    `json:"deletions"`
	Branch     string `json:"branch"`
	BaseBranch string `json:"base_branch,omitempty"`
	HeadCommit string `json:"head_commit,omitempty"`
	Pushed     bool   `json:"pushed"`
}
