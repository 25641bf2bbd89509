package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/rover/wire"
)

// The fleet's pages: rovers, pilots, crews, missions, members, settings.
// Their forms and buttons call the JSON API from board.js.

type roverView struct {
	app.Rover
	Profile wire.Profile
	Run     *app.Run // the run it is on
}

type roversPage struct {
	layout
	Rovers []roverView
}

func (s *Server) roversPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	rovers, err := s.store.Rovers(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := roversPage{layout: s.newLayout(r, "Rovers", "rovers")}
	for _, rv := range rovers {
		v := roverView{Rover: rv}
		_ = json.Unmarshal(rv.Profile, &v.Profile) // an unreadable profile shows as unknown
		if rv.CurrentRun != nil {
			run, err := s.store.FindRun(ctx, fleet, *rv.CurrentRun)
			if err != nil && !app.IsCode(err, app.ENotFound) {
				s.pageError(w, r, err)
				return
			}
			if err == nil {
				v.Run = &run
			}
		}
		p.Rovers = append(p.Rovers, v)
	}
	s.render(w, http.StatusOK, "rovers", p)
}

type pilotView struct {
	app.Pilot
	Settings wire.PilotSettings
}

// cliOffer is a pilot CLI a rover reports on its PATH.
type cliOffer struct {
	Kind, Version, Rover string
}

type pilotsPage struct {
	layout
	Pilots []pilotView
	CLIs   []cliOffer
	Kinds  []string
}

func (s *Server) pilotsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	pilots, err := s.store.Pilots(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rovers, err := s.store.Rovers(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := pilotsPage{layout: s.newLayout(r, "Pilots", "pilots"), Kinds: []string{app.KindClaude, app.KindCodex, app.KindExec}}
	for _, pl := range pilots {
		v := pilotView{Pilot: pl}
		_ = json.Unmarshal(pl.Settings, &v.Settings) // the API validated them
		p.Pilots = append(p.Pilots, v)
	}
	for _, rv := range rovers {
		var prof wire.Profile
		_ = json.Unmarshal(rv.Profile, &prof)
		for _, c := range prof.Pilots {
			if c.Kind != app.KindExec {
				p.CLIs = append(p.CLIs, cliOffer{Kind: c.Kind, Version: c.Version, Rover: rv.Name})
			}
		}
	}
	s.render(w, http.StatusOK, "pilots", p)
}

type crewView struct {
	app.Crew
	Members []string
}

type crewsPage struct {
	layout
	Crews   []crewView
	Pilots  []app.Pilot
	Members []app.Membership
}

func (s *Server) crewsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	crews, err := s.store.Crews(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := crewsPage{layout: s.newLayout(r, "Crews", "crews")}
	if p.Pilots, err = s.store.Pilots(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	if p.Members, err = s.store.Memberships(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	as, err := s.assignees(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, c := range crews {
		v := crewView{Crew: c}
		for _, id := range c.PilotIDs {
			v.Members = append(v.Members, as.name("pilot", &id)+" (pilot)")
		}
		for _, id := range c.UserIDs {
			v.Members = append(v.Members, as.name("user", &id))
		}
		p.Crews = append(p.Crews, v)
	}
	s.render(w, http.StatusOK, "crews", p)
}

type missionView struct {
	app.Mission
	DefaultPilot string
}

type missionsPage struct {
	layout
	Missions []missionView
	Pilots   []app.Pilot
}

func (s *Server) missionsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	missions, err := s.store.Missions(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p := missionsPage{layout: s.newLayout(r, "Missions", "missions")}
	if p.Pilots, err = s.store.Pilots(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, m := range missions {
		v := missionView{Mission: m}
		for _, pl := range p.Pilots {
			if m.DefaultPilotID != nil && pl.ID == *m.DefaultPilotID {
				v.DefaultPilot = pl.Name
			}
		}
		p.Missions = append(p.Missions, v)
	}
	s.render(w, http.StatusOK, "missions", p)
}

type membersPage struct {
	layout
	Members     []app.Membership
	Invitations []app.Invitation
}

func (s *Server) membersPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	p := membersPage{layout: s.newLayout(r, "Members", "members")}
	var err error
	if p.Members, err = s.store.Memberships(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	if p.Admin() {
		if p.Invitations, err = s.store.Invitations(ctx, fleet); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	s.render(w, http.StatusOK, "members", p)
}

// service is an outside service as the settings page shows it.
type service struct {
	Name       string
	Configured bool
	Variables  []string // what sets it up on the server
	Manifest   bool     // a manifest to create the app from is offered
}

type settingsPage struct {
	layout
	PublicURL string
	Services  []service
}

// settingsPage shows the fleet, and whether this server is set up for
// GitHub and Slack (Config.Connections; absent means not configured).
func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) {
	p := settingsPage{layout: s.newLayout(r, "Settings", "settings"), PublicURL: strings.TrimRight(s.cfg.PublicURL, "/"),
		Services: []service{
			{Name: "GitHub", Variables: []string{"UFO_GITHUB_APP_ID", "UFO_GITHUB_PRIVATE_KEY", "UFO_GITHUB_WEBHOOK_SECRET"}},
			{Name: "Slack", Variables: []string{"UFO_SLACK_BOT_TOKEN", "UFO_SLACK_SIGNING_SECRET (or UFO_SLACK_APP_TOKEN)"}},
		}}
	for i := range p.Services {
		for _, c := range s.cfg.Connections {
			if c.Name == p.Services[i].Name {
				p.Services[i].Configured = c.Configured
				p.Services[i].Manifest = len(c.Manifest) > 0
			}
		}
	}
	s.render(w, http.StatusOK, "settings", p)
}

// manifestDownload serves the GitHub App or Slack app manifest for this
// server, to create the app from.
func (s *Server) manifestDownload(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "service")
	for _, c := range s.cfg.Connections {
		if strings.EqualFold(c.Name, name) && len(c.Manifest) > 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Disposition", `attachment; filename="ufo-`+strings.ToLower(c.Name)+`-manifest.json"`)
			w.Write(c.Manifest)
			return
		}
	}
	s.pageError(w, r, app.Errorf(app.ENotFound, "no manifest for %q", name))
}
