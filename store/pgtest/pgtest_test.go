//go:build unix

package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) {
	Setup(func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		// Left open on purpose: Main must close it before cloning.
		_, err = conn.Exec(ctx, "CREATE TABLE greeting (text text); INSERT INTO greeting VALUES ('hello')")
		return err
	})
	Main(m)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewDBIsSetUp(t *testing.T) {
	t.Parallel()
	var text string
	if err := connect(t, NewDB(t)).QueryRow(t.Context(), "SELECT text FROM greeting").Scan(&text); err != nil {
		t.Fatal(err)
	}
	if text != "hello" {
		t.Errorf("greeting = %q", text)
	}
}

func TestNewDBsAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := connect(t, NewDB(t)), connect(t, NewDB(t))
	if _, err := a.Exec(t.Context(), "INSERT INTO greeting VALUES ('only in a')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(t.Context(), "SELECT count(*) FROM greeting").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("b has %d greetings, want 1", n)
	}
}

func TestNewDBInParallel(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			var one int
			if err := connect(t, NewDB(t)).QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewDBIsDroppedAfterTheTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, NewDB(t))
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		// conn stays open: the drop forces it closed.
	})
	if !strings.HasPrefix(name, "testnewdbisdroppedafterthetest_user_") {
		t.Errorf("database named %q", name)
	}
	var exists bool
	err := connect(t, Server().URL("postgres")).
		QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s outlived its test", name)
	}
}

func TestTemplateRefusesConnections(t *testing.T) {
	t.Parallel()
	_, err := pgx.Connect(t.Context(), Server().URL(templateDB))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "not currently accepting connections") {
		t.Errorf("connect to the template: %v", err)
	}
}

func TestServerOverTCP(t *testing.T) {
	t.Parallel()
	url := Server().TCPURL("postgres")
	if url == "" {
		t.Fatal("no TCP")
	}
	var addr string
	if err := connect(t, url).QueryRow(t.Context(), "SELECT inet_server_addr()::text").Scan(&addr); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1/32" {
		t.Errorf("server address %s", addr)
	}
}

func TestDBName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ test, prefix string }{
		{"TestSimple", "testsimple_"},
		{"TestRuns/claim a run (leased)", "testruns_claim_a_run_leased_"},
		{"Тест/ü", "test_"},
		{"Test" + strings.Repeat("Long", 30), "test" + strings.Repeat("long", 9) + "_"},
	} {
		got := dbName(tc.test)
		if !strings.HasPrefix(got, tc.prefix) || len(got) > 63 {
			t.Errorf("dbName(%q) = %q, want prefix %q and at most 63 bytes", tc.test, got, tc.prefix)
		}
	}
	if dbName("TestSame") == dbName("TestSame") {
		t.Error("two databases for one test share a name")
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dead := filepath.Join(root, dirPrefix+"dead")
	live := filepath.Join(root, dirPrefix+"live")
	young := filepath.Join(root, dirPrefix+"young") // no owner file yet
	for _, d := range []string{dead, live, young} {
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dead, ownerFile), []byte(strconv.Itoa(deadPID(t))), 0o600)
	os.WriteFile(filepath.Join(live, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600)

	sweep(root)
	for dir, want := range map[string]bool{dead: false, live: true, young: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

func ExampleNewDB() {
	// In a test: url := pgtest.NewDB(t), then pgxpool.New(ctx, url).
	fmt.Println(strings.HasPrefix(dbName("TestExample"), "testexample_"))
	// Output: true
}
