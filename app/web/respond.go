package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/ufo-run/ufo/app"
)

// statusOf maps a domain error code to its HTTP status: the one table.
var statusOf = map[string]int{
	app.ENotFound:     http.StatusNotFound,
	app.EConflict:     http.StatusConflict,
	app.EInvalid:      http.StatusBadRequest,
	app.EUnauthorized: http.StatusUnauthorized,
	app.EForbidden:    http.StatusForbidden,
	app.ERateLimited:  http.StatusTooManyRequests,
	app.EInternal:     http.StatusInternalServerError,
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}

// writeError answers with the error shape; internal errors are logged and
// shown only as "internal error".
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	code := app.ErrorCode(err)
	switch {
	case code != app.EInternal || log == nil:
	case errors.Is(err, context.Canceled):
		// The caller hung up (or the server is stopping): nobody waits for
		// the answer, and there is nothing to fix.
		log.Debug("request given up", "err", err)
	default:
		log.Error("request failed", "err", err)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = app.ErrorMessage(err)
	writeJSON(w, statusOf[code], body)
}

// reply answers with err's error shape when err is set, else with v as JSON
// (or no body for 204): the tail every handler shares.
func (s *Server) reply(w http.ResponseWriter, status int, v any, err error) {
	switch {
	case err != nil:
		writeError(w, s.log, err)
	case status == http.StatusNoContent:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}

// decodeInto reads a request body of type R (see decode) and applies it to
// v: the first two steps of every catalog create and update.
func decodeInto[R any, T any, PR interface {
	*R
	apply(*T) error
}](w http.ResponseWriter, r *http.Request, v *T) error {
	var in R
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return PR(&in).apply(v)
}

const maxBody = 1 << 20

// decode reads exactly one JSON object into v, refusing unknown fields and
// bodies over 1 MiB.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return app.Errorf(app.EInvalid, "Content-Type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return app.Errorf(app.EInvalid, "request body is larger than %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return app.Errorf(app.EInvalid, "request body must be a JSON object")
		case errors.As(err, &se):
			return app.Errorf(app.EInvalid, "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return app.Errorf(app.EInvalid, "field %q must be %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return app.Errorf(app.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return app.Errorf(app.EInvalid, "malformed JSON: %v", err)
	}
	if dec.More() {
		return app.Errorf(app.EInvalid, "request body must hold one JSON object")
	}
	return nil
}

// check collects validation failures of one request.
type check struct{ problems []string }

func (c *check) text(field, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		c.problems = append(c.problems, field+" is required")
	case utf8.RuneCountInString(v) > max:
		c.problems = append(c.problems, fmt.Sprintf("%s is longer than %d characters", field, max))
	}
}

func (c *check) oneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.problems = append(c.problems, fmt.Sprintf("%s must be one of %s", field, strings.Join(allowed, ", ")))
}

func (c *check) that(ok bool, problem string) {
	if !ok {
		c.problems = append(c.problems, problem)
	}
}

func (c *check) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return app.Errorf(app.EInvalid, "%s", strings.Join(c.problems, "; "))
}
