package web

import (
	"net/http"
	"strings"

	"github.com/ufo-run/ufo/app"
)

func (s *Server) listFleets(w http.ResponseWriter, r *http.Request) {
	fleets, err := s.store.FleetsForUser(r.Context(), userFrom(r.Context()).ID)
	s.reply(w, http.StatusOK, fleets, err)
}

type fleetRequest struct {
	Name string `json:"name"`
}

func (s *Server) createFleet(w http.ResponseWriter, r *http.Request) {
	var in fleetRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.text("name", in.Name, true, 100)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	f, err := s.store.CreateFleet(r.Context(), in.Name, userFrom(r.Context()).ID)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	if s.cfg.OnFleetCreated != nil {
		s.cfg.OnFleetCreated(r.Context(), f.ID)
	}
	writeJSON(w, http.StatusCreated, f)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.store.Memberships(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, ms, err)
}

type memberRequest struct {
	Role string `json:"role"`
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) {
	var in memberRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	var c check
	c.oneOf("role", in.Role, app.RoleOwner, app.RoleAdmin, app.RoleMember)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	if err := s.ownerOnlyForOwners(r, param(r, "user"), in.Role); err != nil {
		writeError(w, s.log, err)
		return
	}
	s.reply(w, http.StatusNoContent, nil, s.store.UpdateMembershipRole(r.Context(), fleetFrom(r.Context()), param(r, "user"), in.Role))
}

// ownerOnlyForOwners lets only an owner make an owner, or change or remove
// one: an admin cannot take the fleet from its owners.
func (s *Server) ownerOnlyForOwners(r *http.Request, userID, newRole string) error {
	if roleFrom(r.Context()) == app.RoleOwner {
		return nil
	}
	if newRole == app.RoleOwner {
		return app.Errorf(app.EForbidden, "only an owner can make owners")
	}
	target, err := s.store.Role(r.Context(), fleetFrom(r.Context()), userID)
	if err != nil {
		return err
	}
	if target == app.RoleOwner {
		return app.Errorf(app.EForbidden, "only an owner can change or remove an owner")
	}
	return nil
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) {
	if err := s.ownerOnlyForOwners(r, param(r, "user"), ""); err != nil {
		writeError(w, s.log, err)
		return
	}
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteMembership(r.Context(), fleetFrom(r.Context()), param(r, "user")))
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) {
	inv, err := s.store.Invitations(r.Context(), fleetFrom(r.Context()))
	s.reply(w, http.StatusOK, inv, err)
}

type invitationRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request) {
	var in invitationRequest
	if err := decode(w, r, &in); err != nil {
		writeError(w, s.log, err)
		return
	}
	if in.Role == "" {
		in.Role = app.RoleMember
	}
	in.Email = strings.TrimSpace(in.Email)
	var c check
	c.text("email", in.Email, true, 254)
	c.that(in.Email == "" || validEmail(in.Email), "email is not a valid address")
	c.oneOf("role", in.Role, app.RoleAdmin, app.RoleMember)
	if err := c.err(); err != nil {
		writeError(w, s.log, err)
		return
	}
	inv, err := s.store.CreateInvitation(r.Context(), fleetFrom(r.Context()), in.Email, in.Role, userFrom(r.Context()).ID)
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	inv.URL = strings.TrimRight(s.cfg.PublicURL, "/") + "/invitations/" + inv.Token
	writeJSON(w, http.StatusCreated, inv)
}

func (s *Server) deleteInvitation(w http.ResponseWriter, r *http.Request) {
	s.reply(w, http.StatusNoContent, nil, s.store.DeleteInvitation(r.Context(), fleetFrom(r.Context()), param(r, "id")))
}

// acceptInvitation joins the signed-in user to the invitation's fleet.
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r.Context())
	if u.ID == "" {
		writeError(w, s.log, app.Errorf(app.EUnauthorized, "sign in or sign up first, then accept"))
		return
	}
	inv, err := s.store.AcceptInvitation(r.Context(), param(r, "token"), u.ID)
	s.reply(w, http.StatusOK, inv, err)
}
