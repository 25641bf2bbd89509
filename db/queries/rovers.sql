-- name: CreateEnrollmentCode
INSERT INTO enrollment_codes (fleet_id, code_hash, name, tags, ephemeral, created_by, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: UseEnrollmentCode
UPDATE enrollment_codes SET used_at = now()
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING id, fleet_id, name, tags, ephemeral;

-- name: LinkEnrollmentCode
UPDATE enrollment_codes SET rover_id = $2 WHERE id = $1;

-- name: InsertRover
-- The rover's tags are its code's ($3) and those it reports ($8), each once.
INSERT INTO rovers (fleet_id, name, code_tags, tags, token_hash, profile, kinds, ephemeral, online, last_seen_at)
VALUES ($1, $2, $3, ARRAY(SELECT DISTINCT t FROM unnest($3::text[] || $8::text[]) AS t ORDER BY t), $4, $5, $6, $7, true, now())
RETURNING id, tags;

-- name: TouchRover
-- Resolves a rover token and records the rover as seen. The row is written
-- only when the rover was offline or last seen more than $2 seconds ago:
-- a durable write on every rover request would cost a WAL flush each.
-- Of concurrent requests of an offline rover, one updates the row (the
-- others re-check it after its commit and skip), so only that one reports
-- was_online = false.
WITH old AS (
    SELECT id, fleet_id, name, tags, kinds, online FROM rovers WHERE token_hash = $1 AND revoked_at IS NULL
),
up AS (
    UPDATE rovers r SET last_seen_at = now(), online = true
    FROM old
    WHERE r.id = old.id AND (NOT r.online OR r.last_seen_at < now() - make_interval(secs => $2))
    RETURNING old.online AS was_online
)
SELECT old.id, old.fleet_id, old.name, old.tags, old.kinds, coalesce((SELECT was_online FROM up), true)
FROM old;

-- name: ConnectRover
-- The rover's tags become its code's and those it reports now ($4).
UPDATE rovers SET profile = $2, kinds = $3, last_seen_at = now(), online = true,
    tags = ARRAY(SELECT DISTINCT t FROM unnest(code_tags || $4::text[]) AS t ORDER BY t)
WHERE id = $1 AND revoked_at IS NULL
RETURNING fleet_id, tags;

-- name: RevokeRover
UPDATE rovers SET revoked_at = now(), online = false WHERE fleet_id = $1 AND id = $2 AND revoked_at IS NULL
RETURNING id;

-- name: ListRovers
SELECT r.id, r.fleet_id, r.name, r.tags, r.kinds, r.profile, r.ephemeral, r.last_seen_at, r.created_at,
    cur.id::text AS current_run,
    CASE WHEN NOT r.online THEN 'offline' WHEN cur.id IS NOT NULL THEN 'busy' ELSE 'online' END AS status
FROM rovers r
LEFT JOIN LATERAL (
    SELECT id FROM runs WHERE rover_id = r.id AND status IN ('claimed', 'running') ORDER BY claimed_at DESC LIMIT 1
) cur ON true
WHERE r.fleet_id = $1 AND r.revoked_at IS NULL AND ($2::uuid IS NULL OR r.id = $2)
ORDER BY r.created_at, r.id;

-- name: MarkRoversOffline
UPDATE rovers SET online = false
WHERE online AND last_seen_at < now() - make_interval(secs => $1)
RETURNING id, fleet_id;

-- name: EnsurePilotOfKind
INSERT INTO pilots (fleet_id, name, kind)
SELECT $1, $2, $2 WHERE NOT EXISTS (SELECT 1 FROM pilots WHERE fleet_id = $1 AND kind = $2)
ON CONFLICT (fleet_id, name) DO NOTHING
RETURNING id;
