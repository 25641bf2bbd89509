package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/store"
)

func roverFrom(ctx context.Context) store.RoverIdentity {
	r, _ := ctx.Value(roverKey).(store.RoverIdentity)
	return r
}

// requireRover authenticates a rover's bearer token.
func (s *Server) requireRover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			writeError(w, s.log, app.Errorf(app.EUnauthorized, "a rover token is required (Authorization: Bearer …)"))
			return
		}
		rv, err := s.store.AuthenticateRover(r.Context(), token)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), roverKey, rv)))
	})
}

// kindsOf lists the pilot kinds a profile offers; exec is always there.
func kindsOf(p wire.Profile) []string {
	kinds := []string{app.KindExec}
	for _, c := range p.Pilots {
		if (c.Kind == app.KindClaude || c.Kind == app.KindCodex) && !slices.Contains(kinds, c.Kind) {
			kinds = append(kinds, c.Kind)
		}
	}
	return kinds
}

// reportedTags are the tags a rover reports in its profile, cleaned and
// checked as an enrollment code's are. They count on top of its code's.
func reportedTags(c *check, p wire.Profile) []string { return cleanTags(c, p.Tags) }

// cleanTags trims each tag and drops the empty ones and repeats, as a
// list typed by hand ("gpu, linux," on a command line or in a workflow)
// holds them; what is left must be at most 20 tags of at most 50
// characters.
func cleanTags(c *check, in []string) []string {
	tags := make([]string, 0, len(in))
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
			c.text("tags", t, true, 50)
			tags = append(tags, t)
		}
	}
	c.that(len(tags) <= 20, "at most 20 tags")
	return tags
}

func (s *Server) roverEnroll(w http.ResponseWriter, r *http.Request) {
	if !s.allow(enrollRate, clientAddr(r)) {
		w.Header().Set("Retry-After", "6")
		writeError(w, s.log, app.Errorf(app.ERateLimited, "too many enrollment attempts; try again in a minute"))
		return
	}
	var in wire.EnrollRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.text("code", in.Code, true, 200)
	c.text("name", in.Name, false, 100)
	tags := reportedTags(&c, in.Profile)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	profile, _ := json.Marshal(in.Profile)
	e, err := s.store.Enroll(r.Context(), in.Code, in.Name, profile, kindsOf(in.Profile), tags)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.EnrollResponse{RoverID: e.RoverID, FleetID: e.FleetID, Name: e.Name, Token: e.Token, Tags: e.Tags})
}

func (s *Server) roverConnect(w http.ResponseWriter, r *http.Request) {
	var in wire.ConnectRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	tags := reportedTags(&c, in.Profile)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	rv := roverFrom(r.Context())
	profile, _ := json.Marshal(in.Profile)
	all, err := s.store.ConnectRover(r.Context(), rv.ID, profile, kindsOf(in.Profile), tags)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ConnectResponse{
		RoverID: rv.ID, FleetID: rv.FleetID, Name: rv.Name, Tags: all,
		HeartbeatSeconds: int(s.cfg.Heartbeat.Seconds()), LeaseSeconds: int(s.cfg.Lease.Seconds()),
		LongPollSeconds: int(s.cfg.LongPoll.Seconds()),
	})
}

