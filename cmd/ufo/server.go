package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/github"
	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgserver"
)

func init() { extraCommands = append(extraCommands, newServerCmd, newMigrateCmd) }

// serverConfig is built once from flags and UFO_* variables.
type serverConfig struct {
	DatabaseURL   string
	Home          string
	Addr          string
	PublicURL     string
	LeaseSeconds  int
	LongPollSecs  int
	SecureCookies bool
	LogFormat     string
	LogLevel      string
	Slack         slackConfig
	GitHub        githubConfig
}

// flags binds the configuration to cmd's flags; addr is the default listen
// address when UFO_ADDR is unset.
func (c *serverConfig) flags(cmd *cobra.Command, addr string) {
	f := cmd.Flags()
	f.StringVar(&c.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (DATABASE_URL); unset: a private cluster under $UFO_HOME/postgres")
	f.StringVar(&c.Home, "home", defaultHome(), "UFO's folder (UFO_HOME)")
	f.StringVar(&c.Addr, "addr", envOr("UFO_ADDR", addr), "address to listen on (UFO_ADDR)")
	f.StringVar(&c.PublicURL, "public-url", envOr("UFO_PUBLIC_URL", "http://localhost:8080"), "URL people and rovers reach this server at (UFO_PUBLIC_URL)")
	f.IntVar(&c.LeaseSeconds, "lease", envInt("UFO_RUN_LEASE_SECONDS", 30), "run lease in seconds (UFO_RUN_LEASE_SECONDS)")
	f.IntVar(&c.LongPollSecs, "longpoll", envInt("UFO_LONGPOLL_SECONDS", 25), "longest claim wait in seconds (UFO_LONGPOLL_SECONDS)")
	f.BoolVar(&c.SecureCookies, "secure-cookies", envBool("UFO_SECURE_COOKIES"), "mark cookies Secure, for HTTPS (UFO_SECURE_COOKIES)")
	f.StringVar(&c.LogFormat, "log-format", envOr("UFO_LOG_FORMAT", "text"), "log format: text or json (UFO_LOG_FORMAT)")
	f.StringVar(&c.LogLevel, "log-level", envOr("UFO_LOG_LEVEL", "info"), "log level: debug, info, warn, error (UFO_LOG_LEVEL)")
	c.Slack.flags(f)
	c.GitHub.flags(f)
}

func newServerCmd() *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the UFO server: API, rover protocol, change feed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), cfg.LogFormat, cfg.LogLevel)
			return runServer(cmd.Context(), cfg, log, nil)
		},
	}
	cfg.flags(cmd, ":8080")
	return cmd
}

func newMigrateCmd() *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), cfg.LogFormat, cfg.LogLevel)
			url, stop, err := openDatabase(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer stop()
			if err := store.Migrate(cmd.Context(), url, log); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "migrations are current")
			return nil
		},
	}
	cfg.flags(cmd, ":8080")
	return cmd
}

// openDatabase returns the database URL to use, starting the private cluster
// when DATABASE_URL is unset; stop shuts that cluster down.
func openDatabase(ctx context.Context, cfg serverConfig, log *slog.Logger) (string, func(), error) {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL, func() {}, nil
	}
	dir := filepath.Join(cfg.Home, "postgres")
	log.Info("DATABASE_URL is unset: starting a private PostgreSQL cluster", "dir", dir)
	pg, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Logger: log})
	if err != nil {
		return "", nil, fmt.Errorf("start private PostgreSQL: %w", err)
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := pg.Stop(sctx); err != nil {
			log.Error("stop private PostgreSQL", "err", err)
		}
	}
	return pg.URL("ufo"), stop, nil
}

