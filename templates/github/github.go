// Package github holds the GitHub App's templates: the status comment kept
// on an issue, the pull request body, the replies to comments, the setup
// pages and the App manifest. bot/github parses them once at start-up.
package github

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/template"
)

// FS holds every template of the GitHub App.
//
//go:embed *.md *.html *.json
var FS embed.FS

// Manifest renders manifest.json, the GitHub App manifest for a UFO server
// reached at publicURL, as indented JSON: the webhook is
// <publicURL>/github/webhook and the setup URL <publicURL>/github/setup.
// name defaults to "UFO"; redirectURL, when set, is where GitHub sends the
// browser with the code for the new App's credentials. It lives here, not
// in bot/github, so the board's settings page can offer it too.
func Manifest(name, publicURL, redirectURL string) ([]byte, error) {
	if name == "" {
		name = "UFO"
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the public URL %q is not an http(s) URL", publicURL)
	}
	base := strings.TrimSuffix(publicURL, "/")
	t, err := template.New("manifest.json").Funcs(template.FuncMap{"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).ParseFS(FS, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("parse manifest.json: %w", err)
	}
	var text bytes.Buffer
	err = t.Execute(&text, map[string]string{"Name": name, "URL": base,
		"WebhookURL": base + "/github/webhook", "SetupURL": base + "/github/setup", "RedirectURL": redirectURL})
	if err != nil {
		return nil, fmt.Errorf("render manifest.json: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(text.Bytes()), "", "  "); err != nil {
		return nil, fmt.Errorf("manifest.json is not JSON: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}
