// Package github is UFO's GitHub App. Its webhook turns labeled issues into
// operations, comment commands and reviews into runs, and merges into done
// work; as runs move, it keeps one status comment per issue up to date and
// opens the pull request from the branch a rover pushed, with a review
// request. Deliveries are verified, recorded once as durable jobs and
// processed by bot.Worker; changes to operations reach it as notify jobs.
//
// REST goes through google/go-github (v92, the newest major served) with
// bradleyfalzon/ghinstallation for the App's JWT and installation tokens;
// the one query REST answers poorly (an issue with its comments) goes
// through shurcooL/githubv4.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v92/github"
	"github.com/shurcooL/githubv4"

	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
)

// KindDelivery is the job kind of a webhook delivery; its key is the
// X-GitHub-Delivery id, so a redelivery is recorded once.
const KindDelivery = "github.delivery"

// DefaultAPIURL is GitHub's REST API.
const DefaultAPIURL = "https://api.github.com/"

// Config is the App's configuration; cmd builds it from UFO_GITHUB_*.
type Config struct {
	AppID         int64
	PrivateKey    []byte // PEM
	WebhookSecret string
	// APIURL is the REST base (GitHub Enterprise: https://HOST/api/v3/).
	APIURL string
	// GraphQLURL defaults to APIURL + "graphql" (for an APIURL ending in
	// /api/v3/, GitHub Enterprise Server's /api/graphql).
	GraphQLURL string
	// Slug is the App's slug; its bot user is "<slug>[bot]". Empty: asked of
	// GitHub (GET /app) on first need.
	Slug string
	// PublicURL is UFO's, for links in comments and pull requests.
	PublicURL string
	// ClientID and ClientSecret are the App's OAuth credentials. Linking an
	// installation to a fleet needs them: the person linking it proves,
	// through GitHub's user authorization, that their GitHub account can
	// access the installation. Unset, nothing can be linked.
	ClientID     string
	ClientSecret string
	// WebURL is GitHub's web address, where users authorize the App
	// (default: https://github.com for api.github.com, https://HOST for
	// https://HOST/api/v3/, else the API URL's scheme and host).
	WebURL string
	// Transport carries every request to GitHub (default
	// http.DefaultTransport).
	Transport http.RoundTripper
	// MaxRateLimitWait is the longest wait for a rate limit to pass that a
	// request sits out in place (default 1 minute); a longer one fails the
	// job, which the worker retries later.
	MaxRateLimitWait time.Duration
}

// App is the GitHub App.
type App struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	tmpl    *templates
	apps    *ghinstallation.AppsTransport
	asApp   *gh.Client // authenticated as the App (JWT)
	restURL string
	gqlURL  string
	wake    func()

	mu      sync.Mutex
	clients map[int64]*installation
	slug    string
}

// installation is the clients of one installation, sharing one token.
type installation struct {
	rest *gh.Client
	gql  *githubv4.Client
}

// New checks the configuration and parses the templates.
func New(cfg Config, st *store.Store, log *slog.Logger) (*App, error) {
	if cfg.AppID <= 0 {
		return nil, errors.New("github: the App id must be a positive number")
	}
	if cfg.WebhookSecret == "" {
		return nil, errors.New("github: the webhook secret is empty")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("github: API URL %q is not an http(s) URL", cfg.APIURL)
	}
	if cfg.GraphQLURL == "" {
		cfg.GraphQLURL = cfg.APIURL + "graphql"
		// GitHub Enterprise Server serves REST at /api/v3 and GraphQL at
		// /api/graphql.
		if host, ok := strings.CutSuffix(cfg.APIURL, "/api/v3/"); ok {
			cfg.GraphQLURL = host + "/api/graphql"
		}
	}
	if cfg.WebURL == "" {
		cfg.WebURL = webURL(cfg.APIURL)
	}
	cfg.WebURL = strings.TrimSuffix(cfg.WebURL, "/")
	if u, err := url.Parse(cfg.WebURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("github: web URL %q is not an http(s) URL", cfg.WebURL)
	}
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return nil, errors.New("github: set both the App's client id and client secret, or neither")
	}
	if cfg.MaxRateLimitWait == 0 {
		cfg.MaxRateLimitWait = time.Minute
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	tr := &rateLimitTransport{base: cfg.Transport, max: cfg.MaxRateLimitWait, log: log}
	apps, err := ghinstallation.NewAppsTransport(tr, cfg.AppID, cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("github: read the App's private key: %w", err)
	}
	apps.BaseURL = strings.TrimSuffix(cfg.APIURL, "/")
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, store: st, log: log, tmpl: tmpl, apps: apps,
		restURL: cfg.APIURL, gqlURL: cfg.GraphQLURL, clients: map[int64]*installation{}, slug: cfg.Slug, wake: func() {}}
	if a.asApp, err = a.rest(apps); err != nil {
		return nil, err
	}
	return a, nil
}

