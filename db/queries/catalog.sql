-- name: CreateMission
INSERT INTO missions (fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id, fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel, created_at;

-- name: ListMissions
SELECT id, fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel, created_at FROM missions WHERE fleet_id = $1 ORDER BY created_at, id;

-- name: FindMission
SELECT id, fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel, created_at FROM missions WHERE fleet_id = $1 AND id = $2;

-- name: FindMissionByKey
SELECT id, fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel, created_at FROM missions WHERE fleet_id = $1 AND key = $2;

-- name: UpdateMission
UPDATE missions SET name = $3, key = $4, description = $5, repository = $6, base_branch = $7,
    branch_prefix = $8, default_pilot_id = $9, reviewers = $10, slack_channel = $11
WHERE fleet_id = $1 AND id = $2
RETURNING id, fleet_id, name, key, description, repository, base_branch, branch_prefix, default_pilot_id, reviewers, slack_channel, created_at;

-- name: DeleteMission
DELETE FROM missions WHERE fleet_id = $1 AND id = $2 RETURNING id;

-- name: CreatePilot
INSERT INTO pilots (fleet_id, name, kind, settings) VALUES ($1, $2, $3, $4)
RETURNING id, fleet_id, name, kind, settings, created_at;

-- name: ListPilots
SELECT id, fleet_id, name, kind, settings, created_at FROM pilots WHERE fleet_id = $1 ORDER BY created_at, id;

-- name: FindPilotByNameOrID
-- A pilot by name ($2), or else by id ($3: $2 as a uuid, NULL when it
-- cannot be one), in one round trip.
SELECT id, fleet_id, name, kind, settings, created_at FROM pilots
WHERE fleet_id = $1 AND (name = $2 OR id = $3)
ORDER BY name = $2 DESC
LIMIT 1;

-- name: UpdatePilot
UPDATE pilots SET name = $3, kind = $4, settings = $5 WHERE fleet_id = $1 AND id = $2
RETURNING id, fleet_id, name, kind, settings, created_at;

-- name: DeletePilot
DELETE FROM pilots WHERE fleet_id = $1 AND id = $2 RETURNING id;

-- name: CreateCrew
INSERT INTO crews (fleet_id, name) VALUES ($1, $2) RETURNING id, fleet_id, name, created_at;

-- name: AddCrewPilot
INSERT INTO crew_members (crew_id, pilot_id, position)
SELECT $2, p.id, $4 FROM pilots p WHERE p.fleet_id = $1 AND p.id = $3
RETURNING crew_id;

-- name: AddCrewUser
INSERT INTO crew_members (crew_id, user_id, position)
SELECT $2, m.user_id, $4 FROM memberships m WHERE m.fleet_id = $1 AND m.user_id = $3
RETURNING crew_id;

-- name: ClearCrew
DELETE FROM crew_members WHERE crew_id = $1;

-- name: ListCrews
SELECT c.id, c.fleet_id, c.name, c.created_at,
    coalesce(array_agg(cm.pilot_id ORDER BY cm.position) FILTER (WHERE cm.pilot_id IS NOT NULL), '{}')::text[] AS pilot_ids,
    coalesce(array_agg(cm.user_id ORDER BY cm.position) FILTER (WHERE cm.user_id IS NOT NULL), '{}')::text[] AS user_ids
FROM crews c LEFT JOIN crew_members cm ON cm.crew_id = c.id
WHERE c.fleet_id = $1 AND ($2::uuid IS NULL OR c.id = $2)
GROUP BY c.id
ORDER BY c.created_at, c.id;

-- name: RenameCrew
UPDATE crews SET name = $3 WHERE fleet_id = $1 AND id = $2 RETURNING id;

-- name: DeleteCrew
DELETE FROM crews WHERE fleet_id = $1 AND id = $2 RETURNING id;

-- name: CreateLabel
INSERT INTO labels (fleet_id, name, color) VALUES ($1, $2, $3) RETURNING *;

-- name: ListLabels
SELECT * FROM labels WHERE fleet_id = $1 ORDER BY name;

-- name: UpdateLabel
UPDATE labels SET name = $3, color = $4 WHERE fleet_id = $1 AND id = $2 RETURNING *;

-- name: DeleteLabel
DELETE FROM labels WHERE fleet_id = $1 AND id = $2 RETURNING id;
