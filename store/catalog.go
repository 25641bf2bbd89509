package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ufo-run/ufo/app"
)

// DemoPilot is the pilot every new fleet gets: it runs the operation's body
// as a shell script, so a first run needs no API key.
var DemoPilot = struct {
	Name, Kind string
	Settings   json.RawMessage
}{"shell", app.KindExec, json.RawMessage(`{"command":"eval \"$UFO_OPERATION_BODY\""}`)}

func createDemoPilot(ctx context.Context, tx querier, fleetID string) error {
	_, err := tx.Exec(ctx, q("CreatePilot"), fleetID, DemoPilot.Name, DemoPilot.Kind, DemoPilot.Settings)
	return err
}

// CreateMission stores a mission.
func (s *Store) CreateMission(ctx context.Context, m app.Mission) (app.Mission, error) {
	var out app.Mission
	err := s.tx(ctx, func(tx querier) error {
		var err error
		out, err = one[app.Mission](tx.Query(ctx, q("CreateMission"), m.FleetID, m.Name, m.Key, m.Description,
			m.Repository, m.BaseBranch, m.BranchPrefix, m.DefaultPilotID, m.Reviewers, m.SlackChannel))
		if err != nil {
			return err
		}
		return emit(ctx, tx, m.FleetID, "mission.created", &out.ID, out)
	})
	return out, err
}

// Missions lists a fleet's missions.
func (s *Store) Missions(ctx context.Context, fleetID string) ([]app.Mission, error) {
	return collect[app.Mission](s.pool.Query(ctx, q("ListMissions"), fleetID))
}

// FindMission returns one mission by id or key.
func (s *Store) FindMission(ctx context.Context, fleetID, idOrKey string) (app.Mission, error) {
	if app.ValidMissionKey(idOrKey) {
		return one[app.Mission](s.pool.Query(ctx, q("FindMissionByKey"), fleetID, idOrKey))
	}
	return one[app.Mission](s.pool.Query(ctx, q("FindMission"), fleetID, idOrKey))
}

// UpdateMission replaces a mission's editable fields.
func (s *Store) UpdateMission(ctx context.Context, m app.Mission) (app.Mission, error) {
	var out app.Mission
	err := s.tx(ctx, func(tx querier) error {
		var err error
		out, err = one[app.Mission](tx.Query(ctx, q("UpdateMission"), m.FleetID, m.ID, m.Name, m.Key, m.Description,
			m.Repository, m.BaseBranch, m.BranchPrefix, m.DefaultPilotID, m.Reviewers, m.SlackChannel))
		if err != nil {
			return err
		}
		return emit(ctx, tx, m.FleetID, "mission.updated", &out.ID, out)
	})
	return out, err
}

// DeleteMission removes a mission and its operations.
func (s *Store) DeleteMission(ctx context.Context, fleetID, id string) error {
	return s.deleteByID(ctx, "DeleteMission", "mission.deleted", fleetID, id)
}

func (s *Store) deleteByID(ctx context.Context, query, kind, fleetID, id string) error {
	return s.tx(ctx, func(tx querier) error {
		var got string
		if err := tx.QueryRow(ctx, q(query), fleetID, id).Scan(&got); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, kind, &id, nil)
	})
}

// CreatePilot stores a pilot.
func (s *Store) CreatePilot(ctx context.Context, p app.Pilot) (app.Pilot, error) {
	var out app.Pilot
	err := s.tx(ctx, func(tx querier) error {
		var err error
		out, err = one[app.Pilot](tx.Query(ctx, q("CreatePilot"), p.FleetID, p.Name, p.Kind, p.Settings))
		if err != nil {
			return err
		}
		return emit(ctx, tx, p.FleetID, "pilot.created", &out.ID, map[string]any{"name": out.Name, "kind": out.Kind})
	})
	return out, err
}

// Pilots lists a fleet's pilots.
func (s *Store) Pilots(ctx context.Context, fleetID string) ([]app.Pilot, error) {
	return collect[app.Pilot](s.pool.Query(ctx, q("ListPilots"), fleetID))
}

// FindPilot returns one pilot by name or, failing that, by id.
func (s *Store) FindPilot(ctx context.Context, fleetID, nameOrID string) (app.Pilot, error) {
	return one[app.Pilot](s.pool.Query(ctx, q("FindPilotByNameOrID"), fleetID, nameOrID, uuidOrNull(nameOrID)))
}

// uuidOrNull is s as a uuid parameter, or NULL when s cannot be one: a
// statement that takes a name or an id compares the id column only with
// a uuid.
func uuidOrNull(s string) pgtype.UUID {
	var id pgtype.UUID
	if err := id.Scan(s); err != nil {
		return pgtype.UUID{}
	}
	return id
}

