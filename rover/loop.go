package rover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ufo-run/ufo/rover/gitwork"
	"github.com/ufo-run/ufo/rover/wire"
)

// defaultLongPoll is used until the server says its own.
const defaultLongPoll = 25 * time.Second

// connectPatience is how long Once, and an enrollment, keep trying to reach
// the server: one still starting is not a refusal.
const connectPatience = time.Minute

// rover is the loop of one registration: connect, claim, execute, again.
type rover struct {
	cfg  Config
	reg  Registration
	c    *client
	log  *slog.Logger
	conn wire.ConnectResponse
	git  *gitwork.Manager
	// unlock releases the rover id's lock (see connect); nil when none is
	// held.
	unlock func()
}

// ErrBusy is the error of a rover another process on this host serves
// already (ufo up and ufo rover start on one UFO_HOME): two loops of one
// rover would share its work dirs and mirrors.
var ErrBusy = errors.New("this rover is served by another process on this host")

func (r *rover) release() {
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
}

func newRover(cfg Config, reg Registration) *rover {
	log := cfg.Logger.With("server", reg.Server)
	if reg.RoverID != "" {
		log = log.With("rover_id", reg.RoverID, "rover", reg.Name)
	}
	return &rover{
		cfg: cfg,
		reg: reg,
		c:   &client{server: reg.Server, token: reg.Token, version: cfg.Version, hc: cfg.HTTPClient},
		log: log,
	}
}

func (r *rover) token() string { return r.reg.Token }

func (r *rover) newBackoff() *backoff { return newBackoff(r.cfg.RetryMin, r.cfg.RetryMax) }

// run serves the registration until ctx ends (nil) or the server refuses
// its token (ErrRevoked).
func (r *rover) run(ctx context.Context) error {
	defer r.release()
	bo := r.newBackoff()
	for {
		err := r.connect(ctx)
		if err == nil {
			bo.reset()
			err = r.serve(ctx, bo)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrRevoked):
			r.log.Error("the server refused this rover's token: it was revoked or the rover removed; this rover stops (remove it with ufo rover remove, enroll again)", "err", err)
			return fmt.Errorf("rover %s on %s: %w", r.reg.RoverID, r.reg.Server, err)
		case errors.Is(err, ErrBusy):
			r.log.Error("another process on this host serves this rover already; this one leaves it to it", "err", err)
			return fmt.Errorf("rover %s on %s: %w", r.reg.RoverID, r.reg.Server, err)
		}
		d := bo.next()
		r.log.Warn("server unreachable; reconnecting", "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// serve claims and executes runs until a call fails.
func (r *rover) serve(ctx context.Context, bo *backoff) error {
	for {
		cl, err := r.c.claim(ctx, r.longPoll())
		if err != nil {
			return err
		}
		bo.reset()
		if cl == nil {
			continue
		}
		if _, err := r.execute(ctx, cl); err != nil {
			return err
		}
	}
}

// once connects, claims at most one run within cfg.Wait, and executes it.
func (r *rover) once(ctx context.Context) (Outcome, error) {
	defer r.release()
	bo := r.newBackoff()
	if err := patiently(ctx, r.log, bo, "server unreachable; retrying", func() error { return r.connect(ctx) }); err != nil {
		return Outcome{}, err
	}
	wait := r.cfg.Wait
	if wait == 0 {
		wait = r.longPoll()
	}
	deadline := time.Now().Add(max(wait, 0))
	bo.reset()
	for {
		cl, err := r.c.claim(ctx, max(time.Until(deadline), 0))
		switch {
		case err == nil && cl != nil:
			return r.execute(ctx, cl)
		case err == nil:
			bo.reset()
		case !transient(err):
			return Outcome{}, err
		default:
			d := bo.next()
			r.log.Warn("claim failed; retrying", "err", err, "retry_in", d.Round(time.Millisecond))
			if !sleep(ctx, d) {
				return Outcome{}, ctx.Err()
			}
		}
		if !time.Now().Before(deadline) {
			r.log.Info("nothing to claim", "waited", wait)
			return Outcome{}, nil
		}
	}
}

// connect reports the host's profile and learns the rover's identity and
// the server's timings. It is called on every (re)connect.
func (r *rover) connect(ctx context.Context) error {
	if err := os.MkdirAll(r.cfg.Outpost, 0o700); err != nil {
		return fmt.Errorf("create outpost: %w", err)
	}
	resp, err := r.c.connect(ctx, profile(ctx, r.cfg))
	if err != nil {
		return err
	}
	if resp.RoverID == "" {
		resp.RoverID = r.reg.RoverID
	}
	if err := gitwork.ValidName(resp.RoverID); err != nil {
		return fmt.Errorf("connect: rover id: %w", err)
	}
	if r.git == nil || resp.RoverID != r.conn.RoverID {
		// One process serves a rover: its lock is held for as long as
		// this loop runs.
		dir := filepath.Join(r.cfg.Outpost, "rovers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create outpost: %w", err)
		}
		unlock, busy, err := tryLockFile(filepath.Join(dir, resp.RoverID+".lock"))
		if err != nil {
			return err
		}
		if busy {
			return fmt.Errorf("%w (%s)", ErrBusy, filepath.Join(dir, resp.RoverID+".lock"))
		}
		r.release()
		r.unlock = unlock
		r.git = gitwork.New(filepath.Join(dir, resp.RoverID), r.cfg.Environ)
	}
	if r.reg.RoverID == "" && r.conn.RoverID == "" {
		r.log = r.log.With("rover_id", resp.RoverID) // a token-only rover learns its id here
	}
	r.conn = resp
	r.log.Info("connected", "name", resp.Name, "fleet", resp.FleetID, "lease_seconds", resp.LeaseSeconds)
	return nil
}

func (r *rover) longPoll() time.Duration {
	if r.conn.LongPollSeconds > 0 {
		return time.Duration(r.conn.LongPollSeconds) * time.Second
	}
	return defaultLongPoll
}

// patiently calls f until it succeeds, fails for good (an error that is
// not transient), or connectPatience has passed, waiting between tries as
// bo says; msg is logged with each error retried. It returns f's last
// error, or ctx's when ctx ends while it waits.
func patiently(ctx context.Context, log *slog.Logger, bo *backoff, msg string, f func() error) error {
	patience := time.Now().Add(connectPatience)
	for {
		err := f()
		if err == nil || !transient(err) || time.Now().After(patience) {
			return err
		}
		d := min(bo.next(), max(time.Until(patience), 0))
		log.Warn(msg, "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}
