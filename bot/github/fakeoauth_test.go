package github_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// GitHub's user authorization (the web application flow of a GitHub App),
// as far as the setup page uses it: a user authorizes the App on GitHub,
// GitHub sends the browser back with a code, and the App trades the code
// for a user access token at POST /login/oauth/access_token (on the web
// host, not the API), then lists the installations that user can access
// with GET /user/installations.

// fakeCode is an authorization code GitHub handed out for a user.
type fakeCode struct {
	Login   string
	Expires time.Time
}

// Authorize is a user authorizing the App on GitHub: it returns the code
// GitHub appends to the callback URL. It works once, within ten minutes.
func (f *fakeGitHub) Authorize(login string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	code := randomHex(10)
	f.codes[code] = fakeCode{Login: login, Expires: time.Now().Add(10 * time.Minute)}
	return code
}

// UserToken is a user access token of the App for login, as a script gets
// one through the web or device flow.
func (f *fakeGitHub) UserToken(login string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "ghu_" + randomHex(18)
	f.userTokens[tok] = login
	return tok
}

// SignIn signs a browser in to GitHub as login, who has authorized the
// App already: GitHub's authorize page then sends that browser straight
// back to the callback with a code.
func (f *fakeGitHub) SignIn(jar http.CookieJar, login string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := randomHex(16)
	f.sessions[s] = login
	u, _ := url.Parse(f.Web.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "user_session", Value: s, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}})
}

// authorize is GET /login/oauth/authorize?client_id=…&redirect_uri=…&state=…:
// a browser signed in (see SignIn) is sent to redirect_uri with a fresh
// code and the state, as given; any other is sent to sign in first.
func (f *fakeGitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != "GET" || q.Get("client_id") != f.ClientID {
		http.NotFound(w, r)
		return
	}
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !back.IsAbs() {
		http.Error(w, "The redirect_uri MUST match the registered callback URL for this application.", http.StatusBadRequest)
		return
	}
	login := ""
	if c, err := r.Cookie("user_session"); err == nil {
		f.mu.Lock()
		login = f.sessions[c.Value]
		f.mu.Unlock()
	}
	if login == "" {
		http.Redirect(w, r, "/login?"+url.Values{"client_id": {f.ClientID}, "return_to": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	v := back.Query()
	v.Set("code", f.Authorize(login))
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// serveWeb serves github.com: the user authorization, the OAuth token
// exchange, and git.
func (f *fakeGitHub) serveWeb(w http.ResponseWriter, r *http.Request) {
	serve, op := f.serveGit, ""
	switch r.URL.Path {
	case "/login/oauth/authorize":
		serve, op = f.authorize, "oauth/authorize"
	case "/login/oauth/access_token":
		serve, op = f.accessToken, "oauth/access-token"
	}
	if op == "" {
		serve(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	serve(rec, r)
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Op: op, Status: rec.status})
	f.mu.Unlock()
}

// accessToken is POST /login/oauth/access_token: client_id, client_secret
// and code (form or query) for a user access token. Like GitHub, it
// answers 200 with an "error" field when the exchange fails, and JSON only
// when asked for it (else form-encoded).
func (f *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", 400)
		return
	}
	answer := func(v map[string]any) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			writeJSON(w, 200, v)
			return
		}
		form := url.Values{}
		for k, x := range v {
			form.Set(k, fmt.Sprint(x))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		w.Write([]byte(form.Encode()))
	}
	if r.Form.Get("client_id") != f.ClientID || r.Form.Get("client_secret") != f.ClientSecret {
		answer(map[string]any{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect.",
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"})
		return
	}
	f.mu.Lock()
	c, ok := f.codes[r.Form.Get("code")]
	delete(f.codes, r.Form.Get("code"))
	f.mu.Unlock()
	if !ok || time.Now().After(c.Expires) {
		answer(map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
		return
	}
	answer(map[string]any{"access_token": f.UserToken(c.Login), "expires_in": 28800, "refresh_token": "ghr_" + randomHex(30),
		"refresh_token_expires_in": 15811200, "scope": "", "token_type": "bearer"})
}

// checkUserToken returns the login of a user access token.
func (f *fakeGitHub) checkUserToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		raw, ok = strings.CutPrefix(h, "token ")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	login, found := f.userTokens[raw]
	return login, ok && found
}

// listUserInstallations is GET /user/installations: the App's
// installations the user has explicit permission to access, those on their
// own account and those with a repository they have a role on.
func (f *fakeGitHub) listUserInstallations(w http.ResponseWriter, r *http.Request, p map[string]string, _ *fakeToken) {
	login := p["login"]
	f.mu.Lock()
	var ids []int64
	for id, in := range f.installs {
		access := strings.EqualFold(in.Account, login)
		for _, rp := range f.repos {
			if rp.Install == id && rp.Permissions[login] != "" {
				access = true
			}
		}
		if access {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var all []any
	for _, id := range ids {
		all = append(all, f.installationJSON(f.installs[id]))
	}
	f.mu.Unlock()
	page, per := paging(r)
	v := openAPIExample(f.t, "base-installation-for-auth-user-paginated").(map[string]any)
	v["total_count"] = len(all)
	v["installations"] = pageOf(w, r, all, page, per)
	writeJSON(w, 200, v)
}

// fakeHold makes requests of one operation wait until released.
type fakeHold struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// Hold makes the next requests of an operation wait: arrived is closed
// when the first one comes in, and release lets them all through.
func (f *fakeGitHub) Hold(op string) (arrived <-chan struct{}, release func()) {
	h := &fakeHold{arrived: make(chan struct{}), release: make(chan struct{})}
	f.mu.Lock()
	f.holds[op] = h
	f.mu.Unlock()
	var once sync.Once
	return h.arrived, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.holds, op)
			f.mu.Unlock()
			close(h.release)
		})
	}
}

func (f *fakeGitHub) hold(op string) {
	f.mu.Lock()
	h := f.holds[op]
	f.mu.Unlock()
	if h == nil {
		return
	}
	h.once.Do(func() { close(h.arrived) })
	<-h.release
}
