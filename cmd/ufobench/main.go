// Command ufobench measures UFO on this machine, each figure beside a
// ceiling of the same PostgreSQL cluster measured in the same run (issue 8):
// dispatch latency, run throughput, claim scaling, event ingest, webhook
// acknowledgement, live fan-out and the rover's footprint. It prints one
// table and writes bench/results.json. Where a target is missed it says so,
// and keeps the CPU profile taken during that figure next to the results.
//
// It starts a private, durable PostgreSQL cluster in a temporary folder (or
// creates a scratch database on DATABASE_URL's server and drops it at the
// end), and the UFO server in this process on a loopback port. Everything
// stays on loopback.
//
//	go run ./cmd/ufobench            # the scale (about 8 minutes on 2 cores)
//	go run ./cmd/ufobench -quick     # a smaller run, to check the figures work
//	go run ./cmd/ufobench -only claims -queued 100000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ufobench:", err)
		os.Exit(1)
	}
}

// config is built once from the flags.
type config struct {
	DatabaseURL    string
	Out            string
	ProfileDir     string
	Only           string
	Rovers         int
	DispatchRuns   int
	ThroughputRuns int
	RuntimeRuns    int
	CeilingTime    time.Duration
	Queued         int
	Claims         int
	IngestRovers   int
	IngestBatches  int
	SSEClients     int
	SSEChanges     int
	WebhookRate    int
	WebhookCount   int
	RoverRuns      int
	UFOBinary      string
	Verbose        bool
}

// figureNames lists the figures in the order they run: webhook first, as
// its deliveries would otherwise queue behind the notify jobs the other
// figures leave to the worker; claims last, since it loads a million rows
// into the cluster.
var figureNames = []string{"webhook", "dispatch", "throughput", "ingest", "fanout", "rover", "claims"}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	var quick bool
	fs := flag.NewFlagSet("ufobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL server to measure (a scratch database is created there and dropped); unset: a private durable cluster")
	fs.StringVar(&c.Out, "out", "bench/results.json", "results file")
	fs.StringVar(&c.ProfileDir, "profiles", "bench", "folder for the CPU profiles of missed figures")
	fs.StringVar(&c.Only, "only", "", "comma-separated figures to run (default all): "+strings.Join(figureNames, ","))
	fs.BoolVar(&quick, "quick", false, "a small run: every count not set by a flag is scaled down")
	fs.IntVar(&c.Rovers, "rovers", 50, "rovers for dispatch and throughput")
	fs.IntVar(&c.DispatchRuns, "dispatch-runs", 2000, "runs timed for dispatch latency")
	fs.IntVar(&c.ThroughputRuns, "throughput-runs", 2000, "runs through the whole lifecycle for throughput")
	fs.IntVar(&c.RuntimeRuns, "runtime-runs", 500, "runs for throughput with package rover's runtime (git work dirs)")
	fs.DurationVar(&c.CeilingTime, "ceiling-time", 10*time.Second, "how long the single-row-update ceiling runs")
	fs.IntVar(&c.Queued, "queued", 1_000_000, "largest queue (and finished history) for claim scaling; loaded with COPY")
	fs.IntVar(&c.Claims, "claims", 500, "claims timed at each queue size")
	fs.IntVar(&c.IngestRovers, "ingest-rovers", 20, "rovers posting events concurrently")
	fs.IntVar(&c.IngestBatches, "ingest-batches", 50, "batches of 100 events each ingest rover posts")
	fs.IntVar(&c.SSEClients, "sse-clients", 500, "Server-Sent Events clients on one fleet")
	fs.IntVar(&c.SSEChanges, "sse-changes", 200, "state changes timed for fan-out")
	fs.IntVar(&c.WebhookRate, "webhook-rate", 500, "signed GitHub deliveries per second")
	fs.IntVar(&c.WebhookCount, "webhook-count", 2500, "GitHub deliveries sent")
	fs.IntVar(&c.RoverRuns, "rover-runs", 20, "runs timed from claim answer to pilot start")
	fs.StringVar(&c.UFOBinary, "ufo", "", "ufo binary for the rover figures (default: go build ./cmd/ufo with make build's flags)")
	fs.BoolVar(&c.Verbose, "v", false, "log the server's warnings and the bench's progress")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		scale := func(name string, v *int, small int) {
			if !set[name] {
				*v = small
			}
		}
		scale("rovers", &c.Rovers, 20)
		scale("dispatch-runs", &c.DispatchRuns, 200)
		scale("throughput-runs", &c.ThroughputRuns, 200)
		scale("runtime-runs", &c.RuntimeRuns, 50)
		scale("queued", &c.Queued, 20_000)
		scale("claims", &c.Claims, 100)
		scale("ingest-batches", &c.IngestBatches, 10)
		scale("sse-clients", &c.SSEClients, 100)
		scale("sse-changes", &c.SSEChanges, 50)
		scale("webhook-count", &c.WebhookCount, 500)
		scale("rover-runs", &c.RoverRuns, 5)
		if !set["ceiling-time"] {
			c.CeilingTime = 3 * time.Second
		}
	}
	for _, name := range c.selected() {
		if !contains(figureNames, name) {
			return c, fmt.Errorf("-only: unknown figure %q (known: %s)", name, strings.Join(figureNames, ", "))
		}
	}
	for name, v := range map[string]int{"rovers": c.Rovers, "dispatch-runs": c.DispatchRuns, "throughput-runs": c.ThroughputRuns, "runtime-runs": c.RuntimeRuns,
		"claims": c.Claims, "ingest-rovers": c.IngestRovers, "ingest-batches": c.IngestBatches, "sse-clients": c.SSEClients,
		"sse-changes": c.SSEChanges, "webhook-rate": c.WebhookRate, "webhook-count": c.WebhookCount, "rover-runs": c.RoverRuns} {
		if v <= 0 {
			return c, fmt.Errorf("-%s must be positive", name)
		}
	}
	if c.Queued < 1000 {
		return c, fmt.Errorf("-queued must be at least 1000 (the baseline queue)")
	}
	return c, nil
}

