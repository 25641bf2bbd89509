-- The change feed's rows are no longer indexed by seq. events_pkey was
-- used by the stamper alone, to find again the rows it had just read from
-- events_unstamped, and every feed row was written into it twice: as it
-- was inserted, and as the stamper's numbering made a new version of it.
-- The stamper now finds its rows by their place in the table (ctid), read
-- in the same statement under the stamp lock, where nothing else updates
-- an unnumbered row. seq stays unique: every row takes it from its
-- sequence.
ALTER TABLE events DROP CONSTRAINT events_pkey;
