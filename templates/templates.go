// Package templates holds UFO's embedded templates and static files: the
// board's pages (board/*.html), and the stylesheet and script they load
// (static/*). The web layer parses them once at start-up.
package templates

import "embed"

// FS holds every template and static file.
//
//go:embed board/*.html static/*
var FS embed.FS
