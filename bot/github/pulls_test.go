package github_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// succeedRun has the rover claim, start and succeed the next run with
// files written.
func (r *fakeRover) succeedRun(files map[string]string) {
	r.e.t.Helper()
	cl := r.claim()
	r.start(cl)
	r.succeed(cl, files, "Done.")
}

// closePull closes pull request n on the fake GitHub, merged or not, and
// delivers its pull_request.closed.
func (e *env) closePull(n int, merged bool) {
	e.t.Helper()
	if merged {
		e.gh.MergePull(repoName, n)
	} else {
		e.gh.ClosePull(repoName, n)
	}
	p := example(e.t, "pull_request", "closed", "installation")
	p.set("number", n).set("pull_request.number", n).set("pull_request.merged", merged).set("sender.login", owner)
	e.deliver("pull_request", p)
}

// reopenPull reopens pull request n, as a person would, and delivers its
// pull_request.reopened: the recorded examples have none, so it is the
// closed one edited to the reopened event's schema (@octokit/webhooks-types
// PullRequestReopenedEvent: state open, closed_at, merged_at and merged_by
// null).
func (e *env) reopenPull(n int) {
	e.t.Helper()
	e.gh.ReopenPull(repoName, n)
	p := example(e.t, "pull_request", "closed", "installation")
	p.set("action", "reopened").set("number", n).set("pull_request.number", n).set("pull_request.state", "open")
	p.set("pull_request.closed_at", nil).set("pull_request.merged_at", nil).set("pull_request.merged", false)
	p.set("pull_request.merged_by", nil).set("sender.login", owner)
	e.deliver("pull_request", p)
}

func (e *env) pullURL(n int) string { return fmt.Sprintf("%s/%s/pull/%d", e.gh.Web.URL, repoName, n) }

// inReviewOn fails unless the operation is in review on the pull request
// at url, and the status comment points there and to no other.
func (e *env) inReviewOn(url string) {
	e.t.Helper()
	e.settle()
	if op := e.operations()[0]; op.Status != "in_review" || op.PRURL != url {
		e.t.Fatalf("operation = %+v, want in_review on %s", op, url)
	}
	status := e.statusComment(1)
	if !strings.Contains(status.Body, "succeeded") || !strings.Contains(status.Body, url) || strings.Count(status.Body, "/pull/") != 1 {
		e.t.Fatalf("status comment = %q, want a success pointing to %s", status.Body, url)
	}
}

// TestClosedPullRequestIsReopened: work done after UFO's pull request was
// closed unmerged reopens it and asks for review there again.
func TestClosedPullRequestIsReopened(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	rv := e.enrollRover("rover-1")
	rv.succeedRun(map[string]string{"a.txt": "a\n"})
	e.waitStatus(1, e.pullURL(2))
	e.settle()
	e.closePull(2, false)
	e.waitStatus(1, "was canceled")

	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	rv.succeedRun(map[string]string{"b.txt": "b\n"})
	e.waitStatus(1, "succeeded")
	e.inReviewOn(e.pullURL(2))
	pulls := e.gh.Pulls(repoName)
	if len(pulls) != 1 || pulls[0].State != "open" || len(pulls[0].Requested) != 2 || !slices.Equal(pulls[0].Requested[1], []string{owner}) {
		t.Fatalf("pull requests = %+v, want #2 reopened with a second review request", pulls)
	}
	if n := e.gh.CountCalls("pulls/update", 200); n != 1 {
		t.Fatalf("pulls/update answered 200 %d times, want once", n)
	}
}

