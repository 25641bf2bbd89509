//go:build unix

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/store/pgserver"
)

// form is the size of one chaos run.
type form struct {
	name         string
	rovers       int
	operations   int
	roverKills   int
	serverRounds int           // SIGKILLs of each server, one server at a time
	zombies      int           // claims played by a rover that then goes silent
	window       time.Duration // operations are created and chaos happens in it
	settle       time.Duration // longest wait for the last runs after it
}

var (
	shortForm = form{name: "short", rovers: 4, operations: 40, roverKills: 4, serverRounds: 1, zombies: 1,
		window: 24 * time.Second, settle: time.Minute}
	fullForm = form{name: "full", rovers: 10, operations: 500, roverKills: 15, serverRounds: 2, zombies: 3,
		window: 60 * time.Second, settle: 3 * time.Minute}
)

const (
	servers         = 3
	leaseSeconds    = 3
	longPollSeconds = 2
	maxAttempts     = 3 // runs.max_attempts' default
)

// pilotCommand is the exec pilot: it works for a random 0–2 s, then writes
// a file (so the run has a one-file diff).
const pilotCommand = `ms=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 2001 )); ` +
	`echo "working for ${ms} ms"; sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"; ` +
	`echo "$UFO_OPERATION_CODE" > chaos.txt; echo "wrote chaos.txt"`

// world is everything a chaos run started.
type world struct {
	t       *testing.T
	form    form
	dir     string
	bin     string
	pg      *pgserver.Server
	dbURL   string
	servers []*proc
	addrs   []string
	lb      *balancer
	api     *apiClient
	fleet   string
	mission string
	pilot   string
	rovers  []*proc
	rng     *rand.Rand

	began     time.Time // when the chaos started
	mu        sync.Mutex
	log       []string // what the chaos did, in order
	zombie    zombieReport
	ambiguous int // creations whose answer was lost and were looked up
	restarts  int // of PostgreSQL
}

func TestChaos(t *testing.T) {
	f := shortForm
	if os.Getenv("UFO_CHAOS") == "full" {
		f = fullForm
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("UFO_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("UFO_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("chaos form %s, seed %d (UFO_CHAOS_SEED=%d repeats the choices)", f.name, seed, seed)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), f.window+f.settle+3*time.Minute)
	defer cancel()

	w := &world{t: t, form: f, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	w.setUp(ctx)
	t.Logf("set-up done in %s: PostgreSQL, %d servers behind a balancer, %d rovers", time.Since(began).Round(time.Millisecond), servers, f.rovers)

	w.began = time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { w.createOperations(ctx) })
	wg.Go(func() { w.makeChaos(ctx) })
	wg.Wait()
	if t.Failed() {
		return
	}
	w.settle(ctx)
	took := time.Since(w.began)
	for _, p := range append(slices.Clone(w.rovers), w.servers...) {
		p.stop()
	}
	w.checkLogs()
	sum := w.check(ctx)
	sum.took, sum.total = took, time.Since(began)
	t.Log(w.summary(sum))
}

