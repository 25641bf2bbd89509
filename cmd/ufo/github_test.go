package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("manifest is not JSON (%v):\n%s", err, out)
	}
	wantPerms := map[string]string{"issues": "write", "pull_requests": "write", "contents": "write", "metadata": "read", "members": "read"}
	wantEvents := []string{"issue_comment", "issues", "pull_request", "pull_request_review", "pull_request_review_comment"}
	slices.Sort(m.Events)
	if m.Name != "UFO Acme" || m.URL != "https://ufo.example.com" || m.Hook["url"] != "https://ufo.example.com/github/webhook" ||
		m.SetupURL != "https://ufo.example.com/github/setup" || !m.SetupOnUpdate || m.Public || m.RedirectURLSet != nil ||
		!maps.Equal(m.Permissions, wantPerms) || !slices.Equal(m.Events, wantEvents) {
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
		"UFO_GITHUB_API_URL=http://127.0.0.1:1/api/v3/")
	defer p.stop(t)
	log := p.out.String()
	if !strings.Contains(log, `msg="GitHub is on" app_id=4242 slug=ufo-acme`) || strings.Contains(log, "GitHub is off") {
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
	for _, s := range []string{secret, "PRIVATE KEY"} {
		if strings.Contains(p.out.String(), s) || strings.Contains(string(help), s) {
			t.Fatalf("%q shows in the log or --help", s)
		}
	}
	if !strings.Contains(string(help), "UFO_GITHUB_WEBHOOK_SECRET") {
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
