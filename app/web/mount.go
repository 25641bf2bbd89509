package web

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app"
)

// Mounter adds an adapter's routes (the GitHub App's webhook and setup, the
// Slack bot's endpoints) to the router, with the API's auth at hand.
type Mounter interface {
	Mount(r chi.Router, auth Auth)
}

// Auth is what an adapter's handlers need from the HTTP layer.
type Auth struct {
	// RequireFleet guards a route with ?fleet= and a minimum role, exactly
	// as the API's own fleet-scoped routes (404 for a foreign fleet).
	RequireFleet func(minRole string) func(http.Handler) http.Handler
	// User is the signed-in user (empty ID when there is none).
	User func(ctx context.Context) app.User
	// Fleet is the fleet RequireFleet admitted.
	Fleet func(ctx context.Context) string
	// WriteError answers with the API's error shape.
	WriteError func(w http.ResponseWriter, err error)
	// WriteJSON answers with a JSON body.
	WriteJSON func(w http.ResponseWriter, status int, v any)
	// Decode reads a JSON body strictly (unknown fields refused).
	Decode func(w http.ResponseWriter, r *http.Request, v any) error
}

func (s *Server) auth() Auth {
	return Auth{
		RequireFleet: s.requireFleet,
		User:         userFrom,
		Fleet:        fleetFrom,
		WriteError:   func(w http.ResponseWriter, err error) { writeError(w, s.log, err) },
		WriteJSON:    writeJSON,
		Decode:       decode,
	}
}
