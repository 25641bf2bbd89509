-- name: EmitEvent
WITH lock AS (SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 0))),
ins AS (
    INSERT INTO events (fleet_id, kind, subject_id, data)
    SELECT $1::uuid, $2::text, $3::uuid, $4::jsonb FROM lock
    RETURNING id, fleet_id
)
SELECT pg_notify('ufo_events', fleet_id::text || ':' || id::text) FROM ins;

-- name: ListEvents
SELECT id, fleet_id, kind, subject_id, data, created_at
FROM events
WHERE fleet_id = $1 AND id > $2
ORDER BY id
LIMIT $3;
