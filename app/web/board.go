package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/app"
)

// boardPages are the board's pages: each is board/<name>.html, parsed with
// board/layout.html and board/parts.html. Start-up fails when one is missing.
var boardPages = []string{
	"signin", "signup", "invitation", "error",
	"board", "operation", "rovers", "pilots", "crews", "missions", "members", "settings",
}

// boardAssets are the static files the layout loads.
var boardAssets = []string{"board.css", "board.js"}

// board holds the parsed pages and the static files.
type board struct {
	pages  map[string]*template.Template
	static fs.FS
	// asset is a hash of the static files, added to their URLs so that
	// browsers may cache them for good.
	asset string
}

// newBoard parses every page of fsys once.
func newBoard(fsys fs.FS) (*board, error) {
	base, err := template.New("").Funcs(boardFuncs).ParseFS(fsys, "board/layout.html", "board/parts.html")
	if err != nil {
		return nil, fmt.Errorf("parse board layout: %w", err)
	}
	b := &board{pages: map[string]*template.Template{}}
	for _, name := range boardPages {
		t, err := template.Must(base.Clone()).ParseFS(fsys, "board/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse board page %s: %w", name, err)
		}
		if t.Lookup("content") == nil {
			return nil, fmt.Errorf("parse board page %s: it defines no content", name)
		}
		b.pages[name] = t
	}
	if b.static, err = fs.Sub(fsys, "static"); err != nil {
		return nil, fmt.Errorf("board static files: %w", err)
	}
	h := sha256.New()
	for _, name := range boardAssets {
		data, err := fs.ReadFile(b.static, name)
		if err != nil {
			return nil, fmt.Errorf("board static files: %w", err)
		}
		h.Write(data)
	}
	b.asset = hex.EncodeToString(h.Sum(nil))[:12]
	return b, nil
}

// contentSecurityPolicy allows only this origin's script and styles, and no
// inline script: user content cannot run even if it slipped through.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// render executes a page into a buffer, then writes it, so that a failing
// template never sends half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.board.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// serveStatic serves the stylesheet and script; their URLs carry the
// content's hash, so they are cached for a year.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := param(r, "*")
	data, err := fs.ReadFile(s.board.static, name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == s.board.asset {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Write(data)
}

// layout is what the layout template needs; every page's data embeds it.
type layout struct {
	Title string
	Nav   string // the active navigation item
	Asset string
	User  app.User
	// Fleet is the fleet the page shows (Role is the user's), Fleets all of
	// the user's fleets for the switcher.
	Fleet  app.Fleet
	Fleets []app.Fleet
	// After is the change-feed position the page reflects: its script
	// follows the feed from there and refreshes the page's live parts.
	After int64
	// Path is the page's path without the query, for the fleet switcher.
	Path string
}

// Admin reports whether the user may manage the fleet.
func (p layout) Admin() bool { return app.RoleAtLeast(p.Fleet.Role, app.RoleAdmin) }

type layoutKeyType struct{}

var layoutKey layoutKeyType

func layoutFrom(ctx context.Context) layout { l, _ := ctx.Value(layoutKey).(layout); return l }

// newLayout starts a page's data from what the middleware resolved.
func (s *Server) newLayout(r *http.Request, title, nav string) layout {
	p := layoutFrom(r.Context())
	p.Title, p.Nav, p.Asset = title, nav, s.board.asset
	if p.User.ID == "" {
		p.User = userFrom(r.Context())
	}
	return p
}

// boardSignedIn sends visitors without a session to the sign-in page, and
// back here afterwards.
func (s *Server) boardSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if userFrom(r.Context()).ID == "" {
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// boardFleet resolves the fleet a page shows: ?fleet=, or the user's first
// fleet. A fleet the user is not in answers 404, as the API does.
func (s *Server) boardFleet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		fleets, err := s.store.FleetsForUser(r.Context(), u.ID)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		p := layout{User: u, Fleets: fleets, Path: r.URL.Path}
		want := r.URL.Query().Get("fleet")
		for _, f := range fleets {
			if f.ID == want || (want == "" && p.Fleet.ID == "") {
				p.Fleet = f
			}
		}
		if p.Fleet.ID == "" {
			if want == "" {
				s.renderError(w, r, http.StatusNotFound, "No fleet yet", "You are not a member of any fleet. Ask a fleet's admin for an invitation, or create a fleet.", true)
				return
			}
			s.pageError(w, r, app.Errorf(app.ENotFound, "fleet not found"))
			return
		}
		if p.After, err = s.feedPosition(r.Context(), p.Fleet.ID); err != nil {
			s.pageError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), fleetKey, p.Fleet.ID)
		ctx = context.WithValue(ctx, roleKey, p.Fleet.Role)
		ctx = context.WithValue(ctx, layoutKey, p)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// feedPosition is the id of the fleet's newest change-feed row. It is read
// before the page's data, so every change the page may miss comes after it.
// Feed ids commit in order within a fleet (see store.emit), so none is
// skipped.
func (s *Server) feedPosition(ctx context.Context, fleetID string) (int64, error) {
	id, err := s.store.LatestEventID(ctx, fleetID)
	if err != nil {
		return 0, fmt.Errorf("read the change feed's position: %w", err)
	}
	return id, nil
}

type errorPage struct {
	layout
	Message     string
	CreateFleet bool
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, message string, createFleet bool) {
	p := s.newLayout(r, title, "")
	s.render(w, status, "error", errorPage{layout: p, Message: message, CreateFleet: createFleet})
}

// pageError answers a failed page with its status; internal errors are
// logged and shown as such.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	code := app.ErrorCode(err)
	if code == app.EInternal {
		s.log.Error("page failed", "path", r.URL.Path, "err", err)
	}
	title := http.StatusText(statusOf[code])
	if code == app.ENotFound {
		title = "Not found"
	}
	s.renderError(w, r, statusOf[code], title, app.ErrorMessage(err), false)
}

