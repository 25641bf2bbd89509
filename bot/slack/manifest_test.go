package slack_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/bot/slack"
)

type manifest struct {
	Display struct {
		Name string `json:"name"`
	} `json:"display_information"`
	Features struct {
		BotUser struct {
			DisplayName string `json:"display_name"`
		} `json:"bot_user"`
		SlashCommands []struct {
			Command, URL, Description string
		} `json:"slash_commands"`
	} `json:"features"`
	OAuth struct {
		Scopes struct {
			Bot []string `json:"bot"`
		} `json:"scopes"`
	} `json:"oauth_config"`
	Settings struct {
		Events struct {
			RequestURL string   `json:"request_url"`
			BotEvents  []string `json:"bot_events"`
		} `json:"event_subscriptions"`
		Interactivity struct {
			IsEnabled  bool   `json:"is_enabled"`
			RequestURL string `json:"request_url"`
		} `json:"interactivity"`
		SocketMode bool `json:"socket_mode_enabled"`
	} `json:"settings"`
}

// TestManifest checks the app manifest asks for the /ufo command, the
// events and the scopes UFO uses and no more, with the server's URLs (or
// none, in Socket Mode).
func TestManifest(t *testing.T) {
	t.Parallel()
	raw, err := slack.Manifest("https://ufo.example.com/", false)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest is not JSON: %v\n%s", err, raw)
	}
	scopes := []string{"app_mentions:read", "channels:history", "chat:write", "commands", "groups:history", "users:read", "users:read.email"}
	switch {
	case m.Display.Name != "UFO" || m.Features.BotUser.DisplayName != "UFO":
		t.Errorf("names: %+v", m.Display)
	case len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/ufo" ||
		m.Features.SlashCommands[0].URL != "https://ufo.example.com/slack/commands":
		t.Errorf("slash commands: %+v", m.Features.SlashCommands)
	case !slices.Equal(m.OAuth.Scopes.Bot, scopes):
		t.Errorf("scopes %v, want %v", m.OAuth.Scopes.Bot, scopes)
	case m.Settings.Events.RequestURL != "https://ufo.example.com/slack/events" ||
		!slices.Equal(m.Settings.Events.BotEvents, []string{"app_mention", "message.channels", "message.groups"}):
		t.Errorf("events: %+v", m.Settings.Events)
	case !m.Settings.Interactivity.IsEnabled || m.Settings.Interactivity.RequestURL != "https://ufo.example.com/slack/interactivity":
		t.Errorf("interactivity: %+v", m.Settings.Interactivity)
	case m.Settings.SocketMode:
		t.Error("socket mode is on")
	}

	raw, err = slack.Manifest("https://ufo.example.com", true)
	if err != nil {
		t.Fatal(err)
	}
	m = manifest{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Settings.SocketMode || strings.Contains(string(raw), "https://") || !m.Settings.Interactivity.IsEnabled ||
		!slices.Equal(m.OAuth.Scopes.Bot, scopes) {
		t.Fatalf("Socket Mode manifest:\n%s", raw)
	}
}