func (c config) selected() []string {
	if c.Only == "" {
		return figureNames
	}
	var out []string
	for _, s := range strings.Split(c.Only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelError
	if cfg.Verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	b := &bench{cfg: cfg, log: log, progress: stderr, loadStart: loadAverage()}
	start := time.Now()
	cleanup, err := b.setUp(ctx)
	if err != nil {
		return err
	}
	defer cleanup()

	funcs := map[string]func(context.Context) ([]Figure, error){
		"dispatch": b.dispatch, "throughput": b.throughput, "ingest": b.ingest, "fanout": b.fanout,
		"webhook": b.webhook, "rover": b.roverFootprint, "claims": b.claims,
	}
	var failed []string
	for _, name := range figureNames {
		if !contains(cfg.selected(), name) {
			continue
		}
		b.say("%s …", name)
		t0 := time.Now()
		prof, err := startProfile(cfg.ProfileDir, name)
		if err != nil {
			return err
		}
		rows, err := funcs[name](ctx)
		missed := err != nil || anyMissed(rows)
		path := prof.stop(missed)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed = append(failed, name)
			rows = append(rows, Figure{Figure: name, Name: name + ": could not be measured", Status: StatusError, Note: err.Error()})
		}
		for i := range rows {
			if rows[i].Status == StatusMiss || rows[i].Status == StatusError {
				rows[i].Profile = path
			}
		}
		b.figures = append(b.figures, rows...)
		b.say("%s done in %s", name, time.Since(t0).Round(100*time.Millisecond))
	}
	res := b.results(time.Since(start))
	printTable(stdout, res)
	if err := res.write(cfg.Out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s\n", cfg.Out)
	if len(failed) > 0 {
		return fmt.Errorf("could not measure: %s", strings.Join(failed, ", "))
	}
	return nil
}
