-- name: InsertRun
-- $1 is the run's id, made by the caller (app.NewID) so that the insert
-- can go with the commit.
INSERT INTO runs (id, fleet_id, operation_id, pilot_id, pilot_kind, required_tags, prompt, follow_up, resume_session_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: ActiveRun
SELECT id, fleet_id, operation_id, status FROM runs
WHERE operation_id = $1 AND status IN ('queued', 'claimed', 'running')
ORDER BY created_at DESC LIMIT 1 FOR UPDATE;

-- name: LastRun
SELECT * FROM run_view WHERE operation_id = $1 ORDER BY queued_at DESC, id DESC LIMIT 1;

-- name: CancelQueuedRun
UPDATE runs SET status = 'canceled', failure_reason = 'canceled', failure_message = $2,
    finished_at = now(), cancel_requested = true
WHERE id = $1 AND status = 'queued';

-- name: RequestCancel
UPDATE runs SET cancel_requested = true, failure_message = $2
WHERE id = $1 AND status IN ('claimed', 'running');

-- name: ClaimRun
-- Claims the oldest queued run the rover can take, writes its feed row and
-- answers with what the claim answer needs, in one statement. It answers
-- one row: active is false for a revoked rover, which claims nothing (its
-- token may still be in a server's cache for a moment: see
-- Store.AuthenticateRover); id is NULL when there was nothing to claim.
WITH me AS (
    SELECT EXISTS (SELECT 1 FROM rovers WHERE id = $4 AND revoked_at IS NULL) AS active
),
next AS (
    SELECT id FROM runs
    WHERE fleet_id = $1 AND status = 'queued'
      AND pilot_kind = ANY ($2::text[]) AND required_tags <@ $3::text[]
      AND (SELECT active FROM me)
    ORDER BY queued_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE runs r SET status = 'claimed', rover_id = $4, claim_token_hash = $5, attempt = r.attempt + 1,
        claimed_at = now(), lease_expires_at = now() + make_interval(secs => $6), seq_base = r.last_seq
    FROM next WHERE r.id = next.id
    RETURNING r.id, r.fleet_id, r.operation_id, r.pilot_id, r.attempt, r.prompt, r.resume_session_id, r.follow_up
),
feed AS (
    SELECT ufo_emit(jsonb_build_array(jsonb_build_object('f', c.fleet_id, 'k', 'run.claimed', 's', c.id,
        'd', jsonb_build_object('operation_id', c.operation_id, 'rover_id', $4::uuid, 'attempt', c.attempt))))
    FROM claimed c
)
SELECT me.active, c.id, c.attempt, c.prompt, c.resume_session_id, c.follow_up,
    to_jsonb(o) AS operation, to_jsonb(m) AS mission, to_jsonb(p) AS pilot,
    (SELECT count(*) FROM feed) AS emitted
FROM me
LEFT JOIN (claimed c
    JOIN operation_view o ON o.id = c.operation_id
    JOIN missions m ON m.id = o.mission_id
    LEFT JOIN pilots p ON p.id = c.pilot_id) ON true;

-- name: FinishRun
UPDATE runs SET status = $2, finished_at = now(), lease_expires_at = NULL, claim_token_hash = NULL,
    session_id = $3, final_message = $4, usage = $5, failure_reason = $6, failure_message = $7
WHERE id = $1;

-- name: ExpiredRuns
SELECT id, operation_id
FROM runs
WHERE status IN ('claimed', 'running') AND lease_expires_at < now()
ORDER BY lease_expires_at
LIMIT 100;

-- name: LockExpiredRun
SELECT id, fleet_id, operation_id, attempt, max_attempts, cancel_requested
FROM runs
WHERE id = $1 AND status IN ('claimed', 'running') AND lease_expires_at < now()
FOR UPDATE SKIP LOCKED;

-- name: LockOperationByID
SELECT id FROM operations WHERE id = $1 FOR UPDATE;

-- name: RequeueRun
UPDATE runs SET status = 'queued', rover_id = NULL, claim_token_hash = NULL, lease_expires_at = NULL
WHERE id = $1;

-- name: FindRun
SELECT * FROM run_view WHERE fleet_id = $1 AND id = $2;

-- name: FindArtifact
SELECT diff, files, insertions, deletions, branch, base_branch, head_commit, pushed, pr_url
FROM artifacts WHERE run_id = $1;

-- name: ListRuns
SELECT * FROM run_view
WHERE fleet_id = $1
  AND ($2::uuid IS NULL OR operation_id = $2)
  AND ($3::text = '' OR status = $3)
  AND ($4::uuid IS NULL OR rover_id = $4)
ORDER BY queued_at DESC, id
LIMIT $5 OFFSET $6;

-- name: ListRunEvents
SELECT run_id, seq, type, data, at FROM run_events
WHERE run_id = $1 AND fleet_id = $2 AND seq > $3
ORDER BY seq
LIMIT $4;

-- name: OperationStatusAndOtherRuns
-- The operation's status (locking its row) and how many of its runs other
-- than $2 are still active.
SELECT o.status, (SELECT count(*) FROM runs
                  WHERE operation_id = $1 AND id <> $2 AND status IN ('queued', 'claimed', 'running'))
FROM operations o WHERE o.id = $1 FOR UPDATE OF o;

-- name: ReleaseClaim
UPDATE runs SET status = 'queued', attempt = attempt - 1, rover_id = NULL, claim_token_hash = NULL,
    lease_expires_at = NULL, claimed_at = NULL
WHERE id = $1 AND claim_token_hash = $2 AND status = 'claimed'
RETURNING fleet_id, operation_id;

-- name: PilotActiveRuns
SELECT count(*) FROM runs WHERE fleet_id = $1 AND pilot_id = $2 AND status IN ('queued', 'claimed', 'running');

-- name: StartRun
SELECT ufo_start_run($1, $2, $3, $4);

-- name: Heartbeat
SELECT ufo_heartbeat($1, $2, $3, $4);

-- name: AppendEvents
SELECT v_cancel, v_last FROM ufo_append_events($1, $2, $3, $4, $5, $6, $7, $8);

-- name: CompleteRun
SELECT ufo_complete_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: SettleOperation
-- See ufo_settle (migration 0012).
SELECT ufo_emit(ufo_settle($1, $2, $3, $4, $5));
