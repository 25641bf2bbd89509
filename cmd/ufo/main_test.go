package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/db"
	"github.com/ufo-run/ufo/store/pgtest"
)

// ufoBin is the ufo binary built once for these tests, which run it as a
// real process.
var ufoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ufo-bin-")
	if err != nil {
		panic(err)
	}
	ufoBin = filepath.Join(dir, "ufo")
	out, err := exec.Command("go", "build", "-o", ufoBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ufo: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	pgtest.Main(m)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestTwoProcessesMigrate runs two `ufo migrate` processes on one empty
// database at once: both succeed and each migration is applied once.
func TestTwoProcessesMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDB(t)
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(ufoBin, "migrate", "--database-url", url)
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	applied := bytes.Count(outs[0], []byte("applied migration")) + bytes.Count(outs[1], []byte("applied migration"))
	migs, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(migs) {
		t.Fatalf("the two processes applied %d migrations between them, want %d:\n%s\n%s", applied, len(migs), outs[0], outs[1])
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
	}
}

type serverProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	base string
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startServer(t *testing.T, home, addr string, env ...string) *serverProc {
	t.Helper()
	cmd := exec.Command(ufoBin, "server", "--addr", addr)
	cmd.Env = append(os.Environ(), append([]string{"UFO_HOME=" + home, "DATABASE_URL="}, env...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, out: out, base: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("server not ready within 30 s:\n%s", out)
	return nil
}

func (p *serverProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v:\n%s", err, p.out)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("server did not stop within 30 s of SIGINT:\n%s", p.out)
	}
}

func post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServerEmbeddedDatabase starts `ufo server` with no DATABASE_URL: it
// creates its own cluster, serves, stops it cleanly on SIGINT, and keeps the
// data for the next start.
func TestServerEmbeddedDatabase(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	addr := freeAddr(t)
	p := startServer(t, home, addr)
	if got := post(t, p.base+"/api/auth/signup", `{"email":"keep@example.com","password":"P@ssw0rd","name":"Keep"}`); got != 201 {
		t.Fatalf("signup: %d\n%s", got, p.out)
	}
	p.stop(t)
	if _, err := os.Stat(filepath.Join(home, "postgres", "data", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("PostgreSQL still running after the server stopped (postmaster.pid: %v)", err)
	}
	p = startServer(t, home, addr)
	defer p.stop(t)
	if got := post(t, p.base+"/api/auth/login", `{"email":"keep@example.com","password":"P@ssw0rd"}`); got != 200 {
		t.Fatalf("sign-in after restart: %d\n%s", got, p.out)
	}
	if !strings.Contains(p.out.String(), "GitHub is off") || !strings.Contains(p.out.String(), "Slack is off") {
		t.Fatalf("start-up log does not say GitHub and Slack are off:\n%s", p.out)
	}
}
