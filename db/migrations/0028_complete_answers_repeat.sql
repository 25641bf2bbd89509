-- ufo_complete_run answers whether this call finished the run (true) or
-- was a repeat of the completion that had (false), so that the server
-- counts a run finished once (ufo_runs_finished_total) however often a
-- rover that lost the answer sends it. Otherwise as in 0023.

DROP FUNCTION ufo_complete_run(uuid, uuid, bytea, text, text, text, jsonb, text, text, jsonb, text, text);

CREATE FUNCTION ufo_complete_run(p_run uuid, p_rover uuid, p_token bytea, p_status text,
    p_session text, p_final text, p_usage jsonb, p_reason text, p_message text,
    p_artifact jsonb, p_signal_kind text, p_signal_message text)
RETURNS boolean LANGUAGE plpgsql AS $$
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
    UPDATE runs r SET status = p_status, finished_at = now(), lease_expires_at = NULL,
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
        IF p_token IS NOT NULL AND EXISTS (SELECT 1 FROM runs r
                WHERE r.id = p_run AND r.rover_id = p_rover AND r.claim_token_hash = p_token
                  AND r.status = p_status AND r.finished_at IS NOT NULL)
           AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL) THEN
            RETURN false; -- a repeat of the completion that finished the run
        END IF;
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
    RETURN true;
END
$$;