// runServer serves until ctx ends. started, when set, is called with the
// listening address, the HTTP configuration (still open to changes) and
// the store, just before the server starts accepting requests.
func runServer(ctx context.Context, cfg serverConfig, log *slog.Logger, started func(addr net.Addr, wcfg *web.Config, st *store.Store)) error {
	if err := validPositive("UFO_RUN_LEASE_SECONDS", cfg.LeaseSeconds); err != nil {
		return err
	}
	if err := validPositive("UFO_LONGPOLL_SECONDS", cfg.LongPollSecs); err != nil {
		return err
	}
	url, stopDB, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopDB()
	if err := store.Migrate(ctx, url, log); err != nil {
		return err
	}
	st, err := store.Open(ctx, url, log)
	if err != nil {
		return err
	}
	defer st.Close()

	hub := web.NewHub(url, st, log)
	go hub.Run(ctx)
	select {
	case <-hub.Ready():
	case <-ctx.Done():
		return nil
	case <-time.After(15 * time.Second):
		return errors.New("could not LISTEN on the database within 15 s")
	}
	lease := seconds(cfg.LeaseSeconds)
	go sweep(ctx, st, lease, log)

	worker := bot.NewWorker(st, log)
	slackBot, err := startSlack(ctx, cfg.Slack, cfg.PublicURL, st, worker, log)
	if err != nil {
		return err
	}
	gh, err := startGitHub(cfg.GitHub, cfg.PublicURL, st, worker, log)
	if err != nil {
		return err
	}
	notifiers := map[string]bot.Notifier{}
	maps.Copy(notifiers, slackBot.notifiers())
	maps.Copy(notifiers, gh.notifiers())
	worker.Handle(bot.KindNotify, bot.NotifyHandler(log, notifiers))
	go worker.Run(ctx)

	wcfg := web.Config{PublicURL: cfg.PublicURL, SecureCookies: cfg.SecureCookies, Lease: lease,
		LongPoll: seconds(cfg.LongPollSecs), Version: version, Mounters: append(slackBot.mounters(), gh.mounters()...),
		Connections:    connections(cfg.PublicURL, gh != nil, slackBot != nil, log),
		RepoCredential: gh.credential()}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if started != nil {
		started(ln.Addr(), &wcfg, st)
	}
	ws, err := web.New(st, hub, wcfg, log)
	if err != nil {
		ln.Close()
		return fmt.Errorf("start the web server: %w", err)
	}
	srv := &http.Server{
		Handler:           ws.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	log.Info("ufo server is up", "url", cfg.PublicURL, "addr", ln.Addr().String(), "version", version)
	gh.logState(log)
	slackBot.logState(log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// sweep requeues runs whose lease expired and marks silent rovers offline.
// Every replica sweeps; SKIP LOCKED keeps them from doing the same work.
func sweep(ctx context.Context, st *store.Store, lease time.Duration, log *slog.Logger) {
	t := time.NewTicker(max(lease/3, 200*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := st.SweepLeases(ctx); err != nil && ctx.Err() == nil {
			log.Error("sweep leases", "err", err)
		} else if n > 0 {
			log.Info("swept expired leases", "runs", n)
		}
		if _, err := st.MarkRoversOffline(ctx, 2*lease+30*time.Second); err != nil && ctx.Err() == nil {
			log.Error("mark rovers offline", "err", err)
		}
		if _, err := st.PruneJobs(ctx, 7*24*time.Hour); err != nil && ctx.Err() == nil {
			log.Error("prune jobs", "err", err)
		}
	}
}

// connections describes the GitHub and Slack set-up for the settings page,
// with each app's manifest for this server.
func connections(publicURL string, githubOn, slackOn bool, log *slog.Logger) []web.Connection {
	ghManifest, err := github.Manifest(github.ManifestOptions{PublicURL: publicURL})
	if err != nil {
		log.Warn("no GitHub App manifest for the settings page", "err", err)
	}
	slackManifest, err := slack.Manifest(publicURL, false)
	if err != nil {
		log.Warn("no Slack app manifest for the settings page", "err", err)
	}
	return []web.Connection{
		{Name: "GitHub", Configured: githubOn, Manifest: ghManifest},
		{Name: "Slack", Configured: slackOn, Manifest: slackManifest},
	}
}
