package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

// OperationInput creates an operation.
type OperationInput struct {
	MissionID    string
	Title        string
	Body         string
	Priority     int
	AssigneeType string
	AssigneeID   *string
	ParentID     *string
	Labels       []string
	IssueURL     string
	SlackChannel string
	SlackTS      string
	CreatedBy    *string
	// Once, when set, is the key of the request that asks (a webhook
	// delivery, an Idempotency-Key): the operation is created once per key,
	// and the same key again answers with the operation it created.
	Once string
}

// CreateOperation stores an operation with the mission's next number; when
// it is assigned to a pilot (or a crew with one) a queued run is created in
// the same transaction and the operation starts `queued`.
func (s *Store) CreateOperation(ctx context.Context, fleetID string, in OperationInput) (app.Operation, error) {
	var out app.Operation
	id := app.NewID()
	err := s.tx(ctx, func(tx querier) error {
		if in.Once != "" {
			prior, applied, err := applyRequest(ctx, tx, fleetID, in.Once, id)
			if err != nil {
				return err
			}
			if applied {
				if prior == "" {
					return app.Errorf(app.EConflict, "request %s was applied to something other than an operation's creation", in.Once)
				}
				out, err = findOperation(ctx, tx, fleetID, prior)
				return err
			}
		}
		// The mission's next number and, for work assigned to a pilot (by
		// name or id), the pilot, in one round trip.
		var number int
		var key, prefix string
		var pilot *app.Pilot
		b := &pgx.Batch{}
		b.Queue(q("NextOperationNumber"), fleetID, in.MissionID).QueryRow(func(row pgx.Row) error {
			return notFoundAs(row.Scan(&number, &key, &prefix), "mission %s not found", in.MissionID)
		})
		toPilot := in.AssigneeType == "pilot" && in.AssigneeID != nil
		if toPilot {
			queuePilotForShare(b, fleetID, *in.AssigneeID, &pilot)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if toPilot {
			in.AssigneeID = &pilot.ID // it may have been given by name
		} else {
			var err error
			if pilot, err = dispatchPilot(ctx, tx, fleetID, in.AssigneeType, in.AssigneeID); err != nil {
				return err
			}
		}
		if err := checkParent(ctx, tx, fleetID, in.ParentID); err != nil {
			return err
		}
		status := app.StatusBacklog
		if pilot != nil {
			status = app.StatusQueued
		}
		code := fmt.Sprintf("%s-%d", key, number)
		branch := app.BranchName(prefix, code, in.Title)
		// Everything is known: the writes, and the read of the result, go
		// with the commit.
		// Without labels, the answer is what was inserted: no read of
		// operation_view (a quarter of a creation's cost in the database).
		out = app.Operation{ID: id, FleetID: fleetID, MissionID: in.MissionID, MissionKey: key, Number: number,
			Code: code, Title: in.Title, Body: in.Body, Status: status, Priority: in.Priority,
			AssigneeType: in.AssigneeType, AssigneeID: in.AssigneeID, ParentID: in.ParentID, Labels: []string{},
			IssueURL: in.IssueURL, SlackChannel: in.SlackChannel, SlackTS: in.SlackTS, Branch: branch,
			CreatedBy: in.CreatedBy}
		insert := stmt(q("InsertOperation"), fleetID, in.MissionID, number, in.Title, in.Body, status,
			in.Priority, in.AssigneeType, in.AssigneeID, in.ParentID, in.IssueURL, in.SlackChannel, in.SlackTS,
			branch, in.CreatedBy, id)
		insert.QueryRow(func(row pgx.Row) error { return row.Scan(&out.CreatedAt, &out.UpdatedAt, &out.PRURL) })
		if err := later(ctx, tx, insert); err != nil {
			return err
		}
		if err := addLabels(ctx, tx, fleetID, id, in.Labels); err != nil {
			return err
		}
		if err := emit(ctx, tx, fleetID, "operation.created", &id, map[string]any{"code": code, "status": status}); err != nil {
			return err
		}
		if pilot != nil {
			run, err := newRun(ctx, tx, fleetID, id, *pilot, initialPrompt(in.Title, in.Body, nil), false, "")
			if err != nil {
				return err
			}
			if err := later(ctx, tx, run); err != nil {
				return err
			}
		}
		if len(in.Labels) == 0 {
			return nil
		}
		find := stmt(q("FindOperation"), fleetID, id)
		find.Query(scanOne(&out))
		return later(ctx, tx, find)
	})
	if err != nil {
		return app.Operation{}, err
	}
	return out, nil
}

func checkParent(ctx context.Context, tx querier, fleetID string, parentID *string) error {
	if parentID == nil {
		return nil
	}
	var got string
	err := tx.QueryRow(ctx, q("LockOperation"), fleetID, *parentID).Scan(&got)
	return notFoundAs(err, "parent operation %s not found", *parentID)
}

// queuePilotForShare queues on b the lookup of the pilot work is assigned
// to, by name or id, into *dst; 404 when the fleet has none. KEY SHARE: the
// pilot cannot be deleted under the run about to reference it.
func queuePilotForShare(b *pgx.Batch, fleetID, nameOrID string, dst **app.Pilot) {
	b.Queue(q("FindPilotForShare"), fleetID, nameOrID, uuidOrNull(nameOrID)).Query(func(rows pgx.Rows) error {
		p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByNameLax[app.Pilot])
		if err != nil {
			return notFoundAs(translate(err), "pilot %s not found", nameOrID)
		}
		*dst = &p
		return nil
	})
}

