package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/github"
	"github.com/ufo-run/ufo/store"
	ghtemplates "github.com/ufo-run/ufo/templates/github"
)

func init() { extraCommands = append(extraCommands, newGitHubCmd) }

// githubConfig is the GitHub App's part of the server's configuration. The
// secrets' flags have no defaults from the environment, so --help never
// prints them; the variables are read when the flags are empty.
type githubConfig struct {
	AppID          string
	PrivateKey     string
	PrivateKeyFile string
	WebhookSecret  string
	APIURL         string
	GraphQLURL     string
	WebURL         string
	Slug           string
	ClientID       string
	ClientSecret   string
}

func (c *githubConfig) flags(f *pflag.FlagSet) {
	f.StringVar(&c.AppID, "github-app-id", os.Getenv("UFO_GITHUB_APP_ID"), "GitHub App id (UFO_GITHUB_APP_ID)")
	f.StringVar(&c.PrivateKey, "github-private-key", "", "GitHub App private key, PEM (UFO_GITHUB_PRIVATE_KEY)")
	f.StringVar(&c.PrivateKeyFile, "github-private-key-file", os.Getenv("UFO_GITHUB_PRIVATE_KEY_FILE"), "file holding the GitHub App private key (UFO_GITHUB_PRIVATE_KEY_FILE)")
	f.StringVar(&c.WebhookSecret, "github-webhook-secret", "", "GitHub App webhook secret (UFO_GITHUB_WEBHOOK_SECRET)")
	f.StringVar(&c.APIURL, "github-api-url", envOr("UFO_GITHUB_API_URL", github.DefaultAPIURL), "GitHub REST API base URL; GitHub Enterprise: https://HOST/api/v3/ (UFO_GITHUB_API_URL)")
	f.StringVar(&c.GraphQLURL, "github-graphql-url", os.Getenv("UFO_GITHUB_GRAPHQL_URL"), "GitHub GraphQL URL (UFO_GITHUB_GRAPHQL_URL; default: the API URL + graphql, or https://HOST/api/graphql for GitHub Enterprise Server)")
	f.StringVar(&c.WebURL, "github-web-url", os.Getenv("UFO_GITHUB_WEB_URL"), "GitHub's web address, where users authorize the App (UFO_GITHUB_WEB_URL; default: https://github.com, or https://HOST for GitHub Enterprise Server)")
	f.StringVar(&c.ClientID, "github-client-id", os.Getenv("UFO_GITHUB_CLIENT_ID"), "GitHub App client id, for linking installations to fleets (UFO_GITHUB_CLIENT_ID)")
	f.StringVar(&c.ClientSecret, "github-client-secret", "", "GitHub App client secret, for linking installations to fleets (UFO_GITHUB_CLIENT_SECRET)")
	f.StringVar(&c.Slug, "github-slug", os.Getenv("UFO_GITHUB_SLUG"), "the App's slug, whose bot user is <slug>[bot] (UFO_GITHUB_SLUG; default: asked of GitHub)")
}

// resolved fills the secrets from the environment and reads the key file.
func (c githubConfig) resolved() (githubConfig, error) {
	if c.PrivateKey == "" {
		c.PrivateKey = os.Getenv("UFO_GITHUB_PRIVATE_KEY")
	}
	if c.WebhookSecret == "" {
		c.WebhookSecret = os.Getenv("UFO_GITHUB_WEBHOOK_SECRET")
	}
	if c.ClientSecret == "" {
		c.ClientSecret = os.Getenv("UFO_GITHUB_CLIENT_SECRET")
	}
	if c.PrivateKey != "" && c.PrivateKeyFile != "" {
		return c, errors.New("github: set UFO_GITHUB_PRIVATE_KEY or UFO_GITHUB_PRIVATE_KEY_FILE, not both")
	}
	if c.PrivateKeyFile != "" {
		b, err := os.ReadFile(c.PrivateKeyFile)
		if err != nil {
			return c, fmt.Errorf("github: read the private key: %w", err)
		}
		c.PrivateKey = string(b)
	}
	// A PEM put in one line of an environment file keeps its line breaks
	// as \n.
	if !strings.Contains(c.PrivateKey, "\n") {
		c.PrivateKey = strings.ReplaceAll(c.PrivateKey, `\n`, "\n")
	}
	return c, nil
}

// githubAdapter is the running GitHub App, or nil when GitHub is off.
type githubAdapter struct {
	app *github.App
	cfg githubConfig
}

