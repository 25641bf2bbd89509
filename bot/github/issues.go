package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v92/github"
	"github.com/shurcooL/githubv4"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/bot/command"
	"github.com/ufo-run/ufo/store"
)

// issueRef is an issue (or pull request) an event is about, with the
// repository as the payload describes it.
type issueRef struct {
	installation int64
	fleet        string // "" when the installation is not linked
	repo         *gh.Repository
	number       int
	url          string
	// delivery is the GUID of the webhook delivery that is about the
	// issue: what the delivery does to the operation is done once (see
	// once), however often it is processed.
	delivery string
}

// once is the store's request key for the effect (a "run" queued, a
// "message" stored) of the delivery about the issue: a delivery processed
// again, after it failed further on or when redelivered from GitHub, finds
// the effect applied rather than queuing a second run.
func (r issueRef) once(effect string) string {
	if r.delivery == "" {
		return ""
	}
	return "github:" + r.delivery + ":" + effect
}

func (r issueRef) owner() string { o, _ := splitRepo(r.repo.GetFullName()); return o }
func (r issueRef) name() string  { _, n := splitRepo(r.repo.GetFullName()); return n }

func (a *App) onIssues(ctx context.Context, delivery string, e *gh.IssuesEvent) error {
	action := e.GetAction()
	if a.fromSelf(ctx, e.GetSender()) || (action != "labeled" && action != "unlabeled" && action != "assigned" && action != "closed") {
		return nil
	}
	fleet, err := a.linkedFleet(ctx, e.GetInstallation().GetID())
	if err != nil {
		return err
	}
	ref := issueRef{installation: e.GetInstallation().GetID(), fleet: fleet, repo: e.GetRepo(),
		number: e.GetIssue().GetNumber(), url: e.GetIssue().GetHTMLURL(), delivery: delivery}
	label := e.GetLabel().GetName()
	if fleet == "" {
		if _, ok := labelPilot(label, defaultLabel); action == "labeled" && ok {
			return a.replyUnlinked(ctx, ref)
		}
		return nil
	}
	switch action {
	case "closed":
		return a.cancelIssue(ctx, ref, "the issue was closed")
	case "assigned":
		bot := a.botLogin(ctx)
		if bot == "" || !strings.EqualFold(e.GetAssignee().GetLogin(), bot) {
			return nil
		}
		return a.start(ctx, ref, e.GetSender().GetLogin(), "")
	}
	c, err := a.client(ref.installation)
	if err != nil {
		return err
	}
	cfg, err := a.repoConfig(ctx, c, ref.owner(), ref.name(), ref.repo.GetDefaultBranch())
	var ce *configError
	if errors.As(err, &ce) {
		// Only the default label can be recognised without the file.
		if _, ok := labelPilot(label, defaultLabel); ok && action == "labeled" {
			return a.reply(ctx, c, ref, ce.comment())
		}
		return nil
	}
	if err != nil {
		return err
	}
	pilot, ok := labelPilot(label, cfg.TriggerLabel())
	if !ok {
		return nil
	}
	if action == "unlabeled" {
		return a.cancelIssue(ctx, ref, "the "+label+" label was removed")
	}
	return a.start(ctx, ref, e.GetSender().GetLogin(), pilot)
}

// labelPilot matches a label against the trigger label: "ufo" starts work
// with the default pilot, "ufo:cc" with pilot cc.
func labelPilot(label, trigger string) (pilot string, ok bool) {
	if strings.EqualFold(label, trigger) {
		return "", true
	}
	if len(label) > len(trigger) && strings.EqualFold(label[:len(trigger)+1], trigger+":") {
		return strings.ToLower(strings.TrimSpace(label[len(trigger)+1:])), true
	}
	return "", false
}

