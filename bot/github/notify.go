package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// Notify brings an issue up to date after a change to its operation (see
// bot.Notifier): the status comment shows where the run stands, and a
// run's success opens the pull request (or asks for review again).
// Everything it does is keyed to what the issue row already records, so it
// may run any number of times.
func (a *App) Notify(ctx context.Context, ev app.Event) error {
	opID := eventOperation(ev)
	if opID == "" {
		return nil
	}
	gi, err := a.store.FindGitHubIssueByOperation(ctx, ev.FleetID, opID)
	if app.IsCode(err, app.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	fleet, err := a.linkedFleet(ctx, gi.InstallationID)
	if err != nil || fleet != ev.FleetID {
		return err // unlinked or suspended since: leave the issue alone
	}
	c, err := a.client(gi.InstallationID)
	if err != nil {
		return err
	}
	return a.store.WithGitHubIssue(ctx, gi.FleetID, gi.ID, func(gi *store.GitHubIssue) error {
		return a.sync(ctx, c, gi)
	})
}

// eventOperation is the operation a change-feed event is about.
func eventOperation(ev app.Event) string {
	if strings.HasPrefix(ev.Kind, "run.") {
		var d struct {
			OperationID string `json:"operation_id"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		return d.OperationID
	}
	if ev.SubjectID != nil && (strings.HasPrefix(ev.Kind, "operation.") || ev.Kind == "message.created") {
		return *ev.SubjectID
	}
	return ""
}

// statusView is what the status comment and the pull request body show.
type statusView struct {
	Op         app.Operation
	OpURL      string
	State      string
	Pilot      string
	Rover      string
	Attempt    int
	Reason     string
	Message    string
	PRURL      string
	PRProblem  string
	Issue      int
	Summary    string
	Files      int
	Insertions int
	Deletions  int
	Duration   string
	Cost       string
}

// sync makes the issue show the operation's state; the caller holds gi's
// lease (store.WithGitHubIssue), and no transaction is open while it calls
// GitHub.
func (a *App) sync(ctx context.Context, c *installation, gi *store.GitHubIssue) error {
	if gi.OperationID == nil {
		return nil
	}
	op, err := a.store.FindOperation(ctx, gi.FleetID, *gi.OperationID)
	if app.IsCode(err, app.ENotFound) {
		return nil // deleted on the board
	}
	if err != nil {
		return err
	}
	run, err := a.lastRun(ctx, gi.FleetID, op.ID)
	if err != nil {
		return err
	}
	v, err := a.view(ctx, gi, op, run)
	if err != nil {
		return err
	}
	if run != nil && run.Status == app.RunSucceeded && run.Artifact != nil && run.Artifact.Pushed &&
		op.Status == app.StatusInReview && (gi.ReviewedRunID == nil || *gi.ReviewedRunID != run.ID) {
		if err := a.handToReview(ctx, c, gi, op, run, &v); err != nil {
			return err
		}
	}
	v.PRURL = gi.PRURL
	body, err := a.tmpl.render("status.md", v)
	if err != nil {
		return err
	}
	return a.writeStatus(ctx, c, gi, body)
}

// syncAfterChange syncs after a delivery changed the operation, logging a
// failure instead of returning it: the change is stored, and the notify
// jobs it made bring the issue up to date, so the delivery must not be
// retried (and its change made twice) for GitHub's sake.
func (a *App) syncAfterChange(ctx context.Context, c *installation, gi *store.GitHubIssue) {
	if err := a.sync(ctx, c, gi); err != nil {
		a.log.Warn("github: update the issue (the notify jobs will)", "issue", gi.URL, "err", err)
	}
}

// view gathers what the templates show of an operation and its last run.
func (a *App) view(ctx context.Context, gi *store.GitHubIssue, op app.Operation, run *app.Run) (statusView, error) {
	v := statusView{Op: op, OpURL: a.operationURL(op), Issue: gi.Number, PRURL: gi.PRURL}
	switch {
	case op.Status == app.StatusDone:
		v.State = "done"
	case op.Status == app.StatusCanceled:
		v.State = "canceled"
	case run == nil:
		v.State = "waiting"
	case run.Status == app.RunClaimed:
		v.State = "starting"
	default:
		v.State = run.Status
	}
	if run == nil {
		return v, nil
	}
	v.Attempt = run.Attempt
	if run.Attempt <= 1 {
		v.Attempt = 0
	}
	if run.PilotID != nil {
		p, err := a.store.FindPilot(ctx, gi.FleetID, *run.PilotID)
		if err != nil && !app.IsCode(err, app.ENotFound) {
			return v, err
		}
		v.Pilot = p.Name
	}
	if v.Pilot == "" {
		v.Pilot = run.PilotKind
	}
	if run.RoverID != nil {
		r, err := a.store.FindRover(ctx, gi.FleetID, *run.RoverID)
		if err != nil && !app.IsCode(err, app.ENotFound) {
			return v, err
		}
		v.Rover = r.Name
	}
	switch run.Status {
	case app.RunFailed:
		v.Reason, v.Message = run.FailureReason, clip(run.FailureMessage, 1500)
	case app.RunCanceled:
		v.Reason = run.FailureMessage
	}
	v.Summary = strings.TrimSpace(run.FinalMessage)
	if art := run.Artifact; art != nil {
		v.Files, v.Insertions, v.Deletions = art.Files, art.Insertions, art.Deletions
	}
	if run.StartedAt != nil && run.FinishedAt != nil {
		v.Duration = run.FinishedAt.Sub(*run.StartedAt).Round(time.Second).String()
	}
	var usage struct {
		CostUSD float64 `json:"cost_usd"`
	}
	if len(run.Usage) > 0 && json.Unmarshal(run.Usage, &usage) == nil && usage.CostUSD > 0 {
		v.Cost = fmt.Sprintf("$%.4f", usage.CostUSD)
	}
	return v, nil
}

// clip shortens a failure message for a comment, and keeps it from closing
// the code block it is shown in.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "```", "'''")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// operationURL is the operation's page on the board.
func (a *App) operationURL(op app.Operation) string {
	return strings.TrimSuffix(a.cfg.PublicURL, "/") + "/operations/" + url.PathEscape(op.Code) + "?fleet=" + url.QueryEscape(op.FleetID)
}

// lastRun is an operation's newest run with its artifact, or nil.
func (a *App) lastRun(ctx context.Context, fleet, opID string) (*app.Run, error) {
	runs, err := a.store.Runs(ctx, fleet, store.RunFilter{OperationID: &opID, Limit: 1})
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	r, err := a.store.FindRun(ctx, fleet, runs[0].ID)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// handToReview hands a successful run to review on the issue's pull
// request: the recorded one while it is open, reopened if it was closed
// unmerged, or a new one when there is none, it was merged, or GitHub will
// not reopen it. A follow-up run's success asks for review again.
func (a *App) handToReview(ctx context.Context, c *installation, gi *store.GitHubIssue, op app.Operation, run *app.Run, v *statusView) error {
	owner, name := splitRepo(gi.Repository)
	mission, err := a.store.FindMission(ctx, gi.FleetID, op.MissionID)
	if err != nil {
		return err
	}
	live, err := a.reopenPR(ctx, c, owner, name, gi)
	if err != nil {
		return err
	}
	if !live {
		pr, problem, err := a.openPR(ctx, c, owner, name, op, mission, run, *v)
		if err != nil {
			return err
		}
		if problem != "" {
			// GitHub refuses it for good (no commits, no such base): say so
			// on the issue instead of retrying.
			v.PRProblem = problem
			gi.ReviewedRunID = &run.ID
			return nil
		}
		gi.PRNumber, gi.PRURL, gi.PRState = pr.GetNumber(), pr.GetHTMLURL(), prOpen
		if _, err := a.store.UpdateOperation(ctx, gi.FleetID, op.ID, store.OperationPatch{PRURL: &gi.PRURL}); err != nil {
			return err
		}
	}
	if err := a.store.SetArtifactPRURL(ctx, gi.FleetID, run.ID, gi.PRURL); err != nil {
		return err
	}
	reviewers := a.reviewers(ctx, gi, mission)
	if len(reviewers) > 0 {
		_, _, err := c.rest.PullRequests.RequestReviewers(ctx, owner, name, gi.PRNumber, gh.ReviewersRequest{Reviewers: reviewers})
		switch {
		case status(err) == 422:
			// Not a collaborator, or the PR's author: nobody to ask.
			a.log.Warn("github: review request refused", "pr", gi.PRURL, "reviewers", reviewers, "err", err)
		case err != nil:
			return fmt.Errorf("request review on %s: %w", gi.PRURL, err)
		}
	}
	gi.ReviewedRunID = &run.ID
	return nil
}

// reopenPR reports whether the issue's recorded pull request can take a
// run's commits: it is open, or was closed unmerged and GitHub reopens it.
// GitHub refuses (422) once the branch was deleted, recreated or
// force-pushed since the close; then, as after a merge, the work needs a
// new pull request.
func (a *App) reopenPR(ctx context.Context, c *installation, owner, name string, gi *store.GitHubIssue) (bool, error) {
	switch {
	case gi.PRNumber == 0 || gi.PRState == prMerged:
		return false, nil
	case gi.PRState != prClosed:
		return true, nil
	}
	_, _, err := c.rest.PullRequests.Edit(ctx, owner, name, gi.PRNumber, &gh.PullRequest{State: gh.Ptr("open")})
	switch {
	case err == nil:
		gi.PRState = prOpen
		return true, nil
	case status(err) == 422:
		a.log.Info("github: GitHub will not reopen the pull request; opening a new one", "pr", gi.PRURL, "why", githubMessage(err))
		return false, nil
	}
	return false, fmt.Errorf("reopen %s: %w", gi.PRURL, err)
}

// openPR opens the pull request of a successful run, or finds the one a
// crash left unrecorded: GitHub refuses a second open pull request from a
// branch, so an open one from it is that one (closed or merged ones before
// it are not). problem is set when GitHub refuses it for good.
func (a *App) openPR(ctx context.Context, c *installation, owner, name string, op app.Operation, m app.Mission, run *app.Run, v statusView) (*gh.PullRequest, string, error) {
	body, err := a.tmpl.render("pull_request.md", v)
	if err != nil {
		return nil, "", err
	}
	branch, base := run.Artifact.Branch, run.Artifact.BaseBranch
	if base == "" {
		base = m.BaseBranch
	}
	title := op.Title + " (" + op.Code + ")"
	pr, _, err := c.rest.PullRequests.Create(ctx, owner, name, gh.CreatePullRequest{Title: &title, Head: branch, Base: base, Body: &body})
	if err == nil {
		return pr, "", nil
	}
	if status(err) != 422 {
		return nil, "", fmt.Errorf("open a pull request from %s: %w", branch, err)
	}
	prs, _, lerr := c.rest.PullRequests.List(ctx, owner, name, &gh.PullRequestListOptions{Head: owner + ":" + branch, State: "open"})
	if lerr != nil {
		return nil, "", fmt.Errorf("find the pull request from %s: %w", branch, lerr)
	}
	if len(prs) > 0 {
		return prs[0], "", nil
	}
	return nil, githubMessage(err), nil
}

// githubMessage is what GitHub said of a refused request.
func githubMessage(err error) string {
	var er *gh.ErrorResponse
	if !errors.As(err, &er) {
		return err.Error()
	}
	parts := []string{er.Message}
	for _, e := range er.Errors {
		if e.Message != "" {
			parts = append(parts, e.Message)
		}
	}
	return strings.Join(parts, ": ")
}

// reviewers are whom to ask: the person who last asked for the work, else
// the mission's reviewers; never the App itself.
func (a *App) reviewers(ctx context.Context, gi *store.GitHubIssue, m app.Mission) []string {
	bot := a.botLogin(ctx)
	var out []string
	add := func(login string) {
		if login != "" && !strings.EqualFold(login, bot) {
			out = append(out, login)
		}
	}
	if gi.TriggeredBy != "" {
		add(gi.TriggeredBy)
		return out
	}
	for _, r := range m.Reviewers {
		add(r)
	}
	return out
}

// writeStatus creates the issue's status comment or edits it in place; a
// body that did not change is not sent again.
func (a *App) writeStatus(ctx context.Context, c *installation, gi *store.GitHubIssue, body string) error {
	if gi.StatusCommentID != 0 && gi.StatusBody == body {
		return nil
	}
	owner, name := splitRepo(gi.Repository)
	if gi.StatusCommentID == 0 {
		id, err := a.findComment(ctx, c, owner, name, gi.Number, marker("status", *gi.OperationID))
		if err != nil {
			return err
		}
		gi.StatusCommentID = id
	}
	if gi.StatusCommentID != 0 {
		_, _, err := c.rest.Issues.UpdateComment(ctx, owner, name, gi.StatusCommentID, gh.IssueCommentRequest{Body: body})
		if err == nil {
			gi.StatusBody = body
			return nil
		}
		if status(err) != 404 {
			return fmt.Errorf("edit the status comment on %s: %w", gi.URL, err)
		}
		// Someone deleted it: post a new one.
	}
	cm, _, err := c.rest.Issues.CreateComment(ctx, owner, name, gi.Number, gh.IssueCommentRequest{Body: body})
	if err != nil {
		return fmt.Errorf("post the status comment on %s: %w", gi.URL, err)
	}
	gi.StatusCommentID, gi.StatusBody = cm.GetID(), body
	return nil
}

// findComment returns the id of the issue's comment that carries mark, or
// 0: the status comment a crash kept UFO from recording.
func (a *App) findComment(ctx context.Context, c *installation, owner, name string, number int, mark string) (int64, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		list, resp, err := c.rest.Issues.ListComments(ctx, owner, name, number, opts)
		if err != nil {
			return 0, fmt.Errorf("list the comments of %s/%s#%d: %w", owner, name, number, err)
		}
		for _, cm := range list {
			if strings.Contains(cm.GetBody(), mark) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opts.Page = resp.NextPage
	}
}
