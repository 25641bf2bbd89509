package github

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	gh "github.com/google/go-github/v92/github"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

// Link links an installation to a fleet, after checking with GitHub (as
// the App) that it exists, and records the repositories it grants. It
// takes proof that the person linking it can access it on GitHub:
// userToken, a user access token of this App whose user GitHub lists the
// installation for. Without one, only an installation already linked to
// this fleet is linked again (its repositories refreshed). An installation
// linked to another fleet is a conflict, whoever asks.
func (a *App) Link(ctx context.Context, fleetID, userID string, installationID int64, userToken string) (store.GitHubInstallation, error) {
	in, err := a.installationOf(ctx, installationID)
	if err != nil {
		return store.GitHubInstallation{}, err
	}
	if userToken == "" {
		cur, err := a.store.FindGitHubInstallation(ctx, installationID)
		if err != nil && !app.IsCode(err, app.ENotFound) {
			return store.GitHubInstallation{}, err
		}
		if err != nil || cur.FleetID == nil || *cur.FleetID != fleetID {
			return store.GitHubInstallation{}, app.Errorf(app.EForbidden,
				"linking installation %d needs proof that you can access it on GitHub: pass user_token (a user access token of this App), or open %s", installationID, a.setupURL())
		}
	} else if err := a.checkAccess(ctx, userToken, installationID); err != nil {
		return store.GitHubInstallation{}, err
	}
	return a.link(ctx, fleetID, userID, in)
}

