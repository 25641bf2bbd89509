package github

import ghtemplates "github.com/ufo-run/ufo/templates/github"

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