// dispatchPilot resolves an assignee to the pilot that should run the work,
// or nil for human-only work. Every id must belong to the fleet.
func dispatchPilot(ctx context.Context, tx querier, fleetID, typ string, id *string) (*app.Pilot, error) {
	if typ == "" {
		if id != nil {
			return nil, app.Errorf(app.EInvalid, "assignee_id needs an assignee_type")
		}
		return nil, nil
	}
	if id == nil {
		return nil, app.Errorf(app.EInvalid, "assignee_type needs an assignee_id")
	}
	switch typ {
	case "pilot":
		var p *app.Pilot
		b := &pgx.Batch{}
		queuePilotForShare(b, fleetID, *id, &p)
		return p, tx.SendBatch(ctx, b).Close()
	case "crew":
		var got string
		if err := tx.QueryRow(ctx, q("CrewExists"), fleetID, *id).Scan(&got); err != nil {
			return nil, notFoundAs(err, "crew %s not found", *id)
		}
		p, err := one[app.Pilot](tx.Query(ctx, q("FirstCrewPilot"), fleetID, *id))
		if app.IsCode(err, app.ENotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &p, nil
	case "user":
		var got string
		if err := tx.QueryRow(ctx, q("CheckMember"), fleetID, *id).Scan(&got); err != nil {
			return nil, notFoundAs(err, "member %s not found", *id)
		}
		return nil, nil
	}
	return nil, app.Errorf(app.EInvalid, "assignee_type must be pilot, crew or user")
}

func setLabels(ctx context.Context, tx querier, fleetID, opID string, names []string) error {
	if _, err := tx.Exec(ctx, q("ClearOperationLabels"), opID); err != nil {
		return err
	}
	return addLabels(ctx, tx, fleetID, opID, names)
}

// addLabels gives an operation labels by name, creating the fleet's labels
// it lacks; the links go with the commit, after the operation's insert.
func addLabels(ctx context.Context, tx querier, fleetID, opID string, names []string) error {
	for _, n := range names {
		var labelID string
		if err := tx.QueryRow(ctx, q("UpsertLabel"), fleetID, n).Scan(&labelID); err != nil {
			return err
		}
		if err := later(ctx, tx, stmt(q("AddOperationLabel"), opID, labelID)); err != nil {
			return err
		}
	}
	return nil
}

func initialPrompt(title, body string, msgs []app.Message) string {
	var b strings.Builder
	b.WriteString(title)
	if body != "" {
		b.WriteString("\n\n")
		b.WriteString(body)
	}
	if len(msgs) > 0 {
		b.WriteString("\n\nConversation so far:\n")
		for _, m := range msgs {
			fmt.Fprintf(&b, "\n%s: %s\n", m.AuthorName, m.Body)
		}
	}
	return b.String()
}

type pilotSettings struct {
	Tags []string `json:"tags"`
}

// createRun queues a run and wakes long-polling rovers on commit.
func createRun(ctx context.Context, tx querier, fleetID, opID string, p app.Pilot, prompt string, followUp bool, resume string) error {
	run, err := newRun(ctx, tx, fleetID, opID, p, prompt, followUp, resume)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, run.SQL, run.Arguments...)
	return err
}

