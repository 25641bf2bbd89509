-- The Slack bot's queries. Every one names the fleet, except the lookups
-- that find it: a workspace by its team id, a link code by its hash.

-- name: SlackCreateLinkCode
INSERT INTO slack_link_codes (fleet_id, code_hash, created_by, expires_at)
VALUES ($1, $2, $3, $4)
RETURNING id;

-- name: SlackUseLinkCode
UPDATE slack_link_codes SET used_at = now(), used_team = $2, used_user = $3
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING id, fleet_id, created_by;

-- name: SlackWorkspace
SELECT w.fleet_id, w.team_name, f.name
FROM slack_workspaces w JOIN fleets f ON f.id = w.fleet_id
WHERE w.team_id = $1;

-- name: SlackWorkspaceOfFleet
SELECT team_id FROM slack_workspaces WHERE fleet_id = $1 ORDER BY created_at LIMIT 1;

-- name: SlackLinkWorkspace
INSERT INTO slack_workspaces (team_id, fleet_id, team_name, linked_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (team_id) DO NOTHING
RETURNING team_id;

-- name: SlackFleetName
SELECT name FROM fleets WHERE id = $1;

-- name: SlackFindUser
-- A mapping counts only while the user is still a member of the fleet.
SELECT su.fleet_id, CASE WHEN m.user_id IS NULL THEN NULL ELSE su.user_id END AS user_id,
    coalesce(u.name, '') AS user_name, su.name, su.source, su.checked_at
FROM slack_users su
LEFT JOIN memberships m ON m.fleet_id = su.fleet_id AND m.user_id = su.user_id
LEFT JOIN users u ON u.id = m.user_id
WHERE su.fleet_id = $1 AND su.team_id = $2 AND su.slack_user_id = $3;

-- name: SlackSaveUser
-- A mapping made by /ufo link is never replaced by an email lookup.
INSERT INTO slack_users (team_id, slack_user_id, fleet_id, user_id, name, source, checked_at)
VALUES ($2, $3, $1, $4, $5, $6, now())
ON CONFLICT (team_id, slack_user_id) DO UPDATE
SET fleet_id = EXCLUDED.fleet_id, user_id = EXCLUDED.user_id, name = EXCLUDED.name,
    source = EXCLUDED.source, checked_at = now()
WHERE slack_users.source <> 'link' OR EXCLUDED.source = 'link' OR slack_users.fleet_id <> EXCLUDED.fleet_id;

-- name: SlackMemberByEmail
SELECT u.id, u.name
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.fleet_id = $1 AND lower(u.email) = lower($2);

-- name: SlackMember
SELECT u.id, u.name
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.fleet_id = $1 AND m.user_id = $2;

-- name: SlackInsertThread
INSERT INTO slack_threads (fleet_id, team_id, request_key, channel, ts, slack_user, operation_id, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (request_key) DO NOTHING
RETURNING id;

-- name: SlackThreadByRequest
SELECT id, fleet_id, team_id, request_key, channel, ts, slack_user, operation_id, hash, updated_at
FROM slack_threads WHERE fleet_id = $1 AND request_key = $2;

-- name: SlackThreadByMessage
SELECT id, fleet_id, team_id, request_key, channel, ts, slack_user, operation_id, hash, updated_at
FROM slack_threads WHERE fleet_id = $1 AND team_id = $2 AND channel = $3 AND ts = $4;

-- name: SlackThreadByOperation
SELECT id, fleet_id, team_id, request_key, channel, ts, slack_user, operation_id, hash, updated_at
FROM slack_threads WHERE fleet_id = $1 AND operation_id = $2;

-- name: SlackAttachThread
UPDATE slack_threads SET operation_id = $3
WHERE fleet_id = $1 AND id = $2 AND (operation_id IS NULL OR operation_id = $3)
RETURNING id;

-- name: SlackClaimThread
-- Claims the right to edit an operation's status message until the lease
-- lapses ($3 seconds), when no other writer holds it: one writer at a time,
-- across replicas, with no transaction open while it calls Slack.
-- clock_timestamp is the database's clock, the one every replica throttles
-- by.
UPDATE slack_threads
SET edit_lease = gen_random_uuid(), edit_lease_until = clock_timestamp() + make_interval(secs => $3::float8)
WHERE fleet_id = $1 AND operation_id = $2
  AND (edit_lease_until IS NULL OR edit_lease_until <= clock_timestamp())
RETURNING id, fleet_id, team_id, request_key, channel, ts, slack_user, operation_id, hash, updated_at,
    clock_timestamp() AS now, edit_lease;

-- name: SlackThreadLease
-- When the claim above failed: whether the thread exists, and the clock.
SELECT clock_timestamp() AS now
FROM slack_threads WHERE fleet_id = $1 AND operation_id = $2;

-- name: SlackReleaseThread
-- Lets go of a claim, recording what the holder wrote ($4, '' for
-- nothing) for the next edit's throttle; only the holder's own lease.
UPDATE slack_threads
SET edit_lease = NULL, edit_lease_until = NULL,
    hash = CASE WHEN $4::text = '' THEN hash ELSE $4::text END,
    updated_at = CASE WHEN $4::text = '' THEN updated_at ELSE clock_timestamp() END
WHERE fleet_id = $1 AND id = $2 AND edit_lease = $3
RETURNING id;

-- name: SlackOperationByMessage
SELECT id FROM operations WHERE fleet_id = $1 AND slack_channel = $2 AND slack_ts = $3
ORDER BY created_at LIMIT 1;

-- name: SlackLastProgress
SELECT type, data FROM run_events
WHERE run_id = $1 AND fleet_id = $2 AND type IN ('text', 'tool_use', 'status', 'error')
ORDER BY seq DESC LIMIT 1;

-- name: SlackListOperations
-- Open operations, newest activity first; mine means created by or
-- assigned to the member, or started from Slack by this Slack user.
SELECT o.* FROM operation_view o
LEFT JOIN slack_threads t ON t.operation_id = o.id
WHERE o.fleet_id = $1 AND o.status NOT IN ('done', 'canceled')
  AND ($2::uuid IS NULL OR o.mission_id = $2)
  AND (NOT $3::boolean
       OR ($4::uuid IS NOT NULL AND (o.created_by = $4 OR (o.assignee_type = 'user' AND o.assignee_id = $4)))
       OR (t.team_id = $5 AND t.slack_user = $6))
ORDER BY o.updated_at DESC, o.id
LIMIT $7;

-- name: SlackWorkspaceLinkedByAdmin
-- Whether the member who linked the workspace is still an admin (or the
-- owner) of its fleet: only then may unmapped full members of the
-- workspace act, recorded by their Slack id.
SELECT EXISTS (
    SELECT 1 FROM slack_workspaces w
    JOIN memberships m ON m.fleet_id = w.fleet_id AND m.user_id = w.linked_by
    WHERE w.team_id = $2 AND w.fleet_id = $1 AND m.role IN ('owner', 'admin'));
