-- A rover's tags are those of its enrollment code, given by an admin, and
-- those the rover reports in its profile on enrollment and on every
-- (re)connect (ufo rover start --tags). code_tags keeps the first, so that
-- a reconnect replaces only what the rover reports. Until now tags held the
-- code's alone.
ALTER TABLE rovers ADD COLUMN code_tags text[] NOT NULL DEFAULT '{}';
UPDATE rovers SET code_tags = tags;
