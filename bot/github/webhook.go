package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/app/web"
)

// maxPayload is GitHub's cap on a webhook payload.
const maxPayload = 25 << 20

// delivery is a webhook delivery as recorded in its job. The body is kept
// as a string: it is exactly what GitHub signed, and a string survives
// jsonb intact whatever the payload holds.
type delivery struct {
	Event string `json:"event"`
	Body  string `json:"body"`
}

// Mount adds the App's routes (see web.Mounter).
func (a *App) Mount(r chi.Router, auth web.Auth) {
	h := &handlers{App: a, auth: auth}
	r.Post("/github/webhook", h.webhook)
	r.Get("/github/setup", h.setupPage)
	r.With(auth.RequireFleet(app.RoleAdmin)).Post("/github/setup", h.setupLink)
	r.With(auth.RequireFleet(app.RoleMember)).Get("/api/github/installations", h.listInstallations)
	r.With(auth.RequireFleet(app.RoleAdmin)).Post("/api/github/installations", h.createInstallation)
}

// handlers are the App's HTTP handlers, with the HTTP layer's auth and
// answers they were mounted with.
type handlers struct {
	*App
	auth web.Auth
}

// ValidSignature reports, in constant time, whether header is GitHub's
// X-Hub-Signature-256 of body under secret ("sha256=" and the hex HMAC).
func ValidSignature(secret string, body []byte, header string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// webhook verifies a delivery, records it once as a job and answers 202 at
// once; the worker processes it. A redelivery of one that is pending or
// done is a duplicate; of one that failed, it is new again. Nothing is
// stored unless the signature holds.
func (a *handlers) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.auth.WriteError(w, app.Errorf(app.EInvalid, "payload is larger than %d bytes", maxPayload))
			return
		}
		a.auth.WriteError(w, app.Errorf(app.EInvalid, "read the payload: %v", err))
		return
	}
	if !ValidSignature(a.cfg.WebhookSecret, body, r.Header.Get("X-Hub-Signature-256")) {
		a.auth.WriteError(w, app.Errorf(app.EUnauthorized, "X-Hub-Signature-256 does not match the payload"))
		return
	}
	event, id := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-GitHub-Delivery")
	if event == "" || id == "" || len(id) > 200 {
		a.auth.WriteError(w, app.Errorf(app.EInvalid, "X-GitHub-Event and X-GitHub-Delivery are required"))
		return
	}
	payload, err := payloadJSON(r.Header.Get("Content-Type"), body)
	if err != nil {
		a.auth.WriteError(w, err)
		return
	}
	if event == "ping" {
		a.auth.WriteJSON(w, http.StatusOK, map[string]string{"delivery": id, "event": event})
		return
	}
	// A delivery whose job failed is processed again: GitHub resends it
	// with the same id only when someone asks ("Redeliver").
	created, err := a.store.EnqueueOrReviveJob(r.Context(), KindDelivery, id, delivery{Event: event, Body: payload}, 0)
	if err != nil {
		a.auth.WriteError(w, err)
		return
	}
	if created {
		a.wake()
	}
	a.auth.WriteJSON(w, http.StatusAccepted, map[string]any{"delivery": id, "event": event, "duplicate": !created})
}

// payloadJSON returns the JSON of a delivery: the body itself, or its
// payload field when the webhook is set to send form-encoded content.
func payloadJSON(contentType string, body []byte) (string, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-www-form-urlencoded" {
		return string(body), nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		return "", app.Errorf(app.EInvalid, "a form-encoded delivery needs a payload field")
	}
	return form.Get("payload"), nil
}
