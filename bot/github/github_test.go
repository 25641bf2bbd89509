package github_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot/github"
)

// TestSignatureVector checks GitHub's published example: secret "It's a
// Secret to Everybody", body "Hello, World!".
func TestSignatureVector(t *testing.T) {
	t.Parallel()
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	body := []byte("Hello, World!")
	if !github.ValidSignature(secret, body, want) {
		t.Fatal("GitHub's example signature does not verify")
	}
	for _, bad := range []string{
		"", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
		"sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", "sha256=zz", "sha256=",
	} {
		if github.ValidSignature(secret, body, bad) {
			t.Errorf("signature %q verifies", bad)
		}
	}
	if github.ValidSignature(secret, []byte("Hello, World?"), want) {
		t.Error("the signature verifies another body")
	}
	if github.ValidSignature("It's a secret to everybody", body, want) {
		t.Error("the signature verifies under another secret")
	}
}

// TestBadSignatureStoresNothing: a delivery whose signature does not hold
// is refused with 401 and leaves no trace.
func TestBadSignatureStoresNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := e.body(labeled(t, "ufo", owner))
	for _, sig := range []string{"", "sha256=" + strings.Repeat("0", 64), sign(append(body, ' '))} {
		status, out := e.post("issues", "bad-"+sig, body, sig)
		if status != http.StatusUnauthorized || !strings.Contains(string(out), `"unauthorized"`) {
			t.Fatalf("signature %q: %d %s, want 401", sig, status, out)
		}
	}
	var jobs int
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM jobs WHERE kind = $1`, github.KindDelivery).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 0 || len(e.operations()) != 0 || len(e.gh.Comments(repoName, 1, "")) != 0 {
		t.Fatalf("a refused delivery left %d jobs, %d operations, comments %v", jobs, len(e.operations()), e.gh.Comments(repoName, 1, ""))
	}
}

// TestIssueToMergedPullRequest is the whole story: a labeled issue becomes
// an operation with 👀 and one status comment, edited in place as a rover
// runs it; success opens a pull request that closes the issue and asks the
// labeler for review; a review asking for changes runs again on the same
// branch and asks again; the merge makes the operation done.
func TestIssueToMergedPullRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.gh.AddComment(repoName, 1, "hubot", "It is on line 3 of the README.")
	e.deliver("issues", labeled(t, "ufo:sh", owner))

	ops := e.operations()
	if len(ops) != 1 {
		t.Fatalf("operations = %+v, want 1; comments %+v", ops, e.gh.Comments(repoName, 1, ""))
	}
	op := ops[0]
	if op.Code != "HW-1" || op.Title != "Spelling error in the README file" || op.Status != "queued" ||
		op.IssueURL != e.gh.Web.URL+"/"+repoName+"/issues/1" || !strings.Contains(op.Body, "two 't's") ||
		!strings.Contains(op.Body, "@hubot wrote:\nIt is on line 3") || op.Assignee == nil || *op.Assignee != e.pilot {
		t.Fatalf("operation = %+v", op)
	}
	if r := e.gh.Reactions(); len(r) != 1 || r[0].Content != "eyes" || r[0].Issue != 1 {
		t.Fatalf("reactions = %+v, want one 👀 on the issue", r)
	}
	e.waitStatus(1, "is queued for pilot `sh`")

	rv := e.enrollRover("rover-1")
	cl := rv.claim()
	if cl.Repository == nil || cl.Repository.CloneURL != e.gh.Web.URL+"/"+repoName+".git" || cl.Repository.BaseBranch != "master" ||
		cl.Repository.Username != "x-access-token" || !strings.HasPrefix(cl.Repository.Password, "ghs_") || cl.Branch != op.Branch {
		t.Fatalf("claim's repository = %+v, branch %q", cl.Repository, cl.Branch)
	}
	e.checkRoverToken(cl.Repository.Password)
	e.waitStatus(1, "was claimed by rover `rover-1`")
	rv.start(cl)
	e.waitStatus(1, "is running: pilot `sh` on rover `rover-1`")
	rv.succeed(cl, map[string]string{"README.md": "# Hello-World\n\nCommit, not committ.\n"}, "Fixed the spelling of 'commit' in the README.")

	status := e.waitStatus(1, "succeeded on rover `rover-1`")
	pulls := e.gh.Pulls(repoName)
	if len(pulls) != 1 {
		t.Fatalf("pull requests = %+v, want 1", pulls)
	}
	pr := pulls[0]
	if pr.Head != op.Branch || pr.Base != "master" || pr.Title != "Spelling error in the README file (HW-1)" ||
		!strings.HasPrefix(pr.Body, "Closes #1\n") || !strings.Contains(pr.Body, "Fixed the spelling of 'commit'") ||
		!strings.Contains(pr.Body, "| 1 file, +3 −1 |") || !strings.Contains(pr.Body, "$0.0421") ||
		!strings.Contains(pr.Body, publicURL+"/operations/HW-1?fleet="+e.fleet) {
		t.Fatalf("pull request = %+v", pr)
	}
	if len(pr.Requested) != 1 || !slices.Equal(pr.Requested[0], []string{owner}) {
		t.Fatalf("review requests = %v, want one from %s", pr.Requested, owner)
	}
	prURL := e.gh.Web.URL + "/" + repoName + "/pull/2"
	if !strings.Contains(status.Body, prURL) || status.Edits < 3 {
		t.Fatalf("status comment = %+v, want the PR link after at least 3 edits", status)
	}
	e.settle()
	if got := e.operations()[0]; got.Status != "in_review" || got.PRURL != prURL {
		t.Fatalf("operation after success = %+v", got)
	}
	var run runJSON
	e.admin.Call("GET", "/api/runs/"+cl.RunID+"?fleet="+e.fleet, nil, 200, &run)
	if run.Artifact == nil || run.Artifact.PRURL != prURL {
		t.Fatalf("run = %+v, want its artifact to link the PR", run)
	}

	// A review asking for changes: a follow-up run on the same branch.
	e.gh.SetPermission(repoName, "reviewer", "write")
	e.gh.AddReviewComments(77, payload{"id": 101, "pull_request_review_id": 77, "path": "README.md", "line": 3,
		"original_line": 3, "body": "Say why, too.", "user": map[string]any{"login": "reviewer"}})
	review := example(t, "pull_request_review", "submitted", "installation")
	review.set("review.state", "changes_requested").set("review.body", "Close, but the title line needs the fix too.")
	review.set("review.id", 77).set("review.user.login", "reviewer").set("sender.login", "reviewer")
	review.set("pull_request.number", 2).set("number", 2)
	e.deliver("pull_request_review", review)
	cl2 := rv.claim()
	if !cl2.FollowUp || cl2.Branch != cl.Branch || cl2.SessionID != "session-1" ||
		!strings.Contains(cl2.Prompt, "@reviewer requested changes") || !strings.Contains(cl2.Prompt, "the title line needs the fix") ||
		!strings.Contains(cl2.Prompt, "README.md:3\nSay why, too.") {
		t.Fatalf("follow-up claim = %+v", cl2)
	}
	rv.start(cl2)
	rv.succeed(cl2, map[string]string{"README.md": "# Hello World\n\nCommit, not committ (typo).\n"}, "Fixed the title too.")
	eventually(t, 15*time.Second, func() error {
		if p := e.gh.Pulls(repoName); len(p) != 1 || len(p[0].Requested) != 2 {
			return errorf("pull requests = %+v, want one with a second review request", p)
		}
		return nil
	})
	if p := e.gh.Pulls(repoName)[0]; !slices.Equal(p.Requested[1], []string{"reviewer"}) {
		t.Fatalf("second review request = %v, want the reviewer", p.Requested[1])
	}
	if n := e.gh.CommitCount(repoName, "master", op.Branch); n != 2 {
		t.Fatalf("the branch has %d commits, want 2", n)
	}

	// The merge ends it.
	merged := example(t, "pull_request", "closed", "installation")
	merged.set("number", 2).set("pull_request.number", 2).set("pull_request.merged", true)
	merged.set("pull_request.head.ref", op.Branch)
	e.gh.ClosePull(repoName, 2)
	e.deliver("pull_request", merged)
	e.waitStatus(1, "is done: "+prURL)
	e.settle()
	if got := e.operations()[0]; got.Status != "done" {
		t.Fatalf("operation after merge = %s, want done", got.Status)
	}
	e.statusComment(1)
}

// checkRoverToken: the credential handed to a rover reaches this one
// repository's contents and nothing else.
func (e *env) checkRoverToken(token string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.gh.API.URL+"/repos/"+repoName+"/issues/1/comments", strings.NewReader(`{"body":"hi"}`))
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		e.t.Fatalf("the rover's token commented on the issue: %d, want 403", resp.StatusCode)
	}
}
