package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/slack-go/slack"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
)

// maxBody bounds what a Slack delivery may send.
const maxBody = 1 << 20

// answerWithin bounds the work done before answering a command: Slack gives
// up after 3 seconds.
const answerWithin = 2500 * time.Millisecond

// Mount adds the Slack endpoints (when a signing secret is set; Socket
// Mode needs none) and the link-code API for fleet admins.
func (b *Bot) Mount(r chi.Router, auth web.Auth) {
	if b.cfg.SigningSecret != "" {
		r.Post("/slack/commands", b.serveCommand)
		r.Post("/slack/events", b.serveEvent)
		r.Post("/slack/interactivity", b.serveInteraction)
	}
	r.With(auth.RequireFleet(app.RoleAdmin)).Post("/api/slack/link-codes", func(w http.ResponseWriter, r *http.Request) {
		code, expires, err := b.store.CreateSlackLinkCode(r.Context(), auth.Fleet(r.Context()), auth.User(r.Context()).ID)
		if err != nil {
			auth.WriteError(w, err)
			return
		}
		auth.WriteJSON(w, http.StatusCreated, map[string]any{"code": code, "expires_at": expires})
	})
}

// verified reads a delivery's body and checks its signature; on failure it
// has answered 401 and returns nil, having stored nothing.
func (b *Bot) verified(w http.ResponseWriter, r *http.Request) []byte {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil
	}
	if err := Verify(r.Header, body, b.cfg.SigningSecret, b.cfg.Now()); err != nil {
		b.log.Warn("slack: refused a delivery", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
		return nil
	}
	return body
}

func (b *Bot) serveCommand(w http.ResponseWriter, r *http.Request) {
	body := b.verified(w, r)
	if body == nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sc, err := slack.SlashCommandParse(r)
	if err != nil || sc.TeamID == "" || sc.UserID == "" || sc.ChannelID == "" {
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), answerWithin)
	defer cancel()
	writeJSON(w, b.command(ctx, sc))
}

func (b *Bot) serveEvent(w http.ResponseWriter, r *http.Request) {
	body := b.verified(w, r)
	if body == nil {
		return
	}
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		b.log.Debug("slack: event redelivered", "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	challenge, err := b.event(r.Context(), body)
	switch {
	case errors.Is(err, errMalformed):
		http.Error(w, "malformed event", http.StatusBadRequest)
	case err != nil:
		b.log.Error("slack: record event", "err", err)
		http.Error(w, "could not record the event", http.StatusInternalServerError)
	case challenge != "":
		writeJSON(w, map[string]string{"challenge": challenge})
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (b *Bot) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body := b.verified(w, r)
	if body == nil {
		return
	}
	form, err := url.ParseQuery(string(body))
	payload := form.Get("payload")
	if err != nil || payload == "" {
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	switch err := b.interaction(r.Context(), []byte(payload)); {
	case errors.Is(err, errMalformed):
		http.Error(w, "malformed interaction", http.StatusBadRequest)
	case err != nil:
		b.log.Error("slack: record interaction", "err", err)
		http.Error(w, "could not record the interaction", http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "could not encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
