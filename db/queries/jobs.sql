-- name: EnqueueJob
INSERT INTO jobs (kind, key, payload, run_after) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (kind, key) DO NOTHING
RETURNING id;

-- name: EnqueueOrReviveJob
-- As EnqueueJob, but a job of the key that failed is taken as new again:
-- pending, no attempts, due now (or after the delay), with the new payload.
-- A pending (or running) or done job is left alone and no row returns.
-- Workers touch only pending jobs (ClaimJobs, and the bookkeeping fenced by
-- status and attempt), so a failed row is no worker's. The row lock taken
-- ON CONFLICT orders a revival after a worker's RetryJob or FailJob
-- (which then sees the job failed) or before it (which then leaves a
-- pending job, a duplicate), and makes two redeliveries at once revive
-- one job. The fence can be fooled only by a worker whose lease lapsed
-- before another attempt failed the job, finishing within the seconds of
-- its bookkeeping while the revived job is on attempt 1 again.
INSERT INTO jobs (kind, key, payload, run_after) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
ON CONFLICT (kind, key) DO UPDATE SET status = 'pending', attempts = 0, payload = EXCLUDED.payload,
    run_after = EXCLUDED.run_after, locked_until = NULL, finished_at = NULL, done_steps = NULL
WHERE jobs.status = 'failed'
RETURNING id;

-- name: ClaimJobs
UPDATE jobs SET attempts = attempts + 1, locked_until = now() + make_interval(secs => $2)
WHERE id IN (
    SELECT id FROM jobs
    WHERE status = 'pending' AND run_after <= now() AND (locked_until IS NULL OR locked_until < now())
      AND kind = ANY ($3::text[])
    ORDER BY run_after, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, key, payload, attempts, max_attempts, done_steps;

-- name: FinishJob
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE jobs SET status = 'done', finished_at = now(), locked_until = NULL, last_error = ''
WHERE id = $1 AND (status = 'pending') IS TRUE AND attempts = $2;

-- name: RetryJob
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE jobs SET run_after = now() + make_interval(secs => $3), locked_until = NULL, last_error = $2, done_steps = $5,
    status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
    finished_at = CASE WHEN attempts >= max_attempts THEN now() END
WHERE id = $1 AND (status = 'pending') IS TRUE AND attempts = $4
RETURNING status;

-- name: FindJob
SELECT id, kind, key, payload, status, attempts, last_error, done_steps FROM jobs WHERE kind = $1 AND key = $2;

-- name: FailJob
-- IS TRUE: found by its primary key whatever the statistics (see db.go).
UPDATE jobs SET status = 'failed', finished_at = now(), locked_until = NULL, last_error = $2
WHERE id = $1 AND (status = 'pending') IS TRUE AND attempts = $3;

-- name: PruneJobs
DELETE FROM jobs WHERE status <> 'pending' AND finished_at < now() - make_interval(secs => $1);

-- name: PruneRequests
DELETE FROM requests WHERE created_at < now() - make_interval(secs => $1);
