package github

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// Linking an installation to a fleet hands the fleet the installation's
// issues and tokens that write to its repositories, so it takes proof that
// the person linking it can access the installation on GitHub: a user
// access token of this App (GitHub's user-to-server flow) whose
// GET /user/installations lists it. Installation ids are small, guessable
// numbers; knowing one proves nothing.

// oauthOn reports whether the App's OAuth credentials are configured.
func (a *App) oauthOn() bool { return a.cfg.ClientID != "" && a.cfg.ClientSecret != "" }

// setupURL is the setup page, also the App's user authorization callback.
func (a *App) setupURL() string { return strings.TrimSuffix(a.cfg.PublicURL, "/") + "/github/setup" }

// authorizeURL is GitHub's page where a user authorizes the App; GitHub
// then sends the browser to the setup page with a code and the state.
func (a *App) authorizeURL(state string) string {
	v := url.Values{"client_id": {a.cfg.ClientID}, "redirect_uri": {a.setupURL()}, "state": {state}}
	return a.cfg.WebURL + "/login/oauth/authorize?" + v.Encode()
}

// A code is traded only in the browser that was sent to GitHub for it.
// Otherwise anyone could authorize the App on their own GitHub account
// and send a fleet admin the callback URL with their code: the setup page
// would offer the admin valid proofs for the sender's installations, and
// one click would attach the sender's repositories to the admin's fleet
// (the login CSRF of RFC 6749 §10.12). So the setup page sets a random
// nonce in a short-lived cookie before it sends a browser to GitHub, puts
// the same nonce in state, and trades the code of a callback only when
// its state carries the cookie's nonce.

const (
	stateCookie     = "ufo_github_authorization"
	stateCookiePath = "/github/setup"
	// stateTTL leaves time to sign in to GitHub on the way.
	stateTTL = 10 * time.Minute
)

// authState is the state of one user authorization:
// "<nonce>.<installation id, 0 for none>", then ".again" when the setup
// page sent the browser back to GitHub because a callback failed the check.
type authState struct {
	nonce        string
	installation int64 // the installation the person came for
	again        bool
}

func (s authState) String() string {
	out := s.nonce + "." + strconv.FormatInt(s.installation, 10)
	if s.again {
		out += ".again"
	}
	return out
}

func parseAuthState(s string) (authState, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || (len(parts) == 3 && parts[2] != "again") {
		return authState{}, false
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || id < 0 {
		return authState{}, false
	}
	return authState{nonce: parts[0], installation: id, again: len(parts) == 3}, true
}

// authorize sends the browser to GitHub to authorize the App, with a fresh
// nonce in the state cookie and in state.
func (a *App) authorize(w http.ResponseWriter, r *http.Request, installation int64, again bool) {
	st := authState{nonce: rand.Text(), installation: installation, again: again}
	a.setStateCookie(w, st.nonce, int(stateTTL/time.Second))
	http.Redirect(w, r, a.authorizeURL(st.String()), http.StatusSeeOther)
}

// callbackState reports whether a callback's state carries the nonce of
// this browser's state cookie, and if so clears the cookie: a nonce is
// good for one code. The state is returned even when it does not match,
// for the installation it names.
func (a *App) callbackState(w http.ResponseWriter, r *http.Request, state string) (authState, bool) {
	st, ok := parseAuthState(state)
	c, err := r.Cookie(stateCookie)
	if !ok || err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(st.nonce)) {
		return st, false
	}
	a.setStateCookie(w, "", -1)
	return st, true
}

func (a *App) setStateCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: value, Path: stateCookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: isHTTPS(a.cfg.PublicURL), SameSite: http.SameSiteLaxMode})
}

