package github

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
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
	if o.Name == "" {
		o.Name = "UFO"
	}
	u, err := url.Parse(o.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the public URL %q is not an http(s) URL", o.PublicURL)
	}
	base := strings.TrimSuffix(o.PublicURL, "/")
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	text, err := t.render("manifest.json", map[string]string{"Name": o.Name, "URL": base,
		"WebhookURL": base + "/github/webhook", "SetupURL": base + "/github/setup", "RedirectURL": o.RedirectURL})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(text), "", "  "); err != nil {
		return nil, fmt.Errorf("the manifest template is not JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
