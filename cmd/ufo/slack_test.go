package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestSlackManifestCommand(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(ufoBin, "slack", "manifest")
	cmd.Env = append(os.Environ(), "UFO_PUBLIC_URL=https://ufo.example.com")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ufo slack manifest: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil || !strings.Contains(string(out), `"https://ufo.example.com/slack/commands"`) ||
		!strings.Contains(string(out), `"socket_mode_enabled": false`) {
		t.Fatalf("manifest (%v):\n%s", err, out)
	}
	out, err = exec.Command(ufoBin, "slack", "manifest", "--socket-mode", "--public-url", "https://x.example.com").Output()
	if err != nil || !strings.Contains(string(out), `"socket_mode_enabled": true`) || strings.Contains(string(out), "x.example.com") {
		t.Fatalf("Socket Mode manifest (%v):\n%s", err, out)
	}
}

// TestServerWithSlack starts `ufo server` configured for a fake Slack: the
// start-up log says Slack is on (and names the workspace auth.test gave),
// the endpoints verify signatures, and the secrets appear neither in the
// log nor in --help.
func TestServerWithSlack(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t)
	const secret = "s3cret-signing"
	p := startServer(t, t.TempDir(), freeAddr(t), "DATABASE_URL="+pgtest.NewDB(t), "UFO_SLACK_BOT_TOKEN="+fake.BotToken,
		"UFO_SLACK_SIGNING_SECRET="+secret, "UFO_SLACK_API_URL="+fake.APIURL())
	defer p.stop(t)
	log := p.out.String()
	if !strings.Contains(log, `msg="Slack is on" workspace="UFO Test" bot=ufo`) || strings.Contains(log, "Slack is off") {
		t.Fatalf("start-up log does not say Slack is on:\n%s", log)
	}
	body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"abc123","type":"url_verification"}`
	send := func(sign bool) (int, string) {
		req, _ := http.NewRequest("POST", p.base+"/slack/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		if sign {
			req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(slack.Sign(secret, ts, []byte(body))))
		} else {
			req.Header.Set("X-Slack-Signature", "v0=00")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, b := send(true); status != 200 || b != `{"challenge":"abc123"}` {
		t.Fatalf("signed url_verification: %d %s", status, b)
	}
	if status, _ := send(false); status != 401 {
		t.Fatalf("unsigned: %d, want 401", status)
	}
	help, _ := exec.Command(ufoBin, "server", "--help").CombinedOutput()
	for _, s := range []string{secret, fake.BotToken} {
		if strings.Contains(p.out.String(), s) || strings.Contains(string(help), s) {
			t.Fatalf("a Slack secret was printed")
		}
	}
}

// TestServerSlackMisconfigured: a half-made Slack configuration, or a token
// Slack refuses, stops the server with a message saying what to fix.
func TestServerSlackMisconfigured(t *testing.T) {
	t.Parallel()
	fake := slackfake.New(t)
	url := pgtest.NewDB(t)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"UFO_SLACK_SIGNING_SECRET=x"}, "set UFO_SLACK_BOT_TOKEN too"},
		{[]string{"UFO_SLACK_BOT_TOKEN=" + fake.BotToken}, "set UFO_SLACK_SIGNING_SECRET (HTTP) or UFO_SLACK_APP_TOKEN (Socket Mode) too"},
		{[]string{"UFO_SLACK_BOT_TOKEN=xoxb-revoked", "UFO_SLACK_SIGNING_SECRET=x", "UFO_SLACK_API_URL=" + fake.APIURL()}, "slack refused UFO_SLACK_BOT_TOKEN: invalid_auth"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, ufoBin, "server", "--addr", freeAddr(t))
		cmd.Env = append(os.Environ(), append([]string{"UFO_HOME=" + t.TempDir(), "DATABASE_URL=" + url}, c.env...)...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("with %v: %v, want a failure saying %q:\n%s", c.env, err, c.want, out)
		}
	}
}
