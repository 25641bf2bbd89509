package github_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGitHub is GitHub as far as UFO uses it, built to GitHub's documented
// wire formats: the REST calls (each route is checked against
// @octokit/openapi's description in TestFakeRoutesMatchOpenAPI, and answers
// with that description's examples, edited to the fake's state), the
// GraphQL issue query, App JWTs and installation tokens with their
// repository and permission scopes, and repositories served over git smart
// HTTP (git http-backend), so a real git clones and pushes with a token.
//
// API serves REST and GraphQL (like api.github.com); Web serves git (like
// github.com).
type fakeGitHub struct {
	t     testing.TB
	API   *httptest.Server
	Web   *httptest.Server
	AppID int64
	Slug  string
	Key   *rsa.PrivateKey
	root  string // bare repositories: root/<owner>/<name>.git
	git   string // git http-backend

	mu        sync.Mutex
	installs  map[int64]*fakeInstall
	repos     map[string]*fakeRepo // by full name
	tokens    map[string]*fakeToken
	comments  []*fakeComment
	reactions []fakeReaction
	pulls     []*fakePull
	reviews   map[int64][]payload // review id → its comments
	calls     []fakeCall
	limits    map[string]int // operation id → rate-limit answers still to give
	outages   map[string]int // operation id → server errors still to give
	nextID    int64

	// The App's OAuth credentials, and GitHub's user authorization: codes
	// handed out by Authorize and user access tokens traded for them.
	ClientID     string
	ClientSecret string
	codes        map[string]fakeCode
	userTokens   map[string]string // user access token → login
	sessions     map[string]string // user_session cookie → login
	holds        map[string]*fakeHold
}

type fakeInstall struct {
	ID          int64
	Account     string
	AccountType string
}

type fakeRepo struct {
	ID          int64
	Install     int64
	FullName    string
	Default     string
	Dir         string
	Permissions map[string]string // login → admin | write | read
	Issues      map[int]*fakeIssue
	next        int
}

type fakeIssue struct {
	Number int
	Title  string
	Body   string
	User   string
}

type fakeComment struct {
	ID      int64
	Repo    string
	Issue   int
	User    string
	Body    string
	Edits   int
	Deleted bool
}

type fakeReaction struct {
	Repo    string
	Issue   int   // for an issue
	Comment int64 // for a comment
	Content string
	User    string
}

type fakePull struct {
	Number    int
	Repo      string
	Head      string
	Base      string
	Title     string
	Body      string
	User      string
	State     string
	Merged    bool
	Requested [][]string // each review request, in order
	// ClosedAt is the head commit when the pull request was closed, and
	// HeadGone tells that its branch was deleted since: GitHub reopens a
	// closed pull request only while its branch still holds that commit.
	ClosedAt string
	HeadGone bool
}

type fakeToken struct {
	Install int64
	Repos   []int64           // nil: every repository of the installation
	Perms   map[string]string // nil: every permission the App has
	Expires time.Time
}

// fakeCall is one request the API answered.
type fakeCall struct {
	Method, Path, Op string
	Status           int
}

// appPermissions are what the App's manifest asks for.
var appPermissions = map[string]string{"issues": "write", "pull_requests": "write", "contents": "write", "metadata": "read", "members": "read"}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	t.Helper()
	loadFixtures(t)
	key, err := appKey()
	if err != nil {
		t.Fatal(err)
	}
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	f := &fakeGitHub{t: t, AppID: 4242, Slug: "ufo-test", Key: key, root: t.TempDir(),
		git:      filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		installs: map[int64]*fakeInstall{}, repos: map[string]*fakeRepo{}, tokens: map[string]*fakeToken{},
		reviews: map[int64][]payload{}, limits: map[string]int{}, outages: map[string]int{}, nextID: 5000,
		ClientID: "Iv1.8a61f9b3a7aba766", ClientSecret: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b",
		codes: map[string]fakeCode{}, userTokens: map[string]string{}, sessions: map[string]string{}, holds: map[string]*fakeHold{}}
	f.API = httptest.NewServer(http.HandlerFunc(f.serveAPI))
	f.Web = httptest.NewServer(http.HandlerFunc(f.serveWeb))
	t.Cleanup(func() { f.API.Close(); f.Web.Close() })
	return f
}

// appKey is the App's private key, made once per test binary: a 2048-bit
// key takes up to a second to generate.
var appKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// PrivateKeyPEM is the App's private key, as GitHub hands it out.
func (f *fakeGitHub) PrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.Key)})
}

// BotLogin is the App's bot user.
func (f *fakeGitHub) BotLogin() string { return f.Slug + "[bot]" }

// AddInstallation installs the App on an account.
func (f *fakeGitHub) AddInstallation(id int64, account, accountType string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installs[id] = &fakeInstall{ID: id, Account: account, AccountType: accountType}
}

