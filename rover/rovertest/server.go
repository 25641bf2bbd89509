// Package rovertest is a fake UFO server that speaks the server side of the
// rover protocol (package wire) the way the real server must, for tests of
// the rover and of the commands that drive it: bearer tokens, single-use
// enrollment codes, 204 on an empty long-poll, a fresh claim token per
// claim and 409 for any call that carries a stale one, the cancel flag in
// every per-run answer, events stored once by (run, seq), one terminal
// state per run. It keeps no leases: tests steal a run to play an expiry.
package rovertest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// Server is the fake. Its zero timings are lease 30s, heartbeat 10s and
// long-poll 1s (short, so idle rovers cycle quickly in tests).
type Server struct {
	srv  *httptest.Server
	down atomic.Bool

	mu        sync.Mutex
	lease     int
	heartbeat int
	longPoll  int
	codes     map[string]bool   // unused enrollment codes
	tokens    map[string]string // token → rover id
	connects  []Connect
	queue     []*Run
	runs      map[string]*Run
	wake      chan struct{} // closed when the queue grows
	nextID    int
}

// Connect is one connect call as the server saw it.
type Connect struct {
	RoverID string
	Profile wire.Profile
}

// Run is a run the server handed out or will; read it with Snapshot.
type Run struct {
	state      RunState
	seen       map[int64]bool
	done       chan struct{}
	onComplete func()
}

// RunState is a copy of what the server knows of a run.
type RunState struct {
	Claim      wire.Claim // as handed out last, with the current claim token
	Status     string     // queued, claimed, running, succeeded, failed, canceled
	Cancel     bool
	Events     []wire.Event // in arrival order, each seq once
	Starts     int
	Heartbeats int
	Refused    int // calls answered 409
	// AfterComplete counts event batches that arrived after the completion;
	// EventsAtComplete is how many events the server held when it came.
	AfterComplete    int
	EventsAtComplete int
	Completion       *wire.Completion
}

// NewServer starts the fake; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{
		lease: 30, heartbeat: 10, longPoll: 1,
		codes: map[string]bool{}, tokens: map[string]string{}, runs: map[string]*Run{},
		wake: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/rovers/enroll", s.enroll)
	mux.HandleFunc("POST /api/rover/connect", s.authed(s.connect))
	mux.HandleFunc("POST /api/rover/claim", s.authed(s.claim))
	mux.HandleFunc("POST /api/rover/runs/{id}/{action}", s.authed(s.runCall))
	mux.HandleFunc("DELETE /api/rover/self", s.authed(s.revokeSelf))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server for good: later calls find nothing listening.
func (s *Server) Close() { s.srv.Close() }

// GoDown makes the server unreachable, cutting the requests in flight;
// ComeBack ends that.
func (s *Server) GoDown() {
	s.down.Store(true)
	s.srv.CloseClientConnections()
}

func (s *Server) ComeBack() { s.down.Store(false) }

// SetTimings sets the lease, heartbeat and long-poll seconds the server
// announces; call it before rovers connect.
func (s *Server) SetTimings(lease, heartbeat, longPoll int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lease, s.heartbeat, s.longPoll = lease, heartbeat, longPoll
}

func randomHex() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// AddRover registers a rover with the given id and returns its token.
func (s *Server) AddRover(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok := "ufo_rt_" + randomHex()
	s.tokens[tok] = id
	return tok
}

// AddCode makes a single-use enrollment code.
func (s *Server) AddCode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := "code-" + randomHex()
	s.codes[code] = true
	return code
}

// Enqueue queues a run. Empty run id, operation id and code, and branch are
// filled in; the claim token, attempt and lease are set when it is claimed.
func (s *Server) Enqueue(cl wire.Claim) *Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	n := strconv.Itoa(s.nextID)
	if cl.RunID == "" {
		cl.RunID = "run-" + n
	}
	if cl.Operation.ID == "" {
		cl.Operation.ID = "op-" + n
	}
	if cl.Operation.Code == "" {
		cl.Operation.Code = "ABC-" + n
	}
	if cl.Branch == "" {
		cl.Branch = "ufo/" + strings.ToLower(cl.Operation.Code) + "-work"
	}
	run := &Run{state: RunState{Claim: cl, Status: "queued"}, seen: map[int64]bool{}, done: make(chan struct{})}
	s.runs[cl.RunID] = run
	s.queue = append(s.queue, run)
	close(s.wake)
	s.wake = make(chan struct{})
	return run
}

// Steal gives the run a new claim token, as if its lease had expired and
// another rover had claimed it: the holder's next call gets 409.
func (s *Server) Steal(run *Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.state.Claim.ClaimToken = "stolen-" + randomHex()
}

// RequestCancel sets the run's cancel flag, answered to its next call.
func (s *Server) RequestCancel(run *Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.state.Cancel = true
}

// OnComplete runs f once, when the next complete call for run arrives and
// before it is judged (Steal in f makes that call a 409).
func (s *Server) OnComplete(run *Run, f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run.onComplete = f
}

// Snapshot returns a copy of the run's state.
func (s *Server) Snapshot(run *Run) RunState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := run.state
	st.Events = append([]wire.Event(nil), run.state.Events...)
	return st
}