// setUp builds ufo, starts PostgreSQL, the servers, the balancer and the
// rovers, and prepares a fleet with a mission and the exec pilot.
func (w *world) setUp(ctx context.Context) {
	t := w.t
	dir, err := os.MkdirTemp("", "ufo-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	w.dir = dir
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the servers, rovers and PostgreSQL kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	w.bin = buildUFO(t, dir)

	w.pg, err = pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.pg.Stop(context.Background()) })
	w.dbURL = w.pg.URL("ufo")

	for i := range servers {
		addr := freeAddr(t)
		w.addrs = append(w.addrs, addr)
		w.servers = append(w.servers, &proc{
			name: fmt.Sprintf("server-%d", i), bin: w.bin, args: []string{"server"},
			env: childEnv("DATABASE_URL="+w.dbURL, "UFO_ADDR="+addr, "UFO_HOME="+filepath.Join(dir, fmt.Sprintf("server-%d", i)),
				fmt.Sprintf("UFO_RUN_LEASE_SECONDS=%d", leaseSeconds), fmt.Sprintf("UFO_LONGPOLL_SECONDS=%d", longPollSeconds)),
			logPath: filepath.Join(dir, fmt.Sprintf("server-%d.log", i)),
		})
	}
	// All at once: migrations must take their advisory lock.
	for _, s := range w.servers {
		if err := s.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.stop)
	}
	for i := range w.servers {
		w.waitReady(ctx, i)
	}
	if w.lb, err = newBalancer(w.addrs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.lb.close)
	for _, s := range w.servers {
		s.env = append(s.env, "UFO_PUBLIC_URL="+w.lb.URL)
	}

	w.api = newAPIClient(w.lb.URL)
	w.fleet = w.api.signUp(ctx, t)
	w.mission = w.api.create(ctx, t, "/api/missions", map[string]any{"name": "Chaos", "key": "CHS"})
	w.pilot = w.api.create(ctx, t, "/api/pilots", map[string]any{"name": "chaos", "kind": "exec",
		"settings": map[string]any{"command": pilotCommand, "timeout_minutes": 1}})

	for i := range w.form.rovers {
		code := w.api.enrollmentCode(ctx, t)
		home := filepath.Join(dir, fmt.Sprintf("rover-%d", i))
		r := &proc{
			name: fmt.Sprintf("rover-%d", i), bin: w.bin, args: []string{"rover", "start", "--name", fmt.Sprintf("chaos-%d", i)},
			env:     childEnv("UFO_SERVER="+w.lb.URL, "UFO_HOME="+home, "UFO_ENROLLMENT_CODE="+code),
			logPath: filepath.Join(dir, fmt.Sprintf("rover-%d.log", i)),
		}
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.stop)
		w.rovers = append(w.rovers, r)
	}
	// A rover killed before it saved its registration could never come
	// back (codes are single use): chaos starts once all are online.
	w.api.waitOnline(ctx, t, w.form.rovers, time.Minute)
}

// buildUFO builds cmd/ufo once, with the race detector when the test has it.
func buildUFO(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "ufo")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goBin, append(args, "./cmd/ufo")...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build ufo: %v\n%s", err, msg)
	}
	return bin
}