// link links an installation whose access was proven.
func (a *App) link(ctx context.Context, fleetID, userID string, in store.GitHubInstallation) (store.GitHubInstallation, error) {
	installationID := in.ID
	var by *string
	if userID != "" {
		by = &userID
	}
	if err := a.store.LinkGitHubInstallation(ctx, fleetID, in, by); err != nil {
		return store.GitHubInstallation{}, err
	}
	c, err := a.client(installationID)
	if err != nil {
		return store.GitHubInstallation{}, err
	}
	var repos []store.GitHubRepository
	opts := &gh.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.rest.Apps.ListRepos(ctx, opts)
		if err != nil {
			return store.GitHubInstallation{}, fmt.Errorf("list the repositories of installation %d: %w", installationID, err)
		}
		repos = append(repos, repositories(installationID, list.Repositories)...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if err := a.store.AddGitHubRepositories(ctx, installationID, repos, nil, true); err != nil {
		return store.GitHubInstallation{}, err
	}
	all, err := a.store.GitHubInstallations(ctx, fleetID)
	if err != nil {
		return store.GitHubInstallation{}, err
	}
	for _, i := range all {
		if i.ID == installationID {
			return i, nil
		}
	}
	return store.GitHubInstallation{}, app.Errorf(app.ENotFound, "installation %d not found", installationID)
}

// installationOf asks GitHub, as the App, for one of its installations.
func (a *App) installationOf(ctx context.Context, id int64) (store.GitHubInstallation, error) {
	in, _, err := a.asApp.Apps.GetInstallation(ctx, id)
	if status(err) == 404 {
		return store.GitHubInstallation{}, app.Errorf(app.ENotFound, "GitHub knows no installation %d of this App", id)
	}
	if err != nil {
		return store.GitHubInstallation{}, fmt.Errorf("get installation %d from GitHub: %w", id, err)
	}
	return store.GitHubInstallation{ID: in.GetID(), AccountLogin: in.GetAccount().GetLogin(), AccountType: in.GetAccount().GetType(),
		Suspended: in.SuspendedAt != nil}, nil
}

// RepoCredential mints, as the App, an installation token for the one
// repository a mission maps to, with contents write and nothing else. It
// is handed to the rover that claimed a run and never stored. A mission
// with no GitHub repository gets no credential.
func (a *App) RepoCredential(ctx context.Context, m app.Mission) (user, password string, err error) {
	repo, err := a.store.FindGitHubRepositoryByMission(ctx, m.FleetID, m.ID)
	if app.IsCode(err, app.ENotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	tok, _, err := a.asApp.Apps.CreateInstallationToken(ctx, repo.InstallationID, &gh.InstallationTokenOptions{
		RepositoryIDs: []int64{repo.ID},
		Permissions:   &gh.InstallationPermissions{Contents: gh.Ptr("write")},
	})
	if err != nil {
		return "", "", fmt.Errorf("mint a token for %s: %w", repo.FullName, err)
	}
	return "x-access-token", tok.GetToken(), nil
}

type installationRequest struct {
	InstallationID int64  `json:"installation_id"`
	UserToken      string `json:"user_token,omitempty"`
}

// createInstallation is POST /api/github/installations?fleet=…: link an
// installation to the fleet from a script, with a user access token of
// this App as proof of access (see Link).
func (a *handlers) createInstallation(w http.ResponseWriter, r *http.Request) {
	var in installationRequest
	if err := a.auth.Decode(w, r, &in); err != nil {
		a.auth.WriteError(w, err)
		return
	}
	if in.InstallationID <= 0 {
		a.auth.WriteError(w, app.Errorf(app.EInvalid, "installation_id must be a positive number"))
		return
	}
	out, err := a.Link(r.Context(), a.auth.Fleet(r.Context()), a.auth.User(r.Context()).ID, in.InstallationID, in.UserToken)
	if err != nil {
		a.auth.WriteError(w, err)
		return
	}
	a.auth.WriteJSON(w, http.StatusCreated, out)
}

// listInstallations is GET /api/github/installations?fleet=….
func (a *handlers) listInstallations(w http.ResponseWriter, r *http.Request) {
	out, err := a.store.GitHubInstallations(r.Context(), a.auth.Fleet(r.Context()))
	if err != nil {
		a.auth.WriteError(w, err)
		return
	}
	a.auth.WriteJSON(w, http.StatusOK, out)
}

type setupData struct {
	Title          string
	Installations  []setupInstallation
	Fleets         []app.Fleet
	InstallationID int64
	Account        string
	FleetID        string
	FleetName      string
	Repositories   []string
	Message        string
}

// setupInstallation is an installation the confirmation page offers, with
// the proof its form carries.
type setupInstallation struct {
	ID          int64
	Account     string
	AccountType string
	Proof       string
}

// setupPage is where GitHub sends the person who installed the App
// (GET /github/setup?installation_id=N&setup_action=install, with a code
// when the App asks for user authorization during installation), and the
// App's user authorization callback. It trades a code for a user token
// only when the callback's state carries the nonce this browser got in a
// cookie when the page sent it to GitHub (see authorize); any other visit
// (no code, GitHub's own install redirect, a link from someone else, an
// expired cookie) is sent to GitHub to authorize the App with a fresh
// nonce, keeping the installation id, and GitHub sends a user who already
// authorized it straight back. So the installations the page offers are
// always those of the GitHub account signed in to GitHub in this browser,
// never those of whoever sent the link: it asks
// GitHub which installations of the App that user can access, and shows
// those (or the one asked for, which must be among them) with a
// confirmation per fleet the UFO user administers. It changes nothing
// itself: a link sent by someone else can neither attach their
// installation to your fleet nor show you theirs to confirm, and no one
// can attach an installation they cannot access on GitHub to theirs.
func (a *handlers) setupPage(w http.ResponseWriter, r *http.Request) {
	user := a.auth.User(r.Context()).ID
	if user == "" {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	var id int64
	if raw := q.Get("installation_id"); raw != "" {
		var err error
		if id, err = strconv.ParseInt(raw, 10, 64); err != nil || id <= 0 {
			a.page(w, http.StatusBadRequest, "problem", setupData{Title: "No installation", Message: "The link has no valid installation_id: start from the App's install page on GitHub."})
			return
		}
	}
	if !a.oauthOn() {
		a.pageError(w, a.oauthOff())
		return
	}
	code := q.Get("code")
	if code == "" {
		a.authorize(w, r, id, false)
		return
	}
	st, ok := a.callbackState(w, r, q.Get("state"))
	if !ok {
		if st.again {
			// Sent back once already: this browser does not keep the
			// cookie, and another round would not either.
			a.pageError(w, app.Errorf(app.EForbidden, "UFO could not tell that this GitHub authorization was started in this browser, so it did not use it. Allow this browser to keep cookies from UFO, then open %s again.", a.setupURL()))
			return
		}
		if id == 0 {
			id = st.installation
		}
		a.authorize(w, r, id, true)
		return
	}
	id = st.installation
	tok, err := a.exchangeCode(r.Context(), code)
	if err != nil {
		a.pageError(w, err)
		return
	}
	list, err := a.userInstallations(r.Context(), tok)
	if err != nil {
		a.pageError(w, err)
		return
	}
	exp := time.Now().Add(proofTTL)
	var offer []setupInstallation
	for _, in := range list {
		if id == 0 || in.ID == id {
			offer = append(offer, setupInstallation{ID: in.ID, Account: in.AccountLogin, AccountType: in.AccountType, Proof: a.proof(user, in.ID, exp)})
		}
	}
	if id != 0 && len(offer) == 0 {
		a.pageError(w, notYours(id))
		return
	}
	fleets, err := a.store.FleetsForUser(r.Context(), user)
	if err != nil {
		a.pageError(w, err)
		return
	}
	admin := fleets[:0]
	for _, f := range fleets {
		if app.RoleAtLeast(f.Role, app.RoleAdmin) {
			admin = append(admin, f)
		}
	}
	a.page(w, http.StatusOK, "confirm", setupData{Title: "Link the GitHub App", InstallationID: id, Installations: offer, Fleets: admin})
}

// setupLink is the confirmation form's POST /github/setup?fleet=…; the form
// carries the proof the setup page made for this UFO user.
func (a *handlers) setupLink(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PostFormValue("installation_id"), 10, 64)
	if err != nil || id <= 0 {
		a.page(w, http.StatusBadRequest, "problem", setupData{Title: "No installation", Message: "The form has no valid installation_id."})
		return
	}
	user := a.auth.User(r.Context()).ID
	if !a.validProof(user, id, r.PostFormValue("proof")) {
		a.pageError(w, app.Errorf(app.EForbidden, "This confirmation is not valid for you, or has expired: open %s again.", a.setupURL()))
		return
	}
	in, err := a.installationOf(r.Context(), id)
	if err != nil {
		a.pageError(w, err)
		return
	}
	fleet := a.auth.Fleet(r.Context())
	in, err = a.link(r.Context(), fleet, user, in)
	if err != nil {
		a.pageError(w, err)
		return
	}
	name := fleet
	if fleets, err := a.store.FleetsForUser(r.Context(), user); err == nil {
		for _, f := range fleets {
			if f.ID == fleet {
				name = f.Name
			}
		}
	}
	a.page(w, http.StatusOK, "linked", setupData{Title: "GitHub App linked", InstallationID: id, Account: in.AccountLogin,
		FleetID: fleet, FleetName: name, Repositories: in.Repositories})
}

func (a *App) pageError(w http.ResponseWriter, err error) {
	code := app.ErrorCode(err)
	st := map[string]int{app.ENotFound: 404, app.EConflict: 409, app.EInvalid: 400, app.EForbidden: 403}[code]
	if st == 0 {
		a.log.Error("github: setup page", "err", err)
		st = http.StatusBadGateway
	}
	a.page(w, st, "problem", setupData{Title: "Could not link the installation", Message: app.ErrorMessage(err)})
}

// page renders one of setup.html's pages into a buffer, then writes it.
func (a *App) page(w http.ResponseWriter, status int, name string, data setupData) {
	var b bytes.Buffer
	if err := a.tmpl.html.ExecuteTemplate(&b, name, data); err != nil {
		a.log.Error("github: render setup page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	// The setup page's URL holds GitHub's authorization code.
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
