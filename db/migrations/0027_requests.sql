-- A request that changes what runs (a webhook delivery, a Slack event, an
-- API call with an Idempotency-Key) records its key here in the same
-- transaction as its effect, so that the request processed again (a job
-- retried after a failure further on, a delivery redelivered from GitHub)
-- finds it applied rather than queuing a second run or storing a message
-- twice. target_id is what the first one made, if anything: the operation
-- created, the message stored. Rows older than finished jobs are pruned
-- with them.
CREATE TABLE requests (
    fleet_id   uuid NOT NULL REFERENCES fleets (id) ON DELETE CASCADE,
    key        text NOT NULL,
    target_id  uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fleet_id, key)
);
CREATE INDEX requests_created_at ON requests (created_at);