// roverClaim answers at once when a run fits, otherwise waits for a NOTIFY
// wake-up until the long-poll time passes (204).
func (s *Server) roverClaim(w http.ResponseWriter, r *http.Request) {
	var in wire.ClaimRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			writeError(w, s.log, err)
			return
		}
	}
	wait := s.cfg.LongPoll
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			writeError(w, s.log, app.Errorf(app.EInvalid, "wait must be a number of seconds"))
			return
		}
		wait = min(time.Duration(n*float64(time.Second)), s.cfg.LongPoll)
	}
	rv := roverFrom(r.Context())
	kinds := rv.Kinds
	if len(in.Kinds) > 0 {
		kinds = slices.DeleteFunc(slices.Clone(in.Kinds), func(k string) bool { return !slices.Contains(rv.Kinds, k) })
	}
	tags := rv.Tags
	if tags == nil {
		tags = []string{}
	}
	waiter := s.hub.WaitRun(rv.FleetID, kinds, tags)
	defer waiter.Stop()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		// A claim of this group just found nothing, and every run queued
		// since was claimed by the group or is being claimed: a rover that
		// comes to claim, or is woken, waits for a wake-up without asking
		// the database, and looks again when that stops counting. (A claim
		// under way that ends without one of those runs wakes the next
		// waiter.)
		var c *store.Claimed
		var err error
		var recheck <-chan time.Time // nil: never
		if empty, until := waiter.QueueEmpty(); empty {
			waiter.Woken = false                    // the claims under way answer the wake-up
			recheck = time.After(time.Until(until)) // collected once unreachable, fired or not
		} else {
			seen := waiter.ClaimStarted()
			c, err = s.store.Claim(r.Context(), rv.FleetID, rv.ID, kinds, tags, s.cfg.Lease)
			got := ""
			if c != nil {
				got = c.RunID
			}
			waiter.ClaimFinished(seen, err == nil, got)
		}
		if err == nil {
			waiter.Woken = false
		}
		if err != nil {
			if r.Context().Err() != nil {
				return // the rover hung up while it waited: nothing to answer
			}
			writeError(w, s.log, err)
			return
		}
		if c != nil {
			s.metrics.claims.Inc()
			ans, err := s.claimAnswer(r.Context(), c)
			if err != nil {
				// Put the run back at once, without counting the attempt, so
				// a failure to mint a credential never uses up its attempts.
				if rerr := s.store.ReleaseClaim(context.WithoutCancel(r.Context()), c.RunID, c.Token); rerr != nil {
					s.log.Error("release a claim", "run", c.RunID, "err", rerr)
				}
				writeError(w, s.log, err)
				return
			}
			writeJSON(w, http.StatusOK, ans)
			return
		}
		select {
		case <-waiter.C:
			waiter.Woken = true
		case <-recheck:
		case <-deadline.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) claimAnswer(ctx context.Context, c *store.Claimed) (wire.Claim, error) {
	var set wire.PilotSettings
	_ = json.Unmarshal(c.Pilot.Settings, &set) // validated when saved
	out := wire.Claim{
		RunID: c.RunID, ClaimToken: c.Token, Attempt: c.Attempt, LeaseSeconds: int(s.cfg.Lease.Seconds()),
		Operation: wire.Operation{ID: c.Operation.ID, Code: c.Operation.Code, Title: c.Operation.Title, Body: c.Operation.Body},
		Prompt:    c.Prompt,
		Pilot:     wire.Pilot{ID: c.Pilot.ID, Name: c.Pilot.Name, Kind: c.Pilot.Kind, Settings: set},
		SessionID: c.Resume, FreshPrompt: c.FreshPrompt, FollowUp: c.FollowUp, Branch: c.Operation.Branch,
	}
	if c.Mission.Repository != "" {
		out.Repository = &wire.Repository{
			CloneURL: c.Mission.Repository, BaseBranch: c.Mission.BaseBranch,
			AuthorName: "UFO", AuthorEmail: "ufo@users.noreply.localhost",
		}
		if s.cfg.RepoCredential != nil {
			user, pass, err := s.cfg.RepoCredential(ctx, c.Mission)
			if err != nil {
				return out, fmt.Errorf("credential for %s: %w", c.Mission.Repository, err)
			}
			out.Repository.Username, out.Repository.Password = user, pass
		}
	}
	return out, nil
}

func (s *Server) runCall(w http.ResponseWriter, r *http.Request, do func(rv store.RoverIdentity, runID string, in wire.RunCall) (wire.RunAck, error)) {
	var in wire.RunCall
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	ack, err := do(roverFrom(r.Context()), param(r, "id"), in)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ack)
}

func (s *Server) roverStart(w http.ResponseWriter, r *http.Request) {
	s.runCall(w, r, func(rv store.RoverIdentity, runID string, in wire.RunCall) (wire.RunAck, error) {
		cancel, err := s.store.StartRun(r.Context(), runID, rv.ID, in.ClaimToken, s.cfg.Lease)
		return wire.RunAck{Cancel: cancel}, err
	})
}

