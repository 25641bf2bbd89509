-- A lease renewal (every heartbeat and every batch of events) changed an
-- indexed column, lease_expires_at, so PostgreSQL wrote a new version of
-- the run into every index of runs. The sweeper's index now holds the
-- active runs by a column that never changes: renewals and last_seq
-- updates are heap-only (HOT) updates, and the sweeper reads each active
-- run's lease from the heap (there are at most as many as busy rovers).
-- Pages keep a tenth free so that those updates find room beside the row.
DROP INDEX runs_leases;
CREATE INDEX runs_active ON runs (created_at) WHERE status IN ('claimed', 'running');
ALTER TABLE runs SET (fillfactor = 90);