// home sends people to their board, or to sign in.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if userFrom(r.Context()).ID == "" {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/board", http.StatusSeeOther)
}

var statusNames = map[string]string{
	app.StatusBacklog: "Backlog", app.StatusQueued: "Queued", app.StatusRunning: "Running",
	app.StatusInReview: "In Review", app.StatusDone: "Done", app.StatusCanceled: "Canceled",
}

var priorityNames = []string{"No priority", "Low", "Medium", "High", "Urgent"}

// boardFuncs are the functions the pages call.
var boardFuncs = template.FuncMap{
	"statusName": func(s string) string {
		if n, ok := statusNames[s]; ok {
			return n
		}
		return s
	},
	"priorityName": func(p int) string {
		if p >= 0 && p < len(priorityNames) {
			return priorityNames[p]
		}
		return strconv.Itoa(p)
	},
	"priorities": func() []int { return []int{0, 1, 2, 3, 4} },
	// when is a time for people (the script shows it in their time zone),
	// iso the same for <time datetime>.
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"gb": func(mb int64) string {
		if mb < 1024 {
			return strconv.FormatInt(mb, 10) + " MB"
		}
		return strconv.FormatFloat(float64(mb)/1024, 'f', 1, 64) + " GB"
	},
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"roles": func() []string { return []string{app.RoleMember, app.RoleAdmin, app.RoleOwner} },
	"inc":   func(n int) int { return n + 1 },
	"dec":   func(n int) int { return n - 1 },
	// sortToggle is the sort a column header links to: first, its usual
	// order; when that is the current sort, the reverse.
	"sortToggle": func(current, first string) string {
		if current != first {
			return first
		}
		if rest, ok := strings.CutPrefix(first, "-"); ok {
			return rest
		}
		return "-" + first
	},
	"join":  strings.Join,
	"words": func(s string) string { return strings.ReplaceAll(s, "_", " ") },
}
