-- name: NextOperationNumber
UPDATE missions SET next_number = next_number + 1
WHERE fleet_id = $1 AND id = $2
RETURNING next_number, key, branch_prefix;

-- name: InsertOperation
-- $16 is the operation's id, made by the caller (app.NewID) so that the
-- insert can go with the commit.
INSERT INTO operations (id, fleet_id, mission_id, number, title, body, status, priority,
    assignee_type, assignee_id, parent_id, issue_url, slack_channel, slack_ts, branch, created_by)
VALUES ($16, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
RETURNING created_at, updated_at, pr_url;

-- name: FindOperation
SELECT * FROM operation_view WHERE fleet_id = $1 AND id = $2;

-- name: FindOperationByCode
SELECT * FROM operation_view WHERE fleet_id = $1 AND mission_key = $2 AND number = $3;

-- name: LockOperation
SELECT id FROM operations WHERE fleet_id = $1 AND id = $2 FOR UPDATE;

-- name: ListOperations
SELECT * FROM operation_view
WHERE fleet_id = $1
  AND ($2::text = '' OR status = $2)
  AND ($3::uuid IS NULL OR mission_id = $3)
  AND ($4::uuid IS NULL OR assignee_id = $4)
  AND ($5::text = '' OR $5 = ANY (labels))
  AND ($6::text = '' OR strpos(lower(title), lower($6)) > 0 OR code = upper($6))
  AND ($7::uuid IS NULL OR parent_id = $7)
ORDER BY
  CASE WHEN $8 = 'created' THEN created_at END ASC,
  CASE WHEN $8 = '-created' THEN created_at END DESC,
  CASE WHEN $8 = 'updated' THEN updated_at END ASC,
  CASE WHEN $8 = '-updated' THEN updated_at END DESC,
  CASE WHEN $8 = 'priority' THEN priority END ASC,
  CASE WHEN $8 = '-priority' THEN priority END DESC,
  CASE WHEN $8 = 'title' THEN title END ASC,
  CASE WHEN $8 = '-title' THEN title END DESC,
  created_at DESC, id
LIMIT $9 OFFSET $10;

-- name: UpdateOperation
UPDATE operations SET title = $3, body = $4, status = $5, priority = $6, assignee_type = $7,
    assignee_id = $8, parent_id = $9, issue_url = $10, pr_url = $11, slack_channel = $12,
    slack_ts = $13, updated_at = now()
WHERE fleet_id = $1 AND id = $2;

-- name: SetOperationStatus
UPDATE operations SET status = $3, updated_at = now() WHERE fleet_id = $1 AND id = $2;

-- name: DeleteOperation
DELETE FROM operations WHERE fleet_id = $1 AND id = $2 RETURNING id;

-- name: UpsertLabel
INSERT INTO labels (fleet_id, name) VALUES ($1, $2)
ON CONFLICT (fleet_id, name) DO UPDATE SET name = EXCLUDED.name
RETURNING id;

-- name: ClearOperationLabels
DELETE FROM operation_labels WHERE operation_id = $1;

-- name: AddOperationLabel
INSERT INTO operation_labels (operation_id, label_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: CheckMember
SELECT user_id FROM memberships WHERE fleet_id = $1 AND user_id = $2;

-- name: FirstCrewPilot
SELECT p.id, p.fleet_id, p.name, p.kind, p.settings, p.created_at
FROM crews c
JOIN crew_members cm ON cm.crew_id = c.id
JOIN pilots p ON p.id = cm.pilot_id
WHERE c.fleet_id = $1 AND c.id = $2
ORDER BY cm.position
LIMIT 1;

-- name: CrewExists
SELECT id FROM crews WHERE fleet_id = $1 AND id = $2;

-- name: CreateMessage
INSERT INTO messages (fleet_id, operation_id, author_type, author_id, author_name, body, id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, operation_id, author_type, author_id, author_name, body, created_at;

-- name: ListMessages
SELECT id, operation_id, author_type, author_id, author_name, body, created_at
FROM messages WHERE fleet_id = $1 AND operation_id = $2
ORDER BY created_at, id;

-- name: CreateRelationship
INSERT INTO relationships (fleet_id, from_id, to_id, kind)
SELECT $1, a.id, b.id, $4
FROM operations a, operations b
WHERE a.fleet_id = $1 AND a.id = $2 AND b.fleet_id = $1 AND b.id = $3
RETURNING id, from_id, to_id, kind, created_at;

-- name: ListRelationships
SELECT id, from_id, to_id, kind, created_at FROM relationships
WHERE fleet_id = $1 AND (from_id = $2 OR to_id = $2)
ORDER BY created_at, id;

-- name: DeleteRelationship
DELETE FROM relationships WHERE fleet_id = $1 AND id = $2 AND (from_id = $3 OR to_id = $3) RETURNING id;

-- name: CreateReaction
INSERT INTO reactions (fleet_id, operation_id, user_id, emoji) VALUES ($1, $2, $3, $4)
RETURNING id, operation_id, user_id, emoji, created_at;

-- name: ListReactions
SELECT id, operation_id, user_id, emoji, created_at FROM reactions
WHERE fleet_id = $1 AND operation_id = $2 ORDER BY created_at, id;

-- name: DeleteReaction
DELETE FROM reactions WHERE fleet_id = $1 AND id = $2 AND operation_id = $3 AND user_id = $4 RETURNING id;

-- name: CreateSignal
-- The signal as JSON (see ufo_signal, migration 0012).
SELECT ufo_signal($1, $2, $3, $4, $5);

-- name: ListSignals
SELECT id, operation_id, run_id, kind, message, created_at, resolved_at FROM signals
WHERE fleet_id = $1 AND ($2::uuid IS NULL OR operation_id = $2)
  AND ($3::boolean OR resolved_at IS NULL)
ORDER BY created_at DESC, id
LIMIT $4 OFFSET $5;

-- name: ResolveSignal
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE signals SET resolved_at = now() WHERE fleet_id = $1 AND id = $2 AND (resolved_at IS NULL) IS TRUE
RETURNING id, operation_id, run_id, kind, message, created_at, resolved_at;

-- name: OperationIDByCode
SELECT o.id FROM operations o JOIN missions m ON m.id = o.mission_id
WHERE o.fleet_id = $1 AND m.key = $2 AND o.number = $3;

-- name: FindPilotByIDForShare
SELECT id, fleet_id, name, kind, settings, created_at FROM pilots WHERE fleet_id = $1 AND id = $2 FOR KEY SHARE;

-- name: FindPilotForShare
-- The pilot work is assigned to, by name ($2) or else by id ($3: $2 as a
-- uuid, NULL when it cannot be one), as FindPilotByNameOrID. KEY SHARE:
-- the pilot cannot be deleted under the run about to reference it.
SELECT id, fleet_id, name, kind, settings, created_at FROM pilots
WHERE fleet_id = $1 AND (name = $2 OR id = $3)
ORDER BY name = $2 DESC
LIMIT 1
FOR KEY SHARE;

-- name: ApplyRequest
-- Records a request's key; no row returns when it was applied before (by a
-- transaction that committed: a concurrent one with the key waits here).
INSERT INTO requests (fleet_id, key, target_id) VALUES ($1, $2, $3)
ON CONFLICT (fleet_id, key) DO NOTHING
RETURNING key;

-- name: FindRequest
SELECT target_id::text FROM requests WHERE fleet_id = $1 AND key = $2;
