// Package slack holds the Slack bot's templates: the Block Kit messages it
// posts (an operation's status message, edited in place) and the app
// manifest `ufo slack manifest` prints. bot/slack parses them once at
// start-up, and fails to start when one is missing or broken.
package slack

import "embed"

// FS holds every Slack template.
//
//go:embed *.tmpl
var FS embed.FS
