-- The GitHub App: installations (linked to a fleet by the setup flow),
-- their repositories (each mapped to a mission on first use), and the
-- issues that became operations, with what UFO keeps in step on GitHub.

-- An installation is recorded when its webhook arrives, before anyone links
-- it: fleet_id stays NULL until a fleet admin does.
CREATE TABLE github_installations (
    id            bigint PRIMARY KEY, -- GitHub's installation id
    fleet_id      uuid REFERENCES fleets ON DELETE SET NULL,
    account_login text NOT NULL DEFAULT '',
    account_type  text NOT NULL DEFAULT '',
    suspended     boolean NOT NULL DEFAULT false,
    linked_by     uuid REFERENCES users ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_installations_fleet ON github_installations (fleet_id) WHERE fleet_id IS NOT NULL;

CREATE TABLE github_repositories (
    id              bigint PRIMARY KEY, -- GitHub's repository id
    installation_id bigint NOT NULL REFERENCES github_installations ON DELETE CASCADE,
    full_name       text NOT NULL,
    mission_id      uuid REFERENCES missions ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_repositories_installation ON github_repositories (installation_id);
CREATE INDEX github_repositories_mission ON github_repositories (mission_id) WHERE mission_id IS NOT NULL;

-- One row per issue that asked for work. It is written before its
-- operation exists (operation_id NULL), so a redelivery, or a second event
-- for the same issue, finds it and never makes a second operation. The
-- status comment and the pull request are remembered here so that every
-- notification edits the same comment and opens at most one PR.
CREATE TABLE github_issues (
    id                bigserial PRIMARY KEY,
    fleet_id          uuid NOT NULL REFERENCES fleets ON DELETE CASCADE,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    repository        text NOT NULL, -- owner/name
    number            integer NOT NULL,
    url               text NOT NULL, -- the issue's html_url, also the operation's issue_url
    operation_id      uuid UNIQUE REFERENCES operations ON DELETE CASCADE,
    triggered_by      text NOT NULL DEFAULT '', -- the login review is requested from
    rover_tags        text[] NOT NULL DEFAULT '{}',
    status_comment_id bigint NOT NULL DEFAULT 0,
    status_body       text NOT NULL DEFAULT '',
    pr_number         integer NOT NULL DEFAULT 0,
    pr_url            text NOT NULL DEFAULT '',
    reviewed_run_id   uuid, -- the last successful run handed to review
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (fleet_id, repository_id, number)
);
CREATE INDEX github_issues_url ON github_issues (fleet_id, url);
CREATE INDEX github_issues_pr ON github_issues (fleet_id, repository_id, pr_number) WHERE pr_number <> 0;

-- Finds the operation of an issue when a delivery is processed again after
-- a crash between creating the operation and recording it.
CREATE INDEX operations_issue_url ON operations (fleet_id, issue_url) WHERE issue_url <> '';

-- Rover tags a repository's .github/ufo.yml requires are added to every run
-- of its issues' operations as the run is inserted: a rover that lacks them
-- can never claim the run, not even in the moment after it is queued.
CREATE FUNCTION github_run_tags() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    extra text[];
BEGIN
    SELECT gi.rover_tags INTO extra
    FROM operations o JOIN github_issues gi ON gi.fleet_id = o.fleet_id AND gi.url = o.issue_url
    WHERE o.id = NEW.operation_id AND o.issue_url <> '';
    IF extra IS NOT NULL AND cardinality(extra) > 0 THEN
        NEW.required_tags := ARRAY(SELECT DISTINCT t FROM unnest(NEW.required_tags || extra) AS t ORDER BY t);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER runs_github_tags BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION github_run_tags();
