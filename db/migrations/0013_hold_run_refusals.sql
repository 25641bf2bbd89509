-- ufo_hold_run, corrected:
-- - a revoked rover is refused as such (SQLSTATE UF401, answered 401), not
--   as a rover that does not hold the run (409): the rover stops, rather
--   than dropping the run and claiming again;
-- - a NULL claim token never matches (v_hash <> NULL is NULL, which the
--   former check let through).
CREATE OR REPLACE FUNCTION ufo_hold_run(p_run uuid, p_rover uuid, p_token bytea, p_with_op boolean,
    OUT v_status text, OUT v_fleet uuid, OUT v_op uuid, OUT v_cancel boolean,
    OUT v_seq_base bigint, OUT v_last_seq bigint, OUT v_op_status text, OUT v_others bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'unknown or revoked rover token' USING ERRCODE = 'UF401';
    END IF;
    IF p_with_op THEN
        PERFORM 1 FROM operations o WHERE o.id = (SELECT r.operation_id FROM runs r WHERE r.id = p_run) FOR UPDATE OF o;
    END IF;
    SELECT r.status, r.claim_token_hash, r.cancel_requested, r.fleet_id, r.operation_id, r.seq_base, r.last_seq
    INTO v_status, v_hash, v_cancel, v_fleet, v_op, v_seq_base, v_last_seq
    FROM runs r
    WHERE r.id = p_run AND r.rover_id = p_rover
    FOR UPDATE OF r;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this run is not held by this rover' USING ERRCODE = 'UF409';
    END IF;
    IF v_status NOT IN ('claimed', 'running') OR p_token IS NULL OR v_hash IS DISTINCT FROM p_token THEN
        RAISE EXCEPTION 'stale claim token: the run was reclaimed or has ended' USING ERRCODE = 'UF409';
    END IF;
    IF p_with_op THEN
        SELECT o.status, (SELECT count(*) FROM runs x
                          WHERE x.operation_id = o.id AND x.id <> p_run AND x.status IN ('queued', 'claimed', 'running'))
        INTO v_op_status, v_others
        FROM operations o WHERE o.id = v_op;
    END IF;
END
$$;
