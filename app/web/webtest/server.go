// Package webtest starts a UFO server on a PostgreSQL database of its own
// and talks to it over HTTP as a browser or a rover would, for the tests of
// app/web and of the adapters it mounts (bot/github, bot/slack). Only tests
// import it. The database comes from store/pgtest, so the importing package
// still needs its TestMain:
//
//	func TestMain(m *testing.M) {
//		pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
//		pgtest.Main(m)
//	}
package webtest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

// Server is one UFO server on its own database.
type Server struct {
	T      testing.TB
	Store  *store.Store
	Log    *slog.Logger
	Config web.Config // as given to web.New, once Serve has run
	URL    string     // where the server listens, once Serve has run

	hub *web.Hub
}

// New opens a database and serves on it with the default configuration
// changed by tweak, logging warnings and errors to t.Log.
func New(t testing.TB, tweak ...func(*web.Config)) *Server {
	t.Helper()
	s := Open(t, Logger(t, slog.LevelWarn))
	s.Serve(tweak...)
	return s
}

// Open gives the test a database of its own, a store on it and a running
// change-feed hub, but no HTTP server yet: a test builds what needs the
// store (a GitHub App, the Slack bot and its worker) and then mounts it
// with Serve. All of it is closed when the test ends.
func Open(t testing.TB, log *slog.Logger) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := pgtest.NewDB(t)
	st, err := store.Open(ctx, url, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		st.Close()
	})
	hub := web.NewHub(url, st, log)
	go hub.Run(ctx)
	<-hub.Ready()
	return &Server{T: t, Store: st, Log: log, hub: hub}
}

// Serve starts the HTTP server. The configuration is public URL
// http://ufo.test, a 30-second lease and a 2-second longest claim wait,
// changed by tweak. The server stops before the store closes.
func (s *Server) Serve(tweak ...func(*web.Config)) {
	s.T.Helper()
	cfg := web.Config{PublicURL: "http://ufo.test", Lease: 30 * time.Second, LongPoll: 2 * time.Second}
	for _, f := range tweak {
		f(&cfg)
	}
	ws, err := web.New(s.Store, s.hub, cfg, s.Log)
	if err != nil {
		s.T.Fatal(err)
	}
	srv := httptest.NewServer(ws.Handler())
	s.T.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	s.Config, s.URL = cfg, srv.URL
}

// Logger sends logs at level and above to t.Log.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
