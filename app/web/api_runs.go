package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := page(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	fleet := fleetFrom(r.Context())
	qv := r.URL.Query()
	f := store.RunFilter{Status: qv.Get("status"), RoverID: optID(r, "rover"), Limit: limit, Offset: offset}
	if f.Status != "" {
		var c check
		c.oneOf("status", f.Status, app.RunQueued, app.RunClaimed, app.RunRunning, app.RunSucceeded, app.RunFailed, app.RunCanceled)
		if err := c.err(); err != nil {
			writeError(w, s.log, err)
			return
		}
	}
	if v := qv.Get("operation"); v != "" {
		op, err := s.store.FindOperation(r.Context(), fleet, v)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		f.OperationID = &op.ID
	}
	runs, err := s.store.Runs(r.Context(), fleet, f)
	if app.IsCode(err, app.ENotFound) {
		runs, err = []app.Run{}, nil
	}
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writePage(w, r, runs, limit, offset)
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.FindRun(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, run, err)
}

func (s *Server) listRunEvents(w http.ResponseWriter, r *http.Request) {
	fleet := fleetFrom(r.Context())
	run, err := s.store.FindRun(r.Context(), fleet, param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	after, err := afterParam(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	limit := 500
	evs, err := s.store.RunEvents(r.Context(), fleet, run.ID, after, limit)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if len(evs) == limit {
		w.Header().Set("Link", fmt.Sprintf("<%s?fleet=%s&after=%d>; rel=\"next\"", r.URL.Path, fleet, evs[len(evs)-1].Seq))
	}
	writeJSON(w, http.StatusOK, evs)
}

func afterParam(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("after")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, app.Errorf(app.EInvalid, "after must be a non-negative integer")
	}
	return n, nil
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.CancelRun(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, run, err)
}

func (s *Server) listRovers(w http.ResponseWriter, r *http.Request) {
	rs, err := s.store.Rovers(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, rs, err)
}

func (s *Server) getRover(w http.ResponseWriter, r *http.Request) {
	rv, err := s.store.FindRover(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, rv, err)
}

func (s *Server) revokeRover(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNoContent, nil, s.store.RevokeRover(r.Context(), fleetFrom(r.Context()), param(r, "id")))
}

type enrollmentCodeRequest struct {
	Name      string   `json:"name"`
	Tags      []string `json:"tags"`
	Ephemeral bool     `json:"ephemeral"`
}

func (s *Server) createEnrollmentCode(w http.ResponseWriter, r *http.Request) {
	var in enrollmentCodeRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &in); err != nil {
			writeError(w, s.log, err)
			return
		}
	}
	var c check
	c.text("name", in.Name, false, 100)
	in.Tags = cleanTags(&c, in.Tags)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	u := userFrom(r.Context())
	code, expires, err := s.store.CreateEnrollmentCode(r.Context(), fleetFrom(r.Context()), in.Name, in.Tags, in.Ephemeral, &u.ID)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"code": code, "expires_at": expires,
		"command": fmt.Sprintf("UFO_SERVER=%s UFO_ENROLLMENT_CODE=%s ufo rover start", s.cfg.PublicURL, code),
	})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	after, err := afterParam(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	limit, _, err := page(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	fleet := fleetFrom(r.Context())
	evs, err := s.store.Events(r.Context(), fleet, after, limit)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if len(evs) == limit {
		w.Header().Set("Link", fmt.Sprintf("<%s?fleet=%s&after=%d&limit=%d>; rel=\"next\"", r.URL.Path, fleet, evs[len(evs)-1].ID, limit))
	}
	writeJSON(w, http.StatusOK, evs)
}

// streamEvents serves the change feed as Server-Sent Events. It resumes
// after Last-Event-ID (or ?after=), first catching up from the database,
// then following the hub; when it falls behind it catches up again, so a
// client never loses or repeats an event.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	fleet := fleetFrom(r.Context())
	last, err := afterParam(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, s.log, app.Errorf(app.EInvalid, "Last-Event-ID must be a non-negative integer"))
			return
		}
		last = n
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	sub, cancel := s.hub.Subscribe(fleet)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")

	send := func(e app.Event) error {
		if e.ID <= last {
			return nil
		}
		b, _ := json.Marshal(e)
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, b); err != nil {
			return err
		}
		last = e.ID
		return nil
	}
	catchUp := func() error {
		for {
			evs, err := s.store.Events(r.Context(), fleet, last, 500)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if err := send(e); err != nil {
					return err
				}
			}
			if len(evs) < 500 {
				return rc.Flush()
			}
		}
	}
	if err := catchUp(); err != nil {
		return
	}
	ping := time.NewTicker(s.cfg.StreamPing)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-sub.events:
			// A row the hub failed to read comes before this one: catch up
			// from the database first, which also covers e.
			select {
			case <-sub.lagged:
				if catchUp() != nil {
					return
				}
				continue
			default:
			}
			if send(e) != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		case <-sub.lagged:
			if catchUp() != nil {
				return
			}
		case <-ping.C:
			// A stream outlives its request's checks: end it once the
			// session ends or the user leaves the fleet.
			if !s.stillMember(r, fleet) {
				return
			}
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// stillMember reports whether the request's session is still live and its
// user still a member of fleet.
func (s *Server) stillMember(r *http.Request, fleet string) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	u, err := s.store.FindSessionUser(r.Context(), c.Value)
	if err != nil {
		return false
	}
	_, err = s.store.Role(r.Context(), fleet, u.ID)
	return err == nil
}
