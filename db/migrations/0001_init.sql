-- UFO's schema: every row belongs to a fleet; public ids are UUIDs.

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE fleets (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fleet_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id    uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users ON DELETE SET NULL
);
CREATE INDEX invitations_fleet ON invitations (fleet_id, created_at);

CREATE TABLE pilots (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('claude', 'codex', 'exec')),
    settings   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, name),
    UNIQUE (fleet_id, id)
);

CREATE TABLE missions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id         uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    name             text NOT NULL,
    key              text NOT NULL CHECK (key ~ '^[A-Z]{2,6}$'),
    description      text NOT NULL DEFAULT '',
    repository       text NOT NULL DEFAULT '',
    base_branch      text NOT NULL DEFAULT 'main',
    branch_prefix    text NOT NULL DEFAULT 'ufo/',
    default_pilot_id uuid REFERENCES pilots ON DELETE SET NULL,
    reviewers        text[] NOT NULL DEFAULT '{}',
    slack_channel    text NOT NULL DEFAULT '',
    next_number      integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, key),
    UNIQUE (fleet_id, id)
);

CREATE TABLE crews (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, name),
    UNIQUE (fleet_id, id)
);

CREATE TABLE crew_members (
    crew_id  uuid NOT NULL REFERENCES crews ON DELETE CASCADE,
    pilot_id uuid REFERENCES pilots ON DELETE CASCADE,
    user_id  uuid REFERENCES users ON DELETE CASCADE,
    position integer NOT NULL DEFAULT 0,
    CHECK ((pilot_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX crew_members_pilot ON crew_members (crew_id, pilot_id) WHERE pilot_id IS NOT NULL;
CREATE UNIQUE INDEX crew_members_user ON crew_members (crew_id, user_id) WHERE user_id IS NOT NULL;

CREATE TABLE labels (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    name       text NOT NULL,
    color      text NOT NULL DEFAULT '#888888',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, name)
);

CREATE TABLE operations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id      uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    mission_id    uuid NOT NULL,
    number        integer NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'backlog'
                  CHECK (status IN ('backlog', 'queued', 'running', 'in_review', 'done', 'canceled')),
    priority      smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 4),
    assignee_type text NOT NULL DEFAULT '' CHECK (assignee_type IN ('', 'pilot', 'crew', 'user')),
    assignee_id   uuid,
    parent_id     uuid REFERENCES operations ON DELETE SET NULL,
    issue_url     text NOT NULL DEFAULT '',
    pr_url        text NOT NULL DEFAULT '',
    slack_channel text NOT NULL DEFAULT '',
    slack_ts      text NOT NULL DEFAULT '',
    branch        text NOT NULL DEFAULT '',
    created_by    uuid REFERENCES users ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (fleet_id, mission_id) REFERENCES missions (fleet_id, id) ON DELETE CASCADE,
    UNIQUE (mission_id, number)
);
CREATE INDEX operations_fleet_created ON operations (fleet_id, created_at DESC, id);
CREATE INDEX operations_fleet_status ON operations (fleet_id, status);
CREATE INDEX operations_parent ON operations (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE operation_labels (
    operation_id uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    label_id     uuid NOT NULL REFERENCES labels ON DELETE CASCADE,
    PRIMARY KEY (operation_id, label_id)
);

CREATE TABLE relationships (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    from_id    uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    to_id      uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('blocks', 'relates', 'duplicates')),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (from_id, to_id, kind),
    CHECK (from_id <> to_id)
);

CREATE TABLE reactions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    operation_id uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users ON DELETE CASCADE,
    emoji        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (operation_id, user_id, emoji)
);