// webURL is GitHub's web address for a REST API URL.
func webURL(apiURL string) string {
	if apiURL == DefaultAPIURL {
		return "https://github.com"
	}
	if host, ok := strings.CutSuffix(apiURL, "/api/v3/"); ok {
		return host
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Register adds the delivery handler to the worker, and lets the webhook
// wake it as soon as a delivery is recorded.
func (a *App) Register(w *bot.Worker) {
	w.Handle(KindDelivery, a.handleDelivery)
	a.wake = w.Wake
}

func (a *App) rest(tr http.RoundTripper, more ...gh.ClientOptionsFunc) (*gh.Client, error) {
	c, err := gh.NewClient(append([]gh.ClientOptionsFunc{gh.WithHTTPClient(&http.Client{Transport: tr, Timeout: time.Minute}),
		gh.WithURLs(&a.restURL, &a.restURL), gh.WithUserAgent("ufo-github-app"),
		// rateLimitTransport waits limits out; go-github's own check would
		// fail calls early instead.
		gh.WithDisableRateLimitCheck()}, more...)...)
	if err != nil {
		return nil, fmt.Errorf("github: make the REST client: %w", err)
	}
	return c, nil
}

// client returns the clients of an installation; they share one
// installation token, refreshed before it expires.
func (a *App) client(id int64) (*installation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.clients[id]; ok {
		return c, nil
	}
	tr := ghinstallation.NewFromAppsTransport(a.apps, id)
	rest, err := a.rest(tr)
	if err != nil {
		return nil, err
	}
	c := &installation{rest: rest, gql: githubv4.NewEnterpriseClient(a.gqlURL, &http.Client{Transport: tr, Timeout: time.Minute})}
	a.clients[id] = c
	return c, nil
}

// botLogin is the login of the App's bot user, "<slug>[bot]", or "" when
// the slug is unknown and GitHub cannot be asked.
func (a *App) botLogin(ctx context.Context) string {
	s := a.appSlug(ctx)
	if s == "" {
		return ""
	}
	return s + "[bot]"
}

func (a *App) appSlug(ctx context.Context) string {
	a.mu.Lock()
	s := a.slug
	a.mu.Unlock()
	if s != "" {
		return s
	}
	me, _, err := a.asApp.Apps.Get(ctx, "")
	if err != nil {
		a.log.Warn("github: ask GitHub for the App's slug (set UFO_GITHUB_SLUG to skip this)", "err", err)
		return ""
	}
	a.mu.Lock()
	a.slug = me.GetSlug()
	a.mu.Unlock()
	return me.GetSlug()
}

// fromSelf reports whether a sender is the App's own bot user.
func (a *App) fromSelf(ctx context.Context, sender *gh.User) bool {
	bot := a.botLogin(ctx)
	return bot != "" && strings.EqualFold(sender.GetLogin(), bot)
}

func splitRepo(fullName string) (owner, name string) {
	owner, name, _ = strings.Cut(fullName, "/")
	return owner, name
}

// status is the HTTP status of a GitHub error, or 0.
func status(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
