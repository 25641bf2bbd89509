package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/rover/wire"
)

type missionRequest struct {
	Name           *string   `json:"name"`
	Key            *string   `json:"key"`
	Description    *string   `json:"description"`
	Repository     *string   `json:"repository"`
	BaseBranch     *string   `json:"base_branch"`
	BranchPrefix   *string   `json:"branch_prefix"`
	DefaultPilotID *string   `json:"default_pilot_id"`
	Reviewers      *[]string `json:"reviewers"`
	SlackChannel   *string   `json:"slack_channel"`
}

var branchName = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,100}$`)

// apply copies the request onto m and validates the result.
func (in missionRequest) apply(m *app.Mission) error {
	setStr := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	setStr(&m.Name, in.Name)
	setStr(&m.Key, in.Key)
	setStr(&m.Description, in.Description)
	setStr(&m.Repository, in.Repository)
	setStr(&m.BaseBranch, in.BaseBranch)
	setStr(&m.BranchPrefix, in.BranchPrefix)
	setStr(&m.SlackChannel, in.SlackChannel)
	if in.DefaultPilotID != nil {
		m.DefaultPilotID = in.DefaultPilotID
		if *in.DefaultPilotID == "" {
			m.DefaultPilotID = nil
		}
	}
	if in.Reviewers != nil {
		m.Reviewers = *in.Reviewers
	}
	if m.Reviewers == nil {
		m.Reviewers = []string{}
	}
	if m.BaseBranch == "" {
		m.BaseBranch = "main"
	}
	if m.BranchPrefix == "" {
		m.BranchPrefix = "ufo/"
	}
	var c check
	c.text("name", m.Name, true, 100)
	c.that(app.ValidMissionKey(m.Key), "key must be 2 to 6 capital letters (A-Z)")
	c.text("description", m.Description, false, 10000)
	c.text("repository", m.Repository, false, 500)
	c.that(branchName.MatchString(m.BaseBranch) && !strings.Contains(m.BaseBranch, ".."), "base_branch is not a valid branch name")
	c.that(branchName.MatchString(m.BranchPrefix) && !strings.Contains(m.BranchPrefix, ".."), "branch_prefix is not a valid branch prefix")
	c.that(len(m.Reviewers) <= 20, "at most 20 reviewers")
	return c.err()
}

func (s *Server) listMissions(w http.ResponseWriter, r *http.Request) {
	ms, err := s.store.Missions(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, ms, err)
}

func (s *Server) getMission(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.FindMission(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, m, err)
}

func (s *Server) checkDefaultPilot(r *http.Request, m *app.Mission) error {
	if m.DefaultPilotID == nil {
		return nil
	}
	p, err := s.store.FindPilot(r.Context(), m.FleetID, *m.DefaultPilotID)
	if err != nil {
		return app.Errorf(app.ENotFound, "default pilot %s not found", *m.DefaultPilotID)
	}
	m.DefaultPilotID = &p.ID
	return nil
}

func (s *Server) createMission(w http.ResponseWriter, r *http.Request) {
	m := app.Mission{FleetID: fleetFrom(r.Context())}
	if err := decodeInto[missionRequest](w, r, &m); err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := s.checkDefaultPilot(r, &m); err != nil {
		writeError(w, s.log, err)
		return
	}
	m, err := s.store.CreateMission(r.Context(), m)
	s.reply(w, http.StatusCreated, m, err)
}

func (s *Server) updateMission(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.FindMission(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := decodeInto[missionRequest](w, r, &m); err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := s.checkDefaultPilot(r, &m); err != nil {
		writeError(w, s.log, err)
		return
	}
	m, err = s.store.UpdateMission(r.Context(), m)
	s.reply(w, http.StatusOK, m, err)
}

func (s *Server) deleteMission(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.FindMission(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err == nil {
		err = s.store.DeleteMission(r.Context(), m.FleetID, m.ID)
	}
	s.reply(w, http.StatusNoContent, nil, err)
}

type pilotRequest struct {
	Name     *string          `json:"name"`
	Kind     *string          `json:"kind"`
	Settings *json.RawMessage `json:"settings"`
}

var pilotName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

func (in pilotRequest) apply(p *app.Pilot) error {
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
	}
	if in.Kind != nil {
		p.Kind = *in.Kind
	}
	if in.Settings != nil {
		p.Settings = *in.Settings
	}
	if len(p.Settings) == 0 || string(p.Settings) == "null" {
		p.Settings = json.RawMessage(`{}`)
	}
	var c check
	c.that(pilotName.MatchString(p.Name), "name must be 1 to 40 lowercase letters, digits, - or _, starting with a letter or digit")
	c.oneOf("kind", p.Kind, app.KindClaude, app.KindCodex, app.KindExec)
	var set wire.PilotSettings
	dec := json.NewDecoder(strings.NewReader(string(p.Settings)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		c.that(false, "settings: "+strings.TrimPrefix(err.Error(), "json: "))
	} else {
		c.that(p.Kind != app.KindExec || strings.TrimSpace(set.Command) != "", "settings.command is required for an exec pilot")
		c.that(set.TimeoutMinutes >= 0 && set.TimeoutMinutes <= 24*60, "settings.timeout_minutes must be between 0 and 1440")
		c.that(set.MaxTurns >= 0 && set.MaxTurns <= 1000, "settings.max_turns must be between 0 and 1000")
		c.text("settings.command", set.Command, false, 10000)
	}
	return c.err()
}

func (s *Server) listPilots(w http.ResponseWriter, r *http.Request) {
	ps, err := s.store.Pilots(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, ps, err)
}

func (s *Server) getPilot(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.FindPilot(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, p, err)
}

func (s *Server) createPilot(w http.ResponseWriter, r *http.Request) {
	p := app.Pilot{FleetID: fleetFrom(r.Context())}
	if err := decodeInto[pilotRequest](w, r, &p); err != nil {
		writeError(w, s.log, err)
		return
	}
	p, err := s.store.CreatePilot(r.Context(), p)
	s.reply(w, http.StatusCreated, p, err)
}

func (s *Server) updatePilot(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.FindPilot(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := decodeInto[pilotRequest](w, r, &p); err != nil {
		writeError(w, s.log, err)
		return
	}
	p, err = s.store.UpdatePilot(r.Context(), p)
	s.reply(w, http.StatusOK, p, err)
}

func (s *Server) deletePilot(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.FindPilot(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err == nil {
		err = s.store.DeletePilot(r.Context(), p.FleetID, p.ID)
	}
	s.reply(w, http.StatusNoContent, nil, err)
}

type crewRequest struct {
	Name     *string   `json:"name"`
	PilotIDs *[]string `json:"pilot_ids"`
	UserIDs  *[]string `json:"user_ids"`
}

func (in crewRequest) apply(c *app.Crew) error {
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	if in.PilotIDs != nil {
		c.PilotIDs = *in.PilotIDs
	}
	if in.UserIDs != nil {
		c.UserIDs = *in.UserIDs
	}
	var ck check
	ck.text("name", c.Name, true, 100)
	ck.that(len(c.PilotIDs)+len(c.UserIDs) <= 100, "a crew has at most 100 members")
	return ck.err()
}

func (s *Server) listCrews(w http.ResponseWriter, r *http.Request) {
	cs, err := s.store.Crews(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, cs, err)
}

func (s *Server) getCrew(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.FindCrew(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	s.reply(w, http.StatusOK, c, err)
}

func (s *Server) createCrew(w http.ResponseWriter, r *http.Request) {
	s.saveCrew(w, r, app.Crew{FleetID: fleetFrom(r.Context())}, http.StatusCreated)
}

func (s *Server) updateCrew(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.FindCrew(r.Context(), fleetFrom(r.Context()), param(r, "id"))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	s.saveCrew(w, r, c, http.StatusOK)
}

func (s *Server) saveCrew(w http.ResponseWriter, r *http.Request, c app.Crew, status int) {
	if err := decodeInto[crewRequest](w, r, &c); err != nil {
		writeError(w, s.log, err)
		return
	}
	c, err := s.store.SaveCrew(r.Context(), c)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	writeJSON(w, status, c)
}

func (s *Server) deleteCrew(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteCrew(r.Context(), fleetFrom(r.Context()), param(r, "id")))
}

type labelRequest struct {
	Name  *string `json:"name"`
	Color *string `json:"color"`
}

var labelColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (in labelRequest) apply(l *app.Label) error {
	if in.Name != nil {
		l.Name = strings.TrimSpace(*in.Name)
	}
	if in.Color != nil {
		l.Color = *in.Color
	}
	if l.Color == "" {
		l.Color = "#888888"
	}
	var c check
	c.text("name", l.Name, true, 50)
	c.that(labelColor.MatchString(l.Color), "color must look like #a1b2c3")
	return c.err()
}

func (s *Server) listLabels(w http.ResponseWriter, r *http.Request) {
	ls, err := s.store.Labels(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, ls, err)
}

func (s *Server) createLabel(w http.ResponseWriter, r *http.Request) {
	l := app.Label{FleetID: fleetFrom(r.Context())}
	if err := decodeInto[labelRequest](w, r, &l); err != nil {
		writeError(w, s.log, err)
		return
	}
	l, err := s.store.CreateLabel(r.Context(), l)
	s.reply(w, http.StatusCreated, l, err)
}

func (s *Server) updateLabel(w http.ResponseWriter, r *http.Request) {
	var in labelRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	ls, err := s.store.Labels(r.Context(), fleetFrom(r.Context()))
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	var l *app.Label
	for i := range ls {
		if ls[i].ID == param(r, "id") {
			l = &ls[i]
		}
	}
	if l == nil {
		writeError(w, s.log, app.Errorf(app.ENotFound, "label not found"))
		return
	}
	if err := in.apply(l); err != nil {
		writeError(w, s.log, err)
		return
	}
	out, err := s.store.UpdateLabel(r.Context(), *l)
	s.reply(w, http.StatusOK, out, err)
}

func (s *Server) deleteLabel(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteLabel(r.Context(), fleetFrom(r.Context()), param(r, "id")))
}
