// Package rover is the host runtime of UFO: it enrolls with a server, claims
// runs by long-poll, prepares a git work dir, runs the pilot CLI, streams its
// events, and reports the outcome with the diff it left.
//
// The rover talks to the server only through the rover protocol (package
// wire); it never imports the server's packages. Run serves every rover
// registered on the host until its context ends; Once claims at most one run,
// as a CI runner does.
package rover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ufo-run/ufo/rover/pilot"
	"github.com/ufo-run/ufo/rover/wire"
)

// Config is what a rover runs with, built once by the command from flags and
// UFO_* variables. Zero fields take the defaults listed.
type Config struct {
	// Server is where enrollment and a token-only rover connect (default
	// http://localhost:8080). A stored registration keeps its own server.
	Server string
	// Home holds rovers.json (default ~/.ufo).
	Home string
	// Outpost holds the work dirs and mirrors (default Home).
	Outpost string
	// EnrollmentCode, when set, enrolls a new rover the first time it is
	// seen and saves the registration.
	EnrollmentCode string
	// Token runs one rover with this token and no registrations file (CI).
	Token string
	// Name is the rover's name asked for at enrollment (the server chooses
	// when empty). Tags are reported in its profile on enrollment and every
	// connect; the server adds them to its enrollment code's, and runs that
	// require tags go to rovers that have them.
	Name string
	Tags []string
	// Wait is how long Once waits for a run: zero means the server's
	// long-poll time, a negative value one claim that does not wait.
	Wait time.Duration
	// Version is reported in the profile (default "dev").
	Version string

	// Logger receives the rover's logs (default: discarded).
	Logger *slog.Logger
	// HTTPClient talks to the server (default: a plain http.Client; calls
	// carry their own deadlines).
	HTTPClient *http.Client
	// RunPilot runs one pilot turn (default pilot.Run). The benchmark and
	// tests plug their own in.
	RunPilot func(ctx context.Context, spec pilot.Spec, emit pilot.Emit) pilot.Result
	// Detect finds the pilot CLIs on PATH (default pilot.Detect).
	Detect func(ctx context.Context) []wire.CLI
	// Environ is the rover's environment, which pilots inherit minus the
	// rover's secrets (default os.Environ()).
	Environ []string
	// PilotBinaries overrides the CLI path per pilot kind.
	PilotBinaries map[string]string

	// RetryMin and RetryMax bound the reconnection backoff (default 250ms
	// doubling up to 30s, with full jitter).
	RetryMin, RetryMax time.Duration
	// FlushInterval is how often buffered events are sent (default 200ms;
	// a batch of 100 goes at once).
	FlushInterval time.Duration
	// EventBuffer bounds the events a run holds while the server is
	// unreachable, beyond the batch being sent (default 5000).
	EventBuffer int
}

const defaultServer = "http://localhost:8080"

func (c Config) withDefaults() (Config, error) {
	if c.Server == "" {
		c.Server = defaultServer
	}
	if c.Home == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("find the home directory (set UFO_HOME): %w", err)
		}
		c.Home = filepath.Join(home, ".ufo")
	}
	if c.Outpost == "" {
		c.Outpost = c.Home
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.RunPilot == nil {
		c.RunPilot = pilot.Run
	}
	if c.Detect == nil {
		c.Detect = pilot.Detect
	}
	if c.Environ == nil {
		c.Environ = os.Environ()
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 250 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 200 * time.Millisecond
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 5000
	}
	return c, nil
}

func (c Config) registrationsPath() string { return filepath.Join(c.Home, RegistrationsFile) }

