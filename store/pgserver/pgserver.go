//go:build unix

// Package pgserver runs a private PostgreSQL cluster from the PostgreSQL
// binaries installed on the machine, so that ufo server needs no database
// set up beforehand (DESIGN.md §9: DATABASE_URL unset).
//
// Everything lives in one folder: data/ (the cluster), run/ (its Unix
// socket, in a folder only the cluster's user can enter, so that local
// connections can be trusted without a password), postgres.log (what
// initdb and postgres print) and password (the superuser's password, needed
// only over TCP).
//
// It needs a Unix system (Linux, macOS, BSD): it relies on Unix sockets,
// signals and, as root, on running PostgreSQL as another user.
package pgserver

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// superuser is the role initdb creates, and database the one Start
	// makes sure exists.
	superuser = "ufo"
	database  = "ufo"
	// socketPort names the socket file (.s.PGSQL.5432) when the cluster
	// listens on no TCP port.
	socketPort = 5432
	// maxSocketPath stays clear of the 104 (macOS) and 108 (Linux) bytes a
	// Unix socket address holds.
	maxSocketPath = 100
	// fastShutdown is how long postgres gets to finish a fast shutdown
	// (SIGINT) before an immediate one (SIGQUIT), then quitTimeout before
	// SIGKILL.
	fastShutdown = 10 * time.Second
	quitTimeout  = 5 * time.Second
	// maxLogSize: past this size postgres.log moves to postgres.log.1 at the
	// next start.
	maxLogSize = 16 << 20
)

// Options configures Start.
type Options struct {
	// Dir holds the cluster's data, socket and log, e.g. $UFO_HOME/postgres.
	// It is created if missing.
	Dir string
	// Logger receives pgserver's own messages; PostgreSQL's go to
	// Dir/postgres.log. Nil discards them.
	Logger *slog.Logger
	// Port 0 listens on the Unix socket only, unless Dir is too deep for a
	// socket path: then on a free port of 127.0.0.1. Port > 0 also listens on
	// 127.0.0.1:Port; Port < 0 on a free port of 127.0.0.1 chosen by Start.
	Port int
	// Fast gives up durability for speed, for tests: initdb --no-sync, and
	// fsync, synchronous_commit and full_page_writes off. A crash of the
	// machine can lose the data.
	Fast bool
}

// Server is a running private cluster. Its methods are safe for
// concurrent use.
type Server struct {
	dir, data, run, logPath string
	bin                     string // folder of initdb and postgres
	log                     *slog.Logger
	fast                    bool
	cred                    *syscall.Credential // nil: run as this process
	socket, tcp             bool
	port                    int
	password                string

	mu   sync.Mutex
	proc *process // nil once stopped
}

// Start starts the cluster in opt.Dir, creating it with initdb on first use,
// and returns once it accepts connections and the database ufo exists.
// Run as root, the cluster runs as the postgres user (or nobody), since
// PostgreSQL refuses to run as root.
func Start(ctx context.Context, opt Options) (*Server, error) {
	s, err := prepare(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL in %s: %w", opt.Dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.start(ctx); err != nil {
		return nil, fmt.Errorf("start PostgreSQL in %s: %w", s.dir, err)
	}
	if err := s.createDatabase(ctx, database); err != nil {
		s.proc.stop(context.Background())
		return nil, fmt.Errorf("start PostgreSQL in %s: %w", s.dir, err)
	}
	return s, nil
}

// prepare does what the first start needs once: folders and their owner,
// binaries, initdb, and where to listen.
func prepare(ctx context.Context, opt Options) (*Server, error) {
	if opt.Dir == "" {
		return nil, errors.New("no folder given (Options.Dir)")
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", opt.Dir, err)
	}
	s := &Server{
		dir:     dir,
		data:    filepath.Join(dir, "data"),
		run:     filepath.Join(dir, "run"),
		logPath: filepath.Join(dir, "postgres.log"),
		log:     opt.Logger,
		fast:    opt.Fast,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cred, userName, err := clusterAccount(s.data)
	if err != nil {
		return nil, err
	}
	s.cred = cred
	if err := makeDir(s.dir, cred); err != nil {
		return nil, err
	}
	if err := openAncestors(s.dir, userName, cred, s.log); err != nil {
		return nil, err
	}
	if err := makeDir(s.run, cred); err != nil {
		return nil, err
	}
	if s.bin, err = s.binaries(); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx, userName); err != nil {
		return nil, err
	}
	if err := s.readPassword(); err != nil {
		return nil, err
	}
	if err := s.chooseListen(opt.Port); err != nil {
		return nil, err
	}
	return s, nil
}

