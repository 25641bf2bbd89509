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
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE runs SET status = 'canceled', failure_reason = 'canceled', failure_message = $2,
    finished_at = now(), cancel_requested = true
WHERE id = $1 AND (status = 'queued') IS TRUE;

-- name: RequestCancel
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE runs SET cancel_requested = true, failure_message = $2
WHERE id = $1 AND (status IN ('claimed', 'running')) IS TRUE;

-- name: ClaimRun
-- See ufo_claim (migration 0014).
SELECT v_active, v_run, v_attempt, v_prompt, v_resume, v_follow_up, v_operation, v_mission, v_pilot
FROM ufo_claim($1, $2, $3, $4, $5, $6);

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
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
SELECT id, fleet_id, operation_id, attempt, max_attempts, cancel_requested
FROM runs
WHERE id = $1 AND (status IN ('claimed', 'running')) IS TRUE AND lease_expires_at < now()
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

-- name: ReleaseClaim
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE runs SET status = 'queued', attempt = attempt - 1, rover_id = NULL, claim_token_hash = NULL,
    lease_expires_at = NULL, claimed_at = NULL
WHERE id = $1 AND claim_token_hash = $2 AND (status = 'claimed') IS TRUE
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
-- The operation's next status after its run $3 ended as (or went back to)
-- $4, from the operation's status and how many of its other runs are
-- active, with its feed row (see ufo_settle, migration 0012). The caller
-- holds the operation's row locked.
SELECT ufo_emit(ufo_settle(o.fleet_id, o.id, o.status,
    (SELECT count(*) FROM runs r
     WHERE r.operation_id = o.id AND r.id <> $3 AND r.status IN ('queued', 'claimed', 'running')), $4))
FROM operations o WHERE o.fleet_id = $1 AND o.id = $2;