// newRun is the statement that queues a run. Its feed row and the wake-up
// of long-polling rovers are asked for here; the caller runs the statement,
// now or with the commit.
func newRun(ctx context.Context, tx querier, fleetID, opID string, p app.Pilot, prompt string, followUp bool, resume string) (*pgx.QueuedQuery, error) {
	var ps pilotSettings
	_ = json.Unmarshal(p.Settings, &ps) // settings were validated when the pilot was saved
	if ps.Tags == nil {
		ps.Tags = []string{}
	}
	runID := app.NewID()
	if err := notifyAfter(ctx, tx, ChannelRuns, fleetID+":"+runID); err != nil {
		return nil, err
	}
	if err := emit(ctx, tx, fleetID, "run.queued", &runID, map[string]any{"operation_id": opID, "pilot": p.Name, "follow_up": followUp}); err != nil {
		return nil, err
	}
	return stmt(q("InsertRun"), runID, fleetID, opID, p.ID, p.Kind, ps.Tags, prompt, followUp, resume), nil
}

// FindOperation returns an operation by id or code (MSJ-1).
func (s *Store) FindOperation(ctx context.Context, fleetID, idOrCode string) (app.Operation, error) {
	return findOperation(ctx, s.pool, fleetID, idOrCode)
}

func findOperation(ctx context.Context, db querier, fleetID, idOrCode string) (app.Operation, error) {
	if key, n, ok := app.ParseCode(idOrCode); ok {
		return one[app.Operation](db.Query(ctx, q("FindOperationByCode"), fleetID, key, n))
	}
	return one[app.Operation](db.Query(ctx, q("FindOperation"), fleetID, idOrCode))
}

// OperationFilter narrows ListOperations.
type OperationFilter struct {
	Status     string
	MissionID  *string
	AssigneeID *string
	Label      string
	Text       string
	ParentID   *string
	Sort       string
	Limit      int
	Offset     int
}

// Operations lists a fleet's operations.
func (s *Store) Operations(ctx context.Context, fleetID string, f OperationFilter) ([]app.Operation, error) {
	return collect[app.Operation](s.pool.Query(ctx, q("ListOperations"), fleetID, f.Status, f.MissionID,
		f.AssigneeID, f.Label, f.Text, f.ParentID, f.Sort, f.Limit, f.Offset))
}

// OperationPatch changes an operation; nil fields stay as they are.
type OperationPatch struct {
	Title        *string
	Body         *string
	Status       *string
	Priority     *int
	Assign       bool // AssigneeType/AssigneeID apply (to clear, set Assign with "")
	AssigneeType string
	AssigneeID   *string
	SetParent    bool
	ParentID     *string
	Labels       *[]string
	IssueURL     *string
	PRURL        *string
	SlackChannel *string
	SlackTS      *string
	// Once, when set, is the key of the request that asks: the patch is
	// applied once per key, and the same key again changes nothing.
	Once string
	// retry (Retry) refuses, with the key recorded, when a run is active.
	retry bool
}

