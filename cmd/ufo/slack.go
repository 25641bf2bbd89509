package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/bot"
	"github.com/ufo-run/ufo/bot/slack"
	"github.com/ufo-run/ufo/store"
)

func init() { extraCommands = append(extraCommands, newSlackCmd) }

// slackConfig is the Slack bot's part of the server's configuration. The
// secrets' flags have no defaults from the environment, so --help never
// prints them; the variables are read when the flags are empty.
type slackConfig struct {
	SigningSecret string
	BotToken      string
	AppToken      string
	APIURL        string
}

func (c *slackConfig) flags(f *pflag.FlagSet) {
	f.StringVar(&c.SigningSecret, "slack-signing-secret", "", "Slack app's signing secret, for HTTP deliveries (UFO_SLACK_SIGNING_SECRET)")
	f.StringVar(&c.BotToken, "slack-bot-token", "", "Slack bot token, xoxb-… (UFO_SLACK_BOT_TOKEN)")
	f.StringVar(&c.AppToken, "slack-app-token", "", "Slack app-level token, xapp-…: use Socket Mode instead of HTTP (UFO_SLACK_APP_TOKEN)")
	f.StringVar(&c.APIURL, "slack-api-url", envOr("UFO_SLACK_API_URL", slack.DefaultAPIURL), "Slack Web API base URL (UFO_SLACK_API_URL)")
}

func (c slackConfig) resolved() slackConfig {
	or := func(v, env string) string {
		if v != "" {
			return v
		}
		return os.Getenv(env)
	}
	c.SigningSecret = or(c.SigningSecret, "UFO_SLACK_SIGNING_SECRET")
	c.BotToken = or(c.BotToken, "UFO_SLACK_BOT_TOKEN")
	c.AppToken = or(c.AppToken, "UFO_SLACK_APP_TOKEN")
	return c
}

// slackAdapter is the running Slack bot, or nil when Slack is off.
type slackAdapter struct {
	bot      *slack.Bot
	id       slack.Identity
	checked  bool
	socket   bool
	endpoint bool
}

// startSlack builds the Slack bot when it is configured: it checks the bot
// token (auth.test), registers its jobs on the worker and, with an
// app-level token, starts Socket Mode. Nothing configured means nil: Slack
// is off. A half-made configuration is an error.
func startSlack(ctx context.Context, c slackConfig, publicURL string, st *store.Store, w *bot.Worker, log *slog.Logger) (*slackAdapter, error) {
	c = c.resolved()
	switch {
	case c.BotToken == "" && c.SigningSecret == "" && c.AppToken == "":
		return nil, nil
	case c.BotToken == "":
		return nil, errors.New("slack: set UFO_SLACK_BOT_TOKEN too (or unset UFO_SLACK_SIGNING_SECRET and UFO_SLACK_APP_TOKEN)")
	case c.SigningSecret == "" && c.AppToken == "":
		return nil, errors.New("slack: set UFO_SLACK_SIGNING_SECRET (HTTP) or UFO_SLACK_APP_TOKEN (Socket Mode) too")
	}
	b, err := slack.New(slack.Config{SigningSecret: c.SigningSecret, BotToken: c.BotToken, AppToken: c.AppToken,
		APIURL: c.APIURL, PublicURL: publicURL, Wake: w.Wake}, st, log)
	if err != nil {
		return nil, err
	}
	a := &slackAdapter{bot: b, socket: c.AppToken != "", endpoint: c.SigningSecret != ""}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	a.id, err = b.Check(cctx)
	cancel()
	var se slackapi.SlackErrorResponse
	switch {
	case errors.As(err, &se):
		return nil, fmt.Errorf("slack refused UFO_SLACK_BOT_TOKEN: %s", se.Err)
	case err != nil:
		log.Warn("Slack could not be reached to check the bot token; going on", "err", err)
	default:
		a.checked = true
	}
	b.Register(w)
	if a.socket {
		go func() {
			if err := b.RunSocketMode(ctx); err != nil && ctx.Err() == nil {
				log.Error("Slack Socket Mode stopped", "err", err)
			}
		}()
	}
	return a, nil
}

func (a *slackAdapter) notifiers() map[string]bot.Notifier {
	if a == nil {
		return nil
	}
	return map[string]bot.Notifier{"slack": a.bot}
}

func (a *slackAdapter) mounters() []web.Mounter {
	if a == nil {
		return nil
	}
	return []web.Mounter{a.bot}
}

// logState says at start-up whether Slack is on, and how it is reached.
func (a *slackAdapter) logState(log *slog.Logger) {
	if a == nil {
		log.Info("Slack is off: set UFO_SLACK_BOT_TOKEN and UFO_SLACK_SIGNING_SECRET (or UFO_SLACK_APP_TOKEN for Socket Mode) to connect it")
		return
	}
	via := "HTTP endpoints /slack/commands, /slack/events and /slack/interactivity"
	switch {
	case a.socket && a.endpoint:
		via = "Socket Mode, and " + via
	case a.socket:
		via = "Socket Mode"
	}
	if a.checked {
		log.Info("Slack is on", "workspace", a.id.Team, "bot", a.id.User, "via", via)
		return
	}
	log.Info("Slack is on (bot token not checked yet)", "via", via)
}

func newSlackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slack",
		Short: "Set up the Slack app",
	}
	var publicURL string
	var socket bool
	manifest := &cobra.Command{
		Use:   "manifest",
		Short: "Print the Slack app manifest (JSON) for this server, to create the app from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := slack.Manifest(publicURL, socket)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	manifest.Flags().StringVar(&publicURL, "public-url", envOr("UFO_PUBLIC_URL", "http://localhost:8080"), "URL Slack reaches this server at (UFO_PUBLIC_URL)")
	manifest.Flags().BoolVar(&socket, "socket-mode", false, "use Socket Mode (no request URLs; for servers Slack cannot reach)")
	cmd.AddCommand(manifest)
	return cmd
}
