package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// statusView is what an operation's status message shows; the template
// (templates/slack/status.json.tmpl) lays it out.
type statusView struct {
	OperationID, Code, Title, BoardURL string

	Emoji   string // of the state
	Status  string // the last run's status, or the operation's without one
	Stage   string // what else to know: "in review", "follow-up", "canceling", …
	Pilot   string
	Rover   string
	Elapsed string

	Progress string // the last progress line of a run in flight
	Outcome  string // the final message, or why the run failed

	Diff                         bool
	Files, Insertions, Deletions int
	Branch                       string
	PRURL                        string

	Cancel, Retry bool // which buttons apply
	// Active is true while a run is queued, claimed or running; Moving
	// while it is claimed or running (its progress is worth polling).
	Active, Moving bool
}

var emoji = map[string]string{
	app.RunQueued:      ":hourglass_flowing_sand:",
	app.RunClaimed:     ":satellite_antenna:",
	app.RunRunning:     ":large_blue_circle:",
	app.RunSucceeded:   ":white_check_mark:",
	app.RunFailed:      ":x:",
	app.RunCanceled:    ":no_entry_sign:",
	app.StatusBacklog:  ":white_circle:",
	app.StatusInReview: ":eyes:",
	app.StatusDone:     ":white_check_mark:",
}

// boardURL is an operation's page on the board.
func (b *Bot) boardURL(fleetID, code string) string {
	return b.cfg.PublicURL + "/operations/" + url.PathEscape(code) + "?fleet=" + url.QueryEscape(fleetID)
}

// view reads an operation's state, as of now, for its status message.
func (b *Bot) view(ctx context.Context, fleetID, opID string, now time.Time) (statusView, error) {
	op, err := b.store.FindOperation(ctx, fleetID, opID)
	if err != nil {
		return statusView{}, fmt.Errorf("find operation: %w", err)
	}
	v := statusView{OperationID: op.ID, Code: op.Code, Title: op.Title, BoardURL: b.boardURL(fleetID, op.Code), PRURL: op.PRURL}
	runs, err := b.store.Runs(ctx, fleetID, store.RunFilter{OperationID: &op.ID, Limit: 1})
	if err != nil {
		return v, fmt.Errorf("find runs: %w", err)
	}
	if len(runs) == 0 {
		v.Status, v.Emoji = words(op.Status), emoji[op.Status]
		if op.AssigneeType == "" {
			v.Stage = "no pilot assigned: /ufo assign " + op.Code + " NAME"
		}
		return v, nil
	}
	r, err := b.store.FindRun(ctx, fleetID, runs[0].ID)
	if err != nil {
		return v, fmt.Errorf("find run: %w", err)
	}
	v.Status, v.Emoji = r.Status, emoji[r.Status]
	if r.PilotID != nil {
		if p, err := b.store.FindPilot(ctx, fleetID, *r.PilotID); err == nil {
			v.Pilot = p.Name
		}
	}
	if r.RoverID != nil {
		if rv, err := b.store.FindRover(ctx, fleetID, *r.RoverID); err == nil {
			v.Rover = rv.Name
		}
	}
	v.Active = r.Status == app.RunQueued || r.Status == app.RunClaimed || r.Status == app.RunRunning
	v.Moving = r.Status == app.RunClaimed || r.Status == app.RunRunning
	switch {
	case v.Active && r.CancelRequested:
		v.Stage = "canceling"
	case v.Active && r.FollowUp:
		v.Stage = "follow-up"
	case r.Attempt > 1 && v.Active:
		v.Stage = fmt.Sprintf("attempt %d of %d", r.Attempt, r.MaxAttempts)
	case !v.Active && op.Status != app.StatusBacklog:
		v.Stage = words(op.Status)
	}
	v.Elapsed = elapsed(r, now)
	v.Cancel = v.Active && !r.CancelRequested
	v.Retry = !v.Active && (r.Status == app.RunFailed || r.Status == app.RunCanceled) &&
		op.AssigneeID != nil && op.Status != app.StatusDone && op.Status != app.StatusCanceled
	if v.Moving {
		typ, data, err := b.store.LastProgress(ctx, fleetID, r.ID)
		if err != nil && !app.IsCode(err, app.ENotFound) {
			return v, fmt.Errorf("find progress: %w", err)
		}
		v.Progress = progressLine(typ, data)
	}
	switch r.Status {
	case app.RunSucceeded:
		v.Outcome = clip(r.FinalMessage, 500)
	case app.RunFailed:
		v.Outcome = r.FailureReason
		if r.FailureMessage != "" {
			v.Outcome += ": " + clip(r.FailureMessage, 500)
		}
	}
	if a := r.Artifact; a != nil && !v.Active {
		v.Diff, v.Files, v.Insertions, v.Deletions = a.Files > 0 || a.Insertions > 0 || a.Deletions > 0, a.Files, a.Insertions, a.Deletions
		if a.Pushed {
			v.Branch = a.Branch
		}
		if v.PRURL == "" {
			v.PRURL = a.PRURL
		}
	}
	return v, nil
}

func words(status string) string { return strings.ReplaceAll(status, "_", " ") }

// elapsed is how long a run has taken: to the second once it ended, and in
// whole minutes while it runs, so the message is not edited every second
// just for the clock.
func elapsed(r app.Run, now time.Time) string {
	start := r.StartedAt
	if start == nil {
		start = r.ClaimedAt
	}
	if start == nil {
		return ""
	}
	if r.FinishedAt != nil {
		return "took " + r.FinishedAt.Sub(*start).Round(time.Second).String()
	}
	m := int(now.Sub(*start).Minutes())
	if m < 1 {
		return "under a minute"
	}
	return fmt.Sprintf("%d min", m)
}

// progressLine is one line telling what the pilot did last.
func progressLine(typ string, data json.RawMessage) string {
	var d struct {
		Text    string         `json:"text"`
		Message string         `json:"message"`
		Name    string         `json:"name"`
		Input   map[string]any `json:"input"`
	}
	if typ == "" || json.Unmarshal(data, &d) != nil {
		return ""
	}
	switch typ {
	case "text":
		return clip(firstLine(d.Text), 200)
	case "tool_use":
		for _, k := range []string{"file_path", "path", "command", "pattern", "url"} {
			if s, ok := d.Input[k].(string); ok && s != "" {
				return clip(d.Name+": "+firstLine(s), 200)
			}
		}
		return d.Name
	case "error":
		return clip("error: "+firstLine(d.Message), 200)
	case "status":
		return clip(firstLine(d.Message), 200)
	}
	return ""
}

func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