// UpdateOperation applies a patch. Assigning to a pilot queues a run;
// un-assigning, or moving to backlog, done or canceled, cancels the active
// run; moving to queued with a pilot assigned and no active run queues one.
func (s *Store) UpdateOperation(ctx context.Context, fleetID, idOrCode string, p OperationPatch) (app.Operation, error) {
	var id string
	var refused error
	err := s.tx(ctx, func(tx querier) error {
		op, err := lockOperation(ctx, tx, fleetID, idOrCode)
		if err != nil {
			return err
		}
		id = op.ID
		if p.Once != "" {
			if _, applied, err := applyRequest(ctx, tx, fleetID, p.Once, ""); err != nil || applied {
				return err
			}
		}
		changed := map[string]any{}
		set := func(field string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				changed[field] = *v
			}
		}
		set("title", &op.Title, p.Title)
		set("body", &op.Body, p.Body)
		set("issue_url", &op.IssueURL, p.IssueURL)
		set("pr_url", &op.PRURL, p.PRURL)
		set("slack_channel", &op.SlackChannel, p.SlackChannel)
		set("slack_ts", &op.SlackTS, p.SlackTS)
		if p.Priority != nil && *p.Priority != op.Priority {
			op.Priority = *p.Priority
			changed["priority"] = op.Priority
		}
		if p.SetParent {
			if p.ParentID != nil && *p.ParentID == op.ID {
				return app.Errorf(app.EInvalid, "an operation cannot be its own parent")
			}
			if err := checkParent(ctx, tx, fleetID, p.ParentID); err != nil {
				return err
			}
			op.ParentID = p.ParentID
			changed["parent_id"] = p.ParentID
		}
		if p.Labels != nil {
			if err := setLabels(ctx, tx, fleetID, op.ID, *p.Labels); err != nil {
				return err
			}
			changed["labels"] = *p.Labels
		}
		active, err := activeRun(ctx, tx, op.ID)
		if err != nil {
			return err
		}
		if p.retry && active != nil {
			// Committed with the key: the request's answer was that the
			// run was under way, and a second attempt must not decide
			// again once it is over.
			refused = app.Errorf(app.EConflict, "%s already has an active run", op.Code)
			return nil
		}
		var pilot *app.Pilot
		if p.Assign {
			if pilot, err = dispatchPilot(ctx, tx, fleetID, p.AssigneeType, p.AssigneeID); err != nil {
				return err
			}
			same := p.AssigneeType == op.AssigneeType && eqPtr(p.AssigneeID, op.AssigneeID)
			if !same {
				op.AssigneeType, op.AssigneeID = p.AssigneeType, p.AssigneeID
				changed["assignee_type"], changed["assignee_id"] = op.AssigneeType, op.AssigneeID
				if active != nil {
					if err := cancelRun(ctx, tx, *active, "reassigned"); err != nil {
						return err
					}
					active = nil
				}
				if pilot != nil {
					msgs, err := conversation(ctx, tx, fleetID, op.ID)
					if err != nil {
						return err
					}
					if err := createRun(ctx, tx, fleetID, op.ID, *pilot, initialPrompt(op.Title, op.Body, msgs), false, ""); err != nil {
						return err
					}
					op.Status = app.StatusQueued
				} else if op.Status == app.StatusQueued || op.Status == app.StatusRunning {
					op.Status = app.StatusBacklog
				}
				changed["status"] = op.Status
			}
		}
		if p.Status != nil && *p.Status != op.Status {
			if err := s.applyStatus(ctx, tx, &op, *p.Status, active, pilot); err != nil {
				return err
			}
			changed["status"] = op.Status
		}
		if len(changed) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, q("UpdateOperation"), fleetID, op.ID, op.Title, op.Body, op.Status, op.Priority,
			op.AssigneeType, op.AssigneeID, op.ParentID, op.IssueURL, op.PRURL, op.SlackChannel, op.SlackTS)
		if err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "operation.updated", &op.ID, changed)
	})
	if err != nil {
		return app.Operation{}, err
	}
	op, err := s.FindOperation(ctx, fleetID, id)
	if err == nil && refused != nil {
		return op, refused
	}
	return op, err
}

