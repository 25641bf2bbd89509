-- Change-feed ids are given after commit, by a stamper, in the order rows
-- become visible. Before, every transaction that changed a fleet held the
-- fleet's feed lock across its commit (and its WAL flush), so a fleet's
-- writes went one at a time. Now rows are inserted with seq (insertion
-- order) and a NULL id; the stamper, under one lock, numbers all committed
-- unnumbered rows in one short transaction. Readers page by id and never
-- see a hole filled later.
ALTER TABLE events RENAME COLUMN id TO seq;
ALTER TABLE events ADD COLUMN id bigint;
UPDATE events SET id = seq;
CREATE SEQUENCE events_feed_id_seq OWNED BY events.id;
SELECT setval('events_feed_id_seq', coalesce((SELECT max(seq) FROM events), 0) + 1, false);
DROP INDEX events_fleet;
CREATE UNIQUE INDEX events_fleet ON events (fleet_id, id);
CREATE INDEX events_unstamped ON events (seq) WHERE id IS NULL;
