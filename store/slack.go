package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

// SlackLinkTTL is how long a Slack link code works.
const SlackLinkTTL = 15 * time.Minute

// CreateSlackLinkCode makes a single-use code that links a Slack workspace
// to the fleet (and the Slack user who types it to by); only its hash is
// stored.
func (s *Store) CreateSlackLinkCode(ctx context.Context, fleetID, by string) (string, time.Time, error) {
	code := app.NewToken("ufol_")
	expires := time.Now().Add(SlackLinkTTL).UTC().Truncate(time.Second)
	err := s.tx(ctx, func(tx querier) error {
		var id string
		if err := tx.QueryRow(ctx, q("SlackCreateLinkCode"), fleetID, app.HashToken(code), by, expires).Scan(&id); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "slack.link_code.created", &id, map[string]any{"expires_at": expires})
	})
	return code, expires, err
}

// SlackLink is what a used link code did.
type SlackLink struct {
	FleetID   string
	FleetName string
	// NewWorkspace is true when the code linked the workspace (it was not
	// linked before).
	NewWorkspace bool
	// UserID and UserName are the member the Slack user is now mapped to
	// (nil when the code's maker has left the fleet).
	UserID   *string
	UserName string
}

// UseSlackLinkCode trades a link code, once: it links the workspace to the
// code's fleet when it is not linked yet, and maps the Slack user to the
// member who made the code. An unknown, used or expired code is not found;
// a workspace already linked to another fleet is a conflict, and the code
// stays unused.
func (s *Store) UseSlackLinkCode(ctx context.Context, code, teamID, teamName, slackUserID, slackName string) (SlackLink, error) {
	var l SlackLink
	err := s.tx(ctx, func(tx querier) error {
		var codeID string
		var by *string
		err := tx.QueryRow(ctx, q("SlackUseLinkCode"), app.HashToken(code), teamID, slackUserID).Scan(&codeID, &l.FleetID, &by)
		if err == pgx.ErrNoRows {
			return app.Errorf(app.ENotFound, "link code not found (or used, or expired)")
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, q("SlackFleetName"), l.FleetID).Scan(&l.FleetName); err != nil {
			return err
		}
		var got string
		err = tx.QueryRow(ctx, q("SlackLinkWorkspace"), teamID, l.FleetID, teamName, by).Scan(&got)
		switch {
		case err == pgx.ErrNoRows:
			var fleet, name, fleetName string
			if err := tx.QueryRow(ctx, q("SlackWorkspace"), teamID).Scan(&fleet, &name, &fleetName); err != nil {
				return err
			}
			if fleet != l.FleetID {
				return app.Errorf(app.EConflict, "this Slack workspace is already linked to another fleet")
			}
		case err != nil:
			return err
		default:
			l.NewWorkspace = true
		}
		if by != nil {
			var id, name string
			err := tx.QueryRow(ctx, q("SlackMember"), l.FleetID, *by).Scan(&id, &name)
			if err != nil && err != pgx.ErrNoRows {
				return err
			}
			if err == nil {
				l.UserID, l.UserName = &id, name
				if _, err := tx.Exec(ctx, q("SlackSaveUser"), l.FleetID, teamID, slackUserID, id, slackName, "link"); err != nil {
					return err
				}
			}
		}
		return emit(ctx, tx, l.FleetID, "slack.linked", &codeID, map[string]any{
			"team_id": teamID, "slack_user": slackUserID, "workspace": l.NewWorkspace, "user_id": l.UserID})
	})
	return l, err
}

// SlackWorkspace returns the fleet a Slack workspace is linked to; an
// unlinked workspace is not found.
func (s *Store) SlackWorkspace(ctx context.Context, teamID string) (fleetID, fleetName string, err error) {
	var teamName string
	err = s.pool.QueryRow(ctx, q("SlackWorkspace"), teamID).Scan(&fleetID, &teamName, &fleetName)
	return fleetID, fleetName, translate(err)
}

// SlackTeamOfFleet returns the Slack workspace linked to a fleet; a fleet
// without one is not found.
func (s *Store) SlackTeamOfFleet(ctx context.Context, fleetID string) (string, error) {
	var team string
	err := s.pool.QueryRow(ctx, q("SlackWorkspaceOfFleet"), fleetID).Scan(&team)
	return team, translate(err)
}

