//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func start(t *testing.T, dir string) *Server {
	t.Helper()
	s, err := Start(t.Context(), Options{Dir: dir, Fast: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartAcceptsConnections(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	if os.Geteuid() == 0 {
		// The cluster runs as another user, who got search (not read)
		// access to t.TempDir's root-only parent.
		if fi, err := os.Stat(filepath.Dir(dir)); err != nil || fi.Mode().Perm() != 0o701 {
			t.Errorf("parent of Dir: %v, %v; want 0701", fi.Mode().Perm(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err != nil || fi.Sys().(*syscall.Stat_t).Uid == 0 {
			t.Errorf("data folder owned by root (%v)", err)
		}
	}
	conn := connect(t, s.URL("ufo"))
	var one int
	if err := conn.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var user, db string
	if err := conn.QueryRow(t.Context(), "SELECT current_user, current_database()").Scan(&user, &db); err != nil {
		t.Fatal(err)
	}
	if user != "ufo" || db != "ufo" {
		t.Errorf("connected as %s to %s, want ufo to ufo", user, db)
	}
	if got := s.TCPURL("ufo"); got != "" {
		t.Errorf("TCPURL = %q with Port 0, want none", got)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	conn := connect(t, s.URL("ufo"))
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	s = start(t, dir)
	if got := readKept(t, s); got != "still here" {
		t.Errorf("after restart: %q", got)
	}
	if err := s.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := readKept(t, s); got != "still here" {
		t.Errorf("after Restart: %q", got)
	}
}

func readKept(t *testing.T, s *Server) string {
	t.Helper()
	var v string
	if err := connect(t, s.URL("ufo")).QueryRow(t.Context(), "SELECT v FROM kept").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestStalePIDFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "data", "postmaster.pid")

	// A crashed server's file: its PID is dead.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	writePIDFile(t, pidFile, dead.Process.Pid, filepath.Join(dir, "data"))
	s = start(t, dir)
	connect(t, s.URL("ufo"))
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	// After a reboot, the PID belongs to another program (this test), which
	// postgres run as this test's user would take for a live server.
	writePIDFile(t, pidFile, os.Getpid(), filepath.Join(dir, "data"))
	s = start(t, dir)
	connect(t, s.URL("ufo"))
}

func writePIDFile(t *testing.T, path string, pid int, data string) {
	t.Helper()
	content := fmt.Sprintf("%d\n%s\n%d\n5432\n\n\n", pid, data, time.Now().Unix())
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Owned like the one postgres writes, so postgres can read it.
	if fi, err := os.Stat(data); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStartTwiceOnOneDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, dir)
	_, err := Start(t.Context(), Options{Dir: dir, Fast: true, Logger: testLogger(t)})
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Start: %v, want ErrAlreadyRunning", err)
	}
	if !strings.Contains(err.Error(), "another ufo server") {
		t.Errorf("error does not say what is likely going on: %v", err)
	}
	connect(t, s.URL("ufo")) // the first one is unharmed
}

func TestTCP(t *testing.T) {
	t.Parallel()
	s, err := Start(t.Context(), Options{Dir: t.TempDir(), Fast: true, Port: -1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	if !strings.HasPrefix(s.URL("ufo"), "postgres://ufo@/ufo?host=") {
		t.Errorf("URL = %s, want the socket", s.URL("ufo"))
	}
	tcp := s.TCPURL("ufo")
	if !strings.HasPrefix(tcp, "postgres://ufo:") || !strings.Contains(tcp, "@127.0.0.1:") {
		t.Errorf("TCPURL = %s, want a password and 127.0.0.1", tcp)
	}
	connect(t, tcp)

	// A wrong password is refused: TCP is not trusted like the socket.
	bad := strings.Replace(tcp, s.password, "wrong", 1)
	if conn, err := pgx.Connect(t.Context(), bad); err == nil {
		conn.Close(t.Context())
		t.Error("connected over TCP with a wrong password")
	}
}

func TestDeepDirFallsBackToTCP(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 40))
	s := start(t, dir)
	if s.socket || !s.tcp {
		t.Fatalf("socket %v, tcp %v: want TCP only", s.socket, s.tcp)
	}
	if !strings.Contains(s.URL("ufo"), "@127.0.0.1:") {
		t.Errorf("URL = %s, want TCP", s.URL("ufo"))
	}
	connect(t, s.URL("ufo"))
}

func TestStopEscalates(t *testing.T) {
	t.Parallel()
	s := start(t, t.TempDir())
	// A frozen postgres (SIGSTOP) answers neither SIGINT nor SIGQUIT; a
	// context already over skips the wait for a fast shutdown.
	pid := s.proc.cmd.Process.Pid
	s.proc.quitTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	startStop := time.Now()
	err := s.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a frozen postgres: %v, want it killed", err)
	}
	if processAlive(pid) {
		t.Errorf("pid %d still alive", pid)
	}
	t.Logf("stop took %v", time.Since(startStop))
}

func TestFindBinaries(t *testing.T) {
	t.Parallel()
	_, err := findBinaries(nil)
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("findBinaries(nil) = %v", err)
	}
	for _, want := range []string{"apt-get install postgresql", "brew install postgresql@16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	only := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(only, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	half := t.TempDir()
	os.WriteFile(filepath.Join(half, "initdb"), []byte("#!/bin/sh\n"), 0o755)
	if got, err := findBinaries([]string{"", half, only}); err != nil || got != only {
		t.Errorf("findBinaries = %q, %v; want %q", got, err, only)
	}

	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("found %s", dir)
}

func TestNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10", "16"} {
		os.MkdirAll(filepath.Join(root, v, "bin"), 0o755)
	}
	got := newestFirst(filepath.Join(root, "*", "bin"))
	var versions []string
	for _, d := range got {
		versions = append(versions, filepath.Base(filepath.Dir(d)))
	}
	if strings.Join(versions, " ") != "16 15 10 9.6" {
		t.Errorf("order %v", versions)
	}
}

