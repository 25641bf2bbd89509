package app

import (
	"encoding/json"
	"time"
)

// Roles in a fleet, from most to least powerful.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Operation statuses.
const (
	StatusBacklog  = "backlog"
	StatusQueued   = "queued"
	StatusRunning  = "running"
	StatusInReview = "in_review"
	StatusDone     = "done"
	StatusCanceled = "canceled"
)

// Statuses lists operation statuses in board order.
var Statuses = []string{StatusBacklog, StatusQueued, StatusRunning, StatusInReview, StatusDone, StatusCanceled}

// Run statuses.
const (
	RunQueued    = "queued"
	RunClaimed   = "claimed"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCanceled  = "canceled"
)

// Pilot kinds.
const (
	KindClaude = "claude"
	KindCodex  = "codex"
	KindExec   = "exec"
)

type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

type Fleet struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role,omitempty"` // the caller's role
	CreatedAt time.Time `json:"created_at"`
}

type Membership struct {
	FleetID   string    `json:"fleet_id"`
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

type Invitation struct {
	ID         string     `json:"id"`
	FleetID    string     `json:"fleet_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	// Token and URL are only present in the answer that creates it.
	Token string `json:"token,omitempty"`
	URL   string `json:"url,omitempty"`
}

type Mission struct {
	ID             string    `json:"id"`
	FleetID        string    `json:"fleet_id"`
	Name           string    `json:"name"`
	Key            string    `json:"key"`
	Description    string    `json:"description"`
	Repository     string    `json:"repository"`
	BaseBranch     string    `json:"base_branch"`
	BranchPrefix   string    `json:"branch_prefix"`
	DefaultPilotID *string   `json:"default_pilot_id"`
	Reviewers      []string  `json:"reviewers"`
	SlackChannel   string    `json:"slack_channel"`
	CreatedAt      time.Time `json:"created_at"`
}

type Pilot struct {
	ID        string          `json:"id"`
	FleetID   string          `json:"fleet_id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Settings  json.RawMessage `json:"settings"`
	CreatedAt time.Time       `json:"created_at"`
}

type Crew struct {
	ID        string    `json:"id"`
	FleetID   string    `json:"fleet_id"`
	Name      string    `json:"name"`
	PilotIDs  []string  `json:"pilot_ids"`
	UserIDs   []string  `json:"user_ids"`
	CreatedAt time.Time `json:"created_at"`
}

type Label struct {
	ID        string    `json:"id"`
	FleetID   string    `json:"fleet_id"`
	Name      string    `json:"name"`
	Color     string    `json:"color"`
	CreatedAt time.Time `json:"created_at"`
}

type Operation struct {
	ID           string    `json:"id"`
	FleetID      string    `json:"fleet_id"`
	MissionID    string    `json:"mission_id"`
	MissionKey   string    `json:"mission_key"`
	Number       int       `json:"number"`
	Code         string    `json:"code"`
	Title        string    `json:"title"`
	Body         string    `json:"body"`
	Status       string    `json:"status"`
	Priority     int       `json:"priority"`
	AssigneeType string    `json:"assignee_type"`
	AssigneeID   *string   `json:"assignee_id"`
	ParentID     *string   `json:"parent_id"`
	Labels       []string  `json:"labels"`
	IssueURL     string    `json:"issue_url"`
	PRURL        string    `json:"pr_url"`
	SlackChannel string    `json:"slack_channel"`
	SlackTS      string    `json:"slack_ts"`
	Branch       string    `json:"branch"`
	CreatedBy    *string   `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type Relationship struct {
	ID        string    `json:"id"`
	FromID    string    `json:"from_id"`
	ToID      string    `json:"to_id"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

type Reaction struct {
	ID          string    `json:"id"`
	OperationID string    `json:"operation_id"`
	UserID      string    `json:"user_id"`
	Emoji       string    `json:"emoji"`
	CreatedAt   time.Time `json:"created_at"`
}

type Message struct {
	ID          string    `json:"id"`
	OperationID string    `json:"operation_id"`
	AuthorType  string    `json:"author_type"`
	AuthorID    string    `json:"author_id"`
	AuthorName  string    `json:"author_name"`
	Body        string    `json:"body"`
	CreatedAt   time.Time `json:"created_at"`
}

type Rover struct {
	ID         string          `json:"id"`
	FleetID    string          `json:"fleet_id"`
	Name       string          `json:"name"`
	Tags       []string        `json:"tags"`
	Kinds      []string        `json:"kinds"`
	Profile    json.RawMessage `json:"profile"`
	Status     string          `json:"status"` // online | busy | offline
	Ephemeral  bool            `json:"ephemeral"`
	LastSeenAt *time.Time      `json:"last_seen_at"`
	CurrentRun *string         `json:"current_run_id"`
	CreatedAt  time.Time       `json:"created_at"`
}

type Run struct {
	ID              string          `json:"id"`
	FleetID         string          `json:"fleet_id"`
	OperationID     string          `json:"operation_id"`
	OperationCode   string          `json:"operation_code"`
	PilotID         *string         `json:"pilot_id"`
	PilotKind       string          `json:"pilot_kind"`
	Status          string          `json:"status"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	FollowUp        bool            `json:"follow_up"`
	RoverID         *string         `json:"rover_id"`
	CancelRequested bool            `json:"cancel_requested"`
	SessionID       string          `json:"session_id"`
	FinalMessage    string          `json:"final_message"`
	Usage           json.RawMessage `json:"usage"`
	FailureReason   string          `json:"failure_reason"`
	FailureMessage  string          `json:"failure_message"`
	LeaseExpiresAt  *time.Time      `json:"lease_expires_at"`
	QueuedAt        time.Time       `json:"queued_at"`
	ClaimedAt       *time.Time      `json:"claimed_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Artifact        *Artifact       `json:"artifact,omitempty" db:"-"`
}

type RunEvent struct {
	RunID string          `json:"run_id"`
	Seq   int64           `json:"seq"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
	At    time.Time       `json:"at"`
}

type Artifact struct {
	Diff       string `json:"diff"`
	Files      int    `json:"files"`
	Insertions int    `json:"insertions"`
	Deletions  int    `json:"deletions"`
	Branch     string `json:"branch"`
	BaseBranch string `json:"base_branch"`
	HeadCommit string `json:"head_commit"`
	Pushed     bool   `json:"pushed"`
	PRURL      string `json:"pr_url"`
}

type Signal struct {
	ID          string     `json:"id"`
	OperationID string     `json:"operation_id"`
	RunID       *string    `json:"run_id"`
	Kind        string     `json:"kind"`
	Message     string     `json:"message"`
	CreatedAt   time.Time  `json:"created_at"`
	ResolvedAt  *time.Time `json:"resolved_at"`
}

// Event is one entry of the fleet's change feed.
type Event struct {
	ID        int64           `json:"id"`
	FleetID   string          `json:"fleet_id"`
	Kind      string          `json:"kind"`
	SubjectID *string         `json:"subject_id"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}