// startGitHub builds the GitHub App when it is configured and registers
// its delivery jobs on the worker. Nothing configured means nil: GitHub is
// off. A half-made configuration is an error that names what is missing.
func startGitHub(c githubConfig, publicURL string, st *store.Store, w *bot.Worker, log *slog.Logger) (*githubAdapter, error) {
	c, err := c.resolved()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, v := range []struct{ name, value string }{
		{"UFO_GITHUB_APP_ID", c.AppID}, {"UFO_GITHUB_PRIVATE_KEY (or _FILE)", c.PrivateKey}, {"UFO_GITHUB_WEBHOOK_SECRET", c.WebhookSecret},
	} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	switch len(missing) {
	case 3:
		return nil, nil
	case 1, 2:
		return nil, fmt.Errorf("github: set %s too (or none of the three to leave GitHub off)", strings.Join(missing, " and "))
	}
	id, err := strconv.ParseInt(c.AppID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("github: UFO_GITHUB_APP_ID %q is not a number", c.AppID)
	}
	a, err := github.New(github.Config{AppID: id, PrivateKey: []byte(c.PrivateKey), WebhookSecret: c.WebhookSecret,
		APIURL: c.APIURL, GraphQLURL: c.GraphQLURL, WebURL: c.WebURL, Slug: c.Slug, PublicURL: publicURL,
		ClientID: c.ClientID, ClientSecret: c.ClientSecret}, st, log)
	if err != nil {
		return nil, err
	}
	a.Register(w)
	return &githubAdapter{app: a, cfg: c}, nil
}

func (a *githubAdapter) notifiers() map[string]bot.Notifier {
	if a == nil {
		return nil
	}
	return map[string]bot.Notifier{"github": a.app}
}

func (a *githubAdapter) mounters() []web.Mounter {
	if a == nil {
		return nil
	}
	return []web.Mounter{a.app}
}

// credential is the claim answer's repository credential hook.
func (a *githubAdapter) credential() func(context.Context, app.Mission) (string, string, error) {
	if a == nil {
		return nil
	}
	return a.app.RepoCredential
}

// logState says at start-up whether the GitHub App is on.
func (a *githubAdapter) logState(log *slog.Logger) {
	if a == nil {
		log.Info("GitHub is off: set UFO_GITHUB_APP_ID, UFO_GITHUB_PRIVATE_KEY (or UFO_GITHUB_PRIVATE_KEY_FILE) and UFO_GITHUB_WEBHOOK_SECRET to connect it")
		return
	}
	slug := a.cfg.Slug
	if slug == "" {
		slug = "(asked of GitHub on first need)"
	}
	log.Info("GitHub is on", "app_id", a.cfg.AppID, "slug", slug, "api", a.cfg.APIURL, "webhook", "/github/webhook")
	if a.cfg.ClientID == "" {
		log.Warn("GitHub: installations cannot be linked to fleets until UFO_GITHUB_CLIENT_ID and UFO_GITHUB_CLIENT_SECRET are set (the App's client id and secret)")
	}
}

func newGitHubCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Set up the GitHub App",
	}
	var o github.ManifestOptions
	manifest := &cobra.Command{
		Use:   "manifest",
		Short: "Print the GitHub App manifest (JSON) for this server, to create the App from",
		Long: "Print the GitHub App manifest for this server: its webhook and setup URLs, and the permissions and\n" +
			"events UFO needs. docs/github.md shows how to create the App from it in one step.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := github.Manifest(o)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := manifest.Flags()
	f.StringVar(&o.Name, "name", "UFO", "the App's name on GitHub (it must be unique there)")
	f.StringVar(&o.PublicURL, "public-url", envOr("UFO_PUBLIC_URL", "http://localhost:8080"), "URL GitHub reaches this server at (UFO_PUBLIC_URL)")
	f.StringVar(&o.RedirectURL, "redirect-url", "", "where GitHub sends the browser with the code for the new App's credentials (optional)")
	cmd.AddCommand(manifest, newGitHubCreateAppCmd())
	return cmd
}

// createApp is `ufo github create-app`: GitHub's manifest flow, with this
// command as the page that posts the manifest and receives the code.
type createApp struct {
	Name, PublicURL, Org, GitHubURL, APIURL, Out, Listen string
}

