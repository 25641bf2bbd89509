-- Change-feed rows, and the durable "notify" jobs of the GitHub and Slack
-- adapters, are written by one function, so that a statement that changes
-- state can write its own feed row: a claim is then one statement, one
-- round trip. The body is the former EmitEvents statement. PL/pgSQL keeps
-- its plan for the session (a LANGUAGE sql function would plan it anew on
-- every call).
--
-- emitted is a JSON array of {"f": fleet id, "k": kind, "s": subject id or
-- null, "d": data}, in order. The rows get their ids later, from
-- StampEvents; no lock is taken here.
CREATE FUNCTION ufo_emit(emitted jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH ins AS (
        INSERT INTO events (fleet_id, kind, subject_id, data)
        SELECT t.f, t.k, t.s, coalesce(t.d, 'null'::jsonb) -- a JSON null comes out as NULL
        FROM ROWS FROM (jsonb_to_recordset(emitted) AS (f uuid, k text, s uuid, d jsonb)) WITH ORDINALITY AS t(f, k, s, d, n)
        ORDER BY t.n
        RETURNING seq, fleet_id, kind, subject_id, data, created_at
    )
    -- Run and operation changes also become a "notify" job, so the GitHub
    -- and Slack adapters update issues, PRs and threads even across a
    -- restart. Only those adapters read them: a fleet linked to neither
    -- GitHub nor Slack gets none.
    INSERT INTO jobs (kind, key, payload)
    SELECT 'notify', ins.seq::text, jsonb_build_object('fleet_id', ins.fleet_id, 'kind', ins.kind,
        'subject_id', ins.subject_id, 'data', ins.data, 'created_at', ins.created_at)
    FROM ins
    WHERE ((ins.kind LIKE 'run.%' AND ins.kind <> 'run.events') OR ins.kind IN ('operation.created', 'operation.updated', 'message.created'))
      AND (EXISTS (SELECT 1 FROM github_installations g WHERE g.fleet_id = ins.fleet_id)
           OR EXISTS (SELECT 1 FROM slack_workspaces w WHERE w.fleet_id = ins.fleet_id));
END
$$;