func (s *Store) applyStatus(ctx context.Context, tx querier, op *app.Operation, status string, active *activeRunRow, pilot *app.Pilot) error {
	switch status {
	case app.StatusBacklog, app.StatusDone, app.StatusCanceled, app.StatusInReview:
		if active != nil && status != app.StatusInReview {
			if err := cancelRun(ctx, tx, *active, "operation "+status); err != nil {
				return err
			}
		}
	case app.StatusQueued:
		if active == nil {
			if pilot == nil && op.AssigneeID != nil {
				var err error
				if pilot, err = dispatchPilot(ctx, tx, op.FleetID, op.AssigneeType, op.AssigneeID); err != nil {
					return err
				}
			}
			if pilot == nil {
				return app.Errorf(app.EInvalid, "assign a pilot before queueing")
			}
			msgs, err := conversation(ctx, tx, op.FleetID, op.ID)
			if err != nil {
				return err
			}
			if err := createRun(ctx, tx, op.FleetID, op.ID, *pilot, initialPrompt(op.Title, op.Body, msgs), false, ""); err != nil {
				return err
			}
		}
	case app.StatusRunning:
		return app.Errorf(app.EInvalid, "an operation becomes running when a rover starts its run")
	default:
		return app.Errorf(app.EInvalid, "status must be one of %s", strings.Join(app.Statuses, ", "))
	}
	op.Status = status
	return nil
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// lockOperation locks an operation's row, then reads it, so what the
// caller writes back is never older than the lock.
func lockOperation(ctx context.Context, tx querier, fleetID, idOrCode string) (app.Operation, error) {
	id := idOrCode
	if key, n, ok := app.ParseCode(idOrCode); ok {
		if err := tx.QueryRow(ctx, q("OperationIDByCode"), fleetID, key, n).Scan(&id); err != nil {
			return app.Operation{}, translate(err)
		}
	}
	if err := tx.QueryRow(ctx, q("LockOperation"), fleetID, id).Scan(&id); err != nil {
		return app.Operation{}, translate(err)
	}
	return findOperation(ctx, tx, fleetID, id)
}

// DeleteOperation removes an operation (its runs go with it).
func (s *Store) DeleteOperation(ctx context.Context, fleetID, idOrCode string) error {
	op, err := s.FindOperation(ctx, fleetID, idOrCode)
	if err != nil {
		return err
	}
	return s.deleteByID(ctx, "DeleteOperation", "operation.deleted", fleetID, op.ID)
}

// Retry queues a fresh run for an operation with a pilot and no active run.
//
// once, when not "", is the key of the request that asks (see
// OperationPatch.Once): a request retried or redelivered after its run was
// queued answers with the operation as it is, without a second run.
func (s *Store) Retry(ctx context.Context, fleetID, idOrCode, once string) (app.Operation, error) {
	st := app.StatusQueued
	op, err := s.FindOperation(ctx, fleetID, idOrCode)
	if err != nil {
		return op, err
	}
	if once != "" {
		// Decided in one transaction, the refusal recorded with the key.
		return s.UpdateOperation(ctx, fleetID, op.ID, OperationPatch{Status: &st, Once: once, retry: true})
	}
	if op.Status == app.StatusQueued || op.Status == app.StatusRunning {
		return op, app.Errorf(app.EConflict, "%s already has an active run", op.Code)
	}
	return s.UpdateOperation(ctx, fleetID, op.ID, OperationPatch{Status: &st})
}

// MessageInput is one conversation message.
type MessageInput struct {
	AuthorType string
	AuthorID   string
	AuthorName string
	Body       string
	// Once, when set, is the key of the request that asks: the message is
	// stored (and its follow-up run queued) once per key, and the same key
	// again answers with the message stored then.
	Once string
	// Restart queues a fresh run, in the same transaction, when the message
	// starts no follow-up and the operation is in backlog or canceled with
	// a pilot and no active run: a message that asks for work again.
	Restart bool
}

// CreateMessage adds a message to an operation's conversation. On an
// operation in review (or done) with a pilot, it starts a follow-up run on
// the same branch that resumes the last session with the message as prompt,
// or, when the last run left no session, starts afresh with the operation
// and its whole conversation.
func (s *Store) CreateMessage(ctx context.Context, fleetID, idOrCode string, in MessageInput) (app.Message, bool, error) {
	var msg app.Message
	followUp := false
	err := s.tx(ctx, func(tx querier) error {
		op, err := lockOperation(ctx, tx, fleetID, idOrCode)
		if err != nil {
			return err
		}
		id := app.NewID()
		if in.Once != "" {
			prior, applied, err := applyRequest(ctx, tx, fleetID, in.Once, id)
			if err != nil {
				return err
			}
			if applied {
				msgs, err := conversation(ctx, tx, fleetID, op.ID)
				if err != nil {
					return err
				}
				for _, m := range msgs {
					if m.ID == prior {
						msg = m
						return nil
					}
				}
				return app.Errorf(app.EConflict, "request %s was applied to something other than a message of %s", in.Once, op.Code)
			}
		}
		msg, err = one[app.Message](tx.Query(ctx, q("CreateMessage"), fleetID, op.ID, in.AuthorType, in.AuthorID, in.AuthorName, in.Body, id))
		if err != nil {
			return err
		}
		var pilot *app.Pilot
		var resume string
		if op.Status == app.StatusInReview || op.Status == app.StatusDone {
			if pilot, resume, err = followUpPilot(ctx, tx, fleetID, op.ID); err != nil {
				return err
			}
		}
		if err := emit(ctx, tx, fleetID, "message.created", &op.ID, map[string]any{"message_id": msg.ID, "author": in.AuthorName}); err != nil {
			return err
		}
		if pilot == nil {
			if !in.Restart || (op.Status != app.StatusBacklog && op.Status != app.StatusCanceled) {
				return nil
			}
			return s.restart(ctx, tx, op)
		}
		// A session to resume holds the conversation; without one (an exec
		// pilot, a run that failed before its pilot began) the prompt is
		// the whole of it, the new message last.
		prompt := in.Body
		if resume == "" {
			msgs, err := conversation(ctx, tx, fleetID, op.ID)
			if err != nil {
				return err
			}
			prompt = initialPrompt(op.Title, op.Body, msgs)
		}
		if err := createRun(ctx, tx, fleetID, op.ID, *pilot, prompt, true, resume); err != nil {
			return err
		}
		followUp = true
		if _, err := tx.Exec(ctx, q("SetOperationStatus"), fleetID, op.ID, app.StatusQueued); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "operation.updated", &op.ID, map[string]any{"status": app.StatusQueued})
	})
	return msg, followUp, err
}

