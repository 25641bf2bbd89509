package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgserver"
)

// Server timings: the production defaults.
const (
	serverLease    = 30 * time.Second
	serverLongPoll = 25 * time.Second
)

// bench holds what every figure shares: one cluster, one database, one
// server in this process.
type bench struct {
	cfg      config
	log      *slog.Logger
	progress io.Writer

	tmp       string              // scratch folder, removed at the end
	dbURL     string              // the bench's database
	dbFor     func(string) string // URL of another database on the same cluster
	adminURL  string              // a database to run CREATE/DROP DATABASE from
	pgInfo    string              // PostgreSQL version and durability settings
	walErr    error               // why the WAL cannot be read record by record, or nil (walprofile.go)
	st        *store.Store
	base      string // the server's URL, http://127.0.0.1:port
	web       *web.Server
	figures   []Figure
	seq       int            // makes e-mail addresses and mission keys unique
	owner     http.CookieJar // signed in as the person who owns every fleet the bench makes
	loadStart string         // the machine's load average at the start
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.progress, "ufobench: "+format+"\n", args...)
}

// setUp starts (or reaches) PostgreSQL, creates the bench's database and
// serves UFO from this process. cleanup undoes all of it.
func (b *bench) setUp(ctx context.Context) (cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "ufobench-"); err != nil {
		return cleanup, err
	}
	undo = append(undo, func() { os.RemoveAll(b.tmp) })

	admin := ""
	if b.cfg.DatabaseURL != "" {
		u, err := url.Parse(b.cfg.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return cleanup, errors.New("DATABASE_URL must be a postgres:// URL")
		}
		admin = b.cfg.DatabaseURL
		b.dbFor = func(name string) string {
			v := *u
			v.Path = "/" + name
			return v.String()
		}
		b.say("measuring the PostgreSQL server of DATABASE_URL (in scratch databases)")
	} else {
		b.say("starting a private durable PostgreSQL cluster in %s", b.tmp)
		pg, err := pgserver.Start(ctx, pgserver.Options{Dir: b.tmp + "/postgres", Logger: b.log})
		if err != nil {
			return cleanup, err
		}
		undo = append(undo, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pg.Stop(sctx)
		})
		admin = pg.URL("postgres")
		b.dbFor = pg.URL
	}
	name := fmt.Sprintf("ufobench_%d", time.Now().Unix())
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		return cleanup, fmt.Errorf("create the bench database: %w", err)
	}
	undo = append(undo, func() { dropDatabase(admin, name) })
	b.dbURL = b.dbFor(name)
	if err := store.Migrate(ctx, b.dbURL, b.log); err != nil {
		return cleanup, err
	}
	if b.pgInfo, err = describePostgres(ctx, b.dbURL); err != nil {
		return cleanup, err
	}
	b.say("PostgreSQL: %s", b.pgInfo)
	stop, err := b.startServer(ctx)
	if err != nil {
		return cleanup, err
	}
	undo = append(undo, stop)
	b.walErr = b.enableWALInspect(ctx)
	// Scratch databases of single figures (claim scaling) are dropped by
	// the figure itself; this only remembers the admin URL for them.
	b.adminURL = admin
	return cleanup, nil
}

func adminExec(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func dropDatabase(admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// describePostgres names the server version and the settings that decide
// how durable (and how fast) a commit is.
func describePostgres(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var version, fsync, sync, fpw, buffers string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('full_page_writes'), current_setting('shared_buffers')`).
		Scan(&version, &fsync, &sync, &fpw, &buffers)
	if err != nil {
		return "", fmt.Errorf("read PostgreSQL's settings: %w", err)
	}
	return fmt.Sprintf("%s, fsync=%s, synchronous_commit=%s, full_page_writes=%s, shared_buffers=%s",
		version, fsync, sync, fpw, buffers), nil
}

// startServer wires the server as ufo server does (store, hub, lease
// sweeper, notify worker, HTTP) and serves it on a loopback port.
func (b *bench) startServer(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	st, err := store.Open(ctx, b.dbURL, b.log)
	if err != nil {
		cancel()
		return nil, err
	}
	b.st = st
	hub := web.NewHub(b.dbURL, st, b.log)
	go hub.Run(ctx)
	select {
	case <-hub.Ready():
	case <-time.After(15 * time.Second):
		cancel()
		st.Close()
		return nil, errors.New("the hub could not LISTEN within 15 s")
	}
	go sweep(ctx, st, b.log)
	// GitHub is on, as on a server set up for it: its webhook is measured,
	// and every state change passes through its notifier.
	gh, err := b.newGitHubApp(st)
	if err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	worker := bot.NewWorker(st, b.log)
	gh.Register(worker)
	worker.Handle(bot.KindNotify, bot.NotifyHandler(b.log, map[string]bot.Notifier{"github": gh}))
	go worker.Run(ctx)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	b.base = "http://" + ln.Addr().String()
	wcfg := web.Config{PublicURL: b.base, Lease: serverLease, LongPoll: serverLongPoll, Version: "bench",
		Mounters: []web.Mounter{gh}, RepoCredential: gh.RepoCredential}
	if b.web, err = web.New(st, hub, wcfg, b.log); err != nil {
		cancel()
		ln.Close()
		st.Close()
		return nil, err
	}
	srv := &http.Server{
		Handler:           b.web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	return func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		cancel()
		st.Close()
	}, nil
}

// sweep is ufo server's lease sweeper, so that the server under measure
// does the background work a real one does.
func sweep(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(serverLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := st.SweepLeases(ctx); err != nil && ctx.Err() == nil {
			log.Error("sweep leases", "err", err)
		}
		if _, err := st.MarkRoversOffline(ctx, 2*serverLease+30*time.Second); err != nil && ctx.Err() == nil {
			log.Error("mark rovers offline", "err", err)
		}
	}
}

// uniq returns a fresh number for names that must not repeat.
func (b *bench) uniq() int {
	b.seq++
	return b.seq
}

// missionKey turns n into a key of letters (A–Z), as missions require.
func missionKey(n int) string {
	var sb strings.Builder
	sb.WriteString("B")
	for {
		sb.WriteByte(byte('A' + n%26))
		n /= 26
		if n == 0 {
			break
		}
	}
	return sb.String()
}
