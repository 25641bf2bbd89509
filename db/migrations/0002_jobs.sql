-- Durable background work: webhook and Slack deliveries and outgoing calls.
-- A job is unique by (kind, key), so a redelivery or a retried request is
-- recorded once; workers claim with SKIP LOCKED and retry with backoff.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    key          text NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    run_after    timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_error   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_pending ON jobs (run_after, id) WHERE status = 'pending';