// SlackWorkspaceLinkedByAdmin reports whether the workspace is linked to
// the fleet by a member who is still an admin (or the owner) of it: the
// condition for unmapped Slack users to act at all.
func (s *Store) SlackWorkspaceLinkedByAdmin(ctx context.Context, fleetID, teamID string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, q("SlackWorkspaceLinkedByAdmin"), fleetID, teamID).Scan(&ok)
	return ok, translate(err)
}

// SlackUser is a Slack user as the fleet knows them.
type SlackUser struct {
	FleetID   string
	UserID    *string // the member they map to, nil when unmapped
	UserName  string  // the member's name
	Name      string  // their Slack name
	Source    string  // how they were mapped: email, link or ""
	CheckedAt time.Time
}

// FindSlackUser returns what is known of a Slack user in the fleet.
func (s *Store) FindSlackUser(ctx context.Context, fleetID, teamID, slackUserID string) (SlackUser, error) {
	var u SlackUser
	err := s.pool.QueryRow(ctx, q("SlackFindUser"), fleetID, teamID, slackUserID).
		Scan(&u.FleetID, &u.UserID, &u.UserName, &u.Name, &u.Source, &u.CheckedAt)
	return u, translate(err)
}

// MapSlackUserByEmail records a Slack user, mapped to the fleet member with
// this (verified) email when there is one; an empty email records the user
// unmapped. A mapping made by /ufo link is kept.
func (s *Store) MapSlackUserByEmail(ctx context.Context, fleetID, teamID, slackUserID, name, email string) (SlackUser, error) {
	var userID *string
	source := ""
	if email != "" {
		var id, uname string
		err := s.pool.QueryRow(ctx, q("SlackMemberByEmail"), fleetID, email).Scan(&id, &uname)
		if err != nil && err != pgx.ErrNoRows {
			return SlackUser{}, translate(err)
		}
		if err == nil {
			userID, source = &id, "email"
		}
	}
	if _, err := s.pool.Exec(ctx, q("SlackSaveUser"), fleetID, teamID, slackUserID, userID, name, source); err != nil {
		return SlackUser{}, translate(err)
	}
	return s.FindSlackUser(ctx, fleetID, teamID, slackUserID)
}

// SlackThread is the one Slack message of an operation, which the bot edits
// as the operation's runs move; replies under it are its conversation.
type SlackThread struct {
	ID          string
	FleetID     string
	TeamID      string
	RequestKey  string
	Channel     string
	TS          string
	SlackUser   string  // who started it, when started from Slack
	OperationID *string // nil until the operation exists
	Hash        string  // of the content last written
	UpdatedAt   *time.Time
}

func scanThread(row pgx.Row, extra ...any) (SlackThread, error) {
	var t SlackThread
	dst := append([]any{&t.ID, &t.FleetID, &t.TeamID, &t.RequestKey, &t.Channel, &t.TS, &t.SlackUser,
		&t.OperationID, &t.Hash, &t.UpdatedAt}, extra...)
	err := row.Scan(dst...)
	return t, translate(err)
}

// CreateSlackThread records a posted message (with the hash of its content)
// once per request key. It
// reports false, and records nothing, when the key is already recorded.
func (s *Store) CreateSlackThread(ctx context.Context, t SlackThread) (bool, error) {
	var id string
	err := s.pool.QueryRow(ctx, q("SlackInsertThread"), t.FleetID, t.TeamID, t.RequestKey, t.Channel, t.TS,
		t.SlackUser, t.OperationID, t.Hash).Scan(&id)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	return err == nil, translate(err)
}

// FindSlackThreadByRequest returns the message posted for a request key.
func (s *Store) FindSlackThreadByRequest(ctx context.Context, fleetID, key string) (SlackThread, error) {
	return scanThread(s.pool.QueryRow(ctx, q("SlackThreadByRequest"), fleetID, key))
}

