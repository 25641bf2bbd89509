-- name: EmitEvent
WITH lock AS (SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0))),
ins AS (
    INSERT INTO events (fleet_id, kind, subject_id, data)
    SELECT $1::uuid, $2::text, $3::uuid, $4::jsonb FROM lock
    RETURNING id, fleet_id, kind, subject_id, data, created_at
),
-- Run and operation changes also become a durable "notify" job, so the
-- GitHub and Slack adapters update issues, PRs and threads even across a
-- restart.
job AS (
    INSERT INTO jobs (kind, key, payload)
    SELECT 'notify', id::text, jsonb_build_object('id', id, 'fleet_id', fleet_id, 'kind', kind,
        'subject_id', subject_id, 'data', data, 'created_at', created_at)
    FROM ins
    WHERE (kind LIKE 'run.%' AND kind <> 'run.events') OR kind IN ('operation.created', 'operation.updated', 'message.created')
)
SELECT pg_notify('ufo_events', fleet_id::text || ':' || id::text) FROM ins;

-- name: ListEvents
SELECT id, fleet_id, kind, subject_id, data, created_at
FROM events
WHERE fleet_id = $1 AND id > $2
ORDER BY id
LIMIT $3;

-- name: LatestEventID
SELECT coalesce(max(id), 0) FROM events WHERE fleet_id = $1;
