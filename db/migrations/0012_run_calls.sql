-- A rover's calls on a run it holds (start, heartbeat, events, complete)
-- become one statement each: a function that takes the locks, checks the
-- claim, writes, and writes its feed rows in one ufo_emit call. They were
-- two or three round trips and up to a dozen statements each, and a run
-- makes three of them; the database's time went mostly to the fixed cost
-- of each statement and round trip, not to the rows.
--
-- Conventions: parameters are p_*, variables v_*, and every column is
-- qualified, so that no name is ambiguous. A call that is refused raises
-- SQLSTATE UF409 (the store answers 409 conflict with its message).

-- ufo_settle is the operation's next status after one of its runs ended
-- (or was requeued): success hands it to review; failure or cancel returns
-- it to backlog unless a person already closed it, or another run of it is
-- already under way (a reassignment). The caller holds the operation's
-- row locked and passes its status and how many of its other runs are
-- active. It returns the feed rows to emit.
CREATE FUNCTION ufo_settle(p_fleet uuid, p_op uuid, p_op_status text, p_others bigint, p_run_status text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_next text := p_op_status;
BEGIN
    IF p_others > 0 AND p_run_status <> 'queued' THEN
        RETURN '[]';
    END IF;
    IF p_op_status IN ('done', 'canceled') THEN
        v_next := p_op_status;
    ELSIF p_run_status = 'succeeded' THEN
        v_next := 'in_review';
    ELSIF p_run_status = 'queued' THEN
        v_next := 'queued';
    ELSE
        v_next := 'backlog';
    END IF;
    IF v_next = p_op_status THEN
        RETURN '[]';
    END IF;
    UPDATE operations o SET status = v_next, updated_at = now() WHERE o.fleet_id = p_fleet AND o.id = p_op;
    RETURN jsonb_build_array(jsonb_build_object('f', p_fleet, 'k', 'operation.updated', 's', p_op,
        'd', jsonb_build_object('status', v_next)));
END
$$;

-- ufo_signal raises a signal a person should see and returns it as JSON
-- (app.Signal's names); the caller emits signal.raised with it.
CREATE FUNCTION ufo_signal(p_fleet uuid, p_op uuid, p_run uuid, p_kind text, p_message text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_sig jsonb;
BEGIN
    INSERT INTO signals AS s (fleet_id, operation_id, run_id, kind, message)
    VALUES (p_fleet, p_op, p_run, p_kind, p_message)
    RETURNING jsonb_build_object('id', s.id, 'operation_id', s.operation_id, 'run_id', s.run_id, 'kind', s.kind,
        'message', s.message, 'created_at', s.created_at, 'resolved_at', s.resolved_at)
    INTO v_sig;
    RETURN v_sig;
END
$$;

-- ufo_hold_run locks a run and checks that the caller, a rover that is not
-- revoked, holds its current claim (p_token is the claim token's hash).
-- With p_with_op it first locks the run's operation (lock order,
-- everywhere: the operation's row, then the run's) and also returns the
-- operation's status and how many of its other runs are active.
CREATE FUNCTION ufo_hold_run(p_run uuid, p_rover uuid, p_token bytea, p_with_op boolean,
    OUT v_status text, OUT v_fleet uuid, OUT v_op uuid, OUT v_cancel boolean,
    OUT v_seq_base bigint, OUT v_last_seq bigint, OUT v_op_status text, OUT v_others bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_hash bytea;
BEGIN
    IF p_with_op THEN
        PERFORM 1 FROM operations o WHERE o.id = (SELECT r.operation_id FROM runs r WHERE r.id = p_run) FOR UPDATE OF o;
    END IF;
    SELECT r.status, r.claim_token_hash, r.cancel_requested, r.fleet_id, r.operation_id, r.seq_base, r.last_seq
    INTO v_status, v_hash, v_cancel, v_fleet, v_op, v_seq_base, v_last_seq
    FROM runs r
    WHERE r.id = p_run AND r.rover_id = p_rover
      AND EXISTS (SELECT 1 FROM rovers v WHERE v.id = p_rover AND v.revoked_at IS NULL)
    FOR UPDATE OF r;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this run is not held by this rover' USING ERRCODE = 'UF409';
    END IF;
    IF v_status NOT IN ('claimed', 'running') OR v_hash IS NULL OR v_hash <> p_token THEN
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

-- ufo_start_run marks a claimed run running, and its operation running
-- unless a person moved it on. It returns whether a cancel was requested.
CREATE FUNCTION ufo_start_run(p_run uuid, p_rover uuid, p_token bytea, p_lease float8)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    h record;
    v_feed jsonb;
BEGIN
    SELECT * INTO h FROM ufo_hold_run(p_run, p_rover, p_token, true);
    UPDATE runs r SET status = 'running', started_at = coalesce(r.started_at, now()),
        lease_expires_at = now() + make_interval(secs => p_lease)
    WHERE r.id = p_run;
    IF h.v_status = 'running' THEN
        RETURN h.v_cancel; -- started before: the lease is renewed, nothing else changes
    END IF;
    v_feed := jsonb_build_array(jsonb_build_object('f', h.v_fleet, 'k', 'run.started', 's', p_run,
        'd', jsonb_build_object('operation_id', h.v_op, 'rover_id', p_rover)));
    IF h.v_op_status IN ('queued', 'backlog') THEN
        UPDATE operations o SET status = 'running', updated_at = now() WHERE o.id = h.v_op;
        v_feed := v_feed || jsonb_build_object('f', h.v_fleet, 'k', 'operation.updated', 's', h.v_op,
            'd', jsonb_build_object('status', 'running'));
    END IF;
    PERFORM ufo_emit(v_feed);
    RETURN h.v_cancel;
END
$$;

-- ufo_heartbeat extends a run's lease and returns whether a cancel was
-- requested.
CREATE FUNCTION ufo_heartbeat(p_run uuid, p_rover uuid, p_token bytea, p_lease float8)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    h record;
BEGIN
    SELECT * INTO h FROM ufo_hold_run(p_run, p_rover, p_token, false);
    UPDATE runs r SET lease_expires_at = now() + make_interval(secs => p_lease) WHERE r.id = p_run;
    RETURN h.v_cancel;
END
$$;

-- ufo_append_events stores a batch of run events once each by (run, seq)
-- and extends the lease. Each attempt numbers its events from 1; they are
-- stored after the earlier attempts' events (seq_base). It returns whether
-- a cancel was requested and the highest sequence stored of this attempt.
CREATE FUNCTION ufo_append_events(p_run uuid, p_rover uuid, p_token bytea, p_lease float8,
    p_seqs bigint[], p_types text[], p_datas jsonb[], p_ats timestamptz[],
    OUT v_cancel boolean, OUT v_last bigint)
LANGUAGE plpgsql AS $$
DECLARE
    h record;
    v_top bigint;
BEGIN
    SELECT * INTO h FROM ufo_hold_run(p_run, p_rover, p_token, false);
    v_cancel := h.v_cancel;
    INSERT INTO run_events (run_id, fleet_id, seq, type, data, at)
    SELECT p_run, h.v_fleet, h.v_seq_base + e.seq, e.type, e.data, e.at
    FROM unnest(p_seqs, p_types, p_datas, p_ats) AS e(seq, type, data, at)
    ON CONFLICT (run_id, seq) DO NOTHING;
    v_top := greatest(h.v_last_seq, h.v_seq_base + coalesce((SELECT max(s) FROM unnest(p_seqs) AS s), 0));
    UPDATE runs r SET last_seq = v_top, lease_expires_at = now() + make_interval(secs => p_lease)
    WHERE r.id = p_run;
    v_last := v_top - h.v_seq_base;
    IF cardinality(p_seqs) > 0 THEN
        PERFORM ufo_emit(jsonb_build_array(jsonb_build_object('f', h.v_fleet, 'k', 'run.events', 's', p_run,
            'd', jsonb_build_object('last_seq', v_last))));
    END IF;
END
$$;

-- ufo_complete_run records a run's one terminal state, its artifact (a
-- JSON object with app.Artifact's names, or NULL), the signal a person
-- should see (p_signal_kind NULL for none) and the operation's next
-- status.
CREATE FUNCTION ufo_complete_run(p_run uuid, p_rover uuid, p_token bytea, p_status text,
    p_session text, p_final text, p_usage jsonb, p_reason text, p_message text,
    p_artifact jsonb, p_signal_kind text, p_signal_message text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    h record;
    v_feed jsonb;
    v_sig jsonb;
BEGIN
    SELECT * INTO h FROM ufo_hold_run(p_run, p_rover, p_token, true);
    UPDATE runs r SET status = p_status, finished_at = now(), lease_expires_at = NULL, claim_token_hash = NULL,
        session_id = p_session, final_message = p_final, usage = p_usage,
        failure_reason = p_reason, failure_message = p_message
    WHERE r.id = p_run;
    IF p_artifact IS NOT NULL THEN
        INSERT INTO artifacts (fleet_id, run_id, diff, files, insertions, deletions, branch, base_branch, head_commit, pushed)
        SELECT h.v_fleet, p_run, a.diff, a.files, a.insertions, a.deletions, a.branch, a.base_branch, a.head_commit, a.pushed
        FROM jsonb_to_record(p_artifact) AS a(diff text, files integer, insertions integer, deletions integer,
            branch text, base_branch text, head_commit text, pushed boolean);
    END IF;
    v_feed := jsonb_build_array(jsonb_build_object('f', h.v_fleet, 'k', 'run.' || p_status, 's', p_run,
        'd', jsonb_build_object('operation_id', h.v_op, 'reason', p_reason)));
    IF p_signal_kind IS NOT NULL THEN
        v_sig := ufo_signal(h.v_fleet, h.v_op, p_run, p_signal_kind, p_signal_message);
        v_feed := v_feed || jsonb_build_object('f', h.v_fleet, 'k', 'signal.raised', 's', h.v_op, 'd', v_sig);
    END IF;
    v_feed := v_feed || ufo_settle(h.v_fleet, h.v_op, h.v_op_status, h.v_others, p_status);
    PERFORM ufo_emit(v_feed);
END
$$;
