-- The state of an issue's pull request as its pull_request deliveries last
-- told it: open, closed (unmerged) or merged. UFO opened a pull request only
-- while none was recorded and asked for review on the recorded one, so work
-- done after the pull request was closed or merged never reached a live one.
-- Now a run that succeeds after a close reopens the pull request (or opens
-- a new one when GitHub refuses), and after a merge opens a new one.
--
-- Rows from before are guessed from their operation: done is taken as
-- merged, canceled as closed. A wrong guess costs nothing: reopening an open
-- pull request changes nothing, and a new one asked for while one is open
-- from the branch is refused by GitHub, which makes UFO take the open one.
ALTER TABLE github_issues
    ADD COLUMN pr_state text NOT NULL DEFAULT 'open' CHECK (pr_state IN ('open', 'closed', 'merged'));

UPDATE github_issues gi SET pr_state = CASE o.status WHEN 'done' THEN 'merged' ELSE 'closed' END
FROM operations o
WHERE o.id = gi.operation_id AND gi.pr_number <> 0 AND o.status IN ('done', 'canceled');
