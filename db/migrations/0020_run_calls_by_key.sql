-- The run calls find their run by its primary key again, whatever the
-- statistics say.
--
-- Each call's UPDATE checks the claim in its WHERE clause, and so stated
-- r.status IN ('claimed', 'running'): the predicate of runs_active, the
-- sweeper's partial index of the runs under way (0009). When the
-- statistics of runs were taken while few runs were under way, which is
-- how they stay in a table of many finished runs (autovacuum analyzes it
-- after a tenth of its rows changed), runs_active looks one page small and
-- the planner chose it over runs_pkey: the call then read every run under
-- way to find its own. With 10,000 runs under way a heartbeat took 1.5 ms
-- instead of 0.1 ms (pgbench, one client), and every call of every rover
-- grew with the number of rovers.
--
-- The checks now read (status IN (...)) IS TRUE, the same test for a
-- column that is never NULL, which the planner cannot match to the
-- index's predicate: only the sweeper's scans of the runs under way use
-- runs_active. RequestCancel and LockExpiredRun (db/queries/runs.sql),
-- also lookups by id, say it the same way.

CREATE OR REPLACE FUNCTION ufo_start_run(p_run uuid, p_rover uuid, p_token bytea, p_lease float8)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_op uuid;
    v_op_status text;
    v_fleet uuid;
    v_was text;
    v_cancel boolean;
    v_feed jsonb;
BEGIN
    SELECT o.id, o.status INTO v_op, v_op_status
    FROM operations o WHERE o.id = (SELECT r.operation_id FROM runs r WHERE r.id = p_run)
    FOR UPDATE OF o;
    WITH was AS (SELECT r.status FROM runs r WHERE r.id = p_run)
    UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, now()),
        lease_expires_at = now() + make_interval(secs => p_lease)
    FROM was
    WHERE r.id = p_run AND r.rover_id = p_rover AND r.claim_token_hash = p_token
      AND (r.status IN ('claimed', 'running')) IS TRUE
      AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL)
    RETURNING was.status, r.fleet_id, r.cancel_requested INTO v_was, v_fleet, v_cancel;
    IF NOT FOUND THEN
        PERFORM ufo_refuse(p_run, p_rover, p_token);
    END IF;
    IF v_was = 'running' THEN
        RETURN v_cancel; -- started before: the lease is renewed, nothing else changes
    END IF;
    v_feed := jsonb_build_array(jsonb_build_object('f', v_fleet, 'k', 'run.started', 's', p_run,
        'd', jsonb_build_object('operation_id', v_op, 'rover_id', p_rover)));
    IF v_op_status IN ('queued', 'backlog') THEN
        UPDATE operations o SET status = 'running', updated_at = now() WHERE o.id = v_op;
        v_feed := v_feed || jsonb_build_object('f', v_fleet, 'k', 'operation.updated', 's', v_op,
            'd', jsonb_build_object('status', 'running'));
    END IF;
    PERFORM ufo_emit(v_feed);
    RETURN v_cancel;
END
$$;

CREATE OR REPLACE FUNCTION ufo_heartbeat(p_run uuid, p_rover uuid, p_token bytea, p_lease float8)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_cancel boolean;
BEGIN
    UPDATE runs r SET lease_expires_at = now() + make_interval(secs => p_lease)
    WHERE r.id = p_run AND r.rover_id = p_rover AND r.claim_token_hash = p_token
      AND (r.status IN ('claimed', 'running')) IS TRUE
      AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL)
    RETURNING r.cancel_requested INTO v_cancel;
    IF NOT FOUND THEN
        PERFORM ufo_refuse(p_run, p_rover, p_token);
    END IF;
    RETURN v_cancel;
END
$$;

