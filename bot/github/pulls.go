package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// prIssue returns the issue row of a pull request UFO opened, and its
// installation's clients; gi is nil when the PR is not one of UFO's.
func (a *App) prIssue(ctx context.Context, installationID int64, repo *gh.Repository, number int) (*store.GitHubIssue, *installation, error) {
	fleet, err := a.linkedFleet(ctx, installationID)
	if err != nil || fleet == "" {
		return nil, nil, err
	}
	gi, err := a.store.FindGitHubIssue(ctx, fleet, repo.GetID(), number)
	if app.IsCode(err, app.ENotFound) || (err == nil && gi.PRNumber != number) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := a.client(installationID)
	return &gi, c, err
}

// The states of an issue's pull request, as UFO records them
// (store.GitHubIssue.PRState).
const (
	prOpen   = "open"
	prClosed = "closed" // unmerged: the next run's success reopens it
	prMerged = "merged" // the next run's success opens a new one
)

// onPullRequest follows UFO's pull request: merged ends the operation as
// done, closed unmerged as canceled; reopened puts an operation its close
// canceled back in review. The state is recorded for the next run's
// success (see handToReview).
func (a *App) onPullRequest(ctx context.Context, e *gh.PullRequestEvent) error {
	action := e.GetAction()
	if (action != "closed" && action != "reopened") || a.fromSelf(ctx, e.GetSender()) {
		return nil
	}
	found, c, err := a.prIssue(ctx, e.GetInstallation().GetID(), e.GetRepo(), e.GetNumber())
	if err != nil || found == nil {
		return err
	}
	return a.store.WithGitHubIssue(ctx, found.FleetID, found.ID, func(gi *store.GitHubIssue) error {
		if gi.OperationID == nil || gi.PRNumber != e.GetNumber() {
			return nil // replaced by a new pull request meanwhile
		}
		next, err := a.pullRequestMoves(ctx, gi, action, e.GetPullRequest().GetMerged())
		if err != nil {
			return err
		}
		if next != "" {
			if _, err := a.store.UpdateOperation(ctx, gi.FleetID, *gi.OperationID, store.OperationPatch{Status: &next}); err != nil {
				return err
			}
		}
		return a.sync(ctx, c, gi)
	})
}

// pullRequestMoves records the pull request's new state on gi and returns
// the status its operation moves to, or "". Only an operation that is still
// canceled, as the close left it, goes back to review on a reopen: one a
// person or a run has moved since stays where it is.
func (a *App) pullRequestMoves(ctx context.Context, gi *store.GitHubIssue, action string, merged bool) (string, error) {
	switch {
	case action == "closed" && merged:
		gi.PRState = prMerged
		return app.StatusDone, nil
	case action == "closed":
		gi.PRState = prClosed
		return app.StatusCanceled, nil
	}
	wasClosed := gi.PRState == prClosed
	gi.PRState = prOpen
	if !wasClosed {
		return "", nil
	}
	op, err := a.store.FindOperation(ctx, gi.FleetID, *gi.OperationID)
	if app.IsCode(err, app.ENotFound) {
		return "", nil // deleted on the board
	}
	if err != nil || op.Status != app.StatusCanceled {
		return "", err
	}
	return app.StatusInReview, nil
}

// onReview turns a review that asks for changes (or comments on them) into
// a follow-up run on the same branch, whose prompt is the review's body and
// each of its comments with file and line. A review comment arrives both
// as its own pull_request_review_comment event and inside its review; UFO
// acts on the review only, so each comment reaches the pilot once.
func (a *App) onReview(ctx context.Context, delivery string, e *gh.PullRequestReviewEvent) error {
	review := e.GetReview()
	state := strings.ToLower(review.GetState())
	if e.GetAction() != "submitted" || (state != "changes_requested" && state != "commented") || a.fromSelf(ctx, e.GetSender()) {
		return nil
	}
	number := e.GetPullRequest().GetNumber()
	found, c, err := a.prIssue(ctx, e.GetInstallation().GetID(), e.GetRepo(), number)
	if err != nil || found == nil {
		return err
	}
	owner, name := splitRepo(e.GetRepo().GetFullName())
	ref := issueRef{installation: e.GetInstallation().GetID(), fleet: found.FleetID, repo: e.GetRepo(), number: number,
		url: e.GetPullRequest().GetHTMLURL(), delivery: delivery}
	reviewer := review.GetUser().GetLogin()
	comments, err := a.reviewComments(ctx, c, owner, name, number, review.GetID())
	if err != nil {
		return err
	}
	if strings.TrimSpace(review.GetBody()) == "" && len(comments) == 0 {
		return nil // an approval-like comment review with nothing to act on
	}
	ok, err := a.canWrite(ctx, c, owner, name, reviewer)
	if err != nil {
		return err
	}
	if !ok {
		return a.deny(ctx, c, ref, reviewer, "request changes for you")
	}
	prompt := reviewPrompt(reviewer, state, review.GetBody(), comments)
	return a.store.WithGitHubIssue(ctx, found.FleetID, found.ID, func(gi *store.GitHubIssue) error {
		if gi.OperationID == nil {
			return nil
		}
		gi.TriggeredBy = reviewer
		if _, _, err := a.store.CreateMessage(ctx, gi.FleetID, *gi.OperationID, store.MessageInput{
			AuthorType: "github", AuthorID: reviewer, AuthorName: "@" + reviewer, Body: prompt, Once: ref.once("message")}); err != nil {
			return err
		}
		a.syncAfterChange(ctx, c, gi)
		return nil
	})
}

// reviewComments lists the comments of one review.
func (a *App) reviewComments(ctx context.Context, c *installation, owner, name string, number int, reviewID int64) ([]*gh.PullRequestComment, error) {
	var all []*gh.PullRequestComment
	opts := &gh.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.rest.PullRequests.ListReviewComments(ctx, owner, name, number, reviewID, opts)
		if err != nil {
			return nil, fmt.Errorf("list the comments of review %d on %s/%s#%d: %w", reviewID, owner, name, number, err)
		}
		all = append(all, list...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// reviewPrompt is a follow-up run's prompt: the review, then each comment
// with where it points.
func reviewPrompt(reviewer, state, body string, comments []*gh.PullRequestComment) string {
	var b strings.Builder
	what := "commented on"
	if state == "changes_requested" {
		what = "requested changes to"
	}
	fmt.Fprintf(&b, "@%s %s the pull request.", reviewer, what)
	if s := strings.TrimSpace(body); s != "" {
		fmt.Fprintf(&b, "\n\n%s", s)
	}
	for _, c := range comments {
		line := c.GetLine()
		if line == 0 {
			line = c.GetOriginalLine()
		}
		where := c.GetPath()
		if line > 0 {
			where = fmt.Sprintf("%s:%d", where, line)
		}
		fmt.Fprintf(&b, "\n\n%s\n%s", where, strings.TrimSpace(c.GetBody()))
	}
	b.WriteString("\n\nAddress this on the same branch.")
	return b.String()
}