// FindSlackThreadByMessage returns the thread whose message is (channel, ts).
func (s *Store) FindSlackThreadByMessage(ctx context.Context, fleetID, teamID, channel, ts string) (SlackThread, error) {
	return scanThread(s.pool.QueryRow(ctx, q("SlackThreadByMessage"), fleetID, teamID, channel, ts))
}

// FindSlackThread returns an operation's thread.
func (s *Store) FindSlackThread(ctx context.Context, fleetID, opID string) (SlackThread, error) {
	return scanThread(s.pool.QueryRow(ctx, q("SlackThreadByOperation"), fleetID, opID))
}

// AttachSlackThread ties a posted message to its operation, once.
func (s *Store) AttachSlackThread(ctx context.Context, fleetID, threadID, opID string) error {
	var id string
	err := s.pool.QueryRow(ctx, q("SlackAttachThread"), fleetID, threadID, opID).Scan(&id)
	if err == pgx.ErrNoRows {
		return app.Errorf(app.EConflict, "this message already belongs to another operation")
	}
	return translate(err)
}

// FindOperationBySlackMessage returns the operation created with this
// message, if any.
func (s *Store) FindOperationBySlackMessage(ctx context.Context, fleetID, channel, ts string) (app.Operation, error) {
	var id string
	if err := s.pool.QueryRow(ctx, q("SlackOperationByMessage"), fleetID, channel, ts).Scan(&id); err != nil {
		return app.Operation{}, translate(err)
	}
	return s.FindOperation(ctx, fleetID, id)
}

// SlackClaim is a claim on editing an operation's status message.
type SlackClaim struct {
	// Lease is the claim's token, for ReleaseSlackThread; "" when another
	// writer holds the message.
	Lease string
	// Now is the database's clock at the claim.
	Now time.Time
}

// ClaimSlackThread claims an operation's thread for one edit of its
// message, for at most lease: one writer at a time across replicas,
// without a transaction, so nothing is held open while the writer calls
// Slack. When another writer holds it, the claim has no Lease and the
// thread is as last recorded. An operation without a thread is not found.
func (s *Store) ClaimSlackThread(ctx context.Context, fleetID, opID string, lease time.Duration) (SlackThread, SlackClaim, error) {
	var c SlackClaim
	t, err := scanThread(s.pool.QueryRow(ctx, q("SlackClaimThread"), fleetID, opID, lease.Seconds()), &c.Now, &c.Lease)
	if !app.IsCode(err, app.ENotFound) {
		return t, c, err
	}
	err = s.pool.QueryRow(ctx, q("SlackThreadLease"), fleetID, opID).Scan(&c.Now)
	return SlackThread{}, c, translate(err)
}

// ReleaseSlackThread lets go of a claim, recording the hash of what the
// holder wrote ("" for nothing) and the time, for the next edit's
// throttle. It reports false, recording nothing, when the claim had lapsed
// and is no longer the holder's (or the thread is gone).
func (s *Store) ReleaseSlackThread(ctx context.Context, fleetID, threadID, lease, wrote string) (bool, error) {
	var id string
	err := s.pool.QueryRow(ctx, q("SlackReleaseThread"), fleetID, threadID, lease, wrote).Scan(&id)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	return err == nil, translate(err)
}

// LastProgress returns a run's latest text, tool use, status or error event.
func (s *Store) LastProgress(ctx context.Context, fleetID, runID string) (typ string, data json.RawMessage, err error) {
	err = s.pool.QueryRow(ctx, q("SlackLastProgress"), runID, fleetID).Scan(&typ, &data)
	return typ, data, translate(err)
}

// SlackOperationFilter narrows SlackOperations.
type SlackOperationFilter struct {
	MissionID *string
	Mine      bool
	UserID    *string // the member, for Mine
	TeamID    string  // and the Slack user, for Mine
	SlackUser string
	Limit     int
}

// SlackOperations lists a fleet's open operations for /ufo list.
func (s *Store) SlackOperations(ctx context.Context, fleetID string, f SlackOperationFilter) ([]app.Operation, error) {
	return collect[app.Operation](s.pool.Query(ctx, q("SlackListOperations"), fleetID, f.MissionID, f.Mine,
		f.UserID, f.TeamID, f.SlackUser, f.Limit))
}
