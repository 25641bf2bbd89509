package web

import (
	"net/http"
	"strings"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

type operationRequest struct {
	Title        *string   `json:"title"`
	Body         *string   `json:"body"`
	MissionID    *string   `json:"mission_id"`
	Status       *string   `json:"status"`
	Priority     *int      `json:"priority"`
	AssigneeType *string   `json:"assignee_type"`
	AssigneeID   *string   `json:"assignee_id"`
	ParentID     *string   `json:"parent_id"`
	Labels       *[]string `json:"labels"`
	IssueURL     *string   `json:"issue_url"`
	PRURL        *string   `json:"pr_url"`
}

func (in operationRequest) check(creating bool) error {
	var c check
	if creating || in.Title != nil {
		c.text("title", deref(in.Title), true, 300)
	}
	c.text("body", deref(in.Body), false, 100000)
	if in.Priority != nil {
		c.that(*in.Priority >= 0 && *in.Priority <= 4, "priority must be between 0 (none) and 4 (urgent)")
	}
	if in.AssigneeType != nil && *in.AssigneeType != "" {
		c.oneOf("assignee_type", *in.AssigneeType, "pilot", "crew", "user")
	}
	if in.Status != nil {
		c.oneOf("status", *in.Status, app.Statuses...)
	}
	if in.Labels != nil {
		c.that(len(*in.Labels) <= 20, "at most 20 labels")
		for _, l := range *in.Labels {
			c.text("labels", l, true, 50)
		}
	}
	c.text("issue_url", deref(in.IssueURL), false, 500)
	c.text("pr_url", deref(in.PRURL), false, 500)
	return c.err()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// resolveAssignee turns a pilot or crew name into its id, so both ids and
// names are accepted.
func (s *Server) resolveAssignee(r *http.Request, typ string, id *string) (*string, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	if typ == "pilot" {
		p, err := s.store.FindPilot(r.Context(), fleetFrom(r.Context()), *id)
		if err != nil {
			return nil, app.Errorf(app.ENotFound, "pilot %s not found", *id)
		}
		return &p.ID, nil
	}
	return id, nil
}

func (s *Server) createOperation(w http.ResponseWriter, r *http.Request) {
	var in operationRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	s.createOperationFrom(w, r, in, nil)
}

func (s *Server) createOperationFrom(w http.ResponseWriter, r *http.Request, in operationRequest, parent *string) {
	if err := in.check(true); err != nil {
		writeError(w, s.log, err)
		return
	}
	if in.Status != nil {
		writeError(w, s.log, app.Errorf(app.EInvalid, "status follows from the assignee when creating; set it afterwards"))
		return
	}
	fleet := fleetFrom(r.Context())
	if in.MissionID == nil || *in.MissionID == "" {
		writeError(w, s.log, app.Errorf(app.EInvalid, "mission_id is required"))
		return
	}
	// A key (MSJ) is looked up here; an id goes straight to the store,
	// which finds the mission as it numbers the operation and answers 404
	// the same way.
	missionID := *in.MissionID
	if app.ValidMissionKey(missionID) {
		m, err := s.store.FindMission(r.Context(), fleet, missionID)
		if err != nil {
			writeError(w, s.log, app.Errorf(app.ENotFound, "mission %s not found", missionID))
			return
		}
		missionID = m.ID
	}
	typ := deref(in.AssigneeType)
	// A pilot, by name or id, is found by the store as it creates the
	// operation, in the same round trip as the mission's next number.
	assignee := in.AssigneeID
	if assignee != nil && *assignee == "" {
		assignee = nil
	}
	u := userFrom(r.Context())
	op := store.OperationInput{
		MissionID: missionID, Title: strings.TrimSpace(*in.Title), Body: deref(in.Body),
		AssigneeType: typ, AssigneeID: assignee, ParentID: in.ParentID, IssueURL: deref(in.IssueURL),
		CreatedBy: &u.ID,
	}
	if parent != nil {
		op.ParentID = parent
	}
	if in.Priority != nil {
		op.Priority = *in.Priority
	}
	if in.Labels != nil {
		op.Labels = *in.Labels
	}
	var err error
	if op.Once, err = idempotencyKey(r, "create"); err != nil {
		writeError(w, s.log, err)
		return
	}
	out, err := s.store.CreateOperation(r.Context(), fleet, op)
	s.reply(w, http.StatusCreated, out, err)
}

// idempotencyKey is the store's request key (OperationInput.Once) for the
// request's Idempotency-Key header, "" without one. A key is the caller's
// own, and is kept apart for each kind of call: the same key sent again
// by the same user to the same call answers with what the first request
// made, for the days a finished job is kept.
func idempotencyKey(r *http.Request, call string) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > 255 {
		return "", app.Errorf(app.EInvalid, "Idempotency-Key is longer than 255 characters")
	}
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return "", app.Errorf(app.EInvalid, "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return "api:" + userFrom(r.Context()).ID + ":" + call + ":" + k, nil
}

var operationSorts = []string{"created", "-created", "updated", "-updated", "priority", "-priority", "title", "-title"}

func (s *Server) listOperations(w http.ResponseWriter, r *http.Request) {
	s.writeOperations(w, r, optID(r, "parent"))
}

func (s *Server) writeOperations(w http.ResponseWriter, r *http.Request, parent *string) {
	limit, offset, err := page(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	qv := r.URL.Query()
	fleet := fleetFrom(r.Context())
	f := store.OperationFilter{Status: qv.Get("status"), Label: qv.Get("label"), Text: qv.Get("q"),
		Sort: qv.Get("sort"), Limit: limit, Offset: offset, ParentID: parent}
	var c check
	if f.Status != "" {
		c.oneOf("status", f.Status, app.Statuses...)
	}
	if f.Sort != "" {
		c.oneOf("sort", f.Sort, operationSorts...)
	}
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	if v := qv.Get("mission"); v != "" {
		m, err := s.store.FindMission(r.Context(), fleet, v)
		if err != nil {
			writeJSON(w, http.StatusOK, []app.Operation{})
			return
		}
		f.MissionID = &m.ID
	}
	if v := qv.Get("assignee"); v != "" {
		if p, err := s.store.FindPilot(r.Context(), fleet, v); err == nil {
			v = p.ID
		}
		f.AssigneeID = &v
	}
	ops, err := s.store.Operations(r.Context(), fleet, f)
	if app.IsCode(err, app.ENotFound) { // a malformed id in a filter matches nothing
		ops, err = []app.Operation{}, nil
	}
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writePage(w, r, ops, limit, offset)
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) {
	op, err := s.store.FindOperation(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, op, err)
}

func (s *Server) updateOperation(w http.ResponseWriter, r *http.Request) {
	var in operationRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := in.check(false); err != nil {
		writeError(w, s.log, err)
		return
	}
	if in.MissionID != nil {
		writeError(w, s.log, app.Errorf(app.EInvalid, "an operation cannot move to another mission"))
		return
	}
	p := store.OperationPatch{Title: in.Title, Body: in.Body, Status: in.Status, Priority: in.Priority,
		Labels: in.Labels, IssueURL: in.IssueURL, PRURL: in.PRURL}
	if in.AssigneeType != nil || in.AssigneeID != nil {
		p.Assign = true
		p.AssigneeType = deref(in.AssigneeType)
		id, err := s.resolveAssignee(r, p.AssigneeType, in.AssigneeID)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		p.AssigneeID = id
	}
	if in.ParentID != nil {
		p.SetParent = true
		if *in.ParentID != "" {
			p.ParentID = in.ParentID
		}
	}
	op, err := s.store.UpdateOperation(r.Context(), fleetFrom(r.Context()), param(r, "id"), p)
	s.reply(w, http.StatusOK, op, err)
}

func (s *Server) deleteOperation(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteOperation(r.Context(), fleetFrom(r.Context()), param(r, "id")))
}

func (s *Server) retryOperation(w http.ResponseWriter, r *http.Request) {
	once, err := idempotencyKey(r, "retry:"+param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	op, err := s.store.Retry(r.Context(), fleetFrom(r.Context()), param(r, "id"), once)
	s.reply(w, http.StatusOK, op, err)
}

// operation resolves the {id} path value (id or code) to an operation of
// the caller's fleet.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) (app.Operation, bool) {
	op, err := s.store.FindOperation(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return op, false
	}
	return op, true
}

func (s *Server) listSubOperations(w http.ResponseWriter, r *http.Request) {
	if op, ok := s.operation(w, r); ok {
		s.writeOperations(w, r, &op.ID)
	}
}

func (s *Server) createSubOperation(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	var in operationRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	if in.MissionID == nil {
		in.MissionID = &op.MissionID
	}
	s.createOperationFrom(w, r, in, &op.ID)
}

type messageRequest struct {
	Body string `json:"body"`
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	ms, err := s.store.Messages(r.Context(), op.FleetID, op.ID)
	s.reply(w, http.StatusOK, ms, err)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	var in messageRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.text("body", in.Body, true, 100000)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	once, err := idempotencyKey(r, "message:"+param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	u := userFrom(r.Context())
	msg, followUp, err := s.store.CreateMessage(r.Context(), fleetFrom(r.Context()), param(r, "id"),
		store.MessageInput{AuthorType: "user", AuthorID: u.ID, AuthorName: u.Name, Body: in.Body, Once: once})
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": msg, "follow_up_run": followUp})
}

type relationshipRequest struct {
	ToID string `json:"to_id"`
	Kind string `json:"kind"`
}

func (s *Server) listRelationships(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	rs, err := s.store.Relationships(r.Context(), op.FleetID, op.ID)
	s.reply(w, http.StatusOK, rs, err)
}

func (s *Server) createRelationship(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	var in relationshipRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.oneOf("kind", in.Kind, "blocks", "relates", "duplicates")
	c.text("to_id", in.ToID, true, 100)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	to, err := s.store.FindOperation(r.Context(), op.FleetID, in.ToID)
	if err != nil {
		writeError(w, s.log, app.Errorf(app.ENotFound, "operation %s not found", in.ToID))
		return
	}
	if to.ID == op.ID {
		writeError(w, s.log, app.Errorf(app.EInvalid, "an operation cannot relate to itself"))
		return
	}
	rel, err := s.store.CreateRelationship(r.Context(), op.FleetID, op.ID, to.ID, in.Kind)
	s.reply(w, http.StatusCreated, rel, err)
}

func (s *Server) deleteRelationship(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteRelationship(r.Context(), op.FleetID, op.ID, param(r, "rel")))
}

type reactionRequest struct {
	Emoji string `json:"emoji"`
}

func (s *Server) listReactions(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	rs, err := s.store.Reactions(r.Context(), op.FleetID, op.ID)
	s.reply(w, http.StatusOK, rs, err)
}

func (s *Server) createReaction(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	var in reactionRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.text("emoji", in.Emoji, true, 32)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	rx, err := s.store.CreateReaction(r.Context(), op.FleetID, op.ID, userFrom(r.Context()).ID, in.Emoji)
	s.reply(w, http.StatusCreated, rx, err)
}

func (s *Server) deleteReaction(w http.ResponseWriter, r *http.Request) {
	op, ok := s.operation(w, r)
	if !ok {
		return
	}
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteReaction(r.Context(), op.FleetID, op.ID, userFrom(r.Context()).ID, param(r, "reaction")))
}

type signalRequest struct {
	OperationID string `json:"operation_id"`
	Kind        string `json:"kind"`
	Message     string `json:"message"`
}

func (s *Server) listSignals(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := page(r)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	fleet := fleetFrom(r.Context())
	var opID *string
	if v := r.URL.Query().Get("operation"); v != "" {
		op, err := s.store.FindOperation(r.Context(), fleet, v)
		if err != nil {
			writeError(w, s.log, err)
			return
		}
		opID = &op.ID
	}
	sigs, err := s.store.Signals(r.Context(), fleet, opID, r.URL.Query().Get("all") == "true", limit, offset)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writePage(w, r, sigs, limit, offset)
}

func (s *Server) createSignal(w http.ResponseWriter, r *http.Request) {
	var in signalRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.oneOf("kind", in.Kind, "review_requested", "failed", "blocked", "needs_input")
	c.text("message", in.Message, false, 2000)
	c.text("operation_id", in.OperationID, true, 100)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	op, err := s.store.FindOperation(r.Context(), fleetFrom(r.Context()), in.OperationID)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	sig, err := s.store.CreateSignal(r.Context(), op.FleetID, op.ID, in.Kind, in.Message)
	s.reply(w, http.StatusCreated, sig, err)
}

func (s *Server) resolveSignal(w http.ResponseWriter, r *http.Request) {
	sig, err := s.store.ResolveSignal(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, sig, err)
}