func TestCheckPIDFile(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	path := filepath.Join(data, "postmaster.pid")
	log := testLogger(t)

	writePIDFile(t, path, os.Getpid(), data) // alive, but not postgres
	if err := checkPIDFile(data, log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file of another program kept: %v", err)
	}

	os.WriteFile(path, []byte("garbage\n"), 0o600)
	if err := checkPIDFile(data, log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreadable pid file kept: %v", err)
	}
}

func TestWatchdog(t *testing.T) {
	t.Parallel()
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	d, err := startWatchdog(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// What the kernel does when this process dies.
	d.pipe.Close()
	d.cmd.Wait()
	err = sleep.Wait()
	if err == nil || !strings.Contains(err.Error(), "interrupt") {
		t.Errorf("sleep ended with %v, want interrupted by the watchdog", err)
	}

	// Disarmed, it signals nothing.
	sleep = exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleep.Process.Kill()
	d, err = startWatchdog(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	d.disarm()
	time.Sleep(50 * time.Millisecond)
	if err := sleep.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("sleep gone after disarm: %v", err)
	}
}

// TestOrphanedClusterStops kills (SIGKILL) a process running a cluster and
// checks that the cluster does not outlive it.
func TestOrphanedClusterStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperRunCluster$")
	helper.Env = append(os.Environ(), "PGSERVER_HELPER_DIR="+dir)
	helper.Stderr = t.Output()
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscanf(out, "postgres pid %d\n", &pid); err != nil {
		helper.Process.Kill()
		t.Fatalf("read the helper's postgres pid: %v", err)
	}
	helper.Process.Kill()
	helper.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("postgres (pid %d) outlived the process that started it", pid)
	}
	s := start(t, dir) // nothing lingers on the folder
	connect(t, s.URL("ufo"))
}

// TestHelperRunCluster is the process TestOrphanedClusterStops kills.
func TestHelperRunCluster(t *testing.T) {
	dir := os.Getenv("PGSERVER_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestOrphanedClusterStops")
	}
	s, err := Start(context.Background(), Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("postgres pid %d\n", s.proc.cmd.Process.Pid)
	select {}
}

// TestBinariesForExistingCluster: a cluster opens only with the major
// version that created it.
func TestBinariesForExistingCluster(t *testing.T) {
	t.Parallel()
	fake := func(version string) string {
		dir := t.TempDir()
		script := "#!/bin/sh\necho 'postgres (PostgreSQL) " + version + " (Debian)'\n"
		for _, name := range []string{"initdb", "postgres"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	v16, v15, v96 := fake("16.4"), fake("15.18"), fake("9.6.24")
	for _, tc := range []struct {
		want string
		dirs []string
		got  string
	}{
		{"", []string{v16, v15}, v16},
		{"15", []string{v16, v15}, v15},
		{"9.6", []string{v16, v96}, v96},
	} {
		got, err := binariesFor(tc.dirs, tc.want)
		if err != nil || got != tc.got {
			t.Errorf("binariesFor(%q) = %q, %v; want %q", tc.want, got, err, tc.got)
		}
	}
	_, err := binariesFor([]string{v16}, "15")
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql-15") {
		t.Errorf("binariesFor without a match: %v", err)
	}
}