CREATE OR REPLACE FUNCTION ufo_append_events(p_run uuid, p_rover uuid, p_token bytea, p_lease float8,
    p_seqs bigint[], p_types text[], p_datas jsonb[], p_ats timestamptz[],
    OUT v_cancel boolean, OUT v_last bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_fleet uuid;
    v_base bigint;
BEGIN
    UPDATE runs r SET last_seq = greatest(r.last_seq, r.seq_base + coalesce((SELECT max(s) FROM unnest(p_seqs) AS s), 0)),
        lease_expires_at = now() + make_interval(secs => p_lease)
    WHERE r.id = p_run AND r.rover_id = p_rover AND r.claim_token_hash = p_token
      AND (r.status IN ('claimed', 'running')) IS TRUE
      AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL)
    RETURNING r.fleet_id, r.seq_base, r.last_seq - r.seq_base, r.cancel_requested
    INTO v_fleet, v_base, v_last, v_cancel;
    IF NOT FOUND THEN
        PERFORM ufo_refuse(p_run, p_rover, p_token);
    END IF;
    INSERT INTO run_events (run_id, fleet_id, seq, type, data, at)
    SELECT p_run, v_fleet, v_base + e.seq, e.type, e.data, e.at
    FROM unnest(p_seqs, p_types, p_datas, p_ats) AS e(seq, type, data, at)
    ON CONFLICT (run_id, seq) DO NOTHING;
    IF cardinality(p_seqs) > 0 THEN
        PERFORM ufo_emit(jsonb_build_array(jsonb_build_object('f', v_fleet, 'k', 'run.events', 's', p_run,
            'd', jsonb_build_object('last_seq', v_last))));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION ufo_complete_run(p_run uuid, p_rover uuid, p_token bytea, p_status text,
    p_session text, p_final text, p_usage jsonb, p_reason text, p_message text,
    p_artifact jsonb, p_signal_kind text, p_signal_message text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_op uuid;
    v_op_status text;
    v_fleet uuid;
    v_others bigint;
    v_feed jsonb;
    v_sig jsonb;
BEGIN
    SELECT o.id, o.status INTO v_op, v_op_status
    FROM operations o WHERE o.id = (SELECT r.operation_id FROM runs r WHERE r.id = p_run)
    FOR UPDATE OF o;
    UPDATE runs r SET status = p_status, finished_at = now(), lease_expires_at = NULL, claim_token_hash = NULL,
        session_id = p_session, final_message = p_final, usage = p_usage,
        failure_reason = p_reason, failure_message = p_message
    WHERE r.id = p_run AND r.rover_id = p_rover AND r.claim_token_hash = p_token
      AND (r.status IN ('claimed', 'running')) IS TRUE
      AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL)
    RETURNING r.fleet_id, (SELECT count(*) FROM runs x
                           WHERE x.operation_id = r.operation_id AND x.id <> p_run
                             AND x.status IN ('queued', 'claimed', 'running'))
    INTO v_fleet, v_others;
    IF NOT FOUND THEN
        PERFORM ufo_refuse(p_run, p_rover, p_token);
    END IF;
    IF p_artifact IS NOT NULL THEN
        INSERT INTO artifacts (fleet_id, run_id, diff, files, insertions, deletions, branch, base_branch, head_commit, pushed)
        SELECT v_fleet, p_run, a.diff, a.files, a.insertions, a.deletions, a.branch, a.base_branch, a.head_commit, a.pushed
        FROM jsonb_to_record(p_artifact) AS a(diff text, files integer, insertions integer, deletions integer,
            branch text, base_branch text, head_commit text, pushed boolean);
    END IF;
    v_feed := jsonb_build_array(jsonb_build_object('f', v_fleet, 'k', 'run.' || p_status, 's', p_run,
        'd', jsonb_build_object('operation_id', v_op, 'reason', p_reason)));
    IF p_signal_kind IS NOT NULL THEN
        v_sig := ufo_signal(v_fleet, v_op, p_run, p_signal_kind, p_signal_message);
        v_feed := v_feed || jsonb_build_object('f', v_fleet, 'k', 'signal.raised', 's', v_op, 'd', v_sig);
    END IF;
    v_feed := v_feed || ufo_settle(v_fleet, v_op, v_op_status, v_others, p_status);
    PERFORM ufo_emit(v_feed);
END
$$;