// restart moves an operation to queued as UpdateOperation does (a fresh
// run with the whole conversation in its prompt), within the caller's
// transaction; with no pilot, or a run already active, it does nothing.
func (s *Store) restart(ctx context.Context, tx querier, op app.Operation) error {
	active, err := activeRun(ctx, tx, op.ID)
	if err != nil || active != nil {
		return err
	}
	err = s.applyStatus(ctx, tx, &op, app.StatusQueued, nil, nil)
	if app.IsCode(err, app.ENotFound) || app.IsCode(err, app.EInvalid) {
		return nil // the message stays; nothing to run it
	}
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, q("SetOperationStatus"), op.FleetID, op.ID, app.StatusQueued); err != nil {
		return err
	}
	return emit(ctx, tx, op.FleetID, "operation.updated", &op.ID, map[string]any{"status": app.StatusQueued})
}

// followUpPilot returns the pilot (locked against deletion) and session a
// follow-up run would resume, or nil when there is none or a run of the
// operation is already active (a burst of messages starts one run).
func followUpPilot(ctx context.Context, tx querier, fleetID, opID string) (*app.Pilot, string, error) {
	active, err := activeRun(ctx, tx, opID)
	if err != nil || active != nil {
		return nil, "", err
	}
	last, err := lastRun(ctx, tx, opID)
	if err != nil || last == nil || last.PilotID == nil {
		return nil, "", err
	}
	p, err := one[app.Pilot](tx.Query(ctx, q("FindPilotByIDForShare"), fleetID, *last.PilotID))
	if app.IsCode(err, app.ENotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return &p, last.SessionID, nil
}

// conversation returns an operation's messages, for a fresh run's prompt.
func conversation(ctx context.Context, tx querier, fleetID, opID string) ([]app.Message, error) {
	return collect[app.Message](tx.Query(ctx, q("ListMessages"), fleetID, opID))
}

// Messages lists an operation's conversation.
func (s *Store) Messages(ctx context.Context, fleetID, opID string) ([]app.Message, error) {
	return collect[app.Message](s.pool.Query(ctx, q("ListMessages"), fleetID, opID))
}

// CreateRelationship links two operations of the fleet.
func (s *Store) CreateRelationship(ctx context.Context, fleetID, fromID, toID, kind string) (app.Relationship, error) {
	var r app.Relationship
	err := s.tx(ctx, func(tx querier) error {
		var err error
		r, err = one[app.Relationship](tx.Query(ctx, q("CreateRelationship"), fleetID, fromID, toID, kind))
		if err != nil {
			return notFoundAs(err, "operation %s not found", toID)
		}
		return emit(ctx, tx, fleetID, "relationship.created", &fromID, r)
	})
	return r, err
}

// Relationships lists an operation's relationships, both directions.
func (s *Store) Relationships(ctx context.Context, fleetID, opID string) ([]app.Relationship, error) {
	return collect[app.Relationship](s.pool.Query(ctx, q("ListRelationships"), fleetID, opID))
}

// DeleteRelationship removes one relationship of an operation.
func (s *Store) DeleteRelationship(ctx context.Context, fleetID, opID, id string) error {
	return s.tx(ctx, func(tx querier) error {
		var got string
		if err := tx.QueryRow(ctx, q("DeleteRelationship"), fleetID, id, opID).Scan(&got); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "relationship.deleted", &opID, map[string]any{"id": id})
	})
}