// Done is closed when the run is completed.
func (run *Run) Done() <-chan struct{} { return run.done }

// WaitDone waits for the run's completion and returns its state.
func (s *Server) WaitDone(t testing.TB, run *Run, timeout time.Duration) RunState {
	t.Helper()
	select {
	case <-run.done:
	case <-time.After(timeout):
		t.Fatalf("run %s not completed after %v", run.state.Claim.RunID, timeout)
	}
	return s.Snapshot(run)
}

// Connects returns the connect calls seen so far.
func (s *Server) Connects() []Connect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Connect(nil), s.connects...)
}

// MaxBody is the largest request body the server reads, as the real one.
const MaxBody = 1 << 20

// decode reads a JSON body as the real server does: at most MaxBody bytes,
// no unknown field.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "invalid", err.Error())
		return false
	}
	return true
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, roverID string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		id, known := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !known {
			apiError(w, http.StatusUnauthorized, "unauthorized", "unknown rover token")
			return
		}
		h(w, r, id)
	}
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var req wire.EnrollRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	if !s.codes[req.Code] {
		s.mu.Unlock()
		apiError(w, http.StatusBadRequest, "invalid", "unknown, used or expired enrollment code")
		return
	}
	delete(s.codes, req.Code)
	s.nextID++
	id := "rv" + strconv.Itoa(s.nextID) + "-" + randomHex()[:6]
	s.mu.Unlock()
	tok := s.AddRover(id)
	name := req.Name
	if name == "" {
		name = req.Profile.Hostname
	}
	reply(w, wire.EnrollResponse{RoverID: id, FleetID: "fleet-1", Name: name, Token: tok, Tags: req.Profile.Tags})
}

func (s *Server) connect(w http.ResponseWriter, r *http.Request, roverID string) {
	var req wire.ConnectRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	s.connects = append(s.connects, Connect{RoverID: roverID, Profile: req.Profile})
	resp := wire.ConnectResponse{RoverID: roverID, FleetID: "fleet-1", Name: "name-" + roverID, Tags: req.Profile.Tags,
		HeartbeatSeconds: s.heartbeat, LeaseSeconds: s.lease, LongPollSeconds: s.longPoll}
	s.mu.Unlock()
	reply(w, resp)
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, _ string) {
	// Reading the body to its end also lets the server notice a client
	// that hangs up while it waits.
	var req wire.ClaimRequest
	if !decode(w, r, &req) {
		return
	}
	wait, err := strconv.Atoi(r.URL.Query().Get("wait"))
	if err != nil || wait < 0 {
		apiError(w, http.StatusBadRequest, "invalid", "wait must be a number of seconds")
		return
	}
	deadline := time.After(time.Duration(wait) * time.Second)
	for {
		if r.Context().Err() != nil {
			return // the rover is gone: a run handed out now would be lost
		}
		s.mu.Lock()
		if len(s.queue) > 0 {
			run := s.queue[0]
			s.queue = s.queue[1:]
			st := &run.state
			st.Status = "claimed"
			st.Claim.ClaimToken = "ct_" + randomHex()
			st.Claim.Attempt++
			st.Claim.LeaseSeconds = s.lease
			cl := st.Claim
			s.mu.Unlock()
			reply(w, cl)
			return
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) runCall(w http.ResponseWriter, r *http.Request, _ string) {
	var body struct {
		wire.Completion
		Events []wire.Event `json:"events"`
	}
	if !decode(w, r, &body) {
		return
	}
	action := r.PathValue("action")
	s.mu.Lock()
	run, ok := s.runs[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		apiError(w, http.StatusNotFound, "not_found", "no such run")
		return
	}
	if hook := run.onComplete; action == "complete" && hook != nil {
		run.onComplete = nil
		s.mu.Unlock()
		hook()
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	st := &run.state
	if body.ClaimToken != st.Claim.ClaimToken {
		st.Refused++
		apiError(w, http.StatusConflict, "conflict", "stale claim token")
		return
	}
	terminal := st.Completion != nil
	switch action {
	case "start":
		st.Starts++
		if !terminal {
			st.Status = "running"
		}
	case "heartbeat":
		st.Heartbeats++
		if terminal { // as the server: a finished run has no lease to extend
			apiError(w, http.StatusConflict, "conflict", "stale claim token: the run has ended")
			return
		}
	case "events":
		if terminal {
			st.AfterComplete++
		}
		for _, e := range body.Events {
			if !run.seen[e.Seq] {
				run.seen[e.Seq] = true
				st.Events = append(st.Events, e)
			}
		}
	case "complete":
		if terminal {
			st.Refused++
			apiError(w, http.StatusConflict, "conflict", "run already finished")
			return
		}
		c := body.Completion
		st.Completion = &c
		st.Status = c.Status
		st.EventsAtComplete = len(st.Events)
		close(run.done)
	default:
		apiError(w, http.StatusNotFound, "not_found", "no such action")
		return
	}
	var last int64
	for seq := range run.seen {
		last = max(last, seq)
	}
	reply(w, wire.RunAck{Cancel: st.Cancel && !terminal, LastSeq: last})
}

func (s *Server) revokeSelf(w http.ResponseWriter, r *http.Request, roverID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok, id := range s.tokens {
		if id == roverID {
			delete(s.tokens, tok)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