// start turns an issue into an operation dispatched to a pilot, or, for an
// issue that already is one, runs it again. Only a sender with write
// access may; anyone else gets one polite comment.
func (a *App) start(ctx context.Context, ref issueRef, sender, pilotName string) error {
	c, err := a.client(ref.installation)
	if err != nil {
		return err
	}
	ok, err := a.canWrite(ctx, c, ref.owner(), ref.name(), sender)
	if err != nil {
		return err
	}
	if !ok {
		return a.deny(ctx, c, ref, sender, "label it `"+defaultLabel+"` for you")
	}
	cfg, err := a.repoConfig(ctx, c, ref.owner(), ref.name(), ref.repo.GetDefaultBranch())
	var ce *configError
	if errors.As(err, &ce) {
		return a.reply(ctx, c, ref, ce.comment())
	}
	if err != nil {
		return err
	}
	repo := store.GitHubRepository{ID: ref.repo.GetID(), InstallationID: ref.installation, FullName: ref.repo.GetFullName()}
	// The event proves the repository belongs to the installation, even if
	// its installation_repositories delivery has not been processed yet.
	if err := a.store.AddGitHubRepositories(ctx, ref.installation, []store.GitHubRepository{repo}, nil, false); err != nil {
		return err
	}
	mission, err := a.store.EnsureGitHubMission(ctx, ref.fleet, store.MissionSeed{Repository: repo,
		CloneURL: ref.repo.GetCloneURL(), DefaultBranch: ref.repo.GetDefaultBranch(),
		BranchPrefix: cfg.BranchPrefix, Reviewers: cfg.Reviewers})
	if err != nil {
		return err
	}
	if pilotName == "" {
		pilotName = cfg.Pilot
	}
	pilot, why, err := a.pickPilot(ctx, ref.fleet, pilotName, mission)
	if err != nil {
		return err
	}
	if pilot == nil {
		return a.reply(ctx, c, ref, why)
	}
	issue, err := a.fetchIssue(ctx, c, ref.owner(), ref.name(), ref.number)
	if err != nil {
		return err
	}
	id, err := a.store.UpsertGitHubIssue(ctx, store.GitHubIssue{FleetID: ref.fleet, InstallationID: ref.installation,
		RepositoryID: repo.ID, Repository: repo.FullName, Number: ref.number, URL: ref.url,
		TriggeredBy: sender, RoverTags: cfg.Tags})
	if err != nil {
		return err
	}
	return a.store.WithGitHubIssue(ctx, ref.fleet, id, func(gi *store.GitHubIssue) error {
		if err := a.dispatch(ctx, gi, mission, *pilot, issue, ref.once("run")); err != nil {
			return err
		}
		if _, _, err := c.rest.Reactions.CreateIssueReaction(ctx, ref.owner(), ref.name(), ref.number, "eyes"); err != nil {
			return fmt.Errorf("react to %s#%d: %w", ref.repo.GetFullName(), ref.number, err)
		}
		return a.sync(ctx, c, gi)
	})
}

// dispatch makes the issue's operation, assigned to the pilot, or queues a
// fresh run of the existing one when none is active, once for the request
// key once.
func (a *App) dispatch(ctx context.Context, gi *store.GitHubIssue, mission app.Mission, pilot app.Pilot, issue issueContext, once string) error {
	if gi.OperationID == nil {
		id, err := a.store.FindOperationIDByIssueURL(ctx, gi.FleetID, gi.URL)
		if err == nil {
			gi.OperationID = &id
		} else if !app.IsCode(err, app.ENotFound) {
			return err
		}
	}
	if gi.OperationID == nil {
		op, err := a.store.CreateOperation(ctx, gi.FleetID, store.OperationInput{MissionID: mission.ID,
			Title: issue.Title, Body: issue.body(a.botLogin(ctx)), IssueURL: gi.URL,
			AssigneeType: "pilot", AssigneeID: &pilot.ID, Once: once})
		if err != nil {
			return fmt.Errorf("create the operation of %s: %w", gi.URL, err)
		}
		gi.OperationID = &op.ID
		return nil
	}
	op, err := a.store.FindOperation(ctx, gi.FleetID, *gi.OperationID)
	if err != nil {
		return err
	}
	active := op.Status == app.StatusQueued || op.Status == app.StatusRunning
	if !active && (op.AssigneeType != "pilot" || op.AssigneeID == nil || *op.AssigneeID != pilot.ID) {
		_, err = a.store.UpdateOperation(ctx, gi.FleetID, op.ID, store.OperationPatch{Assign: true, AssigneeType: "pilot", AssigneeID: &pilot.ID, Once: once})
		return err
	}
	// Already on it (a run active) is an answer too, recorded with the key
	// by Retry: a second attempt after that run must not start another.
	_, err = a.store.Retry(ctx, gi.FleetID, op.ID, once)
	if app.IsCode(err, app.EConflict) {
		return nil
	}
	return err
}

