package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v92/github"

	ghtemplates "github.com/ufo-run/ufo/templates/github"
)

// ManifestOptions shape the App manifest.
type ManifestOptions struct {
	// Name is the App's name on GitHub (default "UFO").
	Name string
	// PublicURL is where GitHub reaches UFO: the webhook is
	// <PublicURL>/github/webhook, the setup URL <PublicURL>/github/setup.
	PublicURL string
	// RedirectURL, when set, is where GitHub sends the browser with the
	// code that trades for the new App's credentials.
	RedirectURL string
}

// Manifest renders the GitHub App manifest (templates/github/manifest.json)
// as indented JSON.
func Manifest(o ManifestOptions) ([]byte, error) {
	return ghtemplates.Manifest(o.Name, o.PublicURL, o.RedirectURL)
}

// AppCredentials are a new App's, as GitHub hands them over once after it
// was created from a manifest.
type AppCredentials struct {
	ID            int64
	Slug          string
	HTMLURL       string
	PEM           string
	WebhookSecret string
	// ClientID and ClientSecret are the App's OAuth credentials, which
	// linking an installation to a fleet needs.
	ClientID     string
	ClientSecret string
}

// CompleteManifest trades the code GitHub gives when it sends the browser
// back from creating an App from a manifest for the App's credentials. The
// code works once, within an hour; the call needs no credentials.
func CompleteManifest(ctx context.Context, apiURL, code string) (AppCredentials, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if !strings.HasSuffix(apiURL, "/") {
		apiURL += "/"
	}
	c, err := gh.NewClient(gh.WithURLs(&apiURL, &apiURL), gh.WithUserAgent("ufo-github-app"), gh.WithTimeout(time.Minute))
	if err != nil {
		return AppCredentials{}, fmt.Errorf("make the REST client: %w", err)
	}
	cfg, _, err := c.Apps.CompleteAppManifest(ctx, code)
	if err != nil {
		return AppCredentials{}, fmt.Errorf("trade the manifest code for the App's credentials: %w", err)
	}
	out := AppCredentials{ID: cfg.GetID(), Slug: cfg.GetSlug(), HTMLURL: cfg.GetHTMLURL(), PEM: cfg.GetPEM(), WebhookSecret: cfg.GetWebhookSecret(),
		ClientID: cfg.GetClientID(), ClientSecret: cfg.GetClientSecret()}
	if out.ID == 0 || out.PEM == "" || out.WebhookSecret == "" || out.ClientID == "" || out.ClientSecret == "" {
		return AppCredentials{}, errors.New("GitHub's answer lacks the App's id, private key, webhook secret, client id or client secret")
	}
	return out, nil
}
