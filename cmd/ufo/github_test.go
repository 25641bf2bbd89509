package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/store/pgtest"
)

func TestGitHubManifestCommand(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(ufoBin, "github", "manifest", "--name", "UFO Acme")
	cmd.Env = append(os.Environ(), "UFO_PUBLIC_URL=https://ufo.example.com/")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ufo github manifest: %v", err)
	}
	var m struct {
		Name           string            `json:"name"`
		URL            string            `json:"url"`
		Hook           map[string]any    `json:"hook_attributes"`
		SetupURL       string            `json:"setup_url"`
		SetupOnUpdate  bool              `json:"setup_on_update"`
		Public         bool              `json:"public"`
		Permissions    map[string]string `json:"default_permissions"`
		Events         []string          `json:"default_events"`
		RedirectURLSet *string           `json:"redirect_url"`
		CallbackURLs   []string          `json:"callback_urls"`
		OAuthOnInstall bool              `json:"request_oauth_on_install"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("manifest is not JSON (%v):\n%s", err, out)
	}
	wantPerms := map[string]string{"issues": "write", "pull_requests": "write", "contents": "write", "metadata": "read", "members": "read"}
	wantEvents := []string{"issue_comment", "issues", "pull_request", "pull_request_review", "pull_request_review_comment"}
	slices.Sort(m.Events)
	if m.Name != "UFO Acme" || m.URL != "https://ufo.example.com" || m.Hook["url"] != "https://ufo.example.com/github/webhook" ||
		m.SetupURL != "https://ufo.example.com/github/setup" || !m.SetupOnUpdate || m.Public || m.RedirectURLSet != nil ||
		!maps.Equal(m.Permissions, wantPerms) || !slices.Equal(m.Events, wantEvents) ||
		// Linking an installation takes GitHub's user authorization, which
		// sends the installer to the setup page with a code.
		!m.OAuthOnInstall || !slices.Equal(m.CallbackURLs, []string{"https://ufo.example.com/github/setup"}) {
		t.Fatalf("manifest = %+v\n%s", m, out)
	}
	if out, err := exec.Command(ufoBin, "github", "manifest", "--public-url", "ftp://x").CombinedOutput(); err == nil {
		t.Fatalf("a manifest for an ftp URL was printed:\n%s", out)
	}
}

// TestServerWithGitHub starts `ufo server` with the GitHub App configured:
// the start-up log says GitHub is on, the webhook verifies signatures, and
// the secrets appear neither in the log nor in --help.
func TestServerWithGitHub(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "gh-webhook-s3cret"
	p := startServer(t, t.TempDir(), freeAddr(t), "DATABASE_URL="+pgtest.NewDB(t), "UFO_GITHUB_APP_ID=4242",
		"UFO_GITHUB_PRIVATE_KEY_FILE="+keyFile, "UFO_GITHUB_WEBHOOK_SECRET="+secret, "UFO_GITHUB_SLUG=ufo-acme",
		"UFO_GITHUB_API_URL=http://127.0.0.1:1/api/v3/", "UFO_GITHUB_CLIENT_ID=Iv1.8a61f9b3a7aba766", "UFO_GITHUB_CLIENT_SECRET=gh-client-s3cret")
	defer p.stop(t)
	log := p.out.String()
	if !strings.Contains(log, `msg="GitHub is on" app_id=4242 slug=ufo-acme`) || strings.Contains(log, "GitHub is off") ||
		strings.Contains(log, "cannot be linked") {
		t.Fatalf("start-up log does not say GitHub is on:\n%s", log)
	}
	body := `{"zen":"Design for failure.","hook_id":1}`
	send := func(sig string) int {
		req, _ := http.NewRequest("POST", p.base+"/github/webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "ping")
		req.Header.Set("X-GitHub-Delivery", "d-1")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	if status := send("sha256=" + hex.EncodeToString(mac.Sum(nil))); status != 200 {
		t.Fatalf("signed ping: %d, want 200", status)
	}
	if status := send("sha256=00"); status != 401 {
		t.Fatalf("badly signed ping: %d, want 401", status)
	}
	help, _ := exec.Command(ufoBin, "server", "--help").CombinedOutput()
	for _, s := range []string{secret, "PRIVATE KEY", "gh-client-s3cret"} {
		if strings.Contains(p.out.String(), s) || strings.Contains(string(help), s) {
			t.Fatalf("%q shows in the log or --help", s)
		}
	}
	if !strings.Contains(string(help), "UFO_GITHUB_WEBHOOK_SECRET") || !strings.Contains(string(help), "UFO_GITHUB_CLIENT_SECRET") {
		t.Fatalf("--help does not name UFO_GITHUB_WEBHOOK_SECRET:\n%s", help)
	}
}

// TestServerGitHubHalfConfigured: some but not all of the three settings
// stop the server with a message that names what is missing.
func TestServerGitHubHalfConfigured(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(ufoBin, "server", "--addr", freeAddr(t))
	cmd.Env = append(os.Environ(), "UFO_HOME="+t.TempDir(), "DATABASE_URL="+pgtest.NewDB(t), "UFO_GITHUB_APP_ID=4242",
		"UFO_GITHUB_PRIVATE_KEY=", "UFO_GITHUB_PRIVATE_KEY_FILE=", "UFO_GITHUB_WEBHOOK_SECRET=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "UFO_GITHUB_PRIVATE_KEY (or _FILE) and UFO_GITHUB_WEBHOOK_SECRET") {
		t.Fatalf("ufo server with only UFO_GITHUB_APP_ID: %v\n%s", err, out)
	}
}

// TestGitHubCreateApp runs `ufo github create-app` against a fake GitHub
// and plays the browser: the local page's button posts the manifest (with
// the page's own redirect URL) to GitHub's "new App" form; GitHub's
// redirect back with a code makes the command trade it for the App's
// credentials, save them (mode 0600) as UFO_GITHUB_* settings, and exit.
func TestGitHubCreateApp(t *testing.T) {
	t.Parallel()
	conversions := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/app-manifests/c0de/conversions" || conversions > 0 {
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"Not Found"}`)
			return
		}
		conversions++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"id":777,"slug":"ufo-acme","node_id":"MDExOkludGVncmF0aW9uNzc3","name":"UFO Acme","html_url":"https://github.example/apps/ufo-acme",`+
			`"client_id":"Iv1.8a61f9b3a7aba766","client_secret":"1726be1638095a19edd134c77bde3aa2ece1e5d8","webhook_secret":"e340154128314309424b7c8e90325147d99fdafa",`+
			`"pem":"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAuEPzOUE+kiEH1WLiMeBytTEF856j0hOVcSUSUkZxKvqczkWM\n-----END RSA PRIVATE KEY-----\n"}`)
	}))
	defer api.Close()
	out := t.TempDir()
	cmd := exec.Command(ufoBin, "github", "create-app", "--name", "UFO Acme", "--org", "acme", "--out", out,
		"--github-url", "https://github.example", "--github-api-url", api.URL+"/")
	cmd.Env = append(os.Environ(), "UFO_PUBLIC_URL=https://ufo.example.com")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatal("create-app printed nothing")
	}
	local := regexp.MustCompile(`Open (http://127\.0\.0\.1:\d+)/ in a browser`).FindStringSubmatch(lines.Text())
	if local == nil {
		t.Fatalf("first line: %q", lines.Text())
	}
	resp, err := http.Get(local[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := regexp.MustCompile(`<form action="([^"]+)" method="post">\s*<input type="hidden" name="manifest" value="([^"]+)">`).FindStringSubmatch(string(page))
	if form == nil {
		t.Fatalf("page has no manifest form:\n%s", page)
	}
	action, _ := url.Parse(html.UnescapeString(form[1]))
	var manifest struct {
		Name        string `json:"name"`
		RedirectURL string `json:"redirect_url"`
		Hook        struct {
			URL string `json:"url"`
		} `json:"hook_attributes"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(form[2])), &manifest); err != nil {
		t.Fatalf("manifest field: %v\n%s", err, form[2])
	}
	state := action.Query().Get("state")
	if action.Host != "github.example" || action.Path != "/organizations/acme/settings/apps/new" || state == "" ||
		manifest.Name != "UFO Acme" || manifest.RedirectURL != local[1]+"/created" || manifest.Hook.URL != "https://ufo.example.com/github/webhook" {
		t.Fatalf("form posts to %s with %+v", action, manifest)
	}
	// GitHub's redirect back; a forged one (wrong state) is refused first.
	for _, c := range []struct {
		state  string
		status int
	}{{"forged", 400}, {state, 200}} {
		resp, err := http.Get(local[1] + "/created?code=c0de&state=" + url.QueryEscape(c.state))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("GET /created with state %q: %d %s", c.state, resp.StatusCode, b)
		}
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create-app: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("create-app did not exit after GitHub's redirect")
	}
	if !strings.Contains(rest.String(), "https://github.example/apps/ufo-acme/installations/new") {
		t.Fatalf("output does not say where to install the App:\n%s", rest.String())
	}
	env, err := os.ReadFile(filepath.Join(out, "github-app-777.env"))
	if err != nil {
		t.Fatal(err)
	}
	want := "UFO_GITHUB_APP_ID=777\nUFO_GITHUB_SLUG=ufo-acme\nUFO_GITHUB_WEBHOOK_SECRET=e340154128314309424b7c8e90325147d99fdafa\n" +
		"UFO_GITHUB_PRIVATE_KEY_FILE=" + filepath.Join(out, "github-app-777.pem") + "\n" +
		"UFO_GITHUB_CLIENT_ID=Iv1.8a61f9b3a7aba766\nUFO_GITHUB_CLIENT_SECRET=1726be1638095a19edd134c77bde3aa2ece1e5d8\n" +
		"UFO_GITHUB_API_URL=" + api.URL + "/\nUFO_GITHUB_WEB_URL=https://github.example\n"
	if string(env) != want {
		t.Fatalf("settings file:\n%s\nwant:\n%s", env, want)
	}
	for _, name := range []string{"github-app-777.env", "github-app-777.pem"} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", name, fi.Mode(), err)
		}
	}
	if strings.Contains(rest.String(), "e340154128314309424b7c8e90325147d99fdafa") || strings.Contains(rest.String(), "PRIVATE KEY") ||
		strings.Contains(rest.String(), "1726be1638095a19edd134c77bde3aa2ece1e5d8") {
		t.Fatal("create-app printed a secret")
	}
}