// childEnv is this process's environment without what would point a child
// elsewhere, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "UFO_") || name == "DATABASE_URL" || strings.HasPrefix(name, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"UFO_LOG_LEVEL=info"}, extra...)...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady waits for server i's /readyz.
func (w *world) waitReady(ctx context.Context, i int) {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get("http://" + w.addrs[i] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if !w.servers[i].running() {
			w.t.Fatalf("%s exited while starting; see %s", w.servers[i].name, w.servers[i].logPath)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			w.t.Fatalf("%s not ready within a minute; see %s", w.servers[i].name, w.servers[i].logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *world) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = append(w.log, fmt.Sprintf("%6.1fs ", time.Since(w.began).Seconds())+fmt.Sprintf(format, args...))
}

// createOperations creates the form's operations through the balancer,
// spread over 80% of the window. A creation whose answer was lost (a
// server died under it) is looked up by title before it is tried again, so
// none is doubled.
func (w *world) createOperations(ctx context.Context) {
	n := w.form.operations
	gap := time.Duration(float64(w.form.window) * 0.8 / float64(n))
	next := time.Now()
	for i := range n {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(gap)
		title := opTitle(i)
		ambiguous, err := w.api.createOnce(ctx, title, map[string]any{"title": title, "body": "chaos", "mission_id": w.mission,
			"assignee_type": "pilot", "assignee_id": w.pilot})
		if err != nil {
			w.t.Errorf("create %s: %v", title, err)
			return
		}
		if ambiguous {
			w.mu.Lock()
			w.ambiguous++
			w.mu.Unlock()
		}
	}
}

func opTitle(i int) string { return fmt.Sprintf("chaos-op-%04d", i) }

// action is one act of chaos.
type action struct {
	name string
	do   func(ctx context.Context)
}

// makeChaos spreads the form's acts over the window: rover SIGKILLs
// (restarted shortly after), server SIGKILLs one at a time (restarted at
// once), one PostgreSQL restart in the middle, and zombie claims.
func (w *world) makeChaos(ctx context.Context) {
	var acts []action
	for range w.form.roverKills {
		acts = append(acts, action{"kill a rover", w.killRover})
	}
	for range w.form.serverRounds {
		for i := range servers {
			acts = append(acts, action{fmt.Sprintf("kill server-%d", i), func(ctx context.Context) { w.killServer(ctx, i) }})
		}
	}
	for range w.form.zombies {
		acts = append(acts, action{"zombie claim", w.playZombie})
	}
	w.rng.Shuffle(len(acts), func(i, j int) { acts[i], acts[j] = acts[j], acts[i] })
	mid := len(acts) / 2
	acts = slices.Insert(acts, mid, action{"restart PostgreSQL", w.restartPostgres})
	gap := w.form.window / time.Duration(len(acts)+1)
	var bg sync.WaitGroup
	defer bg.Wait()
	for _, a := range acts {
		select {
		case <-time.After(gap):
		case <-ctx.Done():
			return
		}
		if a.name == "zombie claim" || a.name == "kill a rover" {
			bg.Go(func() { a.do(ctx) }) // they wait on other things; chaos goes on meanwhile
		} else {
			a.do(ctx)
		}
	}
}

// killRover SIGKILLs a running rover and starts it again 0.2–1.5 s later.
func (w *world) killRover(ctx context.Context) {
	var up []*proc
	for _, r := range w.rovers {
		if r.running() {
			up = append(up, r)
		}
	}
	if len(up) == 0 {
		return
	}
	r := up[w.rng.IntN(len(up))]
	r.kill()
	pause := time.Duration(200+w.rng.IntN(1300)) * time.Millisecond
	w.note("SIGKILL %s, restart in %s", r.name, pause)
	time.Sleep(pause)
	if err := r.start(); err != nil {
		w.t.Errorf("restart %s: %v", r.name, err)
	}
}

// killServer SIGKILLs server i, starts it again and waits until it is
// ready, so only one server is ever down.
func (w *world) killServer(ctx context.Context, i int) {
	s := w.servers[i]
	s.kill()
	w.note("SIGKILL %s", s.name)
	time.Sleep(time.Duration(200+w.rng.IntN(800)) * time.Millisecond)
	if err := s.start(); err != nil {
		w.t.Errorf("restart %s: %v", s.name, err)
		return
	}
	w.waitReady(ctx, i)
	w.note("%s ready again", s.name)
}

// restartPostgres stops PostgreSQL (fast shutdown: open transactions roll
// back, every connection drops) and starts it again.
func (w *world) restartPostgres(ctx context.Context) {
	w.note("restart PostgreSQL")
	t0 := time.Now()
	if err := w.pg.Restart(ctx); err != nil {
		w.t.Errorf("restart PostgreSQL: %v", err)
		return
	}
	w.note("PostgreSQL back after %s", time.Since(t0).Round(time.Millisecond))
	w.mu.Lock()
	w.restarts++
	w.mu.Unlock()
}

// settle waits until every operation was created and its run ended.
func (w *world) settle(ctx context.Context) {
	t := w.t
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(w.form.settle)
	for {
		var ended, all int
		err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'canceled')), count(*)
			FROM runs WHERE fleet_id = $1`, w.fleet).Scan(&ended, &all)
		if err != nil {
			t.Fatal(err)
		}
		if ended == all && all >= w.form.operations {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := conn.Query(ctx, `SELECT r.id, o.title, r.status, r.attempt, coalesce(r.rover_id::text, ''), r.lease_expires_at
				FROM runs r JOIN operations o ON o.id = r.operation_id
				WHERE r.fleet_id = $1 AND r.status NOT IN ('succeeded', 'failed', 'canceled') ORDER BY o.title LIMIT 20`, w.fleet)
			var stuck []string
			for rows.Next() {
				var id, title, status, rover string
				var attempt int
				var lease *time.Time
				rows.Scan(&id, &title, &status, &attempt, &rover, &lease)
				stuck = append(stuck, fmt.Sprintf("%s %s %s attempt %d rover %q lease %v", title, id, status, attempt, rover, lease))
			}
			t.Fatalf("after %s of settling, %d of %d runs ended (%d operations wanted); not ended:\n%s",
				w.form.settle, ended, all, w.form.operations, strings.Join(stuck, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkLogs fails on a data race or a panic in any server or rover.
func (w *world) checkLogs() {
	for _, p := range append(slices.Clone(w.servers), w.rovers...) {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			w.t.Errorf("read %s: %v", p.logPath, err)
			continue
		}
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if i := strings.Index(string(b), bad); i >= 0 {
				w.t.Errorf("%s logged %q:\n%s", p.name, bad, string(b[i:min(len(b), i+4000)]))
			}
		}
	}
}
