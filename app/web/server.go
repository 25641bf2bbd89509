// Package web serves UFO over HTTP: the JSON API, the rover protocol, the
// change feed and the board. Every route is listed in routes.go.
package web

import (
	"context"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/templates"
)

// Config is what the HTTP layer needs to know; cmd builds it once.
type Config struct {
	PublicURL     string
	SecureCookies bool
	Lease         time.Duration // run lease
	LongPoll      time.Duration // longest claim wait
	Heartbeat     time.Duration // how often rovers heartbeat
	Version       string
	// OnFleetCreated is called after a fleet is created (ufo up enrolls its
	// local rover there). Nil means nothing.
	OnFleetCreated func(ctx context.Context, fleetID string)
	// StreamPing is how often an event stream pings and re-checks that its
	// session and membership still hold (default 20 s).
	StreamPing time.Duration
	// Mounters add the GitHub and Slack adapters' routes.
	Mounters []Mounter
	// RepoCredential, when set, gives the rover that claimed a run of a
	// mission with a repository a short-lived credential for that one
	// repository (the GitHub App mints an installation token). Empty
	// strings mean none.
	RepoCredential func(ctx context.Context, m app.Mission) (user, password string, err error)
	// Templates holds the board's pages and static files (default
	// templates.FS).
	Templates fs.FS
	// Connections say which outside services this server is set up for,
	// for the board's settings page.
	Connections []Connection
}

// Connection is the state of one outside service on this server.
type Connection struct {
	Name       string // GitHub, Slack
	Configured bool
	// Manifest is the app manifest to create the GitHub App or the Slack
	// app from, rendered for this server's public URL; the settings page
	// offers it.
	Manifest []byte
}

// Server holds the HTTP layer's dependencies.
type Server struct {
	store   *store.Store
	cfg     Config
	log     *slog.Logger
	hub     *Hub
	metrics *metrics
	board   *board

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // sign-in attempts by client address
}

// New makes a Server. The hub must be running (see Hub.Run). It fails when
// a board page is missing or does not parse.
func New(st *store.Store, hub *Hub, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Lease == 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.LongPoll == 0 {
		cfg.LongPoll = 25 * time.Second
	}
	if cfg.StreamPing == 0 {
		cfg.StreamPing = 20 * time.Second
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Templates == nil {
		cfg.Templates = templates.FS
	}
	b, err := newBoard(cfg.Templates)
	if err != nil {
		return nil, err
	}
	return &Server{store: st, cfg: cfg, log: log, hub: hub, metrics: newMetrics(st), board: b, limiters: map[string]*rate.Limiter{}}, nil
}

// Rate limits per client address: a burst, refilled at one per interval.
var (
	signInRate = limitRule{"sign-in", 6 * time.Second, 10}
	signUpRate = limitRule{"sign-up", 12 * time.Second, 5}
	enrollRate = limitRule{"enroll", 6 * time.Second, 10}
)

type limitRule struct {
	name  string
	every time.Duration
	burst int
}

// allow spends one token of rule's bucket for addr. The buckets are forgotten
// wholesale past 10,000 addresses, which bounds memory.
func (s *Server) allow(rule limitRule, addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := rule.name + " " + addr
	l, ok := s.limiters[key]
	if !ok {
		if len(s.limiters) > 10000 {
			s.limiters = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(rule.every), rule.burst)
		s.limiters[key] = l
	}
	return l.Allow()
}
