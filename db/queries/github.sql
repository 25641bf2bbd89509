-- name: UpsertGitHubInstallation
INSERT INTO github_installations (id, account_login, account_type, suspended)
VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET account_login = EXCLUDED.account_login, account_type = EXCLUDED.account_type,
    suspended = EXCLUDED.suspended, updated_at = now();

-- name: LinkGitHubInstallation
INSERT INTO github_installations (id, fleet_id, account_login, account_type, linked_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET fleet_id = EXCLUDED.fleet_id, account_login = EXCLUDED.account_login,
    account_type = EXCLUDED.account_type, linked_by = EXCLUDED.linked_by, updated_at = now()
WHERE github_installations.fleet_id IS NULL OR github_installations.fleet_id = EXCLUDED.fleet_id
RETURNING id;

-- name: DeleteGitHubInstallation
DELETE FROM github_installations WHERE id = $1;

-- name: FindGitHubInstallation
SELECT id, fleet_id, account_login, account_type, suspended, created_at FROM github_installations WHERE id = $1;

-- name: ListGitHubInstallations
SELECT i.id, i.fleet_id, i.account_login, i.account_type, i.suspended, i.created_at,
    coalesce(array_agg(r.full_name ORDER BY r.full_name) FILTER (WHERE r.id IS NOT NULL), '{}')::text[] AS repositories
FROM github_installations i LEFT JOIN github_repositories r ON r.installation_id = i.id
WHERE i.fleet_id = $1
GROUP BY i.id
ORDER BY i.created_at, i.id;

-- name: UpsertGitHubRepository
INSERT INTO github_repositories (id, installation_id, full_name) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET installation_id = EXCLUDED.installation_id, full_name = EXCLUDED.full_name;

-- name: DeleteGitHubRepositories
DELETE FROM github_repositories WHERE installation_id = $1 AND id = ANY ($2::bigint[]);

-- name: DeleteOtherGitHubRepositories
DELETE FROM github_repositories WHERE installation_id = $1 AND NOT (id = ANY ($2::bigint[]));

-- name: LockGitHubRepository
SELECT r.mission_id FROM github_repositories r JOIN github_installations i ON i.id = r.installation_id
WHERE i.fleet_id = $1 AND r.id = $2
FOR UPDATE OF r;

-- name: SetGitHubRepositoryMission
UPDATE github_repositories r SET mission_id = $3
FROM github_installations i
WHERE i.id = r.installation_id AND i.fleet_id = $1 AND r.id = $2;

-- name: FindGitHubRepositoryByMission
SELECT r.id, r.installation_id, r.full_name FROM github_repositories r
JOIN github_installations i ON i.id = r.installation_id
WHERE i.fleet_id = $1 AND r.mission_id = $2 AND NOT i.suspended
ORDER BY r.created_at LIMIT 1;

-- name: MissionKeys
SELECT key FROM missions WHERE fleet_id = $1;

-- name: UpsertGitHubIssue
INSERT INTO github_issues (fleet_id, installation_id, repository_id, repository, number, url, triggered_by, rover_tags)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (fleet_id, repository_id, number) DO UPDATE SET installation_id = EXCLUDED.installation_id,
    repository = EXCLUDED.repository, url = EXCLUDED.url, triggered_by = EXCLUDED.triggered_by,
    rover_tags = EXCLUDED.rover_tags, updated_at = now()
RETURNING id;

-- name: ClaimGitHubIssue
UPDATE github_issues SET lease = gen_random_uuid(), lease_until = now() + make_interval(secs => $3)
WHERE fleet_id = $1 AND id = $2 AND (lease IS NULL OR lease_until < now())
RETURNING id, fleet_id, installation_id, repository_id, repository, number, url, operation_id, triggered_by,
    rover_tags, status_comment_id, status_body, pr_number, pr_url, pr_state, reviewed_run_id, lease;

-- name: ExtendGitHubIssueLease
UPDATE github_issues SET lease_until = now() + make_interval(secs => $4)
WHERE fleet_id = $1 AND id = $2 AND lease = $3;

-- name: ReleaseGitHubIssue
UPDATE github_issues SET lease = NULL, lease_until = NULL
WHERE fleet_id = $1 AND id = $2 AND lease = $3;

-- name: GitHubIssueExists
SELECT EXISTS (SELECT 1 FROM github_issues WHERE fleet_id = $1 AND id = $2);

-- name: SaveGitHubIssue
UPDATE github_issues SET operation_id = $3, triggered_by = $4, status_comment_id = $5, status_body = $6,
    pr_number = $7, pr_url = $8, pr_state = $9, reviewed_run_id = $10, lease = NULL, lease_until = NULL, updated_at = now()
WHERE fleet_id = $1 AND id = $2 AND lease = $11;

-- name: FindGitHubIssueByNumber
SELECT id, fleet_id, installation_id, repository_id, repository, number, url, operation_id, triggered_by,
    rover_tags, status_comment_id, status_body, pr_number, pr_url, pr_state, reviewed_run_id
FROM github_issues WHERE fleet_id = $1 AND repository_id = $2 AND (number = $3 OR pr_number = $3)
ORDER BY (number = $3) DESC LIMIT 1;

-- name: FindGitHubIssueByOperation
SELECT id, fleet_id, installation_id, repository_id, repository, number, url, operation_id, triggered_by,
    rover_tags, status_comment_id, status_body, pr_number, pr_url, pr_state, reviewed_run_id
FROM github_issues WHERE fleet_id = $1 AND operation_id = $2;

-- name: FindOperationIDByIssueURL
SELECT id FROM operations WHERE fleet_id = $1 AND issue_url = $2 ORDER BY created_at LIMIT 1;

-- name: SetArtifactPRURL
UPDATE artifacts SET pr_url = $3 WHERE fleet_id = $1 AND run_id = $2;
