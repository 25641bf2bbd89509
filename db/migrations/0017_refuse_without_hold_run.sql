-- Since 0015 and 0016 every run call checks the claim in its UPDATE of the
-- run; ufo_hold_run was left only to explain a call that matched no row,
-- through ufo_refuse. ufo_refuse now says why itself, in the order
-- ufo_hold_run checked (0013): a revoked or unknown rover (UF401), a run
-- the rover does not hold, a claim that is not the run's current one
-- (UF409). It locks nothing: it only raises.
CREATE OR REPLACE FUNCTION ufo_refuse(p_run uuid, p_rover uuid, p_token bytea) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL) THEN
        RAISE EXCEPTION 'unknown or revoked rover token' USING ERRCODE = 'UF401';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = p_run AND r.rover_id = p_rover) THEN
        RAISE EXCEPTION 'this run is not held by this rover' USING ERRCODE = 'UF409';
    END IF;
    RAISE EXCEPTION 'stale claim token: the run was reclaimed or has ended' USING ERRCODE = 'UF409';
END
$$;

DROP FUNCTION ufo_hold_run(uuid, uuid, bytea, boolean);