// pickPilot resolves the pilot to run an issue: the one named (by the
// label, a command or .github/ufo.yml), else the mission's default. With
// none, why says what to do, fit to post.
func (a *App) pickPilot(ctx context.Context, fleet, name string, m app.Mission) (p *app.Pilot, why string, err error) {
	var found app.Pilot
	switch {
	case name != "":
		found, err = a.store.FindPilot(ctx, fleet, name)
	case m.DefaultPilotID != nil:
		found, err = a.store.FindPilot(ctx, fleet, *m.DefaultPilotID)
	default:
		err = app.Errorf(app.ENotFound, "no pilot")
	}
	if err == nil {
		return &found, "", nil
	}
	if !app.IsCode(err, app.ENotFound) {
		return nil, "", err
	}
	pilots, err := a.store.Pilots(ctx, fleet)
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(pilots))
	for _, p := range pilots {
		names = append(names, "`"+p.Name+"`")
	}
	list := "this fleet has no pilots yet"
	if len(names) > 0 {
		list = "this fleet's pilots: " + strings.Join(names, ", ")
	}
	if name != "" {
		return nil, fmt.Sprintf("There is no pilot named `%s` (%s).", name, list), nil
	}
	return nil, fmt.Sprintf("UFO does not know which pilot should take this: label it `%s:<pilot>` (%s), set `pilot:` in `%s`, or give the mission %s a default pilot.",
		defaultLabel, list, ConfigPath, m.Key), nil
}

// issueContext is an issue with its discussion.
type issueContext struct {
	Title    string
	Body     string
	Comments []issueComment
}

type issueComment struct {
	Author string
	Body   string
}

// body is the operation's body: the issue's, then its comments as context
// (leaving out UFO's own comments and commands).
func (ic issueContext) body(bot string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(ic.Body))
	first := true
	for _, c := range ic.Comments {
		// GraphQL names a bot user without the "[bot]" REST adds.
		if (bot != "" && (strings.EqualFold(c.Author, bot) || strings.EqualFold(c.Author+"[bot]", bot))) ||
			strings.Contains(c.Body, markerPrefix) {
			continue
		}
		if _, isCmd := command.FindInComment(c.Body); isCmd {
			continue
		}
		if first {
			b.WriteString("\n\nComments on the issue:\n")
			first = false
		}
		fmt.Fprintf(&b, "\n@%s wrote:\n%s\n", c.Author, strings.TrimSpace(c.Body))
	}
	return strings.TrimSpace(b.String())
}

// fetchIssue reads an issue with its first 100 comments in one GraphQL
// query.
func (a *App) fetchIssue(ctx context.Context, c *installation, owner, name string, number int) (issueContext, error) {
	var q struct {
		Repository struct {
			Issue struct {
				Title    string
				Body     string
				Comments struct {
					Nodes []struct {
						Author struct{ Login string }
						Body   string
					}
				} `graphql:"comments(first: 100)"`
			} `graphql:"issue(number: $number)"`
		} `graphql:"repository(owner: $owner, name: $name)"`
	}
	vars := map[string]any{"owner": githubv4.String(owner), "name": githubv4.String(name), "number": githubv4.Int(int32(number))}
	if err := c.gql.Query(ctx, &q, vars); err != nil {
		return issueContext{}, fmt.Errorf("read %s/%s#%d with its comments: %w", owner, name, number, err)
	}
	is := q.Repository.Issue
	out := issueContext{Title: is.Title, Body: is.Body}
	for _, n := range is.Comments.Nodes {
		out.Comments = append(out.Comments, issueComment{Author: n.Author.Login, Body: n.Body})
	}
	return out, nil
}