// binaries picks the installed PostgreSQL that can open the cluster, if
// there is one already: a cluster is tied to its major version.
func (s *Server) binaries() (string, error) {
	version, err := os.ReadFile(filepath.Join(s.data, "PG_VERSION"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the cluster's version: %w", err)
	}
	return binariesFor(binaryDirs(searchDirs()), strings.TrimSpace(string(version)))
}

// initdb creates the cluster when data holds none. It works in a side
// folder renamed into place at the end, so an interrupted first start
// leaves nothing half made behind.
func (s *Server) initdb(ctx context.Context, userName string) error {
	if _, err := os.Stat(filepath.Join(s.data, "PG_VERSION")); err == nil {
		return nil
	}
	if _, err := os.Stat(s.data); err == nil {
		return fmt.Errorf("%s holds no PostgreSQL cluster (no PG_VERSION): move it away", s.data)
	}
	tmp := s.data + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove a partial cluster: %w", err)
	}
	pwPath, err := s.newPassword()
	if err != nil {
		return err
	}
	args := []string{"-D", tmp, "-U", superuser, "--pwfile=" + pwPath,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C"}
	if s.fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"), args...)
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = procAttr(s.cred)
	out, err := cmd.CombinedOutput()
	s.appendLog(out)
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, lastLines(out))
	}
	if err := os.Rename(tmp, s.data); err != nil {
		return fmt.Errorf("move the new cluster into place: %w", err)
	}
	s.log.Info("pgserver: created a PostgreSQL cluster", "dir", s.data, "bin", s.bin, "user", cmp.Or(userName, "self"))
	return nil
}

// newPassword writes a random password for the superuser, which initdb
// reads, and returns the file's path. The socket needs none (only the
// cluster's user can enter its folder); TCP does.
func (s *Server) newPassword() (string, error) {
	b := make([]byte, 24)
	rand.Read(b)
	path := filepath.Join(s.dir, "password")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the superuser's password: %w", err)
	}
	return path, chown(path, s.cred)
}

