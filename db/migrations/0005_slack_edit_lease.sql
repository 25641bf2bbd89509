-- Edits of a status message are serialised by a short lease on its thread
-- row, claimed and released with single statements, instead of a row lock
-- held across the call to Slack: no connection waits idle in a transaction
-- while Slack answers, and deleting an operation never waits on Slack.
-- edit_lease is the holder's token; edit_lease_until when it lapses (a
-- writer that died lets go by itself).
ALTER TABLE slack_threads
    ADD COLUMN edit_lease       uuid,
    ADD COLUMN edit_lease_until timestamptz;