// UpdatePilot replaces a pilot's name, kind and settings.
func (s *Store) UpdatePilot(ctx context.Context, p app.Pilot) (app.Pilot, error) {
	var out app.Pilot
	err := s.tx(ctx, func(tx querier) error {
		var err error
		out, err = one[app.Pilot](tx.Query(ctx, q("UpdatePilot"), p.FleetID, p.ID, p.Name, p.Kind, p.Settings))
		if err != nil {
			return err
		}
		return emit(ctx, tx, p.FleetID, "pilot.updated", &out.ID, map[string]any{"name": out.Name, "kind": out.Kind})
	})
	return out, err
}

// DeletePilot removes a pilot; one with runs queued or under way is a
// conflict (cancel them first), so no run is left that nothing can execute.
func (s *Store) DeletePilot(ctx context.Context, fleetID, id string) error {
	var n int
	if err := s.pool.QueryRow(ctx, q("PilotActiveRuns"), fleetID, id).Scan(&n); err != nil {
		return translate(err)
	}
	if n > 0 {
		return app.Errorf(app.EConflict, "the pilot has %d active runs; cancel them first", n)
	}
	return s.deleteByID(ctx, "DeletePilot", "pilot.deleted", fleetID, id)
}

// SaveCrew creates (c.ID empty) or replaces a crew and its members; every
// member must belong to the fleet.
func (s *Store) SaveCrew(ctx context.Context, c app.Crew) (app.Crew, error) {
	err := s.tx(ctx, func(tx querier) error {
		kind := "crew.updated"
		if c.ID == "" {
			kind = "crew.created"
			if err := tx.QueryRow(ctx, q("CreateCrew"), c.FleetID, c.Name).Scan(&c.ID, new(string), new(string), new(any)); err != nil {
				return err
			}
		} else {
			var got string
			if err := tx.QueryRow(ctx, q("RenameCrew"), c.FleetID, c.ID, c.Name).Scan(&got); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, q("ClearCrew"), c.ID); err != nil {
				return err
			}
		}
		pos := 0
		for _, id := range c.PilotIDs {
			pos++
			if err := tx.QueryRow(ctx, q("AddCrewPilot"), c.FleetID, c.ID, id, pos).Scan(new(string)); err != nil {
				return notFoundAs(err, "pilot %s not found", id)
			}
		}
		for _, id := range c.UserIDs {
			pos++
			if err := tx.QueryRow(ctx, q("AddCrewUser"), c.FleetID, c.ID, id, pos).Scan(new(string)); err != nil {
				return notFoundAs(err, "member %s not found", id)
			}
		}
		return emit(ctx, tx, c.FleetID, kind, &c.ID, map[string]any{"name": c.Name})
	})
	if err != nil {
		return app.Crew{}, err
	}
	return s.FindCrew(ctx, c.FleetID, c.ID)
}

func notFoundAs(err error, format string, args ...any) error {
	if app.IsCode(translate(err), app.ENotFound) {
		return app.Errorf(app.ENotFound, format, args...)
	}
	return err
}

// Crews lists a fleet's crews.
func (s *Store) Crews(ctx context.Context, fleetID string) ([]app.Crew, error) {
	return collect[app.Crew](s.pool.Query(ctx, q("ListCrews"), fleetID, nil))
}

// FindCrew returns one crew.
func (s *Store) FindCrew(ctx context.Context, fleetID, id string) (app.Crew, error) {
	return one[app.Crew](s.pool.Query(ctx, q("ListCrews"), fleetID, id))
}

// DeleteCrew removes a crew.
func (s *Store) DeleteCrew(ctx context.Context, fleetID, id string) error {
	return s.deleteByID(ctx, "DeleteCrew", "crew.deleted", fleetID, id)
}

// CreateLabel stores a label.
func (s *Store) CreateLabel(ctx context.Context, l app.Label) (app.Label, error) {
	var out app.Label
	err := s.tx(ctx, func(tx querier) error {
		var err error
		if out, err = one[app.Label](tx.Query(ctx, q("CreateLabel"), l.FleetID, l.Name, l.Color)); err != nil {
			return err
		}
		return emit(ctx, tx, l.FleetID, "label.created", &out.ID, out)
	})
	return out, err
}

// Labels lists a fleet's labels.
func (s *Store) Labels(ctx context.Context, fleetID string) ([]app.Label, error) {
	return collect[app.Label](s.pool.Query(ctx, q("ListLabels"), fleetID))
}

// UpdateLabel renames or recolours a label.
func (s *Store) UpdateLabel(ctx context.Context, l app.Label) (app.Label, error) {
	var out app.Label
	err := s.tx(ctx, func(tx querier) error {
		var err error
		if out, err = one[app.Label](tx.Query(ctx, q("UpdateLabel"), l.FleetID, l.ID, l.Name, l.Color)); err != nil {
			return err
		}
		return emit(ctx, tx, l.FleetID, "label.updated", &out.ID, out)
	})
	return out, err
}

// DeleteLabel removes a label.
func (s *Store) DeleteLabel(ctx context.Context, fleetID, id string) error {
	return s.deleteByID(ctx, "DeleteLabel", "label.deleted", fleetID, id)
}
