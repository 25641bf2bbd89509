-- Fewer index entries written per run.
--
-- Every change-feed row was written into three indexes as it was
-- inserted (events_pkey on seq, events_fleet with a NULL id, and
-- events_unstamped) and into two more when the stamper numbered it (a new
-- row version in events_pkey and events_fleet). No reader pages through
-- rows without an id, so events_fleet now holds numbered rows only.
DROP INDEX events_fleet;
CREATE UNIQUE INDEX events_fleet ON events (fleet_id, id) WHERE id IS NOT NULL;

-- An operation's status changes twice in every run (to running, then to
-- in_review), and operations_fleet_status made each change a new version
-- of the row in all four of its indexes. No query used it: the listing
-- filters on status beside fleet_id with an optional parameter, which
-- operations_fleet_created serves as well. Without it, and with a fifth of
-- each page left free (pages written from now on), a change of status is
-- a heap-only update.
DROP INDEX operations_fleet_status;
ALTER TABLE operations SET (fillfactor = 80);
