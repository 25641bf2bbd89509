package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 30 * 24 * time.Hour

// FleetHook runs inside the transaction that creates a fleet (the server
// uses it to add the demo pilot); nil means nothing.
type FleetHook func(ctx context.Context, tx querier, fleet app.Fleet) error

// SignUp creates a user, their first fleet (as owner) and a session, in one
// transaction, and returns the session token.
func (s *Store) SignUp(ctx context.Context, email, name, passwordHash, fleetName string) (app.User, app.Fleet, string, error) {
	var u app.User
	var f app.Fleet
	token := app.NewToken("ufos_")
	err := s.tx(ctx, func(tx querier) error {
		var err error
		if u, err = one[app.User](tx.Query(ctx, q("CreateUser"), email, name, passwordHash)); err != nil {
			return err
		}
		if f, err = s.createFleet(ctx, tx, fleetName, u.ID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, q("CreateSession"), app.HashToken(token), u.ID, time.Now().Add(SessionTTL))
		return err
	})
	return u, f, token, err
}

func (s *Store) createFleet(ctx context.Context, tx querier, name, ownerID string) (app.Fleet, error) {
	f, err := one[app.Fleet](tx.Query(ctx, q("CreateFleet"), name))
	if err != nil {
		return f, err
	}
	f.Role = app.RoleOwner
	if _, err := tx.Exec(ctx, q("CreateMembership"), f.ID, ownerID, app.RoleOwner); err != nil {
		return f, err
	}
	if err := createDemoPilot(ctx, tx, f.ID); err != nil {
		return f, err
	}
	return f, emit(ctx, tx, f.ID, "fleet.created", &f.ID, map[string]any{"name": f.Name})
}

// CreateFleet makes another fleet owned by userID.
func (s *Store) CreateFleet(ctx context.Context, name, userID string) (app.Fleet, error) {
	var f app.Fleet
	err := s.tx(ctx, func(tx querier) error {
		var err error
		f, err = s.createFleet(ctx, tx, name, userID)
		return err
	})
	return f, err
}

// SignIn checks credentials and opens a session. A wrong email and a wrong
// password give the same error and take the same time.
func (s *Store) SignIn(ctx context.Context, email, password string) (app.User, string, error) {
	var id, hash string
	err := s.pool.QueryRow(ctx, q("FindUserCredentials"), email).Scan(&id, &hash)
	if err != nil && err != pgx.ErrNoRows {
		return app.User{}, "", translate(err)
	}
	if err == pgx.ErrNoRows {
		app.CheckPassword(app.DummyPasswordHash(), password)
		return app.User{}, "", app.Errorf(app.EUnauthorized, "wrong email or password")
	}
	if !app.CheckPassword(hash, password) {
		return app.User{}, "", app.Errorf(app.EUnauthorized, "wrong email or password")
	}
	token := app.NewToken("ufos_")
	if _, err := s.pool.Exec(ctx, q("CreateSession"), app.HashToken(token), id, time.Now().Add(SessionTTL)); err != nil {
		return app.User{}, "", translate(err)
	}
	u, err := s.FindUserByID(ctx, id)
	return u, token, err
}

// FindUserByID returns one user.
func (s *Store) FindUserByID(ctx context.Context, id string) (app.User, error) {
	return one[app.User](s.pool.Query(ctx, q("FindUserByID"), id))
}

// FindSessionUser returns the user of a live session token.
func (s *Store) FindSessionUser(ctx context.Context, token string) (app.User, error) {
	u, err := one[app.User](s.pool.Query(ctx, q("FindSessionUser"), app.HashToken(token)))
	if app.IsCode(err, app.ENotFound) {
		return u, app.Errorf(app.EUnauthorized, "sign in first")
	}
	return u, err
}

// FindSessionMember is FindSessionUser and Role in one round trip: the
// session's user and their role in fleetID, "" when they are not a member
// (or fleetID is not a fleet's id).
func (s *Store) FindSessionMember(ctx context.Context, token, fleetID string) (app.User, string, error) {
	var u app.User
	var role string
	err := s.pool.QueryRow(ctx, q("FindSessionMember"), app.HashToken(token), uuidOrNull(fleetID)).Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt, &role)
	if err == pgx.ErrNoRows {
		return u, "", app.Errorf(app.EUnauthorized, "sign in first")
	}
	return u, role, translate(err)
}

// SignOut ends a session.
func (s *Store) SignOut(ctx context.Context, token string) error {
	_, err := s.pool.Exec(ctx, q("DeleteSession"), app.HashToken(token))
	return translate(err)
}

// FleetsForUser lists the fleets userID belongs to, with their role.
func (s *Store) FleetsForUser(ctx context.Context, userID string) ([]app.Fleet, error) {
	return collect[app.Fleet](s.pool.Query(ctx, q("ListFleetsForUser"), userID))
}

