// Package github holds the GitHub App's templates: the status comment kept
// on an issue, the pull request body, the replies to comments, the setup
// pages and the App manifest. bot/github parses them once at start-up.
package github

import "embed"

// FS holds every template of the GitHub App.
//
//go:embed *.md *.html *.json
var FS embed.FS