CREATE TABLE messages (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    operation_id uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    author_type  text NOT NULL CHECK (author_type IN ('user', 'pilot', 'github', 'slack', 'system')),
    author_id    text NOT NULL DEFAULT '',
    author_name  text NOT NULL DEFAULT '',
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_operation ON messages (operation_id, created_at, id);

CREATE TABLE rovers (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    name         text NOT NULL,
    tags         text[] NOT NULL DEFAULT '{}',
    token_hash   bytea NOT NULL UNIQUE,
    profile      jsonb NOT NULL DEFAULT '{}',
    kinds        text[] NOT NULL DEFAULT '{exec}',
    ephemeral    boolean NOT NULL DEFAULT false,
    online       boolean NOT NULL DEFAULT false,
    last_seen_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rovers_fleet ON rovers (fleet_id, created_at);

CREATE TABLE enrollment_codes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    code_hash  bytea NOT NULL UNIQUE,
    name       text NOT NULL DEFAULT '',
    tags       text[] NOT NULL DEFAULT '{}',
    ephemeral  boolean NOT NULL DEFAULT false,
    created_by uuid REFERENCES users ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    rover_id   uuid REFERENCES rovers ON DELETE SET NULL
);

CREATE TABLE runs (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id          uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    operation_id      uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    pilot_id          uuid REFERENCES pilots ON DELETE SET NULL,
    pilot_kind        text NOT NULL,
    required_tags     text[] NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'claimed', 'running', 'succeeded', 'failed', 'canceled')),
    attempt           integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 3,
    follow_up         boolean NOT NULL DEFAULT false,
    prompt            text NOT NULL DEFAULT '',
    resume_session_id text NOT NULL DEFAULT '',
    rover_id          uuid REFERENCES rovers ON DELETE SET NULL,
    claim_token_hash  bytea,
    lease_expires_at  timestamptz,
    cancel_requested  boolean NOT NULL DEFAULT false,
    session_id        text NOT NULL DEFAULT '',
    final_message     text NOT NULL DEFAULT '',
    usage             jsonb,
    failure_reason    text NOT NULL DEFAULT '',
    failure_message   text NOT NULL DEFAULT '',
    last_seq          bigint NOT NULL DEFAULT 0,
    queued_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_at        timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- The queue: a partial index, so finished history never slows a claim.
CREATE INDEX runs_queue ON runs (fleet_id, queued_at, id) WHERE status = 'queued';
-- Leases to sweep.
CREATE INDEX runs_leases ON runs (lease_expires_at) WHERE status IN ('claimed', 'running');
CREATE INDEX runs_operation ON runs (operation_id, created_at);
CREATE INDEX runs_fleet_created ON runs (fleet_id, created_at DESC, id);

CREATE TABLE run_events (
    run_id   uuid NOT NULL REFERENCES runs ON DELETE CASCADE,
    seq      bigint NOT NULL,
    fleet_id uuid NOT NULL,
    type     text NOT NULL CHECK (type IN ('text', 'thinking', 'tool_use', 'tool_result', 'usage', 'error', 'status')),
    data     jsonb NOT NULL,
    at       timestamptz NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE artifacts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id    uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    run_id      uuid NOT NULL UNIQUE REFERENCES runs ON DELETE CASCADE,
    diff        text NOT NULL DEFAULT '',
    files       integer NOT NULL DEFAULT 0,
    insertions  integer NOT NULL DEFAULT 0,
    deletions   integer NOT NULL DEFAULT 0,
    branch      text NOT NULL DEFAULT '',
    base_branch text NOT NULL DEFAULT '',
    head_commit text NOT NULL DEFAULT '',
    pushed      boolean NOT NULL DEFAULT false,
    pr_url      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE signals (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    operation_id uuid NOT NULL REFERENCES operations ON DELETE CASCADE,
    run_id       uuid REFERENCES runs ON DELETE SET NULL,
    kind         text NOT NULL CHECK (kind IN ('review_requested', 'failed', 'blocked', 'needs_input')),
    message      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);
CREATE INDEX signals_fleet ON signals (fleet_id, created_at DESC) WHERE resolved_at IS NULL;

-- The change feed: one row per state change, in commit order per fleet.
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    kind         text NOT NULL,
    subject_id   uuid,
    data         jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_fleet ON events (fleet_id, id);

-- Operations as the API shows them: with their code and label names.
CREATE VIEW operation_view AS
SELECT o.id, o.fleet_id, o.mission_id, m.key AS mission_key, o.number,
       m.key || '-' || o.number AS code, o.title, o.body, o.status, o.priority,
       o.assignee_type, o.assignee_id, o.parent_id,
       coalesce((SELECT array_agg(l.name ORDER BY l.name)
                 FROM operation_labels ol JOIN labels l ON l.id = ol.label_id
                 WHERE ol.operation_id = o.id), '{}') AS labels,
       o.issue_url, o.pr_url, o.slack_channel, o.slack_ts, o.branch,
       o.created_by, o.created_at, o.updated_at
FROM operations o JOIN missions m ON m.id = o.mission_id;

-- Runs as the API shows them.
CREATE VIEW run_view AS
SELECT r.id, r.fleet_id, r.operation_id, m.key || '-' || o.number AS operation_code,
       r.pilot_id, r.pilot_kind, r.status, r.attempt, r.max_attempts, r.follow_up,
       r.rover_id, r.cancel_requested, r.session_id, r.final_message, r.usage,
       r.failure_reason, r.failure_message, r.lease_expires_at, r.queued_at,
       r.claimed_at, r.started_at, r.finished_at
FROM runs r JOIN operations o ON o.id = r.operation_id JOIN missions m ON m.id = o.mission_id;