// AddRepo makes a repository of an installation with one commit on its
// default branch holding files.
func (f *fakeGitHub) AddRepo(install, id int64, fullName, defaultBranch string, files map[string]string) *fakeRepo {
	f.t.Helper()
	dir := filepath.Join(f.root, fullName+".git")
	work := f.t.TempDir()
	gitRun(f.t, "", "init", "--quiet", "--bare", "--initial-branch="+defaultBranch, dir)
	gitRun(f.t, dir, "config", "http.receivepack", "true")
	gitRun(f.t, "", "init", "--quiet", "--initial-branch="+defaultBranch, work)
	if files == nil {
		files = map[string]string{}
	}
	if _, ok := files["README.md"]; !ok {
		files["README.md"] = "# " + fullName + "\n"
	}
	for name, text := range files {
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
	gitRun(f.t, work, "add", "--all")
	gitRun(f.t, work, "commit", "--quiet", "-m", "Initial commit")
	gitRun(f.t, work, "push", "--quiet", dir, defaultBranch)
	r := &fakeRepo{ID: id, Install: install, FullName: fullName, Default: defaultBranch, Dir: dir,
		Permissions: map[string]string{}, Issues: map[int]*fakeIssue{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[fullName] = r
	return r
}

// SetPermission gives a login a permission on a repository.
func (f *fakeGitHub) SetPermission(repo, login, perm string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[repo].Permissions[login] = perm
}

// AddIssue opens an issue.
func (f *fakeGitHub) AddIssue(repo string, number int, title, body, user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.repos[repo]
	r.Issues[number] = &fakeIssue{Number: number, Title: title, Body: body, User: user}
	r.next = max(r.next, number)
}

// AddComment is a comment a person wrote on an issue.
func (f *fakeGitHub) AddComment(repo string, issue int, user, body string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.comments = append(f.comments, &fakeComment{ID: f.nextID, Repo: repo, Issue: issue, User: user, Body: body})
	return f.nextID
}

// DeleteComment deletes a comment, as a person on GitHub might.
func (f *fakeGitHub) DeleteComment(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.comments {
		if c.ID == id {
			c.Deleted = true
		}
	}
}

// AddReviewComments records the comments of a review, which
// pulls/list-comments-for-review returns.
func (f *fakeGitHub) AddReviewComments(reviewID int64, comments ...payload) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reviews[reviewID] = append(f.reviews[reviewID], comments...)
}

// RateLimit makes the next n calls of an operation answer 403 with
// Retry-After: 1, as GitHub's secondary rate limit does.
func (f *fakeGitHub) RateLimit(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limits[op] = n
}

// Outage makes the next n calls of an operation answer 500, as GitHub
// does when it has trouble of its own.
func (f *fakeGitHub) Outage(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outages[op] = n
}

// Comments returns the live comments of an issue by a user ("" for all).
func (f *fakeGitHub) Comments(repo string, issue int, user string) []fakeComment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeComment
	for _, c := range f.comments {
		if c.Repo == repo && c.Issue == issue && !c.Deleted && (user == "" || c.User == user) {
			out = append(out, *c)
		}
	}
	return out
}

// Reactions returns the reactions recorded so far.
func (f *fakeGitHub) Reactions() []fakeReaction {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reactions)
}

// Pulls returns the pull requests of a repository.
func (f *fakeGitHub) Pulls(repo string) []fakePull {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakePull
	for _, p := range f.pulls {
		if p.Repo == repo {
			c := *p
			c.Requested = slices.Clone(p.Requested)
			out = append(out, c)
		}
	}
	return out
}

