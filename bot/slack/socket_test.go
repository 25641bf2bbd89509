package slack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/bot/slack/slackfake"
)

// TestSocketMode carries a command, an event and a click over a Socket Mode
// connection to the fake: the same handlers answer, each envelope is
// acknowledged, and a command's acknowledgement carries its answer.
func TestSocketMode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *slack.Config) { c.AppToken = "xapp-ufo-test" }) // slackfake's app-level token
	go e.bot.RunSocketMode(t.Context())
	sock := e.fake.Socket(t)

	// A slash command arrives as JSON, with the same fields as the form.
	cmd := map[string]any{}
	for k, v := range e.commandForm("U0ADA", "C0DEV", "link "+e.linkCode()) {
		cmd[k] = v[0]
	}
	var answer struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(sock.Ack(t, sock.Send(t, "slash_commands", cmd)), &answer); err != nil ||
		answer.ResponseType != "ephemeral" || !strings.Contains(answer.Text, "Linked this workspace") {
		t.Fatalf("command answer = %+v (%v)", answer, err)
	}

	// An event: the mention starts an operation, once, however often it comes.
	ev := json.RawMessage(eventEnvelope("Ev0SOCKET", e.mention("U0ADA", "C0DEV", "<@U0UFOBOT> fix it over the socket", "")))
	for range 2 {
		if ack := sock.Ack(t, sock.Send(t, "events_api", ev)); len(ack) != 0 && string(ack) != "null" {
			t.Fatalf("event acknowledged with %s", ack)
		}
	}
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	op := e.operations()[0]
	msg := e.message(op.SlackChannel, op.SlackTS, "the status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "queued") })

	// A click on Cancel.
	payload, _ := e.clickPayload("U0ADA", msg, "cancel", op.ID)
	sock.Ack(t, sock.Send(t, "interactive", json.RawMessage(payload)))
	e.message(op.SlackChannel, op.SlackTS, "the canceled status", func(m slackfake.Message) bool { return strings.Contains(m.Text, "canceled") })
	if n := len(e.operations()); n != 1 {
		t.Fatalf("%d operations, want 1", n)
	}
}