func (s *Server) roverHeartbeat(w http.ResponseWriter, r *http.Request) {
	s.runCall(w, r, func(rv store.RoverIdentity, runID string, in wire.RunCall) (wire.RunAck, error) {
		cancel, err := s.store.Heartbeat(r.Context(), runID, rv.ID, in.ClaimToken, s.cfg.Lease)
		return wire.RunAck{Cancel: cancel}, err
	})
}

var eventTypes = []string{wire.EventText, wire.EventThinking, wire.EventToolUse, wire.EventToolResult, wire.EventUsage, wire.EventError, wire.EventStatus}

func (s *Server) roverEvents(w http.ResponseWriter, r *http.Request) {
	var in wire.EventBatch
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.that(len(in.Events) <= 1000, "at most 1000 events per batch")
	evs := make([]store.EventInput, 0, len(in.Events))
	for _, e := range in.Events {
		c.that(e.Seq > 0, "event seq must be positive")
		c.that(slices.Contains(eventTypes, e.Type), "unknown event type "+strconv.Quote(e.Type))
		data := withoutNUL(e.Data)
		if len(data) == 0 {
			data = json.RawMessage(`{}`)
		}
		at := e.At
		if at.IsZero() {
			at = time.Now()
		}
		evs = append(evs, store.EventInput{Seq: e.Seq, Type: e.Type, Data: data, At: at})
	}
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	rv := roverFrom(r.Context())
	cancel, last, err := s.store.AppendEvents(r.Context(), param(r, "id"), rv.ID, in.ClaimToken, s.cfg.Lease, evs)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	s.metrics.runEvents.Add(float64(len(evs)))
	writeJSON(w, http.StatusOK, wire.RunAck{Cancel: cancel, LastSeq: last})
}

func (s *Server) roverComplete(w http.ResponseWriter, r *http.Request) {
	var in wire.Completion
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.oneOf("status", in.Status, wire.RunSucceeded, wire.RunFailed, wire.RunCanceled)
	c.text("failure_reason", in.FailureReason, false, 100)
	c.text("failure_message", in.FailureMessage, false, 100000)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	comp := store.Completion{Status: in.Status, FailureReason: in.FailureReason, FailureMessage: dropNUL(in.FailureMessage),
		FinalMessage: dropNUL(in.FinalMessage), SessionID: dropNUL(in.SessionID)}
	if in.Usage != nil {
		comp.Usage, _ = json.Marshal(in.Usage)
	}
	if a := in.Artifact; a != nil {
		comp.Artifact = &app.Artifact{Diff: dropNUL(a.Diff), Files: a.Files, Insertions: a.Insertions, Deletions: a.Deletions,
			Branch: a.Branch, BaseBranch: a.BaseBranch, HeadCommit: a.HeadCommit, Pushed: a.Pushed}
	}
	rv := roverFrom(r.Context())
	finished, err := s.store.CompleteRun(r.Context(), param(r, "id"), rv.ID, in.ClaimToken, comp)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if finished {
		s.metrics.finished.WithLabelValues(in.Status).Inc()
	}
	writeJSON(w, http.StatusOK, wire.RunAck{})
}

func (s *Server) roverRevokeSelf(w http.ResponseWriter, r *http.Request) {
	rv := roverFrom(r.Context())
	if err := s.store.RevokeRover(r.Context(), rv.FleetID, rv.ID); err != nil {
		if app.IsCode(err, app.ENotFound) {
			// Revoked since its token was looked up (see AuthenticateRover).
			err = app.Errorf(app.EUnauthorized, "unknown or revoked rover token")
		}
		writeError(w, s.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// dropNUL removes NUL characters, which PostgreSQL text cannot hold; a
// pilot that prints one must not wedge its run.
func dropNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// withoutNUL removes NUL characters from every string of a JSON value
// (escaped as \u0000 in JSON, which jsonb refuses).
func withoutNUL(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	b, err := json.Marshal(scrubNUL(v))
	if err != nil {
		return raw
	}
	return b
}

func scrubNUL(v any) any {
	switch t := v.(type) {
	case string:
		return dropNUL(t)
	case []any:
		for i := range t {
			t[i] = scrubNUL(t[i])
		}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[dropNUL(k)] = scrubNUL(x)
		}
		return out
	}
	return v
}
