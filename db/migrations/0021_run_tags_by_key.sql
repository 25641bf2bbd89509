-- The trigger that adds a GitHub issue's rover tags to each new run finds
-- the run's operation by its primary key, whatever the statistics say.
-- Its lookup stated o.issue_url <> '', the predicate of the partial index
-- operations_issue_url, and with statistics taken while few operations
-- came from issues the planner chose that index and read every operation
-- of an issue to find one, on every run inserted (see db.go and 0020).
CREATE OR REPLACE FUNCTION github_run_tags() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    extra text[];
BEGIN
    SELECT gi.rover_tags INTO extra
    FROM operations o JOIN github_issues gi ON gi.fleet_id = o.fleet_id AND gi.url = o.issue_url
    WHERE o.id = NEW.operation_id AND (o.issue_url <> '') IS TRUE;
    IF extra IS NOT NULL AND cardinality(extra) > 0 THEN
        NEW.required_tags := ARRAY(SELECT DISTINCT t FROM unnest(NEW.required_tags || extra) AS t ORDER BY t);
    END IF;
    RETURN NEW;
END
$$;
