package web

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

const (
	runsShown      = 20   // runs on an operation's page, newest first
	runEventsShown = 2000 // events per run's timeline
)

type relation struct {
	ID    string
	Label string // "blocks", "blocked by", …
	Other app.Operation
}

type reaction struct {
	Emoji string
	Count int
	Mine  string // the user's reaction id, to take it back
}

// reactionChoices are the emoji the page offers.
var reactionChoices = []string{"👍", "🎉", "👀", "❤️", "🚀"}

type operationPage struct {
	layout
	Op            app.Operation
	Mission       app.Mission
	Assignee      string
	AssigneeValue string
	Assignees     []assigneeGroup
	Chips         []chip
	Statuses      []string
	Parent        *app.Operation
	Subs          []app.Operation
	Relations     []relation
	Reactions     []reaction
	Messages      []app.Message
	Signals       []app.Signal
	Runs          []runView
	Active        *app.Run // the queued, claimed or running run
	CanRetry      bool
	Diff          *diffView
	SlackURL      string
	// RunIDs lists the runs shown, for the script to follow their events.
	RunIDs string
}

func (s *Server) operationPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	op, err := s.store.FindOperation(ctx, fleet, param(r, "id"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := operationPage{layout: s.newLayout(r, op.Code+" "+op.Title, "board"), Op: op, Statuses: app.Statuses,
		SlackURL: slackThreadURL(op.SlackChannel, op.SlackTS)}
	p.Path = "/board" // switching fleets leaves this operation behind
	if err := s.loadOperationPage(ctx, &p); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "operation", p)
}

func (s *Server) loadOperationPage(ctx context.Context, p *operationPage) error {
	fleet, op := p.Op.FleetID, p.Op
	var err error
	if p.Mission, err = s.store.FindMission(ctx, fleet, op.MissionID); err != nil {
		return err
	}
	as, err := s.assignees(ctx, fleet)
	if err != nil {
		return err
	}
	p.Assignees, p.Assignee = as.groups(), as.name(op.AssigneeType, op.AssigneeID)
	labels, err := s.store.Labels(ctx, fleet)
	if err != nil {
		return err
	}
	p.Chips = labelChips(op.Labels, labels)
	if op.AssigneeID != nil {
		p.AssigneeValue = op.AssigneeType + ":" + *op.AssigneeID
	}
	if op.ParentID != nil {
		parent, err := s.store.FindOperation(ctx, fleet, *op.ParentID)
		if err != nil {
			return err
		}
		p.Parent = &parent
	}
	if p.Subs, err = s.store.Operations(ctx, fleet, store.OperationFilter{ParentID: &op.ID, Sort: "created", Limit: 200}); err != nil {
		return err
	}
	if p.Relations, err = s.relations(ctx, op); err != nil {
		return err
	}
	if p.Reactions, err = s.reactions(ctx, op, p.User.ID); err != nil {
		return err
	}
	if p.Messages, err = s.store.Messages(ctx, fleet, op.ID); err != nil {
		return err
	}
	if p.Signals, err = s.store.Signals(ctx, fleet, &op.ID, false, 20, 0); err != nil {
		return err
	}
	return s.loadRuns(ctx, p)
}

// loadRuns reads the runs with their timelines, and the newest diff.
func (s *Server) loadRuns(ctx context.Context, p *operationPage) error {
	fleet := p.Op.FleetID
	runs, err := s.store.Runs(ctx, fleet, store.RunFilter{OperationID: &p.Op.ID, Limit: runsShown})
	if err != nil {
		return err
	}
	rovers, err := s.store.Rovers(ctx, fleet)
	if err != nil {
		return err
	}
	roverNames := map[string]string{}
	for _, rv := range rovers {
		roverNames[rv.ID] = rv.Name
	}
	ids := make([]string, 0, len(runs))
	for i, run := range runs {
		if run.Artifact == nil && p.Diff == nil {
			// The list leaves artifacts out; the newest run with one has the diff.
			full, err := s.store.FindRun(ctx, fleet, run.ID)
			if err != nil {
				return err
			}
			run.Artifact = full.Artifact
		}
		if p.Diff == nil && run.Artifact != nil && run.Artifact.Diff != "" {
			p.Diff = parseDiff(run.Artifact)
		}
		evs, err := s.store.RunEvents(ctx, fleet, run.ID, 0, runEventsShown)
		if err != nil {
			return err
		}
		rv := newRunView(run, evs, i == 0)
		if run.RoverID != nil {
			rv.Rover = roverNames[*run.RoverID]
		}
		p.Runs = append(p.Runs, rv)
		ids = append(ids, run.ID)
		if p.Active == nil && slices.Contains([]string{app.RunQueued, app.RunClaimed, app.RunRunning}, run.Status) {
			p.Active = &runs[i]
		}
	}
	p.RunIDs = strings.Join(ids, " ")
	p.CanRetry = len(runs) > 0 && p.Active == nil && p.Op.AssigneeID != nil && p.Op.AssigneeType != "user" &&
		p.Op.Status != app.StatusQueued && p.Op.Status != app.StatusRunning
	return nil
}

func (s *Server) relations(ctx context.Context, op app.Operation) ([]relation, error) {
	rels, err := s.store.Relationships(ctx, op.FleetID, op.ID)
	if err != nil {
		return nil, err
	}
	out := make([]relation, 0, len(rels))
	for _, rel := range rels {
		otherID, label := rel.ToID, rel.Kind
		if rel.ToID == op.ID {
			otherID = rel.FromID
			switch rel.Kind {
			case "blocks":
				label = "blocked by"
			case "duplicates":
				label = "duplicated by"
			}
		}
		if label == "relates" {
			label = "relates to"
		}
		other, err := s.store.FindOperation(ctx, op.FleetID, otherID)
		if err != nil {
			return nil, err
		}
		out = append(out, relation{ID: rel.ID, Label: label, Other: other})
	}
	return out, nil
}

// reactions groups an operation's reactions by emoji, the offered ones
// first.
func (s *Server) reactions(ctx context.Context, op app.Operation, userID string) ([]reaction, error) {
	rs, err := s.store.Reactions(ctx, op.FleetID, op.ID)
	if err != nil {
		return nil, err
	}
	out := make([]reaction, 0, len(reactionChoices))
	index := map[string]int{}
	add := func(emoji string) int {
		if i, ok := index[emoji]; ok {
			return i
		}
		index[emoji] = len(out)
		out = append(out, reaction{Emoji: emoji})
		return len(out) - 1
	}
	for _, e := range reactionChoices {
		add(e)
	}
	for _, rx := range rs {
		i := add(rx.Emoji)
		out[i].Count++
		if rx.UserID == userID {
			out[i].Mine = rx.ID
		}
	}
	return out, nil
}

// slackThreadURL links to a Slack thread; slack.com sends the reader on to
// their workspace.
func slackThreadURL(channel, ts string) string {
	if channel == "" || ts == "" {
		return ""
	}
	return "https://slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
}