func newGitHubCreateAppCmd() *cobra.Command {
	var o createApp
	cmd := &cobra.Command{
		Use:   "create-app",
		Short: "Create the GitHub App in one click, and save its credentials",
		Long: "Serve a page on this machine with a button that creates UFO's GitHub App on GitHub from its manifest.\n" +
			"GitHub sends the browser back with a code, which this command trades for the App's id, private key,\n" +
			"webhook secret, client id and client secret; it saves them under --out (mode 0600) as the UFO_GITHUB_* settings, and exits.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "UFO", "the App's name on GitHub (it must be unique there)")
	f.StringVar(&o.PublicURL, "public-url", envOr("UFO_PUBLIC_URL", "http://localhost:8080"), "URL GitHub reaches this server at (UFO_PUBLIC_URL)")
	f.StringVar(&o.Org, "org", "", "create the App for this organization instead of your account")
	f.StringVar(&o.GitHubURL, "github-url", "https://github.com", "GitHub's web address (GitHub Enterprise Server: https://HOST)")
	f.StringVar(&o.APIURL, "github-api-url", envOr("UFO_GITHUB_API_URL", github.DefaultAPIURL), "GitHub REST API base URL (UFO_GITHUB_API_URL)")
	f.StringVar(&o.Out, "out", defaultHome(), "folder for the App's private key and settings file")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address of the local page")
	return cmd
}

func (o createApp) run(ctx context.Context, stdout io.Writer) error {
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	local := "http://" + ln.Addr().String()
	manifest, err := ghtemplates.Manifest(o.Name, o.PublicURL, local+"/created")
	if err != nil {
		ln.Close()
		return err
	}
	pages, err := htmltemplate.ParseFS(ghtemplates.FS, "create_app.html")
	if err != nil {
		ln.Close()
		return err
	}
	state := app.NewToken("")
	create := strings.TrimSuffix(o.GitHubURL, "/") + "/settings/apps/new"
	if o.Org != "" {
		create = strings.TrimSuffix(o.GitHubURL, "/") + "/organizations/" + url.PathEscape(o.Org) + "/settings/apps/new"
	}
	create += "?state=" + url.QueryEscape(state)
	done := make(chan createdApp, 1)
	page := func(w http.ResponseWriter, status int, name string, data any) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action "+o.GitHubURL+"; frame-ancestors 'none'")
		w.WriteHeader(status)
		pages.ExecuteTemplate(w, name, data)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, 200, "create", map[string]string{"Name": o.Name, "CreateURL": create, "Manifest": string(manifest),
			"WebhookURL": strings.TrimSuffix(o.PublicURL, "/") + "/github/webhook"})
	})
	var once sync.Once
	mux.HandleFunc("GET /created", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 || q.Get("code") == "" {
			page(w, 400, "failed", "This link does not come from the page this command served: start again from "+local+"/.")
			return
		}
		creds, err := github.CompleteManifest(r.Context(), o.APIURL, q.Get("code"))
		var saved createdApp
		if err == nil {
			saved, err = o.save(creds)
		}
		if err != nil {
			page(w, 502, "failed", err.Error())
			return
		}
		page(w, 200, "created", saved)
		once.Do(func() { done <- saved })
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(stdout, "Open %s/ in a browser to create the GitHub App %q.\n", local, o.Name)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case s := <-done:
		fmt.Fprintf(stdout, "Created the GitHub App %s (%s).\nIts settings are in %s; give them to ufo server and restart it, then install the App: %s\n",
			s.Slug, s.HTMLURL, s.EnvFile, s.InstallURL)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// createdApp is where a new App's credentials were saved.
type createdApp struct {
	Slug, HTMLURL, EnvFile, KeyFile, InstallURL string
}

// save writes the App's private key and its UFO_GITHUB_* settings, readable
// only by the user, never over existing files.
func (o createApp) save(c github.AppCredentials) (createdApp, error) {
	if err := os.MkdirAll(o.Out, 0o700); err != nil {
		return createdApp{}, err
	}
	s := createdApp{Slug: c.Slug, HTMLURL: c.HTMLURL, InstallURL: strings.TrimSuffix(c.HTMLURL, "/") + "/installations/new",
		KeyFile: filepath.Join(o.Out, fmt.Sprintf("github-app-%d.pem", c.ID)), EnvFile: filepath.Join(o.Out, fmt.Sprintf("github-app-%d.env", c.ID))}
	env := fmt.Sprintf("UFO_GITHUB_APP_ID=%d\nUFO_GITHUB_SLUG=%s\nUFO_GITHUB_WEBHOOK_SECRET=%s\nUFO_GITHUB_PRIVATE_KEY_FILE=%s\nUFO_GITHUB_CLIENT_ID=%s\nUFO_GITHUB_CLIENT_SECRET=%s\n",
		c.ID, c.Slug, c.WebhookSecret, s.KeyFile, c.ClientID, c.ClientSecret)
	if o.APIURL != github.DefaultAPIURL {
		env += "UFO_GITHUB_API_URL=" + o.APIURL + "\n"
	}
	if web := strings.TrimSuffix(o.GitHubURL, "/"); web != "https://github.com" {
		env += "UFO_GITHUB_WEB_URL=" + web + "\n"
	}
	for path, text := range map[string]string{s.KeyFile: c.PEM, s.EnvFile: env} {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return createdApp{}, fmt.Errorf("save the App's credentials (%w); the App %s exists: generate a private key and set a webhook secret in its settings, %s",
				err, c.Slug, c.HTMLURL)
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return createdApp{}, fmt.Errorf("save the App's credentials (%w); the App %s exists: generate a private key and set a webhook secret in its settings, %s",
				err, c.Slug, c.HTMLURL)
		}
	}
	return s, nil
}