// Run serves every rover of the host at once, one loop each, until ctx
// ends: the one of Token when set, otherwise those in the registrations
// file, after enrolling with EnrollmentCode when it is new. It returns nil
// when ctx ends, and an error when no rover could run or every one stopped
// (a revoked token stops its rover).
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	regs, err := registrations(ctx, cfg)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		return errors.New("no rover is registered here: set UFO_ENROLLMENT_CODE (or run ufo rover enroll --code), or UFO_ROVER_TOKEN")
	}
	errs := make([]error, len(regs))
	var wg sync.WaitGroup
	for i, reg := range regs {
		wg.Go(func() { errs[i] = newRover(cfg, reg).run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Outcome is what Once did.
type Outcome struct {
	// RunID is empty when nothing was claimed.
	RunID string
	// Status is wire.RunSucceeded, RunFailed or RunCanceled; a run whose
	// lease was lost counts as failed with Reason "lease_lost".
	Status string
	Reason string
}

// Claimed reports whether Once claimed a run.
func (o Outcome) Claimed() bool { return o.RunID != "" }

// Once claims at most one run for the host's one rover (Token, the rover
// just enrolled with EnrollmentCode, or the only registration), waiting up
// to cfg.Wait, and executes it.
func Once(ctx context.Context, cfg Config) (Outcome, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Outcome{}, err
	}
	reg, err := onceRegistration(ctx, cfg)
	if err != nil {
		return Outcome{}, err
	}
	return newRover(cfg, reg).once(ctx)
}

// Enroll trades cfg.EnrollmentCode for a registration on cfg.Server and
// saves it. fresh is false when a registration made from that very code is
// already stored (codes are single use), which is then returned.
func Enroll(ctx context.Context, cfg Config) (reg Registration, fresh bool, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return Registration{}, false, err
	}
	regs, err := LoadRegistrations(cfg.registrationsPath())
	if err != nil {
		return Registration{}, false, err
	}
	return enroll(ctx, cfg, regs)
}

func enroll(ctx context.Context, cfg Config, regs Registrations) (Registration, bool, error) {
	if cfg.EnrollmentCode == "" {
		return Registration{}, false, errors.New("no enrollment code given")
	}
	sum := sha256.Sum256([]byte(cfg.EnrollmentCode))
	codeHash := hex.EncodeToString(sum[:])
	for _, r := range regs.Sorted() {
		if r.CodeSHA256 == codeHash && r.Server == cfg.Server {
			return r, false, nil
		}
	}
	c := &client{server: cfg.Server, version: cfg.Version, hc: cfg.HTTPClient}
	if err := os.MkdirAll(cfg.Outpost, 0o700); err != nil {
		return Registration{}, false, fmt.Errorf("create outpost: %w", err)
	}
	resp, err := enrollRetry(ctx, cfg, c, wire.EnrollRequest{Code: cfg.EnrollmentCode, Name: cfg.Name, Profile: profile(ctx, cfg)})
	if err != nil {
		return Registration{}, false, fmt.Errorf("enroll with %s: %w", cfg.Server, err)
	}
	if resp.RoverID == "" || resp.Token == "" {
		return Registration{}, false, fmt.Errorf("enroll with %s: the answer has no rover id or token", cfg.Server)
	}
	reg := Registration{Server: cfg.Server, RoverID: resp.RoverID, FleetID: resp.FleetID, Name: resp.Name, Token: resp.Token, CodeSHA256: codeHash}
	if err := updateRegistrations(cfg.registrationsPath(), func(stored Registrations) { stored[reg.RoverID] = reg }); err != nil {
		return Registration{}, false, err
	}
	regs[reg.RoverID] = reg
	cfg.Logger.Info("rover enrolled", "rover", reg.RoverID, "name", reg.Name, "fleet", reg.FleetID, "server", reg.Server)
	return reg, true, nil
}

// enrollRetry makes the enroll call, retrying with backoff for up to
// connectPatience while the server is unreachable or answers 5xx, 408 or
// 429, as Once's connect does. A refusal (an unknown, used or expired
// code) fails at once; after an attempt whose answer was lost, it says
// that attempt may have used the code.
func enrollRetry(ctx context.Context, cfg Config, c *client, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	var resp wire.EnrollResponse
	mayHaveUsed := false
	err := patiently(ctx, cfg.Logger.With("server", cfg.Server), newBackoff(cfg.RetryMin, cfg.RetryMax), "enrollment failed; retrying", func() error {
		var err error
		resp, err = c.enroll(ctx, req)
		if err != nil && transient(err) {
			mayHaveUsed = mayHaveUsed || answerLost(err)
		}
		return err
	})
	switch {
	case err == nil:
		return resp, nil
	case ctx.Err() != nil:
		return resp, ctx.Err()
	case !transient(err) && mayHaveUsed:
		return resp, fmt.Errorf("the server refused the enrollment: %w (an earlier attempt whose answer was lost "+
			"may have used the code: make a new one, and remove the rover it made if the fleet lists one that never came online)", err)
	case !transient(err):
		return resp, fmt.Errorf("the server refused the enrollment: %w", err)
	}
	return resp, fmt.Errorf("server unreachable for %v: %w", connectPatience, err)
}

// registrations are the rovers Run serves.
func registrations(ctx context.Context, cfg Config) ([]Registration, error) {
	if cfg.Token != "" {
		return []Registration{{Server: cfg.Server, Token: cfg.Token, Name: cfg.Name}}, nil
	}
	regs, err := LoadRegistrations(cfg.registrationsPath())
	if err != nil {
		return nil, err
	}
	if cfg.EnrollmentCode != "" {
		if _, _, err := enroll(ctx, cfg, regs); err != nil {
			return nil, err
		}
	}
	return regs.Sorted(), nil
}

func onceRegistration(ctx context.Context, cfg Config) (Registration, error) {
	if cfg.Token != "" {
		return Registration{Server: cfg.Server, Token: cfg.Token, Name: cfg.Name}, nil
	}
	regs, err := LoadRegistrations(cfg.registrationsPath())
	if err != nil {
		return Registration{}, err
	}
	if cfg.EnrollmentCode != "" {
		reg, _, err := enroll(ctx, cfg, regs)
		return reg, err
	}
	switch len(regs) {
	case 0:
		return Registration{}, errors.New("no rover is registered here: set UFO_ROVER_TOKEN or UFO_ENROLLMENT_CODE")
	case 1:
		return regs.Sorted()[0], nil
	}
	return Registration{}, fmt.Errorf("%d rovers are registered here and --once runs one: set UFO_ROVER_TOKEN", len(regs))
}

// revokeTimeout bounds the revocation of one rover by Remove, so an
// unreachable server does not hold the removal up for long.
const revokeTimeout = 10 * time.Second

// Removal is one registration Remove dropped; RevokeErr says why the server
// could not be told (the registration is dropped all the same).
type Removal struct {
	Registration
	RevokeErr error
}

// Remove revokes the rover idOrPrefix names (every rover when all is set)
// on its server when reachable, and drops it from the registrations file.
func Remove(ctx context.Context, cfg Config, idOrPrefix string, all bool) ([]Removal, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	regs, err := LoadRegistrations(cfg.registrationsPath())
	if err != nil {
		return nil, err
	}
	var targets []Registration
	if all {
		targets = regs.Sorted()
	} else {
		reg, err := regs.Find(idOrPrefix)
		if err != nil {
			return nil, err
		}
		targets = []Registration{reg}
	}
	out := make([]Removal, 0, len(targets))
	for _, reg := range targets {
		c := &client{server: reg.Server, token: reg.Token, version: cfg.Version, hc: cfg.HTTPClient}
		rctx, cancel := context.WithTimeout(ctx, revokeTimeout)
		err := c.revoke(rctx)
		cancel()
		if errors.Is(err, ErrRevoked) {
			err = nil // the server no longer knows this token: revoked already
		}
		out = append(out, Removal{Registration: reg, RevokeErr: err})
	}
	err = updateRegistrations(cfg.registrationsPath(), func(stored Registrations) {
		for _, r := range out {
			delete(stored, r.RoverID)
		}
	})
	return out, err
}

// answerLost reports whether a failed call may have been carried out by
// the server all the same: its request may have reached the server (the
// connection broke or timed out after it was made, or a gateway answered
// that the server did not), as a refused connection's never did.
func answerLost(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusBadGateway || ae.Status == http.StatusGatewayTimeout
	}
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}