// Role returns userID's role in fleetID, or not_found when they are no
// member (so a foreign fleet looks like a missing one).
func (s *Store) Role(ctx context.Context, fleetID, userID string) (string, error) {
	var role string
	err := s.pool.QueryRow(ctx, q("FindRole"), fleetID, userID).Scan(&role)
	return role, translate(err)
}

// Memberships lists a fleet's members.
func (s *Store) Memberships(ctx context.Context, fleetID string) ([]app.Membership, error) {
	return collect[app.Membership](s.pool.Query(ctx, q("ListMemberships"), fleetID))
}

// UpdateMembershipRole changes a member's role; the last owner cannot be
// demoted.
func (s *Store) UpdateMembershipRole(ctx context.Context, fleetID, userID, role string) error {
	return s.tx(ctx, func(tx querier) error {
		var old string
		if err := tx.QueryRow(ctx, q("FindRoleForUpdate"), fleetID, userID).Scan(&old); err != nil {
			return err
		}
		if old == app.RoleOwner && role != app.RoleOwner {
			if err := lastOwnerGuard(ctx, tx, fleetID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, q("UpdateMembershipRole"), fleetID, userID, role); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "membership.updated", &userID, map[string]any{"role": role})
	})
}

// lastOwnerGuard refuses to leave a fleet without an owner. It locks the
// owners' rows, so two concurrent demotions cannot both pass.
func lastOwnerGuard(ctx context.Context, tx querier, fleetID string) error {
	rows, err := tx.Query(ctx, q("LockOwners"), fleetID)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n <= 1 {
		return app.Errorf(app.EConflict, "a fleet keeps at least one owner")
	}
	return nil
}

// DeleteMembership removes a member; the last owner cannot leave.
func (s *Store) DeleteMembership(ctx context.Context, fleetID, userID string) error {
	return s.tx(ctx, func(tx querier) error {
		var role string
		if err := tx.QueryRow(ctx, q("DeleteMembership"), fleetID, userID).Scan(&role); err != nil {
			return err
		}
		if role == app.RoleOwner {
			if err := lastOwnerGuard(ctx, tx, fleetID); err != nil {
				return err
			}
		}
		return emit(ctx, tx, fleetID, "membership.deleted", &userID, nil)
	})
}

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// CreateInvitation stores an invitation and returns it with its one-time
// token (only its hash is kept).
func (s *Store) CreateInvitation(ctx context.Context, fleetID, email, role, invitedBy string) (app.Invitation, error) {
	token := app.NewToken("ufoi_")
	var inv app.Invitation
	err := s.tx(ctx, func(tx querier) error {
		var err error
		inv, err = one[app.Invitation](tx.Query(ctx, q("CreateInvitation"), fleetID, email, role, app.HashToken(token), invitedBy, time.Now().Add(InvitationTTL)))
		if err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "invitation.created", &inv.ID, map[string]any{"email": email, "role": role})
	})
	inv.Token = token
	return inv, err
}

// Invitations lists a fleet's invitations.
func (s *Store) Invitations(ctx context.Context, fleetID string) ([]app.Invitation, error) {
	return collect[app.Invitation](s.pool.Query(ctx, q("ListInvitations"), fleetID))
}

// DeleteInvitation revokes a pending invitation.
func (s *Store) DeleteInvitation(ctx context.Context, fleetID, id string) error {
	return s.tx(ctx, func(tx querier) error {
		var got string
		if err := tx.QueryRow(ctx, q("DeleteInvitation"), fleetID, id).Scan(&got); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "invitation.deleted", &id, nil)
	})
}

// InvitationPreview describes a pending invitation for its accept page.
type InvitationPreview struct {
	app.Invitation
	FleetName string `json:"fleet_name"`
}

// FindInvitation returns a pending invitation by its token.
func (s *Store) FindInvitation(ctx context.Context, token string) (InvitationPreview, error) {
	return one[InvitationPreview](s.pool.Query(ctx, q("FindInvitationByToken"), app.HashToken(token)))
}

// AcceptInvitation uses a token once and makes userID a member.
func (s *Store) AcceptInvitation(ctx context.Context, token, userID string) (app.Invitation, error) {
	var inv app.Invitation
	err := s.tx(ctx, func(tx querier) error {
		var err error
		inv, err = one[app.Invitation](tx.Query(ctx, q("ClaimInvitation"), app.HashToken(token), userID))
		if app.IsCode(err, app.ENotFound) {
			return app.Errorf(app.ENotFound, "this invitation is unknown, used or expired")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q("UpsertMembership"), inv.FleetID, userID, inv.Role); err != nil {
			return err
		}
		return emit(ctx, tx, inv.FleetID, "membership.created", &userID, map[string]any{"role": inv.Role})
	})
	return inv, err
}

// AllFleets lists every fleet on this server. Only `ufo up` uses it, to give
// each fleet a rover on the local machine; nothing that serves a request
// may call it.
func (s *Store) AllFleets(ctx context.Context) ([]app.Fleet, error) {
	return collect[app.Fleet](s.pool.Query(ctx, q("ListAllFleets")))
}
