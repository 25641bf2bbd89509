-- name: EmitEvents
-- A transaction's feed rows, in one statement: $1 is a JSON array of
-- {"f": fleet id, "k": kind, "s": subject id or null, "d": data}, in
-- order (see ufo_emit, migration 0010). (A JSON array rather than parallel
-- arrays: the planner cannot see its length, so one generic plan serves
-- every call instead of a new plan per call.)
SELECT ufo_emit($1::jsonb);

-- name: LockStamp
-- One stamper at a time across every server: ids are then given in the
-- order stamping transactions commit, so a reader that has seen id N will
-- never later find a smaller one.
SELECT pg_advisory_xact_lock(7378696366000001);

-- name: StampEvents
-- Numbers up to $1 committed rows in insertion order and tells listeners,
-- one notification per fleet: "<fleet_id>:<first id>:<last id>". Taken
-- after LockStamp, in a statement of its own, so its snapshot already
-- shows what the previous stamper numbered. Run and operation changes
-- also become a "notify" job, so the GitHub and Slack adapters update
-- issues, PRs and threads even across a restart; only those adapters read
-- them, so a fleet linked to neither gets none (migration 0019).
WITH next AS (
    SELECT t, nextval('events_feed_id_seq') AS id
    FROM (SELECT ctid AS t FROM events WHERE id IS NULL ORDER BY seq LIMIT $1) r
),
up AS (
    -- By ctid (migration 0022): the array makes it a TID scan whatever
    -- the statistics say; a join on ctid alone can be planned as a scan
    -- of the whole table.
    UPDATE events e SET id = next.id FROM next
    WHERE e.ctid = ANY (ARRAY(SELECT t FROM next)) AND e.ctid = next.t AND e.id IS NULL
    RETURNING e.seq, e.fleet_id, e.id, e.kind, e.subject_id, e.data, e.created_at
),
jobs AS (
    INSERT INTO jobs (kind, key, payload)
    SELECT 'notify', up.seq::text, jsonb_build_object('id', up.id, 'fleet_id', up.fleet_id, 'kind', up.kind,
        'subject_id', up.subject_id, 'data', up.data, 'created_at', up.created_at)
    FROM up
    WHERE ((up.kind LIKE 'run.%' AND up.kind <> 'run.events') OR up.kind IN ('operation.created', 'operation.updated', 'message.created'))
      AND (EXISTS (SELECT 1 FROM github_installations g WHERE g.fleet_id = up.fleet_id)
           OR EXISTS (SELECT 1 FROM slack_workspaces w WHERE w.fleet_id = up.fleet_id))
    ORDER BY up.id
    ON CONFLICT (kind, key) DO NOTHING
),
fleets AS (
    SELECT fleet_id, min(id) AS first, max(id) AS last, count(*) AS n FROM up GROUP BY fleet_id
)
SELECT coalesce(sum(n), 0)::int, count(pg_notify('ufo_events', fleet_id::text || ':' || first || ':' || last))::int
FROM fleets;

-- name: ListEvents
SELECT id, fleet_id, kind, subject_id, data, created_at
FROM events
WHERE fleet_id = $1 AND id > $2
ORDER BY id
LIMIT $3;

-- name: FeedPending
SELECT EXISTS (SELECT 1 FROM events WHERE id IS NULL AND fleet_id = $1);

-- name: LatestEventID
SELECT coalesce(max(id), 0) FROM events WHERE fleet_id = $1;

-- name: Notify
-- Wake-ups sent after a commit, in a transaction that writes nothing, so
-- PostgreSQL's notification lock is held only for an instant rather than
-- across a commit's WAL flush.
SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) AS t(c, p);
