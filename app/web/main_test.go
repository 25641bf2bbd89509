package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

// testLogger sends the server's logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// env is one server on its own database.
type env struct {
	t     testing.TB
	url   string
	store *store.Store
	srv   *httptest.Server
	cfg   web.Config
}

func newEnv(t testing.TB, tweak ...func(*web.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	url := pgtest.NewDB(t)
	log := testLogger(t)
	st, err := store.Open(ctx, url, log)
	if err != nil {
		t.Fatal(err)
	}
	hub := web.NewHub(url, st, log)
	go hub.Run(ctx)
	<-hub.Ready()
	cfg := web.Config{PublicURL: "http://ufo.test", Lease: 30 * time.Second, LongPoll: 2 * time.Second}
	for _, f := range tweak {
		f(&cfg)
	}
	ws, err := web.New(st, hub, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws.Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		cancel()
		st.Close()
	})
	return &env{t: t, url: url, store: st, srv: srv, cfg: cfg}
}

// client is a browser-like API client with its own cookie jar.
type client struct {
	t     testing.TB
	base  string
	http  *http.Client
	token string // rover bearer token, when set
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.srv.URL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a request; body may be nil, a string (sent raw) or a value
// (sent as JSON).
func (c *client) do(method, path string, body any) (int, []byte, http.Header) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// call sends a request, requires the status and decodes the answer into out
// (when not nil).
func (c *client) call(method, path string, body any, want int, out any) {
	c.t.Helper()
	status, b, _ := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// wantError requires an error answer with the status and machine code.
func (c *client) wantError(method, path string, body any, status int, code string) {
	c.t.Helper()
	got, b, _ := c.do(method, path, body)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil || got != status || e.Error.Code != code || e.Error.Message == "" {
		c.t.Fatalf("%s %s: got %d %s, want %d with code %q", method, path, got, b, status, code)
	}
}

type idOnly struct {
	ID string `json:"id"`
}

// signUp makes a user with a fleet and returns their client and fleet id.
func (e *env) signUp(email string) (*client, string) {
	e.t.Helper()
	c := e.client()
	var out struct {
		Fleet idOnly `json:"fleet"`
	}
	c.call("POST", "/api/auth/signup", map[string]string{"email": email, "password": "P@ssw0rd", "name": strings.Split(email, "@")[0]}, 201, &out)
	return c, out.Fleet.ID
}
