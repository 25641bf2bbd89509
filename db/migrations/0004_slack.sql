-- The Slack bot: workspace links, link codes, Slack users mapped to fleet
-- members, and the one status message (thread) of each operation.

-- A Slack workspace (team) belongs to one fleet.
CREATE TABLE slack_workspaces (
    team_id    text PRIMARY KEY,
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    team_name  text NOT NULL DEFAULT '',
    linked_by  uuid REFERENCES users ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_workspaces_fleet ON slack_workspaces (fleet_id);

-- Single-use, short-lived codes a fleet admin makes; `/ufo link <code>`
-- links the workspace and maps the Slack user who typed it to the admin.
-- Only a hash of the code is stored.
CREATE TABLE slack_link_codes (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id   uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    code_hash  bytea NOT NULL UNIQUE,
    created_by uuid REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    used_team  text NOT NULL DEFAULT '',
    used_user  text NOT NULL DEFAULT ''
);

-- Slack users as UFO knows them: mapped to a member by verified email or by
-- `/ufo link`, or unmapped (user_id NULL, recorded by Slack id and name).
CREATE TABLE slack_users (
    team_id       text NOT NULL,
    slack_user_id text NOT NULL,
    fleet_id      uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    user_id       uuid REFERENCES users ON DELETE SET NULL,
    name          text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT '' CHECK (source IN ('', 'email', 'link')),
    checked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, slack_user_id)
);

-- One status message per operation, edited in place. request_key makes the
-- post idempotent (the delivery that asked for it: a slash command's
-- trigger id, a mention's event id, or a mirror of an operation); the
-- operation is attached once it exists. hash and updated_at throttle edits
-- and skip those that would change nothing.
CREATE TABLE slack_threads (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id     uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    team_id      text NOT NULL,
    request_key  text NOT NULL UNIQUE,
    channel      text NOT NULL,
    ts           text NOT NULL,
    slack_user   text NOT NULL DEFAULT '',
    operation_id uuid UNIQUE REFERENCES operations ON DELETE CASCADE,
    hash         text NOT NULL DEFAULT '',
    updated_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (team_id, channel, ts)
);
CREATE INDEX slack_threads_fleet_user ON slack_threads (fleet_id, slack_user);

-- Finds the operation a posted message belongs to when a delivery is
-- processed again after a crash between creating it and recording it.
CREATE INDEX operations_slack_message ON operations (fleet_id, slack_channel, slack_ts) WHERE slack_ts <> '';
