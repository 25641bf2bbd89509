package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Job is one piece of durable background work.
type Job struct {
	ID          int64
	Kind        string
	Key         string
	Payload     json.RawMessage
	Attempts    int
	MaxAttempts int
	Status      string
	LastError   string
	// Done are the steps of the job that earlier attempts got through
	// (see RetryJob), for a handler that does several things.
	Done []string
}

// EnqueueJob records a job once by (kind, key); it reports false when the
// job was already recorded (a redelivery), which is not an error, whatever
// became of it.
func (s *Store) EnqueueJob(ctx context.Context, kind, key string, payload any, delay time.Duration) (bool, error) {
	var id int64
	err := s.pool.QueryRow(ctx, q("EnqueueJob"), kind, key, payload, delay.Seconds()).Scan(&id)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	return err == nil, translate(err)
}

// EnqueueOrReviveJob records a job as EnqueueJob does, and also takes a
// job of that key that failed (out of attempts, or for good) as new again,
// with payload: for a delivery its sender resends on purpose, like
// GitHub's "Redeliver", which keeps the delivery's id. It reports false
// when the job is pending, running or done.
func (s *Store) EnqueueOrReviveJob(ctx context.Context, kind, key string, payload any, delay time.Duration) (bool, error) {
	var id int64
	err := s.pool.QueryRow(ctx, q("EnqueueOrReviveJob"), kind, key, payload, delay.Seconds()).Scan(&id)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	return err == nil, translate(err)
}

// ClaimJobs locks up to n due jobs of the given kinds for lockFor; a worker
// that dies loses the lock and another retries the job.
func (s *Store) ClaimJobs(ctx context.Context, kinds []string, n int, lockFor time.Duration) ([]Job, error) {
	rows, err := s.pool.Query(ctx, q("ClaimJobs"), n, lockFor.Seconds(), kinds)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.ID, &j.Kind, &j.Key, &j.Payload, &j.Attempts, &j.MaxAttempts, &j.Done); err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, translate(rows.Err())
}

// The attempt number fences a job's bookkeeping: a worker whose lock lapsed
// while another took the job over changes nothing.

// FinishJob marks a job done.
func (s *Store) FinishJob(ctx context.Context, id int64, attempt int) error {
	_, err := s.pool.Exec(ctx, q("FinishJob"), id, attempt)
	return translate(err)
}

// RetryJob records a failure and schedules the next attempt after delay, or
// marks the job failed when it has no attempts left. done replaces the
// job's Done steps. It returns the status.
func (s *Store) RetryJob(ctx context.Context, id int64, attempt int, why string, delay time.Duration, done []string) (string, error) {
	var status string
	err := s.pool.QueryRow(ctx, q("RetryJob"), id, truncate(why, 2000), delay.Seconds(), attempt, done).Scan(&status)
	if err == pgx.ErrNoRows {
		return "taken over", nil
	}
	return status, translate(err)
}

// FindJob returns a job by kind and key.
func (s *Store) FindJob(ctx context.Context, kind, key string) (Job, error) {
	var j Job
	err := s.pool.QueryRow(ctx, q("FindJob"), kind, key).Scan(&j.ID, &j.Kind, &j.Key, &j.Payload, &j.Status, &j.Attempts, &j.LastError, &j.Done)
	return j, translate(err)
}

// FailJob marks a job failed for good.
func (s *Store) FailJob(ctx context.Context, id int64, attempt int, why string) error {
	_, err := s.pool.Exec(ctx, q("FailJob"), id, truncate(why, 2000), attempt)
	return translate(err)
}

// PruneJobs deletes finished jobs older than age, and the keys of
// requests applied before then (see OperationInput.Once): a delivery that
// old is no longer redelivered.
func (s *Store) PruneJobs(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, q("PruneJobs"), age.Seconds())
	if err != nil {
		return 0, translate(err)
	}
	if _, err := s.pool.Exec(ctx, q("PruneRequests"), age.Seconds()); err != nil {
		return tag.RowsAffected(), translate(err)
	}
	return tag.RowsAffected(), nil
}
