-- name: CreateUser
INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3)
RETURNING id, email, name, created_at;

-- name: FindUserCredentials
SELECT id, password_hash FROM users WHERE lower(email) = lower($1);

-- name: FindUserByID
SELECT id, email, name, created_at FROM users WHERE id = $1;

-- name: CreateSession
INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3);

-- name: FindSessionUser
SELECT u.id, u.email, u.name, u.created_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = $1 AND s.expires_at > now();

-- name: FindSessionMember
-- The session's user and, in the same round trip, their role in fleet $2
-- ('' when they are not a member; $2 is NULL when it cannot be a fleet id).
SELECT u.id, u.email, u.name, u.created_at, coalesce(m.role, '') AS role
FROM sessions s JOIN users u ON u.id = s.user_id
LEFT JOIN memberships m ON m.fleet_id = $2 AND m.user_id = u.id
WHERE s.token_hash = $1 AND s.expires_at > now();

-- name: DeleteSession
DELETE FROM sessions WHERE token_hash = $1;

-- name: CreateFleet
INSERT INTO fleets (name) VALUES ($1) RETURNING id, name, created_at;

-- name: CreateMembership
INSERT INTO memberships (fleet_id, user_id, role) VALUES ($1, $2, $3);

-- name: ListFleetsForUser
SELECT f.id, f.name, m.role, f.created_at
FROM fleets f JOIN memberships m ON m.fleet_id = f.id
WHERE m.user_id = $1
ORDER BY f.created_at, f.id;

-- name: FindRole
SELECT role FROM memberships WHERE fleet_id = $1 AND user_id = $2;

-- name: ListMemberships
SELECT m.fleet_id, m.user_id, u.email, u.name, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.fleet_id = $1
ORDER BY m.created_at, u.email;

-- name: UpdateMembershipRole
UPDATE memberships SET role = $3 WHERE fleet_id = $1 AND user_id = $2
RETURNING fleet_id, user_id, role, created_at;

-- name: DeleteMembership
DELETE FROM memberships WHERE fleet_id = $1 AND user_id = $2 RETURNING role;

-- name: CreateInvitation
INSERT INTO invitations (fleet_id, email, role, token_hash, invited_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id, fleet_id, email, role, created_at, expires_at, accepted_at;

-- name: ListInvitations
SELECT id, fleet_id, email, role, created_at, expires_at, accepted_at
FROM invitations WHERE fleet_id = $1 ORDER BY created_at DESC, id;

-- name: DeleteInvitation
DELETE FROM invitations WHERE fleet_id = $1 AND id = $2 AND accepted_at IS NULL RETURNING id;

-- name: ClaimInvitation
UPDATE invitations SET accepted_at = now(), accepted_by = $2
WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > now()
RETURNING id, fleet_id, email, role, created_at, expires_at, accepted_at;

-- name: FindInvitationByToken
SELECT i.id, i.fleet_id, i.email, i.role, i.created_at, i.expires_at, i.accepted_at, f.name AS fleet_name
FROM invitations i JOIN fleets f ON f.id = i.fleet_id
WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > now();

-- name: UpsertMembership
INSERT INTO memberships (fleet_id, user_id, role) VALUES ($1, $2, $3)
ON CONFLICT (fleet_id, user_id) DO NOTHING;

-- name: FindRoleForUpdate
SELECT role FROM memberships WHERE fleet_id = $1 AND user_id = $2 FOR UPDATE;

-- name: ListAllFleets
SELECT id, name, created_at FROM fleets ORDER BY created_at, id;

-- name: LockOwners
SELECT user_id FROM memberships WHERE fleet_id = $1 AND role = 'owner' FOR UPDATE;
