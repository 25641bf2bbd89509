//go:build unix

// Package pgtest gives each test a database of its own on a real
// PostgreSQL: a private cluster (pgserver, Fast) that the test binary
// starts in a temporary folder and stops when its tests are done. It never
// uses DATABASE_URL, so tests cannot touch a developer's database.
//
//	func TestMain(m *testing.M) {
//		pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url) })
//		pgtest.Main(m)
//	}
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		url := pgtest.NewDB(t) // migrated, empty, dropped after the test
//		…
//	}
package pgtest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/store/pgserver"
)

const (
	// templateDB receives the Setup functions; NewDB clones it.
	templateDB = "pgtest_template"
	// dirPrefix names the temporary folders of the clusters, and ownerFile
	// the file in each naming the test binary's pid, so that a later run
	// can remove the folders of binaries that died without cleaning up.
	dirPrefix = "ufo-pgtest-"
	ownerFile = "pgtest.pid"
)

var (
	cluster atomic.Pointer[pgserver.Server]

	setupMu sync.Mutex
	setups  []func(ctx context.Context, url string) error
	started bool

	// cloneMu serializes CREATE DATABASE … TEMPLATE, which fails when
	// another session uses the template.
	cloneMu sync.Mutex
	dbSeq   atomic.Int64
)

// Main starts one private cluster for the test binary in a temporary
// folder, applies the Setup functions to the template database, runs the
// tests, stops the cluster and exits. Call it from TestMain. Without the
// PostgreSQL binaries it says what to install and exits non-zero: tests
// never skip silently.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// Setup registers fn to prepare the template database every NewDB clones,
// typically by migrating it. Call it before Main.
func Setup(fn func(ctx context.Context, url string) error) {
	setupMu.Lock()
	defer setupMu.Unlock()
	if started {
		panic("pgtest: Setup called after Main started")
	}
	setups = append(setups, fn)
}

// Server returns the running cluster, for tests that restart PostgreSQL or
// reach it over TCP (it listens on a free port of 127.0.0.1 too), or nil
// outside Main. A test that restarts it must not run in parallel with
// tests that use it.
func Server() *pgserver.Server {
	return cluster.Load()
}

func run(m *testing.M) int {
	ctx := context.Background()
	setupMu.Lock()
	started = true
	fns := setups
	setupMu.Unlock()

	sweep(os.TempDir())
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Logger: log, Port: -1, Fast: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := s.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}()
	if err := makeTemplate(ctx, s, fns); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	cluster.Store(s)
	defer cluster.Store(nil)
	return m.Run()
}

func makeTemplate(ctx context.Context, s *pgserver.Server, fns []func(context.Context, string) error) error {
	if err := execAdmin(ctx, s, "CREATE DATABASE "+templateDB); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	for _, fn := range fns {
		if err := fn(ctx, s.URL(templateDB)); err != nil {
			return fmt.Errorf("set up the template database: %w", err)
		}
	}
	// A Setup function may leave a pool open; a template must have no
	// session, and refusing new ones keeps tests from opening one by mistake.
	if err := execAdmin(ctx, s, "ALTER DATABASE "+templateDB+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("seal the template database: %w", err)
	}
	if err := execAdmin(ctx, s, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", templateDB); err != nil {
		return fmt.Errorf("close sessions on the template database: %w", err)
	}
	return nil
}

// NewDB creates a database for this test, a copy of the template (empty,
// or as the Setup functions left it), and returns its connection string.
// The database is named after the test and dropped when the test ends.
func NewDB(t testing.TB) string {
	t.Helper()
	s := cluster.Load()
	if s == nil {
		t.Fatal("pgtest: no cluster running: call pgtest.Main(m) from TestMain")
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cloneMu.Lock()
	err := execAdmin(ctx, s, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+templateDB)
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := execAdmin(ctx, s, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}

// dbName turns a test's name into a unique database name: lower case,
// runs of other characters as one underscore, short enough for
// PostgreSQL's 63 bytes.
func dbName(testName string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			underscore = false
		} else if !underscore {
			b.WriteByte('_')
			underscore = true
		}
	}
	base := strings.Trim(b.String(), "_")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "_")
	}
	return fmt.Sprintf("%s_%d", cmp.Or(base, "test"), dbSeq.Add(1))
}

// execAdmin runs one statement on the postgres database, on a connection of
// its own: cheap over the socket, and never stale after a test restarts
// the cluster.
func execAdmin(ctx context.Context, s *pgserver.Server, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// sweep removes the folders that test binaries which died (a panic, a
// timeout, a SIGKILL) left in root: those whose binary and postgres are
// both gone.
func sweep(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, dirPrefix+"*"))
	for _, dir := range dirs {
		owner, err := readPID(filepath.Join(dir, ownerFile))
		if err != nil || alive(owner) {
			continue // still being set up, or in use
		}
		if pid, err := readPID(filepath.Join(dir, "data", "postmaster.pid")); err == nil && alive(pid) {
			continue // its postgres is still shutting down
		}
		os.RemoveAll(dir)
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