// CreateReaction adds a user's emoji reaction.
func (s *Store) CreateReaction(ctx context.Context, fleetID, opID, userID, emoji string) (app.Reaction, error) {
	var r app.Reaction
	err := s.tx(ctx, func(tx querier) error {
		var err error
		if r, err = one[app.Reaction](tx.Query(ctx, q("CreateReaction"), fleetID, opID, userID, emoji)); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "reaction.created", &opID, r)
	})
	return r, err
}

// Reactions lists an operation's reactions.
func (s *Store) Reactions(ctx context.Context, fleetID, opID string) ([]app.Reaction, error) {
	return collect[app.Reaction](s.pool.Query(ctx, q("ListReactions"), fleetID, opID))
}

// DeleteReaction removes the caller's own reaction.
func (s *Store) DeleteReaction(ctx context.Context, fleetID, opID, userID, id string) error {
	return s.tx(ctx, func(tx querier) error {
		var got string
		if err := tx.QueryRow(ctx, q("DeleteReaction"), fleetID, id, opID, userID).Scan(&got); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "reaction.deleted", &opID, map[string]any{"id": id})
	})
}

// CreateSignal raises a signal by hand (e.g. blocked, needs_input).
func (s *Store) CreateSignal(ctx context.Context, fleetID, opID, kind, message string) (app.Signal, error) {
	var sig app.Signal
	err := s.tx(ctx, func(tx querier) error {
		var err error
		sig, err = raiseSignal(ctx, tx, fleetID, opID, nil, kind, message)
		return err
	})
	return sig, err
}

func raiseSignal(ctx context.Context, tx querier, fleetID, opID string, runID *string, kind, message string) (app.Signal, error) {
	var sig app.Signal
	var raw []byte
	if err := tx.QueryRow(ctx, q("CreateSignal"), fleetID, opID, runID, kind, message).Scan(&raw); err != nil {
		return sig, err
	}
	if err := json.Unmarshal(raw, &sig); err != nil {
		return sig, fmt.Errorf("signal: %w", err)
	}
	return sig, emit(ctx, tx, fleetID, "signal.raised", &opID, sig)
}

// Signals lists a fleet's signals, optionally of one operation and
// including resolved ones.
func (s *Store) Signals(ctx context.Context, fleetID string, opID *string, all bool, limit, offset int) ([]app.Signal, error) {
	return collect[app.Signal](s.pool.Query(ctx, q("ListSignals"), fleetID, opID, all, limit, offset))
}

// ResolveSignal marks a signal handled.
func (s *Store) ResolveSignal(ctx context.Context, fleetID, id string) (app.Signal, error) {
	var sig app.Signal
	err := s.tx(ctx, func(tx querier) error {
		var err error
		if sig, err = one[app.Signal](tx.Query(ctx, q("ResolveSignal"), fleetID, id)); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "signal.resolved", &sig.OperationID, sig)
	})
	return sig, err
}
