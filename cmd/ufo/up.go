package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/store"
)

func init() { extraCommands = append(extraCommands, newUpCmd) }

func newUpCmd() *cobra.Command {
	var cfg serverConfig
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start everything on this machine: PostgreSQL, the server and a local rover for each fleet",
		Long: "ufo up is what `make run` runs: the server (on the embedded PostgreSQL unless DATABASE_URL is set)\n" +
			"and, when it listens on loopback, a rover on this machine that enrolls itself into every fleet\n" +
			"created on this server, so the demo pilot `shell` can run work in the first minute.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := newLogger(cmd.ErrOrStderr(), cfg.LogFormat, cfg.LogLevel)
			return runServer(cmd.Context(), cfg, log, func(addr net.Addr, wcfg *web.Config, st *store.Store) {
				startLocalRovers(cmd.Context(), cfg, addr, wcfg, st, log)
			})
		},
	}
	// ufo up is for one machine: it listens on loopback unless told otherwise.
	cfg.flags(cmd, "127.0.0.1:8080")
	return cmd
}

// localRovers keeps one rover on this machine per fleet of the server.
type localRovers struct {
	cfg    rover.Config
	st     *store.Store
	log    *slog.Logger
	mu     sync.Mutex
	fleets map[string]bool // fleets that have a local rover running
}

func startLocalRovers(ctx context.Context, cfg serverConfig, addr net.Addr, wcfg *web.Config, st *store.Store, log *slog.Logger) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		log.Info("no local rover: the server does not listen on loopback (enroll rovers with ufo rover start)", "addr", addr.String())
		return
	}
	host, _ := os.Hostname()
	l := &localRovers{
		cfg: rover.Config{
			Server:  "http://" + tcp.String(),
			Home:    cfg.Home,
			Outpost: envOr("UFO_OUTPOST", cfg.Home),
			Name:    host,
			Version: version,
			Logger:  log.With("component", "rover"),
		},
		st: st, log: log, fleets: map[string]bool{},
	}
	wcfg.OnFleetCreated = func(_ context.Context, fleetID string) { go l.ensure(ctx, fleetID) }
	go func() {
		fleets, err := st.AllFleets(ctx)
		if err != nil {
			log.Error("list fleets for the local rover", "err", err)
			return
		}
		for _, f := range fleets {
			go l.ensure(ctx, f.ID)
		}
	}()
}

// ensure runs a local rover for the fleet: the stored registration when
// there is one, else a new one enrolled with a code made for it.
func (l *localRovers) ensure(ctx context.Context, fleetID string) {
	l.mu.Lock()
	if l.fleets[fleetID] {
		l.mu.Unlock()
		return
	}
	l.fleets[fleetID] = true
	l.mu.Unlock()

	regs, err := rover.LoadRegistrations(filepath.Join(l.cfg.Home, rover.RegistrationsFile))
	if err != nil {
		l.log.Error("read rover registrations", "err", err)
	}
	for _, r := range regs.Sorted() {
		if r.Server == l.cfg.Server && r.FleetID == fleetID {
			if l.run(ctx, r) {
				return
			}
		}
	}
	reg, err := l.enroll(ctx, fleetID)
	if err != nil {
		l.log.Error("enroll the local rover", "fleet", fleetID, "err", err)
		return
	}
	l.run(ctx, reg)
}

func (l *localRovers) enroll(ctx context.Context, fleetID string) (rover.Registration, error) {
	code, _, err := l.st.CreateEnrollmentCode(ctx, fleetID, l.cfg.Name, nil, false, nil)
	if err != nil {
		return rover.Registration{}, err
	}
	cfg := l.cfg
	cfg.EnrollmentCode = code
	reg, _, err := rover.Enroll(ctx, cfg)
	return reg, err
}

// run serves one registration until ctx ends. It reports false when the
// rover stopped early (its token was revoked, or the database was reset),
// so the caller can enroll a fresh one.
func (l *localRovers) run(ctx context.Context, reg rover.Registration) bool {
	cfg := l.cfg
	cfg.Token = reg.Token
	start := time.Now()
	err := rover.Run(ctx, cfg)
	if ctx.Err() != nil {
		return true
	}
	l.log.Warn("local rover stopped", "rover", reg.RoverID, "after", time.Since(start).Round(time.Second), "err", err)
	if _, rerr := rover.Remove(ctx, l.cfg, reg.RoverID, false); rerr != nil {
		l.log.Warn(fmt.Sprintf("forget rover %s", reg.RoverID), "err", rerr)
	}
	return false
}
