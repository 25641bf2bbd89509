// Package pilottest provides scripted fake model servers that speak the
// Anthropic Messages and OpenAI Responses streaming wire formats, so tests
// can drive the real claude and codex CLIs offline, end to end.
//
// Both fakes follow the same Script. A turn starts with a user prompt; the
// fake answers it with a tool call that creates Script.File, then (when
// Script.Command is set) with a shell command tool call, then with the text
// Script.Final. A prompt that follows an earlier exchange in the same
// conversation (a resumed session) is answered with Script.FollowUp at once.
package pilottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Script decides what a fake model answers.
type Script struct {
	// File is the path, relative to the pilot's working directory, of the
	// file the first answer of a turn asks the pilot to create with Content.
	File    string
	Content string
	// Thinking, when set, is sent as a thinking (reasoning summary) block
	// before the first tool call.
	Thinking string
	// Command, when set, is a shell command the model runs after the file
	// was written (claude: Bash; codex: exec_command).
	Command string
	// Final is the text that ends a turn after its tool calls.
	Final string
	// FollowUp is the text that answers a prompt in a resumed conversation.
	FollowUp string
	// FailStatus, when non-zero, makes every model request fail with this
	// HTTP status.
	FailStatus int
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Body   []byte
}

// Server is a running fake model server. It is closed when the test ends.
type Server struct {
	// URL is the server's base URL, without a trailing slash and without
	// the API version segment (codex wants URL + "/v1").
	URL string

	t      testing.TB
	script Script
	mu     sync.Mutex
	reqs   []Request
}

// Requests returns the requests the server received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// ModelRequests returns the received requests to path (the model calls).
func (s *Server) ModelRequests(path string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func start(t testing.TB, script Script, h func(s *Server, w http.ResponseWriter, r *http.Request, body []byte)) *Server {
	t.Helper()
	if script.File == "" {
		script.File = "hello.txt"
	}
	if script.Final == "" {
		script.Final = "Done."
	}
	if script.FollowUp == "" {
		script.FollowUp = "Still here."
	}
	s := &Server{t: t, script: script}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Body: body})
		s.mu.Unlock()
		h(s, w, r, body)
	}))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// sse writes server-sent events and flushes each one.
type sse struct {
	w http.ResponseWriter
}

func newSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return sse{w: w}
}

func (e sse) send(name string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("pilottest: marshal %s event: %v", name, err))
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", name, b)
	_, _ = e.w.Write(buf.Bytes())
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// step is what the model does next within a turn.
type step int

const (
	stepWrite step = iota
	stepCommand
	stepFinal
	stepFollowUp
)

// next picks the answer from the number of tool results since the turn's
// prompt and whether the conversation had an exchange before that prompt.
func (s Script) next(toolResults int, resumed bool) step {
	switch {
	case toolResults == 0 && resumed:
		return stepFollowUp
	case toolResults == 0:
		return stepWrite
	case toolResults == 1 && s.Command != "":
		return stepCommand
	default:
		return stepFinal
	}
}