// TestClosedPullRequestWithDeletedBranch: when GitHub will not reopen the
// closed pull request (its branch was deleted, then pushed anew), the new
// work gets a pull request of its own, and the old one is left alone.
func TestClosedPullRequestWithDeletedBranch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	op := e.operations()[0]
	rv := e.enrollRover("rover-1")
	rv.succeedRun(map[string]string{"a.txt": "a\n"})
	e.waitStatus(1, e.pullURL(2))
	e.settle()
	e.closePull(2, false)
	e.gh.DeleteBranch(repoName, op.Branch)
	e.waitStatus(1, "was canceled")

	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	rv.succeedRun(map[string]string{"b.txt": "b\n"})
	e.waitStatus(1, e.pullURL(3))
	e.inReviewOn(e.pullURL(3))
	pulls := e.gh.Pulls(repoName)
	if len(pulls) != 2 || pulls[0].State != "closed" || len(pulls[0].Requested) != 1 ||
		pulls[1].Number != 3 || pulls[1].State != "open" || pulls[1].Head != op.Branch || !slices.Equal(slices.Concat(pulls[1].Requested...), []string{owner}) {
		t.Fatalf("pull requests = %+v, want #2 left closed and #3 open with one review request", pulls)
	}
	if n := e.gh.CountCalls("pulls/update", 422); n != 1 {
		t.Fatalf("pulls/update answered 422 %d times, want once (GitHub refusing to reopen #2)", n)
	}
	var run runJSON
	e.admin.Call("GET", "/api/runs/"+e.runs(op.ID)[0].ID+"?fleet="+e.fleet, nil, 200, &run)
	if run.Artifact == nil || run.Artifact.PRURL != e.pullURL(3) {
		t.Fatalf("last run = %+v, want its artifact to link #3", run)
	}
	// #2 is no longer the operation's: its events change nothing.
	e.closePull(2, false)
	e.inReviewOn(e.pullURL(3))
}

// TestMergedPullRequestThenNewWork: work done after UFO's pull request was
// merged goes to a new pull request, with the new commits only.
func TestMergedPullRequestThenNewWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	op := e.operations()[0]
	rv := e.enrollRover("rover-1")
	rv.succeedRun(map[string]string{"a.txt": "a\n"})
	e.waitStatus(1, e.pullURL(2))
	e.settle()
	e.closePull(2, true)
	e.waitStatus(1, "is done")

	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	rv.succeedRun(map[string]string{"b.txt": "b\n"})
	e.waitStatus(1, e.pullURL(3))
	e.inReviewOn(e.pullURL(3))
	pulls := e.gh.Pulls(repoName)
	if len(pulls) != 2 || !pulls[0].Merged || len(pulls[0].Requested) != 1 ||
		pulls[1].Number != 3 || pulls[1].State != "open" || pulls[1].Head != op.Branch || !slices.Equal(slices.Concat(pulls[1].Requested...), []string{owner}) {
		t.Fatalf("pull requests = %+v, want #2 merged and #3 open with one review request", pulls)
	}
	if n := e.gh.CountCalls("pulls/update", 0); n != 0 {
		t.Fatalf("pulls/update called %d times: a merged pull request cannot be reopened", n)
	}
	if n := e.gh.CommitCount(repoName, "master", op.Branch); n != 1 {
		t.Fatalf("the new pull request has %d commits, want the new one only", n)
	}
}

// TestReopenedPullRequestIsInReviewAgain: a person reopening the pull
// request whose closing canceled the operation puts it back in review;
// later work asks for review on it without reopening it again.
func TestReopenedPullRequestIsInReviewAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("issues", labeled(t, "ufo:sh", owner))
	rv := e.enrollRover("rover-1")
	rv.succeedRun(map[string]string{"a.txt": "a\n"})
	e.waitStatus(1, e.pullURL(2))
	e.settle()
	e.closePull(2, false)
	e.waitStatus(1, "was canceled")
	e.reopenPull(2)
	e.waitStatus(1, "succeeded")
	e.inReviewOn(e.pullURL(2))

	e.deliver("issue_comment", e.comment(1, false, owner, "/ufo retry"))
	rv.succeedRun(map[string]string{"b.txt": "b\n"})
	eventually(t, 15*time.Second, func() error {
		if p := e.gh.Pulls(repoName); len(p) != 1 || len(p[0].Requested) != 2 {
			return errorf("pull requests = %+v, want #2 with a second review request", p)
		}
		return nil
	})
	e.inReviewOn(e.pullURL(2))
	if n := e.gh.CountCalls("pulls/update", 0); n != 0 {
		t.Fatalf("pulls/update called %d times on a pull request already open", n)
	}
}
