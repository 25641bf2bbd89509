package github

import (
	"context"
	"encoding/json"
	"fmt"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
)

// handleDelivery processes one recorded webhook delivery. An error makes
// the worker retry it; every step is safe to repeat.
func (a *App) handleDelivery(ctx context.Context, j store.Job) error {
	var d delivery
	if err := json.Unmarshal(j.Payload, &d); err != nil {
		return bot.Permanent(fmt.Errorf("decode delivery %s: %w", j.Key, err))
	}
	ev, err := gh.ParseWebHook(d.Event, []byte(d.Body))
	if err != nil {
		// An event UFO does not subscribe to, or a payload GitHub would
		// never send: nothing to do, and retrying cannot change that.
		a.log.Info("github: delivery ignored", "delivery", j.Key, "event", d.Event, "why", err)
		return nil
	}
	switch e := ev.(type) {
	case *gh.InstallationEvent:
		return a.onInstallation(ctx, e)
	case *gh.InstallationRepositoriesEvent:
		return a.onInstallationRepositories(ctx, e)
	case *gh.IssuesEvent:
		return a.onIssues(ctx, j.Key, e)
	case *gh.IssueCommentEvent:
		return a.onIssueComment(ctx, j.Key, e)
	case *gh.PullRequestEvent:
		return a.onPullRequest(ctx, e)
	case *gh.PullRequestReviewEvent:
		return a.onReview(ctx, j.Key, e)
	}
	// pull_request_review_comment: every review comment belongs to a
	// review, whose own event carries it (see onReview).
	return nil
}

func (a *App) onInstallation(ctx context.Context, e *gh.InstallationEvent) error {
	in := e.GetInstallation()
	// The payload says whether it is suspended: a delivery late or retried
	// after a suspend must not take the installation for active again.
	rec := store.GitHubInstallation{ID: in.GetID(), AccountLogin: in.GetAccount().GetLogin(), AccountType: in.GetAccount().GetType(),
		Suspended: in.SuspendedAt != nil}
	switch e.GetAction() {
	case "deleted":
		return a.store.DeleteGitHubInstallation(ctx, in.GetID())
	case "suspend":
		rec.Suspended = true
		return a.store.UpsertGitHubInstallation(ctx, rec)
	}
	if err := a.store.UpsertGitHubInstallation(ctx, rec); err != nil {
		return err
	}
	if e.Repositories == nil {
		return nil
	}
	return a.store.AddGitHubRepositories(ctx, in.GetID(), repositories(in.GetID(), e.Repositories), nil, e.GetAction() == "created")
}

func (a *App) onInstallationRepositories(ctx context.Context, e *gh.InstallationRepositoriesEvent) error {
	in := e.GetInstallation()
	// The payload says whether it is suspended: a delivery late or retried
	// after a suspend must not take the installation for active again.
	rec := store.GitHubInstallation{ID: in.GetID(), AccountLogin: in.GetAccount().GetLogin(), AccountType: in.GetAccount().GetType(),
		Suspended: in.SuspendedAt != nil}
	if err := a.store.UpsertGitHubInstallation(ctx, rec); err != nil {
		return err
	}
	var removed []int64
	for _, r := range e.RepositoriesRemoved {
		removed = append(removed, r.GetID())
	}
	return a.store.AddGitHubRepositories(ctx, in.GetID(), repositories(in.GetID(), e.RepositoriesAdded), removed, false)
}

func repositories(installationID int64, rs []*gh.Repository) []store.GitHubRepository {
	out := make([]store.GitHubRepository, 0, len(rs))
	for _, r := range rs {
		out = append(out, store.GitHubRepository{ID: r.GetID(), InstallationID: installationID, FullName: r.GetFullName()})
	}
	return out
}

// linkedFleet returns the fleet an installation is linked to, or "" when
// none is (or it is suspended, or unknown).
func (a *App) linkedFleet(ctx context.Context, installationID int64) (string, error) {
	in, err := a.store.FindGitHubInstallation(ctx, installationID)
	if app.IsCode(err, app.ENotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if in.FleetID == nil || in.Suspended {
		return "", nil
	}
	return *in.FleetID, nil
}