// cancelIssue cancels the active run of the issue's operation, if any.
func (a *App) cancelIssue(ctx context.Context, ref issueRef, why string) error {
	gi, err := a.store.FindGitHubIssue(ctx, ref.fleet, ref.repo.GetID(), ref.number)
	if app.IsCode(err, app.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := a.client(ref.installation)
	if err != nil {
		return err
	}
	return a.store.WithGitHubIssue(ctx, ref.fleet, gi.ID, func(gi *store.GitHubIssue) error {
		if gi.OperationID == nil {
			return nil
		}
		if _, err := a.cancelActive(ctx, gi.FleetID, *gi.OperationID); err != nil {
			return err
		}
		a.log.Info("github: canceled the active run", "issue", gi.URL, "why", why)
		return a.sync(ctx, c, gi)
	})
}

// cancelActive cancels an operation's active run and reports whether there
// was one.
func (a *App) cancelActive(ctx context.Context, fleet, opID string) (bool, error) {
	run, err := a.lastRun(ctx, fleet, opID)
	if err != nil || run == nil {
		return false, err
	}
	if run.Status != app.RunQueued && run.Status != app.RunClaimed && run.Status != app.RunRunning {
		return false, nil
	}
	_, err = a.store.CancelRun(ctx, fleet, run.ID)
	if app.IsCode(err, app.EConflict) {
		return false, nil // it ended meanwhile
	}
	return err == nil, err
}

// canWrite reports whether login may push to the repository (GitHub's
// "maintain" role reports write).
func (a *App) canWrite(ctx context.Context, c *installation, owner, name, login string) (bool, error) {
	if login == "" {
		return false, nil
	}
	p, _, err := c.rest.Repositories.GetPermissionLevel(ctx, owner, name, login)
	if status(err) == 404 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s's permission on %s/%s: %w", login, owner, name, err)
	}
	switch p.GetPermission() {
	case "admin", "write":
		return true, nil
	}
	return false, nil
}

// comment posts a rendered template on an issue.
func (a *App) comment(ctx context.Context, c *installation, ref issueRef, tmpl string, data any) error {
	body, err := a.tmpl.render(tmpl, data)
	if err != nil {
		return err
	}
	if _, _, err := c.rest.Issues.CreateComment(ctx, ref.owner(), ref.name(), ref.number, gh.IssueCommentRequest{Body: body}); err != nil {
		return fmt.Errorf("comment on %s#%d: %w", ref.repo.GetFullName(), ref.number, err)
	}
	return nil
}

// deny answers someone without write access who asked for work, once per
// person and issue: asking again gets no second comment.
func (a *App) deny(ctx context.Context, c *installation, ref issueRef, login, what string) error {
	found, err := a.findComment(ctx, c, ref.owner(), ref.name(), ref.number, marker("denied", login))
	if err != nil || found != 0 {
		return err
	}
	return a.comment(ctx, c, ref, "denied.md", map[string]string{"Login": login, "Repository": ref.repo.GetFullName(), "What": what})
}

// reply posts a short text on an issue; an answer to a comment goes
// through answer instead.
func (a *App) reply(ctx context.Context, c *installation, ref issueRef, text string) error {
	return a.comment(ctx, c, ref, "reply.md", map[string]string{"Text": text, "To": ""})
}

// replyUnlinked tells an issue's readers that the installation is not
// linked to a fleet yet, and where an admin links it.
func (a *App) replyUnlinked(ctx context.Context, ref issueRef) error {
	c, err := a.client(ref.installation)
	if err != nil {
		return err
	}
	return a.reply(ctx, c, ref, a.unlinkedNotice())
}

func (a *App) unlinkedNotice() string {
	// The link names no installation: the setup page shows the person who
	// opens it the installations their GitHub account can access.
	return fmt.Sprintf("This installation of UFO is not linked to a fleet yet, so nothing will run. A fleet admin who can access it on GitHub can link it at %s, then add the label again.",
		a.setupURL())
}
