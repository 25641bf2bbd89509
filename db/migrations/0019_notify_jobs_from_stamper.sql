-- The GitHub and Slack adapters' "notify" jobs are made by the stamper as
-- it numbers feed rows, rather than by ufo_emit beside every insert.
--
-- ufo_emit ran with every state change (four times in a run, inside the
-- run calls) and, to find the few rows that become jobs, inserted its
-- rows through a CTE into a second INSERT that checked each one against
-- github_installations and slack_workspaces. The stamper reads every row
-- once anyway, in one statement for many rows at a time, so it makes the
-- jobs there, in the transaction that numbers the rows: a job exists
-- exactly when its row is numbered, and a crash before that leaves both
-- for the next pass. ufo_emit is a plain insert now. The job's key is
-- still the row's seq, and its payload now carries the row's id too.
-- ON CONFLICT: rows emitted before this migration, numbered after it,
-- already have their job.
CREATE OR REPLACE FUNCTION ufo_emit(emitted jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (fleet_id, kind, subject_id, data)
    SELECT t.f, t.k, t.s, coalesce(t.d, 'null'::jsonb) -- a JSON null comes out as NULL
    FROM ROWS FROM (jsonb_to_recordset(emitted) AS (f uuid, k text, s uuid, d jsonb)) WITH ORDINALITY AS t(f, k, s, d, n)
    ORDER BY t.n;
END
$$;