// readPassword reads the password newPassword wrote, if still there.
func (s *Server) readPassword() error {
	b, err := os.ReadFile(filepath.Join(s.dir, "password"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read the superuser's password: %w", err)
	}
	s.password = strings.TrimSpace(string(b))
	return nil
}

// chooseListen decides between the Unix socket and TCP.
func (s *Server) chooseListen(port int) error {
	switch {
	case port > 0:
		s.tcp, s.port = true, port
	case port < 0:
		p, err := freePort()
		if err != nil {
			return err
		}
		s.tcp, s.port = true, p
	default:
		s.port = socketPort
	}
	sock := filepath.Join(s.run, ".s.PGSQL."+strconv.Itoa(s.port))
	s.socket = len(sock) < maxSocketPath
	if !s.socket && !s.tcp {
		p, err := freePort()
		if err != nil {
			return err
		}
		s.tcp, s.port = true, p
	}
	if !s.socket {
		s.log.Warn("pgserver: folder too deep for a Unix socket path; PostgreSQL listens on TCP only",
			"socket", sock, "bytes", len(sock), "max", maxSocketPath, "addr", s.addr())
	}
	if s.tcp && s.password == "" {
		return fmt.Errorf("%s is missing: TCP connections to the cluster need the superuser's password",
			filepath.Join(s.dir, "password"))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listening says where the cluster listens, for logs: never the password.
func (s *Server) listening() string {
	var on []string
	if s.socket {
		on = append(on, filepath.Join(s.run, ".s.PGSQL."+strconv.Itoa(s.port)))
	}
	if s.tcp {
		on = append(on, s.addr())
	}
	return strings.Join(on, ", ")
}

func (s *Server) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns a connection string for database, over the Unix socket when
// there is one, else over TCP with the password.
func (s *Server) URL(database string) string {
	if !s.socket {
		return s.TCPURL(database)
	}
	q := url.Values{"host": {s.run}, "port": {strconv.Itoa(s.port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

// TCPURL returns a connection string for database over TCP on 127.0.0.1,
// with the password, or "" when the cluster listens on its socket only.
func (s *Server) TCPURL(database string) string {
	if !s.tcp {
		return ""
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(superuser, s.password), Host: s.addr(),
		Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Stop shuts the cluster down: a fast shutdown (SIGINT: running
// transactions roll back), an immediate one (SIGQUIT: recovery at next
// start) if it takes over 10 s or ctx ends, SIGKILL as a last resort.
// Stopping a stopped server does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	err := s.proc.stop(ctx)
	s.proc = nil
	s.log.Info("pgserver: PostgreSQL stopped", "dir", s.dir, "err", err)
	return err
}

// Restart stops the cluster and starts it again, listening where it did.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		if err := s.proc.stop(ctx); err != nil {
			s.log.Warn("pgserver: restart: unclean stop", "err", err)
		}
		s.proc = nil
	}
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("restart PostgreSQL in %s: %w", s.dir, err)
	}
	return nil
}

// start runs postgres and waits until it accepts connections; s.mu held.
func (s *Server) start(ctx context.Context) error {
	if err := checkPIDFile(s.data, s.log); err != nil {
		return err
	}
	// No postgres serves this folder, so socket lock files are leftovers;
	// their PID may now be another process's, which postgres would take for
	// a live server.
	stale, _ := filepath.Glob(filepath.Join(s.run, ".s.PGSQL.*"))
	for _, f := range stale {
		os.Remove(f)
	}
	logf, offset, err := s.openLog()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), s.args()...)
	cmd.Dir = s.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr(s.cred)
	p := newProcess(cmd)
	// The kernel sends Pdeathsig when the *thread* that started the child
	// exits, not the process, and the Go runtime may retire threads. So
	// start postgres from a goroutine locked to its thread, which then waits
	// for postgres and only returns (letting the thread go) once it exited.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.wait(s.log)
	}()
	err = <-started
	logf.Close()
	if err != nil {
		return fmt.Errorf("run postgres: %w", err)
	}
	if !hasPdeathsig {
		if p.watchdog, err = startWatchdog(cmd.Process.Pid); err != nil {
			p.stop(context.Background())
			return err
		}
	}
	if err := s.waitReady(ctx, p, offset); err != nil {
		p.stop(context.Background())
		return err
	}
	s.proc = p
	s.log.Info("pgserver: PostgreSQL ready", "pid", cmd.Process.Pid, "dir", s.dir, "listen", s.listening())
	return nil
}

func (s *Server) args() []string {
	listen, sockets := "", ""
	if s.tcp {
		listen = "127.0.0.1"
	}
	if s.socket {
		// A list of folders: quoted, so a comma or space in the path is kept.
		sockets = `"` + strings.ReplaceAll(s.run, `"`, `""`) + `"`
	}
	args := []string{"-D", s.data,
		"-c", "listen_addresses=" + listen,
		"-c", "port=" + strconv.Itoa(s.port),
		"-c", "unix_socket_directories=" + sockets,
		"-c", "max_connections=200",
	}
	if s.fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	return args
}

// waitReady waits for postmaster.pid to name this postgres as ready, then
// for a connection to succeed.
func (s *Server) waitReady(ctx context.Context, p *process, logOffset int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if pidFileReady(filepath.Join(s.data, "postmaster.pid"), p.cmd.Process.Pid) {
			conn, err := s.connect(ctx, "postgres")
			if err == nil {
				return conn.Close(ctx)
			}
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("postgres exited while starting (%v); %s says:\n%s", p.err, s.logPath, s.logSince(logOffset))
		case <-ctx.Done():
			return fmt.Errorf("wait for PostgreSQL to accept connections: %w (last error: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// pidFileReady reports whether postmaster.pid belongs to pid and its status
// line (the 8th, since PostgreSQL 10) says "ready".
func pidFileReady(path string, pid int) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && strings.TrimSpace(lines[0]) == strconv.Itoa(pid) &&
		strings.TrimSpace(lines[7]) == "ready"
}

func (s *Server) connect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.URL(database))
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

func (s *Server) createDatabase(ctx context.Context, name string) error {
	conn, err := s.connect(ctx, "postgres")
	if err != nil {
		return fmt.Errorf("connect to create database %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// childEnv is this process's environment without the PG* variables, which
// are meant for clients of another server.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}