// Calls returns the API calls answered so far.
func (f *fakeGitHub) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CountCalls counts the calls of an operation that answered status (0 for
// any).
func (f *fakeGitHub) CountCalls(op string, status int) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Op == op && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

// Branch returns a branch's head commit in a repository, or "".
func (f *fakeGitHub) Branch(repo, branch string) string {
	f.mu.Lock()
	dir := f.repos[repo].Dir
	f.mu.Unlock()
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// CommitCount counts the commits on branch that base does not have.
func (f *fakeGitHub) CommitCount(repo, base, branch string) int {
	f.mu.Lock()
	dir := f.repos[repo].Dir
	f.mu.Unlock()
	out, err := exec.Command("git", "-C", dir, "rev-list", "--count", base+".."+branch).Output()
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func gitRun(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Octocat", "GIT_AUTHOR_EMAIL=octocat@github.test",
		"GIT_COMMITTER_NAME=Octocat", "GIT_COMMITTER_EMAIL=octocat@github.test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fakeRoute is one REST operation the fake serves.
type fakeRoute struct {
	Method string
	Path   string // as in the OpenAPI description
	Op     string // its operationId
	Auth   string // "jwt", "token" or "" (none)
	Perm   string // "issues:write", …: what an installation token needs
	re     *regexp.Regexp
	serve  func(f *fakeGitHub, w http.ResponseWriter, r *http.Request, p map[string]string, tok *fakeToken)
}

// fakeRoutes lists what the fake serves; TestFakeRoutesMatchOpenAPI checks
// each against @octokit/openapi.
var fakeRoutes = compileRoutes([]fakeRoute{
	{Method: "GET", Path: "/app", Op: "apps/get-authenticated", Auth: "jwt", serve: (*fakeGitHub).getApp},
	{Method: "GET", Path: "/app/installations/{installation_id}", Op: "apps/get-installation", Auth: "jwt", serve: (*fakeGitHub).getInstallation},
	{Method: "POST", Path: "/app/installations/{installation_id}/access_tokens", Op: "apps/create-installation-access-token", Auth: "jwt", serve: (*fakeGitHub).createToken},
	{Method: "GET", Path: "/user/installations", Op: "apps/list-installations-for-authenticated-user", Auth: "user", serve: (*fakeGitHub).listUserInstallations},
	{Method: "GET", Path: "/installation/repositories", Op: "apps/list-repos-accessible-to-installation", Auth: "token", Perm: "metadata:read", serve: (*fakeGitHub).listInstallationRepos},
	{Method: "GET", Path: "/repos/{owner}/{repo}/collaborators/{username}/permission", Op: "repos/get-collaborator-permission-level", Auth: "token", Perm: "metadata:read", serve: (*fakeGitHub).getPermission},
	{Method: "GET", Path: "/repos/{owner}/{repo}/contents/{path}", Op: "repos/get-content", Auth: "token", Perm: "contents:read", serve: (*fakeGitHub).getContent},
	{Method: "POST", Path: "/repos/{owner}/{repo}/issues/{issue_number}/reactions", Op: "reactions/create-for-issue", Auth: "token", Perm: "issues:write", serve: (*fakeGitHub).reactToIssue},
	{Method: "POST", Path: "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", Op: "reactions/create-for-issue-comment", Auth: "token", Perm: "issues:write", serve: (*fakeGitHub).reactToComment},
	{Method: "GET", Path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", Op: "issues/list-comments", Auth: "token", Perm: "issues:read", serve: (*fakeGitHub).listComments},
	{Method: "POST", Path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", Op: "issues/create-comment", Auth: "token", Perm: "issues:write", serve: (*fakeGitHub).createComment},
	{Method: "PATCH", Path: "/repos/{owner}/{repo}/issues/comments/{comment_id}", Op: "issues/update-comment", Auth: "token", Perm: "issues:write", serve: (*fakeGitHub).updateComment},
	{Method: "GET", Path: "/repos/{owner}/{repo}/pulls", Op: "pulls/list", Auth: "token", Perm: "pull_requests:read", serve: (*fakeGitHub).listPulls},
	{Method: "POST", Path: "/repos/{owner}/{repo}/pulls", Op: "pulls/create", Auth: "token", Perm: "pull_requests:write", serve: (*fakeGitHub).createPull},
	{Method: "PATCH", Path: "/repos/{owner}/{repo}/pulls/{pull_number}", Op: "pulls/update", Auth: "token", Perm: "pull_requests:write", serve: (*fakeGitHub).updatePull},
	{Method: "POST", Path: "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", Op: "pulls/request-reviewers", Auth: "token", Perm: "pull_requests:write", serve: (*fakeGitHub).requestReviewers},
	{Method: "GET", Path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments", Op: "pulls/list-comments-for-review", Auth: "token", Perm: "pull_requests:read", serve: (*fakeGitHub).listReviewComments},
})

func compileRoutes(rs []fakeRoute) []fakeRoute {
	for i := range rs {
		pat := regexp.QuoteMeta(rs[i].Path)
		pat = regexp.MustCompile(`\\\{path\\\}`).ReplaceAllString(pat, `(?P<path>.+)`)
		pat = regexp.MustCompile(`\\\{(\w+)\\\}`).ReplaceAllString(pat, `(?P<$1>[^/]+)`)
		rs[i].re = regexp.MustCompile("^" + pat + "$")
	}
	return rs
}

type apiError struct {
	status int
	body   any
}

func (f *fakeGitHub) serveAPI(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	op := f.route(rec, r)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Op: op, Status: rec.status})
	f.mu.Unlock()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

// route dispatches one API request and returns its operation id.
func (f *fakeGitHub) route(w http.ResponseWriter, r *http.Request) string {
	if r.Method == "POST" && r.URL.Path == "/graphql" {
		f.graphql(w, r)
		return "graphql"
	}
	for _, rt := range fakeRoutes {
		m := rt.re.FindStringSubmatch(r.URL.Path)
		if m == nil || rt.Method != r.Method {
			continue
		}
		p := map[string]string{}
		for i, name := range rt.re.SubexpNames() {
			if name != "" {
				p[name], _ = url.PathUnescape(m[i])
			}
		}
		f.mu.Lock()
		limited, down := f.limits[rt.Op] > 0, f.outages[rt.Op] > 0
		if limited {
			f.limits[rt.Op]--
		} else if down {
			f.outages[rt.Op]--
		}
		f.mu.Unlock()
		if !limited && down {
			writeJSON(w, 500, map[string]string{"message": "Server Error"})
			return rt.Op
		}
		if limited {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 403, map[string]string{"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
				"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
			return rt.Op
		}
		f.hold(rt.Op)
		var tok *fakeToken
		switch rt.Auth {
		case "user":
			login, ok := f.checkUserToken(r)
			if !ok {
				writeJSON(w, 401, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
				return rt.Op
			}
			p["login"] = login
		case "jwt":
			if err := f.checkJWT(r); err != nil {
				writeJSON(w, 401, map[string]string{"message": "A JSON web token could not be decoded: " + err.Error()})
				return rt.Op
			}
		case "token":
			var e *apiError
			if tok, e = f.checkToken(r, p["owner"], p["repo"], rt.Perm); e != nil {
				writeJSON(w, e.status, e.body)
				return rt.Op
			}
		}
		rt.serve(f, w, r, p, tok)
		return rt.Op
	}
	notFound(w)
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, 404, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

func validationFailed(w http.ResponseWriter, resource, message string) {
	writeJSON(w, 422, map[string]any{"message": "Validation Failed",
		"errors":            []map[string]string{{"resource": resource, "code": "custom", "message": message}},
		"documentation_url": "https://docs.github.com/rest"})
}

// checkJWT verifies an App JWT: RS256 by the App's key, issued by its id,
// not expired, lasting at most ten minutes.
func (f *fakeGitHub) checkJWT(r *http.Request) error {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return fmt.Errorf("no bearer token")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	var head struct{ Alg string }
	var claims struct {
		Iss string `json:"iss"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
	}
	for i, v := range []any{&head, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			return fmt.Errorf("malformed part %d", i)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || head.Alg != "RS256" {
		return fmt.Errorf("not RS256")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.Key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("bad signature")
	}
	now := time.Now().Unix()
	if claims.Iss != strconv.FormatInt(f.AppID, 10) || claims.Exp <= now || claims.Iat > now+60 || claims.Exp-claims.Iat > 600 {
		return fmt.Errorf("bad claims %+v", claims)
	}
	return nil
}

// checkToken checks an installation token against the repository a route
// names (if any) and the permission it needs.
func (f *fakeGitHub) checkToken(r *http.Request, owner, repo, perm string) (*fakeToken, *apiError) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "token ")
	if !ok {
		raw, ok = strings.CutPrefix(h, "Bearer ")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := f.tokens[raw]
	if !ok || tok == nil || time.Now().After(tok.Expires) {
		return nil, &apiError{401, map[string]string{"message": "Bad credentials"}}
	}
	if owner != "" {
		rp := f.repos[owner+"/"+repo]
		if rp == nil || rp.Install != tok.Install || (tok.Repos != nil && !slices.Contains(tok.Repos, rp.ID)) {
			return nil, &apiError{404, map[string]string{"message": "Not Found"}}
		}
	}
	if perm != "" && !tok.allows(perm) {
		return nil, &apiError{403, map[string]string{"message": "Resource not accessible by integration"}}
	}
	return tok, nil
}

// allows reports whether the token grants perm ("issues:write").
func (t *fakeToken) allows(perm string) bool {
	name, level, _ := strings.Cut(perm, ":")
	perms := t.Perms
	if perms == nil {
		perms = appPermissions
	}
	have := perms[name]
	if name == "metadata" && len(perms) > 0 {
		have = "read" // every token can read metadata
	}
	return have == "write" || (have == "read" && level == "read")
}

func (f *fakeGitHub) getApp(w http.ResponseWriter, r *http.Request, _ map[string]string, _ *fakeToken) {
	v := openAPIExample(f.t, "integration").(map[string]any)
	v["id"], v["slug"], v["name"] = f.AppID, f.Slug, "UFO test"
	writeJSON(w, 200, v)
}

func (f *fakeGitHub) installationJSON(in *fakeInstall) map[string]any {
	v := openAPIExample(f.t, "base-installation").(map[string]any)
	v["id"] = in.ID
	v["app_id"] = f.AppID
	v["app_slug"] = f.Slug
	acct := v["account"].(map[string]any)
	acct["login"], acct["type"] = in.Account, in.AccountType
	v["suspended_at"] = nil
	return v
}

func (f *fakeGitHub) getInstallation(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	id, _ := strconv.ParseInt(p["installation_id"], 10, 64)
	f.mu.Lock()
	in := f.installs[id]
	f.mu.Unlock()
	if in == nil {
		notFound(w)
		return
	}
	writeJSON(w, 200, f.installationJSON(in))
}

func (f *fakeGitHub) createToken(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	id, _ := strconv.ParseInt(p["installation_id"], 10, 64)
	var in struct {
		RepositoryIDs []int64           `json:"repository_ids"`
		Repositories  []string          `json:"repositories"`
		Permissions   map[string]string `json:"permissions"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil && err != io.EOF {
			validationFailed(w, "Installation", "malformed body")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.installs[id] == nil {
		notFound(w)
		return
	}
	tok := &fakeToken{Install: id, Expires: time.Now().Add(time.Hour)}
	var repos []any
	for _, rp := range f.repos {
		if rp.Install != id {
			continue
		}
		if in.RepositoryIDs != nil || in.Repositories != nil {
			if !slices.Contains(in.RepositoryIDs, rp.ID) && !slices.Contains(in.Repositories, strings.SplitN(rp.FullName, "/", 2)[1]) {
				continue
			}
			tok.Repos = append(tok.Repos, rp.ID)
		}
		repos = append(repos, f.repoJSON(rp))
	}
	if (in.RepositoryIDs != nil || in.Repositories != nil) && len(tok.Repos) != len(in.RepositoryIDs)+len(in.Repositories) {
		writeJSON(w, 422, map[string]string{"message": "There is at least one repository that does not exist or is not accessible to the parent installation."})
		return
	}
	perms := appPermissions
	if in.Permissions != nil {
		for k, v := range in.Permissions {
			if have := appPermissions[k]; have == "" || (have == "read" && v == "write") {
				writeJSON(w, 422, map[string]string{"message": "The permissions requested are not granted to this installation."})
				return
			}
		}
		tok.Perms, perms = in.Permissions, in.Permissions
	}
	raw := "ghs_" + randomHex(18)
	f.tokens[raw] = tok
	v := openAPIExample(f.t, "installation-token").(map[string]any)
	v["token"], v["expires_at"], v["permissions"] = raw, tok.Expires.UTC().Format(time.RFC3339), perms
	if tok.Repos == nil {
		v["repository_selection"] = "all"
		delete(v, "repositories")
	} else {
		v["repository_selection"], v["repositories"] = "selected", repos
	}
	writeJSON(w, 201, v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// repoJSON is a repository object; caller holds f.mu.
func (f *fakeGitHub) repoJSON(rp *fakeRepo) map[string]any {
	v := openAPIExample(f.t, "repository-paginated-2").(map[string]any)["repositories"].([]any)[0].(map[string]any)
	owner, name, _ := strings.Cut(rp.FullName, "/")
	v["id"], v["name"], v["full_name"], v["default_branch"] = rp.ID, name, rp.FullName, rp.Default
	v["html_url"], v["clone_url"] = f.Web.URL+"/"+rp.FullName, f.Web.URL+"/"+rp.FullName+".git"
	v["url"] = f.API.URL + "/repos/" + rp.FullName
	v["owner"].(map[string]any)["login"] = owner
	return v
}

func (f *fakeGitHub) listInstallationRepos(w http.ResponseWriter, r *http.Request, _ map[string]string, tok *fakeToken) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var repos []any
	names := make([]string, 0, len(f.repos))
	for n := range f.repos {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		rp := f.repos[n]
		if rp.Install == tok.Install && (tok.Repos == nil || slices.Contains(tok.Repos, rp.ID)) {
			repos = append(repos, f.repoJSON(rp))
		}
	}
	page, per := paging(r)
	total := len(repos)
	repos = pageOf(w, r, repos, page, per)
	writeJSON(w, 200, map[string]any{"total_count": total, "repository_selection": "all", "repositories": repos})
}

func paging(r *http.Request) (page, per int) {
	page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	per, _ = strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	return max(page, 1), min(per, 100)
}

// pageOf cuts one page and sets the Link header GitHub uses.
func pageOf(w http.ResponseWriter, r *http.Request, all []any, page, per int) []any {
	from := min((page-1)*per, len(all))
	to := min(from+per, len(all))
	if to < len(all) {
		u := *r.URL
		q := u.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		u.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, "http://"+r.Host, u.RequestURI()))
	}
	return append([]any{}, all[from:to]...)
}

func (f *fakeGitHub) getPermission(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	f.mu.Lock()
	perm := f.repos[p["owner"]+"/"+p["repo"]].Permissions[p["username"]]
	f.mu.Unlock()
	if perm == "" {
		perm = "read" // anyone may read a public repository
	}
	v := openAPIExample(f.t, "repository-collaborator-permission-response-if-user-has-admin-permissions").(map[string]any)
	v["permission"], v["role_name"] = perm, perm
	v["user"].(map[string]any)["login"] = p["username"]
	writeJSON(w, 200, v)
}

func (f *fakeGitHub) getContent(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	f.mu.Lock()
	rp := f.repos[p["owner"]+"/"+p["repo"]]
	f.mu.Unlock()
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = rp.Default
	}
	data, err := exec.Command("git", "-C", rp.Dir, "show", ref+":"+p["path"]).Output()
	if err != nil {
		notFound(w)
		return
	}
	sha, _ := exec.Command("git", "-C", rp.Dir, "rev-parse", ref+":"+p["path"]).Output()
	v := openAPIExample(f.t, "content-file-response-if-content-is-a-file").(map[string]any)
	v["type"], v["encoding"], v["size"] = "file", "base64", len(data)
	v["name"], v["path"], v["sha"] = filepath.Base(p["path"]), p["path"], strings.TrimSpace(string(sha))
	v["content"] = base64.StdEncoding.EncodeToString(data)
	writeJSON(w, 200, v)
}

// botUser is the App's bot as GitHub shows it.
func (f *fakeGitHub) user(login string) map[string]any {
	v := openAPIExample(f.t, "issue-comment").(map[string]any)["user"].(map[string]any)
	v["login"] = login
	if strings.HasSuffix(login, "[bot]") {
		v["type"] = "Bot"
	}
	return v
}

func (f *fakeGitHub) hasIssue(repo string, number int) bool {
	rp := f.repos[repo]
	if rp.Issues[number] != nil {
		return true
	}
	for _, pr := range f.pulls {
		if pr.Repo == repo && pr.Number == number {
			return true
		}
	}
	return false
}

func (f *fakeGitHub) reactToIssue(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	n, _ := strconv.Atoi(p["issue_number"])
	f.react(w, r, fakeReaction{Repo: repo, Issue: n}, func() bool { return f.hasIssue(repo, n) })
}

func (f *fakeGitHub) reactToComment(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	id, _ := strconv.ParseInt(p["comment_id"], 10, 64)
	f.react(w, r, fakeReaction{Repo: repo, Comment: id}, func() bool { return f.comment(repo, id) != nil })
}

func (f *fakeGitHub) react(w http.ResponseWriter, r *http.Request, re fakeReaction, exists func() bool) {
	var in struct{ Content string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		validationFailed(w, "Reaction", "malformed body")
		return
	}
	if !slices.Contains([]string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}, in.Content) {
		validationFailed(w, "Reaction", "content is not a valid reaction")
		return
	}
	re.Content, re.User = in.Content, f.BotLogin()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !exists() {
		notFound(w)
		return
	}
	v := openAPIExample(f.t, "reaction").(map[string]any)
	v["content"], v["user"] = in.Content, f.user(re.User)
	if slices.Contains(f.reactions, re) {
		writeJSON(w, 200, v) // GitHub answers an existing reaction with 200
		return
	}
	f.reactions = append(f.reactions, re)
	writeJSON(w, 201, v)
}

// comment finds a live comment; caller holds f.mu.
func (f *fakeGitHub) comment(repo string, id int64) *fakeComment {
	for _, c := range f.comments {
		if c.ID == id && c.Repo == repo && !c.Deleted {
			return c
		}
	}
	return nil
}

func (f *fakeGitHub) commentJSON(c *fakeComment) map[string]any {
	v := openAPIExample(f.t, "issue-comment").(map[string]any)
	v["id"], v["body"], v["user"] = c.ID, c.Body, f.user(c.User)
	v["html_url"] = fmt.Sprintf("%s/%s/issues/%d#issuecomment-%d", f.Web.URL, c.Repo, c.Issue, c.ID)
	v["url"] = fmt.Sprintf("%s/repos/%s/issues/comments/%d", f.API.URL, c.Repo, c.ID)
	v["issue_url"] = fmt.Sprintf("%s/repos/%s/issues/%d", f.API.URL, c.Repo, c.Issue)
	return v
}

func (f *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	n, _ := strconv.Atoi(p["issue_number"])
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.hasIssue(repo, n) {
		notFound(w)
		return
	}
	var all []any
	for _, c := range f.comments {
		if c.Repo == repo && c.Issue == n && !c.Deleted {
			all = append(all, f.commentJSON(c))
		}
	}
	page, per := paging(r)
	writeJSON(w, 200, pageOf(w, r, all, page, per))
}

func (f *fakeGitHub) createComment(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	n, _ := strconv.Atoi(p["issue_number"])
	var in struct{ Body *string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil || len(*in.Body) > 65536 {
		validationFailed(w, "IssueComment", "body is missing or longer than 65536 characters")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.hasIssue(repo, n) {
		notFound(w)
		return
	}
	f.nextID++
	c := &fakeComment{ID: f.nextID, Repo: repo, Issue: n, User: f.BotLogin(), Body: *in.Body}
	f.comments = append(f.comments, c)
	writeJSON(w, 201, f.commentJSON(c))
}

func (f *fakeGitHub) updateComment(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	id, _ := strconv.ParseInt(p["comment_id"], 10, 64)
	var in struct{ Body *string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == nil || len(*in.Body) > 65536 {
		validationFailed(w, "IssueComment", "body is missing or longer than 65536 characters")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.comment(repo, id)
	if c == nil {
		notFound(w)
		return
	}
	if c.User != f.BotLogin() {
		writeJSON(w, 403, map[string]string{"message": "Resource not accessible by integration"})
		return
	}
	c.Body = *in.Body
	c.Edits++
	writeJSON(w, 200, f.commentJSON(c))
}

func (f *fakeGitHub) pullJSON(pr *fakePull) map[string]any {
	v := openAPIExample(f.t, "pull-request").(map[string]any)
	owner, _, _ := strings.Cut(pr.Repo, "/")
	v["number"], v["title"], v["body"], v["state"] = pr.Number, pr.Title, pr.Body, pr.State
	v["html_url"] = fmt.Sprintf("%s/%s/pull/%d", f.Web.URL, pr.Repo, pr.Number)
	v["url"] = fmt.Sprintf("%s/repos/%s/pulls/%d", f.API.URL, pr.Repo, pr.Number)
	v["user"] = f.user(pr.User)
	v["merged"], v["draft"] = pr.Merged, false
	head, base := v["head"].(map[string]any), v["base"].(map[string]any)
	head["ref"], head["label"] = pr.Head, owner+":"+pr.Head
	base["ref"], base["label"] = pr.Base, owner+":"+pr.Base
	var reviewers []any
	if n := len(pr.Requested); n > 0 {
		for _, login := range pr.Requested[n-1] {
			reviewers = append(reviewers, f.user(login))
		}
	}
	v["requested_reviewers"] = reviewers
	return v
}

func (f *fakeGitHub) listPulls(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []any
	for _, pr := range f.pulls {
		owner, _, _ := strings.Cut(pr.Repo, "/")
		if pr.Repo != repo || (state != "all" && pr.State != state) || (q.Get("head") != "" && q.Get("head") != owner+":"+pr.Head) {
			continue
		}
		all = append(all, f.pullJSON(pr))
	}
	page, per := paging(r)
	writeJSON(w, 200, pageOf(w, r, all, page, per))
}

func (f *fakeGitHub) createPull(w http.ResponseWriter, r *http.Request, p map[string]string, tok *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	var in struct {
		Title, Head, Base, Body string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Head == "" || in.Base == "" || in.Title == "" {
		validationFailed(w, "PullRequest", "title, head and base are required")
		return
	}
	head := in.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok && owner == p["owner"] {
		head = branch
	}
	if f.Branch(repo, head) == "" {
		validationFailed(w, "PullRequest", "head: invalid")
		return
	}
	if f.Branch(repo, in.Base) == "" {
		validationFailed(w, "PullRequest", "base: invalid")
		return
	}
	if f.CommitCount(repo, in.Base, head) == 0 {
		validationFailed(w, "PullRequest", "No commits between "+in.Base+" and "+head)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, pr := range f.pulls {
		if pr.Repo == repo && pr.Head == head && pr.State == "open" {
			validationFailed(w, "PullRequest", "A pull request already exists for "+p["owner"]+":"+head+".")
			return
		}
	}
	rp := f.repos[repo]
	rp.next++
	pr := &fakePull{Number: rp.next, Repo: repo, Head: head, Base: in.Base, Title: in.Title, Body: in.Body, User: f.BotLogin(), State: "open"}
	f.pulls = append(f.pulls, pr)
	writeJSON(w, 201, f.pullJSON(pr))
}

// ClosePull closes a pull request without merging it, as a person would.
func (f *fakeGitHub) ClosePull(repo string, number int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pr := f.pull(repo, number); pr != nil && pr.State == "open" {
		pr.State, pr.ClosedAt = "closed", f.headOf(pr)
	}
}

// MergePull merges a pull request into its base with a merge commit, as
// the merge button does, and closes it.
func (f *fakeGitHub) MergePull(repo string, number int) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	pr := f.pull(repo, number)
	dir := f.repos[repo].Dir
	tree := gitRun(f.t, dir, "merge-tree", "--write-tree", pr.Base, pr.Head)
	commit := gitRun(f.t, dir, "commit-tree", tree, "-p", pr.Base, "-p", pr.Head, "-m", fmt.Sprintf("Merge pull request #%d", number))
	gitRun(f.t, dir, "update-ref", "refs/heads/"+pr.Base, commit)
	pr.State, pr.Merged, pr.ClosedAt = "closed", true, f.headOf(pr)
}

// ReopenPull reopens a closed pull request, as a person would.
func (f *fakeGitHub) ReopenPull(repo string, number int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pr := f.pull(repo, number); pr != nil && !pr.Merged {
		pr.State, pr.ClosedAt = "open", ""
	}
}

// DeleteBranch deletes a branch, as the button on a closed pull request
// does; a closed pull request from it can no longer be reopened.
func (f *fakeGitHub) DeleteBranch(repo, branch string) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	gitRun(f.t, f.repos[repo].Dir, "update-ref", "-d", "refs/heads/"+branch)
	for _, pr := range f.pulls {
		if pr.Repo == repo && pr.Head == branch && pr.State == "closed" {
			pr.HeadGone = true
		}
	}
}

// pull finds a pull request; caller holds f.mu.
func (f *fakeGitHub) pull(repo string, number int) *fakePull {
	for _, pr := range f.pulls {
		if pr.Repo == repo && pr.Number == number {
			return pr
		}
	}
	return nil
}

// headOf is a pull request's head commit, or ""; caller holds f.mu.
func (f *fakeGitHub) headOf(pr *fakePull) string {
	out, err := exec.Command("git", "-C", f.repos[pr.Repo].Dir, "rev-parse", "--verify", "--quiet", "refs/heads/"+pr.Head).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// updatePull edits a pull request. Reopening follows GitHub: a merged
// pull request stays closed, and a closed one reopens only while its
// branch exists, was not deleted meanwhile, and still holds the commit it
// was closed at (no force-push), and while no other open pull request
// has the same head and base.
func (f *fakeGitHub) updatePull(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	n, _ := strconv.Atoi(p["pull_number"])
	var in struct {
		Title, Body, State, Base *string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || (in.State != nil && *in.State != "open" && *in.State != "closed") {
		validationFailed(w, "PullRequest", "state is not open or closed")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pr := f.pull(repo, n)
	if pr == nil {
		notFound(w)
		return
	}
	if in.State != nil && *in.State == "open" && pr.State == "closed" {
		if msg := f.cannotReopen(pr); msg != "" {
			validationFailed(w, "PullRequest", msg)
			return
		}
		pr.State, pr.ClosedAt = "open", ""
	}
	if in.State != nil && *in.State == "closed" && pr.State == "open" {
		pr.State, pr.ClosedAt = "closed", f.headOf(pr)
	}
	if in.Title != nil {
		pr.Title = *in.Title
	}
	if in.Body != nil {
		pr.Body = *in.Body
	}
	writeJSON(w, 200, f.pullJSON(pr))
}

// cannotReopen says why GitHub refuses to reopen a closed pull request,
// or is ""; caller holds f.mu.
func (f *fakeGitHub) cannotReopen(pr *fakePull) string {
	head := f.headOf(pr)
	switch {
	case pr.Merged:
		return "state cannot be changed. The pull request has been merged."
	case head == "" || pr.HeadGone:
		return "state cannot be changed. The " + pr.Head + " branch has been deleted."
	case exec.Command("git", "-C", f.repos[pr.Repo].Dir, "merge-base", "--is-ancestor", pr.ClosedAt, head).Run() != nil:
		return "state cannot be changed. The " + pr.Head + " branch was force-pushed or recreated."
	}
	for _, x := range f.pulls {
		if x.Repo == pr.Repo && x.Head == pr.Head && x.Base == pr.Base && x.State == "open" {
			return "state cannot be changed. There is already an open pull request from " + pr.Head + " to " + pr.Base + "."
		}
	}
	return ""
}

func (f *fakeGitHub) requestReviewers(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	repo := p["owner"] + "/" + p["repo"]
	n, _ := strconv.Atoi(p["pull_number"])
	var in struct {
		Reviewers     []string `json:"reviewers"`
		TeamReviewers []string `json:"team_reviewers"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Reviewers)+len(in.TeamReviewers) == 0 {
		validationFailed(w, "PullRequest", "reviewers or team_reviewers is required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pr := f.pull(repo, n)
	if pr == nil {
		notFound(w)
		return
	}
	for _, login := range in.Reviewers {
		if login == pr.User {
			validationFailed(w, "PullRequest", "Review cannot be requested from pull request author.")
			return
		}
		if perm := f.repos[repo].Permissions[login]; perm == "" {
			validationFailed(w, "PullRequest", "Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the "+repo+" repository.")
			return
		}
	}
	pr.Requested = append(pr.Requested, slices.Clone(in.Reviewers))
	writeJSON(w, 201, f.pullJSON(pr))
}

func (f *fakeGitHub) listReviewComments(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	id, _ := strconv.ParseInt(p["review_id"], 10, 64)
	f.mu.Lock()
	var all []any
	for _, c := range f.reviews[id] {
		all = append(all, map[string]any(c))
	}
	f.mu.Unlock()
	page, per := paging(r)
	writeJSON(w, 200, pageOf(w, r, all, page, per))
}

// graphqlIssue is the one query UFO sends, as githubv4 spells it.
var graphqlIssue = regexp.MustCompile(`^query\(\$name:String!\$number:Int!\$owner:String!\)\{repository\(owner: \$owner, name: \$name\)\{issue\(number: \$number\)\{title,body,comments\(first: 100\)\{nodes\{author\{login\},body\}\}\}\}\}$`)

func (f *fakeGitHub) graphql(w http.ResponseWriter, r *http.Request) {
	tok, e := f.checkToken(r, "", "", "issues:read")
	if e != nil {
		writeJSON(w, e.status, e.body)
		return
	}
	var in struct {
		Query     string
		Variables struct {
			Owner, Name string
			Number      int
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !graphqlIssue.MatchString(in.Query) {
		writeJSON(w, 200, map[string]any{"errors": []map[string]string{{"message": "the fake GitHub answers only the issue query, not " + in.Query}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rp := f.repos[in.Variables.Owner+"/"+in.Variables.Name]
	if rp == nil || rp.Install != tok.Install || (tok.Repos != nil && !slices.Contains(tok.Repos, rp.ID)) {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"repository": nil},
			"errors": []map[string]any{{"type": "NOT_FOUND", "path": []string{"repository"},
				"message": "Could not resolve to a Repository with the name '" + in.Variables.Owner + "/" + in.Variables.Name + "'."}}})
		return
	}
	is := rp.Issues[in.Variables.Number]
	if is == nil {
		writeJSON(w, 200, map[string]any{"data": map[string]any{"repository": map[string]any{"issue": nil}},
			"errors": []map[string]any{{"type": "NOT_FOUND", "path": []string{"repository", "issue"},
				"message": fmt.Sprintf("Could not resolve to an Issue with the number of %d.", in.Variables.Number)}}})
		return
	}
	nodes := []any{}
	for _, c := range f.comments {
		if c.Repo == rp.FullName && c.Issue == is.Number && !c.Deleted && len(nodes) < 100 {
			nodes = append(nodes, map[string]any{"author": map[string]string{"login": strings.TrimSuffix(c.User, "[bot]")}, "body": c.Body})
		}
	}
	writeJSON(w, 200, map[string]any{"data": map[string]any{"repository": map[string]any{"issue": map[string]any{
		"title": is.Title, "body": is.Body, "comments": map[string]any{"nodes": nodes}}}}})
}

// serveGit serves the repositories over git smart HTTP. Reading needs a
// token with contents read on the repository, pushing contents write; like
// GitHub, the user name is ignored and the token is the password.
func (f *fakeGitHub) serveGit(w http.ResponseWriter, r *http.Request) {
	full, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git/")
	f.mu.Lock()
	rp := f.repos[full]
	f.mu.Unlock()
	if !ok || rp == nil {
		http.NotFound(w, r)
		return
	}
	_, pass, hasAuth := r.BasicAuth()
	if !hasAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	perm := "contents:read"
	if strings.HasSuffix(r.URL.Path, "/git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack" {
		perm = "contents:write"
	}
	req := r.Clone(r.Context())
	req.Header.Set("Authorization", "token "+pass)
	owner, name, _ := strings.Cut(full, "/")
	if _, e := f.checkToken(req, owner, name, perm); e != nil {
		if e.status == 401 {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		}
		http.Error(w, fmt.Sprint(e.body), e.status)
		return
	}
	h := &cgi.Handler{Path: f.git, Env: []string{"GIT_PROJECT_ROOT=" + f.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=x-access-token",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"}}
	var stderr bytes.Buffer
	h.Stderr = &stderr
	h.ServeHTTP(w, r)
	if stderr.Len() > 0 {
		f.t.Logf("git http-backend: %s", stderr.String())
	}
}