// exchangeCode trades the code of GitHub's user authorization for a user
// access token (POST <web>/login/oauth/access_token). The token is used
// at once and never stored.
func (a *App) exchangeCode(ctx context.Context, code string) (string, error) {
	if !a.oauthOn() {
		return "", a.oauthOff()
	}
	form := url.Values{"client_id": {a.cfg.ClientID}, "client_secret": {a.cfg.ClientSecret}, "code": {code}}
	req, err := http.NewRequestWithContext(ctx, "POST", a.cfg.WebURL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ufo-github-app")
	resp, err := (&http.Client{Transport: a.cfg.Transport, Timeout: time.Minute}).Do(req)
	if err != nil {
		return "", fmt.Errorf("trade the authorization code for a user token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("trade the authorization code for a user token: %w", err)
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil {
		return "", fmt.Errorf("trade the authorization code for a user token: GitHub answered %s", resp.Status)
	}
	if out.Error != "" {
		// bad_verification_code (used, expired or forged), or client
		// credentials GitHub does not know.
		return "", app.Errorf(app.EForbidden, "GitHub did not accept the authorization (%s: %s); start again from the setup page", out.Error, out.ErrorDescription)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("trade the authorization code for a user token: GitHub's answer has no access_token")
	}
	return out.AccessToken, nil
}

// userInstallations lists the installations of this App that the user of
// a user access token can access (GET /user/installations).
func (a *App) userInstallations(ctx context.Context, userToken string) ([]store.GitHubInstallation, error) {
	c, err := a.rest(&rateLimitTransport{base: a.cfg.Transport, max: a.cfg.MaxRateLimitWait, log: a.log}, gh.WithAuthToken(userToken))
	if err != nil {
		return nil, err
	}
	var out []store.GitHubInstallation
	opts := &gh.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.Apps.ListUserInstallations(ctx, opts)
		if s := status(err); s == 401 || s == 403 {
			return nil, app.Errorf(app.EForbidden, "GitHub refused the user token: it must be a user access token of this App")
		}
		if err != nil {
			return nil, fmt.Errorf("list the installations the user can access: %w", err)
		}
		for _, in := range list {
			// A token of another App lists that App's installations.
			if in.GetAppID() != 0 && in.GetAppID() != a.cfg.AppID {
				continue
			}
			out = append(out, store.GitHubInstallation{ID: in.GetID(), AccountLogin: in.GetAccount().GetLogin(),
				AccountType: in.GetAccount().GetType(), Suspended: in.SuspendedAt != nil})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// checkAccess requires the user of a user access token to have access to
// the installation.
func (a *App) checkAccess(ctx context.Context, userToken string, installationID int64) error {
	list, err := a.userInstallations(ctx, userToken)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(in store.GitHubInstallation) bool { return in.ID == installationID }) {
		return notYours(installationID)
	}
	return nil
}

func notYours(installationID int64) error {
	return app.Errorf(app.EForbidden, "your GitHub account cannot access installation %d of this App: only someone who can may link it", installationID)
}

func (a *App) oauthOff() error {
	return app.Errorf(app.EForbidden, "linking an installation needs the App's OAuth credentials: set UFO_GITHUB_CLIENT_ID and UFO_GITHUB_CLIENT_SECRET")
}

// proofTTL is how long the setup page's confirmation stays valid.
const proofTTL = time.Hour

// proof is what the setup page puts in its confirmation form after GitHub
// showed that the signed-in UFO user can access an installation: an
// expiry and an HMAC of the UFO user, the installation and the expiry,
// keyed by the App's secrets, so that no one else's form and no other
// installation passes. Replicas sharing the App's settings accept each
// other's.
func (a *App) proof(userID string, installationID int64, exp time.Time) string {
	key := hmac.New(sha256.New, []byte(a.cfg.ClientSecret+"\x00"+a.cfg.WebhookSecret))
	key.Write([]byte("ufo github installation link"))
	m := hmac.New(sha256.New, key.Sum(nil))
	e := exp.Unix()
	fmt.Fprintf(m, "%s|%d|%d", userID, installationID, e)
	return strconv.FormatInt(e, 10) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validProof checks a proof from the confirmation form.
func (a *App) validProof(userID string, installationID int64, p string) bool {
	es, _, ok := strings.Cut(p, ".")
	e, err := strconv.ParseInt(es, 10, 64)
	if !ok || err != nil || userID == "" || !a.oauthOn() || time.Now().Unix() > e {
		return false
	}
	return hmac.Equal([]byte(p), []byte(a.proof(userID, installationID, time.Unix(e, 0))))
}

func isHTTPS(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Scheme == "https"
}
